import type { Command } from 'commander';
import type { StatusRow } from '../../engine/actions.js';
import { AuthecsError } from '../../errors.js';
import { describeStatePath } from '../io.js';
import type { CommandDefinition } from '../registry.js';
import { addStackSettingOptions, SETTING_FLAGS_WITHOUT_STATE_HELP } from '../settings-options.js';

function table(rows: StatusRow[]): string[] {
  const header = ['RESOURCE', 'OWNER', 'PRESENT', 'HEALTHY', 'DETAIL'];
  const body = rows.map((row) => [
    row.title,
    row.created === null ? '-' : row.created ? 'authecs' : 'existing',
    row.present ? 'yes' : 'NO',
    row.healthy ? 'yes' : 'NO',
    [row.summary, ...row.drift.map((drift) => `drift: ${drift}`)].join('; '),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => cells[column]!.length)));
  const format = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ');
  return [format(header), ...body.map(format)];
}

export const statusCommand: CommandDefinition = {
  readOnly: true,
  name: 'status',
  summary: 'show what is live, what is healthy and what has drifted (exit 0 only when all is well)',
  configure(command: Command) {
    // Used only without a state file, to look for a stack whose state was lost.
    addStackSettingOptions(command);
    command.addHelpText('after', `\n${SETTING_FLAGS_WITHOUT_STATE_HELP}\n`);
  },
  async run({ command, reporter, io, onInterrupt }) {
    const [{ status }, { STEPS }, { openStateSession }, { lookForStack, warnUnusedSettingFlags }] = await Promise.all([
      import('../../engine/actions.js'),
      import('../../steps/index.js'),
      import('../session.js'),
      import('../lost-state.js'),
    ]);
    const session = await openStateSession(command, reporter, io, undefined);
    if (!session) {
      // Throws when the stack still has resources: a lost state file is not a deleted stack.
      const { config } = await lookForStack(command, reporter, io);
      throw new AuthecsError(`No state file at ${describeStatePath(command, io)}, and no resource of stack ${config.cluster} was found in ${config.region}: nothing has been deployed with these settings`, {
        code: 'STATE_MISSING',
        exit: 'unhealthy',
        hint: 'Run `authecs up`, or pass --state / --cluster to point at an existing state file.',
      });
    }
    onInterrupt(() => session.close());
    warnUnusedSettingFlags(command, reporter, session.state.path);
    try {
      const rows = await status(session.environment, STEPS);
      const healthy = rows.every((row) => row.healthy);
      const { config } = session.environment;
      reporter.result(
        { command: 'status', ok: healthy, stack: config.cluster, region: config.region, stateFile: session.state.path, resources: rows },
        [
          ...table(rows),
          '',
          healthy
            ? `All ${rows.length} resources are present and healthy.`
            : `${rows.filter((row) => !row.healthy).length} of ${rows.length} resources are missing, unhealthy or drifted. Run \`authecs up\` to repair.`,
        ],
      );
      return healthy ? 0 : 9;
    } finally {
      session.close();
    }
  },
};
