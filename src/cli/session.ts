import type { Command } from 'commander';
import { createClients, destroyClients, type AwsClients } from '../aws/clients.js';
import { ensureEndpointReachable } from '../aws/endpoint.js';
import { loadBaseConfig, loadUpConfig, type BaseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { currentStep, pollScaleFromEnvironment, type EngineEnvironment } from '../engine/context.js';
import { configError } from '../errors.js';
import type { Reporter } from '../report/reporter.js';
import { StateFile } from '../state/state-file.js';
import { flagsFrom, statePathOf, type Io } from './io.js';

// The heavy half: AWS clients and the state file. Commands import it only when they run.

/** Settings worth keeping in the state file: not the endpoint or profile, which belong to the machine. */
function settingsToRecord(config: Config): Record<string, unknown> {
  const { endpointUrl: _endpoint, profile: _profile, stateFile: _stateFile, ...rest } = config;
  return rest;
}

export interface Session {
  environment: EngineEnvironment;
  state: StateFile;
  clients: AwsClients;
  close(): void;
}

function openSession(config: Config, state: StateFile, reporter: Reporter, io: Io): Session {
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
    close() {
      destroyClients(clients);
      state.releaseLock();
    },
  };
}

export async function openUpSession(command: Command, reporter: Reporter, io: Io): Promise<Session> {
  const config = loadUpConfig({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
  await ensureEndpointReachable(config.endpointUrl);
  const state = StateFile.open(statePathOf(config, io), { lockFor: 'up' });
  try {
    state.initialise(config.cluster, config.region, settingsToRecord(config));
  } catch (error) {
    state.releaseLock();
    throw error;
  }
  return openSession(config, state, reporter, io);
}

/**
 * `status` and `down` need only the state file: the settings `up` ran with are read
 * back from it, and region, endpoint and profile may be overridden.
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
  const region = base.region ?? state.region;
  if (!region) {
    state.releaseLock();
    throw configError('--region', 'is not set and the state file does not name one', 'Pass --region or set AWS_REGION.');
  }
  const config = {
    ...(state.settings as Partial<Config>),
    cluster: state.stack ?? base.cluster,
    region,
    waitTimeoutMinutes: base.waitTimeoutMinutes,
    ...(base.endpointUrl ? { endpointUrl: base.endpointUrl } : {}),
    ...(base.profile ? { profile: base.profile } : {}),
  } as Config;
  return openSession(config, state, reporter, io);
}

