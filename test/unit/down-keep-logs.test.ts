import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

describe('authecs down --keep-logs', () => {
  let cwd: string;
  const statePath = () => join(cwd, '.authecs', 'ecsauth.json');
  beforeEach(() => {
    logs.reset();
    cwd = mkdtempSync(join(tmpdir(), 'authecs-keep-logs-'));
    mkdirSync(join(cwd, '.authecs'));
    const record = { created: true, complete: true, data: SAMPLE_OUTPUTS['log-group'], updatedAt: '' };
    writeFileSync(statePath(), JSON.stringify({ schemaVersion: 1, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1', createdAt: '', updatedAt: '', settings: { domain: 'www.example.com' }, resources: { 'log-group': record } }));
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  it('leaves the log group in place, drops its record with the state file, and names it in --json', async () => {
    const result = await down(cwd, ['--json', '--keep-logs']);

    expect(result.code, result.stderr).toBe(0);
    expect(logs.commandCalls(DeleteLogGroupCommand)).toHaveLength(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ command: 'down', ok: true, deleted: [], kept: [], keptLogGroup: '/authecs/ecsauth' });
    expect(existsSync(statePath())).toBe(false);
  });

  it('says so to people', async () => {
    const result = await down(cwd, ['--keep-logs']);
    expect(result.stdout).toContain('Log group /authecs/ecsauth was kept (--keep-logs) with its logs; the next `authecs up` adopts it.');
  });

  it('without it, down deletes the log group', async () => {
    logs.on(DeleteLogGroupCommand).resolves({});
    const result = await down(cwd, ['--json']);

    expect(result.code, result.stderr).toBe(0);
    expect(logs.commandCalls(DeleteLogGroupCommand)[0]!.args[0].input).toEqual({ logGroupName: '/authecs/ecsauth' });
    const document = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(document).toMatchObject({ deleted: ['log-group'], kept: [] });
    expect(document).not.toHaveProperty('keptLogGroup');
  });
});
