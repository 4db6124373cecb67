/**
 * Runs the built CLI exactly as a user does: `node bin/authecs.js ...` as a subprocess, pointed at
 * the emulator only through its environment. `npm run build` must have run first.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const AUTHECS_BIN = join(PROJECT_ROOT, 'bin', 'authecs.js');

/** One JSON line authecs wrote on stderr under --json. */
export interface AuthecsEvent {
  type: string;
  time?: string;
  step?: string;
  title?: string;
  outcome?: string;
  message?: string;
  code?: string;
  hint?: string;
  exitCode?: number;
  service?: string;
  operation?: string;
  resource?: string;
  [key: string]: unknown;
}

export interface RunOptions {
  /** The whole environment of the subprocess (nothing is inherited but PATH). */
  env: Record<string, string | undefined>;
  cwd: string;
  /** AUTHECS_TEST_KILL_AFTER_WRITES: authecs SIGKILLs itself after its Nth state write. */
  killAfterWrites?: number;
  /** SIGKILL the subprocess as soon as an event matches (e.g. a step-start), to cut a request short. */
  killWhen?: (event: AuthecsEvent) => boolean;
  /** SIGKILL the subprocess after this many milliseconds. */
  killAfterMs?: number;
  /** Text to write on stdin. */
  input?: string;
  /** Another build of authecs to run (the previous release, for the migration test). */
  bin?: string;
  /** Give up (SIGKILL and reject) after this long; default 110 s. */
  timeoutMs?: number;
}

export interface RunResult {
  args: string[];
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is one document (under --json), else undefined. */
  json: Record<string, unknown> | undefined;
  /** Every stderr line that parses as a JSON object. */
  events: AuthecsEvent[];
  /** True when the harness (not authecs) killed the process. */
  killedByHarness: boolean;
  wallMs: number;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function runAuthecs(args: string[], options: RunOptions): Promise<RunResult> {
  if (!existsSync(join(PROJECT_ROOT, 'dist', 'bundle', 'main.js'))) {
    return Promise.reject(new Error('dist/ is missing: run `npm run build` before the e2e tests (npm test does it).'));
  }
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [key, value] of Object.entries(options.env)) if (value !== undefined) env[key] = value;
  if (options.killAfterWrites !== undefined) env.AUTHECS_TEST_KILL_AFTER_WRITES = String(options.killAfterWrites);

  const started = Date.now();
  const child = spawn(process.execPath, [options.bin ?? AUTHECS_BIN, ...args], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let pending = '';
  const events: AuthecsEvent[] = [];
  let killedByHarness = false;
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) {
      killedByHarness = true;
      child.kill('SIGKILL');
    }
  };

  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const event = parseJsonObject(line.trim()) as AuthecsEvent | undefined;
      if (!event) continue;
      events.push(event);
      if (options.killWhen?.(event)) kill();
    }
  });
  child.stdin.end(options.input ?? '');

  const killTimer = options.killAfterMs === undefined ? undefined : setTimeout(kill, options.killAfterMs);
  const timeoutMs = options.timeoutMs ?? 110_000;

  return new Promise((resolvePromise, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`authecs ${args.join(' ')} did not finish within ${timeoutMs} ms.\nstderr:\n${stderr.slice(-4000)}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(guard);
      if (killTimer) clearTimeout(killTimer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (killTimer) clearTimeout(killTimer);
      const last = parseJsonObject(pending.trim()) as AuthecsEvent | undefined;
      if (last) events.push(last);
      resolvePromise({
        args,
        code,
        signal,
        stdout,
        stderr,
        json: args.includes('--json') ? parseJsonObject(stdout.trim()) : undefined,
        events,
        killedByHarness,
        wallMs: Date.now() - started,
      });
    });
  });
}

/** A one-paragraph account of a run, for assertion messages. */
export function describeRun(result: RunResult): string {
  return `authecs ${result.args.join(' ')} -> code ${result.code}${result.signal ? ` (signal ${result.signal})` : ''} in ${result.wallMs} ms\n--- stdout ---\n${result.stdout.slice(-3000)}\n--- stderr ---\n${result.stderr.slice(-12000)}`;
}
