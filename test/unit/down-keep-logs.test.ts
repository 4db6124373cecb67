import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, DeleteLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInProcess, writeLogGroupOnlyState, type InProcessResult } from '../support/in-process-cli.js';

const logs = mockClient(CloudWatchLogsClient);

/** `authecs down --yes` in-process over a state file that holds only the log group. */
function down(cwd: string, args: string[]): Promise<InProcessResult> {
  return runInProcess(['down', '--yes', ...args], { cwd });
}

describe('authecs down --keep-logs', () => {
  let cwd: string;
  const statePath = () => join(cwd, '.authecs', 'ecsauth.json');
  beforeEach(() => {
    logs.reset();
    cwd = mkdtempSync(join(tmpdir(), 'authecs-keep-logs-'));
    writeLogGroupOnlyState(cwd);
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
