import type { Command } from 'commander';
import { EXIT_CODES } from '../../errors.js';
import { pendingCount, planDocument, planLines, settingChangeLines, settingChangesDocument } from '../plan-view.js';
import type { CommandDefinition } from '../registry.js';
import { addStackSettingOptions } from '../settings-options.js';

export const planCommand: CommandDefinition = {
  readOnly: true,
  name: 'plan',
  summary: `show what \`up\` would change, and change nothing (exit 0: no change; ${EXIT_CODES.changes}: changes pending)`,
  configure(command: Command) {
    addStackSettingOptions(command);
  },
  async run({ command, reporter, io, onInterrupt }) {
    const [{ plan }, { STEPS }, { openUpSession }] = await Promise.all([import('../../engine/actions.js'), import('../../steps/index.js'), import('../session.js')]);
    // No lock and no write: plan may run beside another command, and leaves the state file as it was.
    const session = await openUpSession(command, reporter, io, {});
    onInterrupt(() => session.close());
    try {
      const { config } = session.environment;
      const planned = await plan(session.environment, STEPS);
      const pending = pendingCount(planned);
      reporter.result(
        {
          command: 'plan',
          ok: true,
          stack: config.cluster,
          region: config.region,
          changes: pending > 0,
          settingsChanged: settingChangesDocument(session.settingChanges),
          resources: planDocument(planned),
          // Always empty: plan reads only. Here so CI (and the tests) can see it.
          mutations: reporter.mutations,
        },
        [
          ...settingChangeLines(session.settingChanges),
          `Plan for stack ${config.cluster} in ${config.region}:`,
          ...planLines(planned),
          pending > 0 ? 'Run `authecs up` with the same settings to make these changes.' : 'No changes: the live stack matches the settings.',
        ],
      );
      return pending > 0 ? EXIT_CODES.changes : 0;
    } finally {
      session.close();
    }
  },
};
