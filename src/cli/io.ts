import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { loadBaseConfig, type BaseConfig } from '../config/load.js';
import { SETTINGS, type ConfigKey } from '../config/schema.js';
import { configError } from '../errors.js';
import { Reporter } from '../report/reporter.js';
import { defaultStatePath, type OpenOptions } from '../state/state-file.js';

// The light half of the CLI's plumbing: no AWS SDK here, so `--help` and bad flags answer fast.

/** What a command runs with: where it is, what it prints to, and the process environment. */
export interface Io {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** The clock, in epoch milliseconds (tests fix it); Date.now when absent. */
  now?: () => number;
  /** Ends a command that runs until stopped (`logs --follow`): tests abort it, people press Ctrl-C. */
  signal?: AbortSignal;
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

export function statePathOf(config: { stateFile?: string | undefined; cluster: string }, io: Io): string {
  return config.stateFile ?? defaultStatePath(io.cwd, config.cluster);
}

/** How to open the state: an s3:// one is reached with this run's region, endpoint and profile. */
export function stateOpenOptions(base: BaseConfig, options: { lockFor?: string; forceUnlock?: boolean } = {}): OpenOptions {
  return {
    ...options,
    aws: { ...(base.region ? { region: base.region } : {}), ...(base.endpointUrl ? { endpointUrl: base.endpointUrl } : {}), ...(base.profile ? { profile: base.profile } : {}) },
  };
}

export function describeStatePath(command: Command, io: Io): string {
  const base = loadBaseConfig({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
  return statePathOf(base, io);
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

/** A yes/no question at the terminal; anything but y or yes is no. */
export async function confirm(io: Io, question: string): Promise<boolean> {
  const prompt = createInterface({ input: io.stdin, output: io.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}
