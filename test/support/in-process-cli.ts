import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { SAMPLE_OUTPUTS } from './step-harness.js';

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface InProcessOptions {
  cwd: string;
  /** The whole environment; by default HOME is `cwd` and the credentials are examples. */
  env?: Record<string, string>;
  /** A fixed clock. */
  now?: () => number;
  /** Stands in for Ctrl-C. */
  signal?: AbortSignal;
}

/** Runs the CLI in this process (its clients are the ones aws-sdk-client-mock stubs), with stdin closed. */
export async function runInProcess(args: string[], options: InProcessOptions): Promise<InProcessResult> {
  const { cwd } = options;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const stdin = new PassThrough();
  stdin.end();
  const env = options.env ?? { HOME: cwd, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
  const code = await main(args, { cwd, env, stdout, stderr, stdin, ...(options.now ? { now: options.now } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  return { code, stdout: out, stderr: err };
}

/** A state file for stack ecsauth in `cwd` that holds only the log group's record; returns its path. */
export function writeLogGroupOnlyState(cwd: string): string {
  mkdirSync(join(cwd, '.authecs'), { recursive: true });
  const path = join(cwd, '.authecs', 'ecsauth.json');
  const record = { created: true, complete: true, data: SAMPLE_OUTPUTS['log-group'], updatedAt: '' };
  writeFileSync(
    path,
    JSON.stringify({ schemaVersion: 1, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1', createdAt: '', updatedAt: '', settings: { domain: 'www.example.com' }, resources: { 'log-group': record } }),
  );
  return path;
}
