import type { Command } from 'commander';
import { createClients, destroyClients, type AwsClients } from '../aws/clients.js';
import { ensureEndpointReachable } from '../aws/endpoint.js';
import { loadBaseConfig, loadStackSettings, settingChanges, type BaseConfig, type SettingChange } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { currentStep, pollScaleFromEnvironment, type EngineEnvironment } from '../engine/context.js';
import { configError, stateError } from '../errors.js';
import type { Reporter } from '../report/reporter.js';
import { StateFile } from '../state/state-file.js';
import { flagsFrom, statePathOf, type Io } from './io.js';

// The heavy half: AWS clients and the state file. Commands import it only when they run.

export interface Session {
  environment: EngineEnvironment;
  state: StateFile;
  clients: AwsClients;
  /** Stack settings that differ from the last run's (empty for a new stack). */
  settingChanges: SettingChange[];
  close(): void;
}

function openSession(config: Config, state: StateFile, reporter: Reporter, io: Io, changes: SettingChange[] = []): Session {
  const clients = createClients({
    region: config.region,
    ...(config.profile ? { profile: config.profile } : {}),
    ...(config.endpointUrl ? { endpointUrl: config.endpointUrl } : {}),
    reporter,
    currentStep: () => currentStep.getStore(),
  });
  return {
    environment: { config, clients, state, reporter, stack: config.cluster, pollScale: pollScaleFromEnvironment(io.env) },
    state,
    clients,
    settingChanges: changes,
    close() {
      destroyClients(clients);
      state.releaseLock();
    },
  };
}

/**
 * `up` and `plan`: this run's flags, environment and .env over the settings earlier runs chose
 * (read from the state file), over defaults. `plan` opens the state without the lock and
 * never writes it; `up` holds the lock and records the chosen settings with its first write.
 */
export async function openUpSession(command: Command, reporter: Reporter, io: Io, options: { lockFor?: string } = { lockFor: 'up' }): Promise<Session> {
  const flags = flagsFrom(command);
  const base: BaseConfig = loadBaseConfig({ flags, env: io.env, cwd: io.cwd });
  const path = statePathOf(base, io);
  const settingsFrom = (file: StateFile) => {
    const recorded = file.exists ? { region: file.region, ...file.settings } : undefined;
    return { recorded, settings: loadStackSettings({ flags, env: io.env, cwd: io.cwd, ...(recorded ? { recorded } : {}) }) };
  };
  // Bad settings are refused before the lock (and its folder) is made: nothing is touched.
  settingsFrom(StateFile.open(path));
  const state = StateFile.open(path, options.lockFor ? { lockFor: options.lockFor } : {});
  try {
    const { recorded, settings } = settingsFrom(state);
    await ensureEndpointReachable(settings.config.endpointUrl);
    const changes = settingChanges(recorded, settings);
    if (options.lockFor) state.initialise(settings.config.cluster, settings.config.region, settings.chosen);
    else state.check(settings.config.cluster, settings.config.region);
    return openSession(settings.config, state, reporter, io, changes);
  } catch (error) {
    state.releaseLock();
    throw error;
  }
}

/**
 * `status` and `down` need only the state file: the settings earlier runs chose are read
 * back from it (through the config schema, so a setting added since gets its default), and
 * region, endpoint and profile may be overridden.
 */
export async function openStateSession(command: Command, reporter: Reporter, io: Io, lockFor: string | undefined): Promise<Session | undefined> {
  const base: BaseConfig = loadBaseConfig({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
  await ensureEndpointReachable(base.endpointUrl);
  const path = statePathOf(base, io);
  const state = StateFile.open(path, lockFor ? { lockFor } : {});
  if (!state.exists) {
    state.releaseLock();
    return undefined;
  }
  try {
    const region = base.region ?? state.region;
    if (!region) throw configError('--region', 'is not set and the state file does not name one', 'Pass --region or set AWS_REGION.');
    const machine = {
      cluster: state.stack ?? base.cluster,
      region,
      waitTimeoutMinutes: base.waitTimeoutMinutes,
      ...(base.endpointUrl ? { endpointUrl: base.endpointUrl } : {}),
      ...(base.profile ? { profile: base.profile } : {}),
    };
    let config: Config;
    try {
      ({ config } = loadStackSettings({ flags: machine, env: {}, cwd: '/nonexistent-authecs-dir', recorded: state.settings }));
    } catch (error) {
      throw stateError(
        'STATE_SETTINGS_INVALID',
        `The settings recorded in ${state.path} do not pass the config schema: ${(error as Error).message}`,
        'Run `authecs up` with the setting corrected (it records the settings again), or fix the "settings" object in the state file.',
      );
    }
    return openSession(config, state, reporter, io);
  } catch (error) {
    state.releaseLock();
    throw error;
  }
}
