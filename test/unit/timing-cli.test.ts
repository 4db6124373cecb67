import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CloudWatchLogsClient, DeleteLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { SAMPLE_OUTPUTS } from '../support/step-harness.js';

const logs = mockClient(CloudWatchLogsClient);

/** `authecs down` in-process over a state file that holds only the log group. */
async function down(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const stdin = new PassThrough();
  stdin.end();
  const code = await main(['down', '--yes', ...args], { cwd, env: { HOME: cwd, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }, stdout, stderr, stdin });
  return { code, stdout: out, stderr: err };
}

describe('the critical path in the result of down (up: test/e2e/lifecycle-ec2.test.ts)', () => {
  let cwd: string;
  beforeEach(() => {
    logs.reset();
    logs.on(DeleteLogGroupCommand).resolves({});
    cwd = mkdtempSync(join(tmpdir(), 'authecs-timing-cli-'));
    mkdirSync(join(cwd, '.authecs'));
    const record = { created: true, complete: true, data: SAMPLE_OUTPUTS['log-group'], updatedAt: '' };
    writeFileSync(
      join(cwd, '.authecs', 'ecsauth.json'),
      JSON.stringify({ schemaVersion: 1, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1', createdAt: '', updatedAt: '', settings: { domain: 'www.example.com' }, resources: { 'log-group': record } }),
    );
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  it('--json: criticalPath (step, startedMs, durationMs), makespanMs and waitingMs', async () => {
    const result = await down(cwd, ['--json']);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(document.criticalPath).toEqual([{ step: 'log-group', startedMs: expect.any(Number), durationMs: expect.any(Number), waitingMs: 0 }]);
    expect(document.makespanMs).toEqual(expect.any(Number));
    expect(document.waitingMs).toBe(0);
  });

  it('for people: the path with each step\'s time, and the time spent waiting on AWS', async () => {
    const result = await down(cwd, []);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Critical path \([0-9.ms]+ of [0-9.ms]+\): log-group [0-9.ms]+$/m);
    expect(result.stdout).toMatch(/^Waiting on AWS: 0\.0s \(0%\)$/m);
  });
});
