import type { Command } from 'commander';
import { AuthecsError, EXIT_CODES, stateError } from '../../errors.js';
import type { CommandDefinition } from '../registry.js';
import { addStackSettingOptions } from '../settings-options.js';

export const recoverCommand: CommandDefinition = {
  name: 'recover',
  summary: `rebuild a lost state file from the stack's resources, found by their tags and names; changes nothing in AWS (exit ${EXIT_CODES.notFound}: nothing found)`,
  configure(command: Command) {
    addStackSettingOptions(command);
    command.option('--force', 'replace an existing state file with what recover finds');
  },
  async run({ command, reporter, io, onInterrupt }) {
    const { force } = command.opts() as { force?: boolean };
    const [{ discover, stackResources }, { STEPS }, { openDiscoverySession }] = await Promise.all([
      import('../../engine/recover.js'),
      import('../../steps/index.js'),
      import('../session.js'),
    ]);
    // The lock keeps `up` or `down` off the file while it is rebuilt.
    const session = await openDiscoverySession(command, reporter, io, { lockFor: 'recover' });
    onInterrupt(() => session.close());
    try {
      const { state, config } = session.environment;
      if (state.onDisk && !force) {
        throw stateError(
          'STATE_EXISTS',
          `State file ${state.path} already exists; recover rebuilds a state file that was lost`,
          'Run `authecs status` to compare it with what is live, or pass --force to replace it with what recover finds.',
        );
      }
      reporter.info(`authecs recover: looking for the resources of stack ${config.cluster} in ${config.region} by their tags and names`);
      const discovery = await discover(session.environment, STEPS);
      if (stackResources(discovery).length === 0) {
        throw new AuthecsError(`No resource of stack ${config.cluster} was found in ${config.region}: there is nothing to recover, and no state file was written`, {
          code: 'RECOVER_NOTHING_FOUND',
          exit: 'notFound',
          hint: 'Check --cluster and --region, and give the setting flags you gave `up` (names such as --load-balancer-name and --user-pool-name default from --cluster).',
        });
      }
      // Written once, whole: a recover cut short leaves no half-made state behind.
      state.persist();
      const owner = (created: boolean) => (created ? 'authecs' : 'existing');
      reporter.result(
        {
          command: 'recover',
          ok: true,
          stack: config.cluster,
          region: config.region,
          stateFile: state.path,
          settings: session.chosen,
          found: discovery.found,
          notFound: discovery.notFound,
          mutations: reporter.mutations,
        },
        [
          `Recovered stack ${config.cluster} in ${config.region} into ${state.path}.`,
          `Found (${discovery.found.length}):`,
          ...discovery.found.map((resource) => `  ✔ ${resource.title.padEnd(40)} ${owner(resource.created).padEnd(8)} ${resource.id}`),
          ...(discovery.notFound.length > 0
            ? [`Not found (${discovery.notFound.length}):`, ...discovery.notFound.map((missing) => `  ✘ ${missing.title.padEnd(40)} ${missing.reason}`)]
            : []),
          'Run `authecs plan` with the same settings to compare the stack with them; `authecs up` makes what was not found.',
        ],
      );
      return 0;
    } finally {
      session.close();
    }
  },
};
