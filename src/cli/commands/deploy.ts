import type { Command } from 'commander';
import { AuthecsError } from '../../errors.js';
import { formatDuration } from '../../report/reporter.js';
import { describeStatePath } from '../io.js';
import type { CommandDefinition } from '../registry.js';

export const deployCommand: CommandDefinition = {
  name: 'deploy',
  summary: 'ship a new image: a new task definition revision and a service rollout, nothing else',
  configure(command: Command) {
    command.option('--image <image>', 'the container image to run (recorded: the next `up` keeps it) [env: AUTH_ECS_IMAGE]');
    command.option('--force', 'start a new deployment even when the image is unchanged (a moving tag such as latest)');
    command.option('--no-wait', 'return once the rollout has started');
  },
  async run({ command, reporter, io, onInterrupt, onStop }) {
    const options = command.opts() as { image?: string; force?: boolean; wait: boolean };
    if (!options.image && !options.force && !io.env.AUTH_ECS_IMAGE) {
      throw new AuthecsError('`authecs deploy` needs --image, or --force to redeploy the current image', {
        code: 'USAGE',
        exit: 'usage',
        hint: 'Pass --image REPOSITORY:TAG (e.g. --image nginx:1.27), or --force for a new deployment of the same image.',
      });
    }
    const [{ deploy }, { STEPS }, { rollOutRevision }, { RolloutFailedError }, { openUpSession, stateExists }] = await Promise.all([
      import('../../engine/actions.js'),
      import('../../steps/index.js'),
      import('../../steps/service.js'),
      import('../../steps/shared/rollout.js'),
      import('../session.js'),
    ]);
    if (!(await stateExists(command, io))) {
      throw new AuthecsError(`No state file at ${describeStatePath(command, io)}: there is no stack to deploy to`, {
        code: 'NO_STACK',
        exit: 'notFound',
        hint: 'Run `authecs up` first (or pass --state / --cluster for another stack).',
      });
    }
    const session = await openUpSession(command, reporter, io, { lockFor: 'deploy' });
    onInterrupt(() => session.close());
    onStop(() => session.stop());
    try {
      const { config, state } = session.environment;
      reporter.info(`authecs deploy: ${config.image} to service ${config.serviceName} of stack ${config.cluster} in ${config.region}`);
      reporter.plan(STEPS.filter((step) => step.name === 'task-definition' || step.name === 'service'));
      const previousImage = session.settingChanges.find((change) => change.setting === 'image')?.from;
      let result: Awaited<ReturnType<typeof deploy>>;
      try {
        result = await deploy(session.environment, STEPS, rollOutRevision as never, { force: Boolean(options.force), wait: options.wait !== false });
      } catch (error) {
        // The image sticks even when its rollout fails: say so, and how to go back.
        if (error instanceof RolloutFailedError && typeof previousImage === 'string' && previousImage !== config.image) {
          const { explanation } = error;
          const back = explanation.outcome === 'rolled-back' ? 'The service runs the previous revision again, but the stack' : 'The stack';
          throw new RolloutFailedError({
            ...explanation,
            hint: `${explanation.hint} ${back} now records --image ${config.image}: deploy a fixed image, or \`authecs deploy --image ${previousImage}\` to record the previous one.`,
          });
        }
        throw error;
      }
      state.saveSettings();
      await reporter.finish();
      const elapsed = formatDuration(reporter.elapsedMs);
      const revision = result.taskDefinitionArn.split('/').pop();
      reporter.result(
        {
          command: 'deploy',
          ok: true,
          stack: config.cluster,
          region: config.region,
          image: config.image,
          taskDefinitionArn: result.taskDefinitionArn,
          previousTaskDefinitionArn: result.previousTaskDefinitionArn ?? null,
          rollout: result.rollout,
          elapsedMs: reporter.elapsedMs,
          mutations: reporter.mutations,
        },
        [
          result.rollout === 'unchanged'
            ? `\nService ${config.serviceName} already runs ${config.image} (${revision}); nothing to deploy. Pass --force for a new deployment of the same image.`
            : result.rollout === 'started'
              ? `\nDeploying ${config.image} (${revision}); the rollout has started (${elapsed}). Follow it with \`authecs status\`.`
              : `\nDeployed ${config.image} (${revision}) in ${elapsed}.`,
        ],
      );
      return 0;
    } finally {
      await reporter.finish();
      session.close();
    }
  },
};
