import type { Command } from 'commander';
import { AuthecsError } from '../../errors.js';
import { formatDuration } from '../../report/reporter.js';
import { CONCURRENCY_FLAG, concurrencyFrom, confirm, describeStatePath } from '../io.js';
import type { CommandDefinition, CommandRun } from '../registry.js';
import { addStackSettingOptions, SETTING_FLAGS_WITHOUT_STATE_HELP } from '../settings-options.js';
import type { LogGroupOutput, StepName } from '../../steps/outputs.js';

export const downCommand: CommandDefinition = {
  name: 'down',
  summary: 'delete everything `up` created, and nothing else',
  configure(command: Command) {
    command.option(...CONCURRENCY_FLAG);
    command.option('-y, --yes', 'do not ask for confirmation (required when not at a terminal)');
    command.option('--keep-logs', "keep the app's log group (/authecs/<cluster>) and its logs; the next `up` adopts it");
    // Used only without a state file, to look for a stack whose state was lost.
    addStackSettingOptions(command);
    command.addHelpText('after', `\n${SETTING_FLAGS_WITHOUT_STATE_HELP}\n`);
  },
  async run({ command, reporter, io, onInterrupt, onStop }: CommandRun) {
    const options = command.optsWithGlobals() as { yes?: boolean; keepLogs?: boolean };
    const concurrency = concurrencyFrom(command);
    const [{ down }, { STEPS }, { openStateSession }, { KEEP_LOGS_STEPS }, { lookForStack, warnUnusedSettingFlags }, { timingLines }] = await Promise.all([
      import('../../engine/actions.js'),
      import('../../steps/index.js'),
      import('../session.js'),
      import('../../steps/log-group.js'),
      import('../lost-state.js'),
      import('../../engine/timing.js'),
    ]);
    const keep = options.keepLogs ? KEEP_LOGS_STEPS : [];
    const session = await openStateSession(command, reporter, io, 'down');
    if (!session) {
      // Throws when the stack still has resources: deleting nothing and saying so would hide them.
      const { config } = await lookForStack(command, reporter, io);
      reporter.info(`No state file at ${describeStatePath(command, io)}, and no resource of stack ${config.cluster} was found in ${config.region}: nothing to delete.`);
      reporter.result({ command: 'down', ok: true, stack: config.cluster, region: config.region, deleted: [], kept: [], mutations: [] }, []);
      return 0;
    }
    onInterrupt(() => session.close());
    onStop(() => session.stop());
    warnUnusedSettingFlags(command, reporter, session.state.path);
    try {
      const { state, config } = session.environment;
      const owned = state.resourceNames.filter((name) => state.get(name)?.created && !keep.includes(name as StepName));
      // Read before `down` drops the record: the name of the group that stays.
      const keptLogGroup = keep.length > 0 ? (state.get('log-group')?.data as Partial<LogGroupOutput> | undefined)?.logGroupName : undefined;
      if (!options.yes) {
        if (!io.stdin.isTTY) {
          throw new AuthecsError('`authecs down` needs --yes when it is not run at a terminal', {
            code: 'CONFIRMATION_REQUIRED',
            exit: 'usage',
            hint: 'Add --yes to delete without asking.',
          });
        }
        const agreed = await confirm(io, `Delete ${owned.length} resources of stack ${config.cluster} in ${config.region} (${owned.join(', ')})?`);
        if (!agreed) {
          reporter.info('Nothing was deleted.');
          return 0;
        }
      }
      reporter.plan(STEPS.filter((step) => state.get(step.name) !== undefined));
      const result = await down(session.environment, STEPS, { ...(concurrency ? { concurrency } : {}), keep });
      await reporter.finish();
      if (result.remaining.length === 0) state.deleteFile();
      const deleted = Object.entries(result.outcomes).filter(([, outcome]) => outcome === 'deleted').map(([name]) => name);
      const kept = Object.entries(result.outcomes)
        .filter(([name, outcome]) => outcome === 'kept' && !keep.includes(name as StepName))
        .map(([name]) => name);
      const logsKept = keptLogGroup !== undefined && result.outcomes['log-group'] === 'kept';
      reporter.result(
        {
          command: 'down',
          ok: true,
          stack: config.cluster,
          region: config.region,
          deleted,
          kept,
          ...(logsKept ? { keptLogGroup } : {}),
          elapsedMs: reporter.elapsedMs,
          criticalPath: result.timing.criticalPath,
          makespanMs: result.timing.makespanMs,
          waitingMs: result.timing.waitingMs,
          mutations: reporter.mutations,
        },
        [
          `\nStack ${config.cluster} is down (${formatDuration(reporter.elapsedMs)}): ${deleted.length} deleted, ${kept.length} left as they were (not created by authecs).`,
          ...(logsKept ? [`Log group ${keptLogGroup} was kept (--keep-logs) with its logs; the next \`authecs up\` adopts it.`] : []),
          ...timingLines(result.timing),
        ],
      );
      return 0;
    } finally {
      await reporter.finish();
      session.close();
    }
  },
};
