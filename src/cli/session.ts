import type { Command } from 'commander';
import { createClients, destroyClients, type AwsClients } from '../aws/clients.js';
import { ensureEndpointReachable } from '../aws/endpoint.js';
import { loadBaseConfig, loadStackSettings, settingChanges, type BaseConfig, type SettingChange } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { currentStep, pollScaleFromEnvironment, type EngineEnvironment } from '../engine/context.js';
import { configError, stateError, usageError } from '../errors.js';
import type { Reporter } from '../report/reporter.js';
import { describeHolder } from '../state/lock.js';
import { isS3Url } from '../state/s3-store.js';
import { keyFilePolicy, StateFile } from '../state/state-file.js';
import { flagsFrom, stateOpenOptions, statePathOf, type Io } from './io.js';

// The heavy half: AWS clients and the state file. Commands import it only when they run.

export interface Session {
  environment: EngineEnvironment;
  state: StateFile;
  clients: AwsClients;
  /** Stack settings that differ from the last run's (empty for a new stack). */
  settingChanges: SettingChange[];
  /**
   * A graceful stop: no new AWS call or step, waits end; what is in flight finishes and is
   * recorded. False when no changing call is in flight: then nothing can go unrecorded, and the
   * caller may stop at once.
   */
  stop(): boolean;
  close(): void;
}

/** --force-unlock, where the command has it. */
function forceUnlockOf(command: Command): boolean {
  return Boolean((command.optsWithGlobals() as { forceUnlock?: boolean }).forceUnlock);
}

function openSession(config: Config, state: StateFile, reporter: Reporter, io: Io, changes: SettingChange[] = [], keepKeyFile = true): Session {
  if (state.lockTakenFrom) reporter.warn(`--force-unlock: took the lock of ${state.path} over from ${describeHolder(state.lockTakenFrom)}.`);
  const keyFiles = keyFilePolicy(state, { cwd: io.cwd, stack: config.cluster, keep: keepKeyFile });
  const stopping = new AbortController();
  const inFlight = { changes: 0 };
  const clients = createClients({
    region: config.region,
    ...(config.profile ? { profile: config.profile } : {}),
    ...(config.endpointUrl ? { endpointUrl: config.endpointUrl } : {}),
    reporter,
    currentStep: () => currentStep.getStore(),
    stopped: () => stopping.signal.aborted,
    inFlight,
  });
  return {
    environment: { config, clients, state, reporter, stack: config.cluster, pollScale: pollScaleFromEnvironment(io.env), keyFiles, stopSignal: stopping.signal },
    state,
    clients,
    settingChanges: changes,
    stop() {
      stopping.abort();
      return inFlight.changes > 0;
    },
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
  const nodeEnvFile = (command.opts() as { envFile?: string }).envFile;
  if (nodeEnvFile !== undefined) {
    throw usageError(
      `--env-file is read by Node.js itself, not by authecs (nodejs/node#54232)`,
      `Pass --app-env-file ${nodeEnvFile} (or set AUTH_ECS_ENV_FILE): it gives the container the file's variables.`,
    );
  }
  const flags = flagsFrom(command);
  const base: BaseConfig = loadBaseConfig({ flags, env: io.env, cwd: io.cwd });
  const path = statePathOf(base, io);
  // S3 is reached before anything else: an emulator that is not there is said at once.
  if (isS3Url(path)) await ensureEndpointReachable(base.endpointUrl);
  const settingsFrom = (file: StateFile) => {
    const recorded = file.exists ? { region: file.region, ...file.settings } : undefined;
    return { recorded, settings: loadStackSettings({ flags, env: io.env, cwd: io.cwd, ...(recorded ? { recorded } : {}) }) };
  };
  // Bad settings are refused before the lock (and its folder) is made: nothing is touched.
  settingsFrom(StateFile.open(path, stateOpenOptions(base)));
  const state = StateFile.open(path, stateOpenOptions(base, options.lockFor ? { lockFor: options.lockFor, forceUnlock: forceUnlockOf(command) } : {}));
  try {
    const { recorded, settings } = settingsFrom(state);
    await ensureEndpointReachable(settings.config.endpointUrl);
    const changes = settingChanges(recorded, settings);
    if (options.lockFor) state.initialise(settings.config.cluster, settings.config.region, settings.chosen);
    else state.check(settings.config.cluster, settings.config.region);
    // --no-key-file: `up` keeps no private key (commander's negated flag is keyFile: false).
    const keepKeyFile = (command.opts() as { keyFile?: boolean }).keyFile !== false;
    return openSession(settings.config, state, reporter, io, changes, keepKeyFile);
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
  const state = StateFile.open(path, stateOpenOptions(base, lockFor ? { lockFor, forceUnlock: forceUnlockOf(command) } : {}));
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

export interface DiscoverySession extends Session {
  /** The settings this run chose (flags, environment, .env), as `up` would record them. */
  chosen: Record<string, unknown>;
}

/**
 * No state file to read the settings from: this run's flags, environment and .env over defaults,
 * as for a first `up`, and a detached state that stays in memory (`recover` persists it).
 * `recover` takes the lock; `status` and `down` looking for a stack write nothing and lock nothing.
 */
export async function openDiscoverySession(command: Command, reporter: Reporter, io: Io, options: { lockFor?: string } = {}): Promise<DiscoverySession> {
  const flags = flagsFrom(command);
  const base: BaseConfig = loadBaseConfig({ flags, env: io.env, cwd: io.cwd });
  const settings = loadStackSettings({ flags, env: io.env, cwd: io.cwd });
  await ensureEndpointReachable(settings.config.endpointUrl);
  const state = StateFile.detached(statePathOf(base, io), stateOpenOptions(base, options.lockFor ? { lockFor: options.lockFor, forceUnlock: forceUnlockOf(command) } : {}));
  try {
    state.initialise(settings.config.cluster, settings.config.region, settings.chosen);
    return { ...openSession(settings.config, state, reporter, io), chosen: settings.chosen };
  } catch (error) {
    state.releaseLock();
    throw error;
  }
}

/** Whether there is a state to act on (`deploy` needs one), local or in S3; read without the lock. */
export async function stateExists(command: Command, io: Io): Promise<boolean> {
  const base: BaseConfig = loadBaseConfig({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
  const path = statePathOf(base, io);
  if (isS3Url(path)) await ensureEndpointReachable(base.endpointUrl);
  return StateFile.open(path, stateOpenOptions(base)).exists;
}
