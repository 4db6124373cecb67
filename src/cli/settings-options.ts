import { Option, type Command } from 'commander';
import { SETTINGS } from '../config/schema.js';

/**
 * The stack's settings as flags, for `up` and `plan`. A boolean setting gets both forms
 * (--http-redirect and --no-http-redirect), so a value that sticks can always be set back.
 */
export function addStackSettingOptions(command: Command): void {
  // Node.js reads `--env-file` itself, even after the script (nodejs/node#54232): when the file
  // exists it passes the flag on, and authecs names the flag that works instead.
  command.addOption(new Option('--env-file <file>').hideHelp());
  for (const setting of SETTINGS) {
    if (!setting.flag || !setting.upOnly) continue;
    const defaultValue = setting.default?.({});
    const shown = defaultValue === undefined || setting.kind === 'boolean' || setting.kind === 'map' ? '' : ` (default: ${String(defaultValue)})`;
    const env = setting.env.length ? ` [env: ${setting.env.join(', ')}]` : '';
    if (setting.kind === 'list' && setting.repeatable) {
      // Repeatable like --env: every --public-path adds one; --no-public-path clears the recorded list.
      command.option(setting.flag, `${setting.description}${env}`, (entry: string, previous: unknown) => [...(Array.isArray(previous) ? previous : []), entry]);
      command.option(`--no-${setting.flag.split(' ')[0]!.replace(/^--/, '')}`, `clear every ${setting.flag.split(' ')[0]} a previous run recorded`);
      continue;
    }
    if (setting.kind === 'map') {
      // Repeatable: every --env adds an entry; --no-env clears the recorded set.
      command.option(setting.flag, `${setting.description}${env}`, (entry: string, previous: unknown) => [...(Array.isArray(previous) ? previous : []), entry]);
      command.option(`--no-${setting.flag.split(' ')[0]!.replace(/^--/, '')}`, `clear every ${setting.flag.split(' ')[0]} a previous run recorded`);
      continue;
    }
    command.option(setting.flag, `${setting.description}${shown}${env}`);
    if (setting.kind === 'boolean') {
      const positive = setting.flag.replace(/^--no-/, '--');
      const negative = setting.flag.startsWith('--no-') ? setting.flag : setting.flag.replace(/^--/, '--no-');
      const other = setting.flag === positive ? negative : positive;
      command.option(other, `${other === positive ? 'turn on' : 'turn off'} what ${setting.flag} turns ${other === positive ? 'off' : 'on'} (default: ${String(defaultValue)})`);
    }
  }
}

/** `status` and `down` read the settings from the state file; their setting flags serve only without one. */
export const SETTING_FLAGS_WITHOUT_STATE_HELP =
  'The setting flags (as for `up`) are used only when there is no state file: to look for the stack\'s resources, in case its state file was lost. If any is found, the command names them and exits 8; `authecs recover` rebuilds the state file.';
