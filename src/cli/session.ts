import type { Command } from 'commander';
import { createClients, destroyClients, type AwsClients } from '../aws/clients.js';
import { loadBaseConfig, loadUpConfig, type BaseConfig } from '../config/load.js';
import { SETTINGS, type Config, type ConfigKey } from '../config/schema.js';
import { currentStep, pollScaleFromEnvironment, type EngineEnvironment } from '../engine/context.js';
import { AuthecsError, configError } from '../errors.js';
import { Reporter } from '../report/reporter.js';
import { defaultStatePath, StateFile } from '../state/state-file.js';

/** What a command runs with: where it is, what it prints to, and the process environment. */
export interface Io {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  yes?: boolean;
}

export function createReporter(options: GlobalOptions, io: Io): Reporter {
  return new Reporter({
    json: Boolean(options.json),
    live: !options.json && !options.quiet && !options.verbose && Boolean(io.stderr.isTTY) && !io.env.CI,
    verbosity: options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal',
    stdout: io.stdout as never,
    stderr: io.stderr as never,
  });
}

/** Only the settings the user gave on the command line, keyed by setting. */
export function flagsFrom(command: Command): Partial<Record<ConfigKey, unknown>> {
  const values = command.optsWithGlobals() as Record<string, unknown>;
  const flags: Partial<Record<ConfigKey, unknown>> = {};
  for (const setting of SETTINGS) {
    if (!setting.flag) continue;
    const attribute = attributeName(setting.flag);
    const source = sourceOf(command, attribute);
    if (source === 'cli' && values[attribute] !== undefined) flags[setting.key] = values[attribute];
  }
  return flags;
}

function sourceOf(command: Command, attribute: string): string | undefined {
  for (let current: Command | null = command; current; current = current.parent) {
    const source = current.getOptionValueSource(attribute);
    if (source) return source;
  }
  return undefined;
}

export function attributeName(flag: string): string {
  const long = flag.split(/[ ,]/)[0]!.replace(/^--(no-)?/, '');
  return long.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function statePathOf(config: { stateFile?: string | undefined; cluster: string }, io: Io): string {
  return config.stateFile ?? defaultStatePath(io.cwd, config.cluster);
}

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

export function openUpSession(command: Command, reporter: Reporter, io: Io): Session {
  const config = loadUpConfig({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
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
export function openStateSession(command: Command, reporter: Reporter, io: Io, lockFor: string | undefined): Session | undefined {
  const base: BaseConfig = loadBaseConfig({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
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

export function describeStatePath(command: Command, io: Io): string {
  const base = loadBaseConfig({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
  return statePathOf(base, io);
}

export function requireAnswer(condition: boolean, message: string, hint: string): void {
  if (!condition) throw new AuthecsError(message, { code: 'USAGE', exit: 'usage', hint });
}

/** --concurrency: a positive whole number, or unset for as much overlap as the graph allows. */
export function concurrencyFrom(command: Command): number | undefined {
  const raw = (command.opts() as { concurrency?: string }).concurrency;
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw configError('--concurrency', `"${raw}" is not a whole number of 1 or more`, 'Pass --concurrency 1 to run steps one after another, or leave it out.');
  }
  return value;
}

export const CONCURRENCY_FLAG = ['--concurrency <n>', 'run at most n steps at once (default: all the dependency graph allows; 1 = one after another, like the article)'] as const;
