import { mkdtempSync, rmSync } from 'node:fs';
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

describe('the critical path in the result of down (up: test/e2e/lifecycle-ec2.test.ts)', () => {
  let cwd: string;
  beforeEach(() => {
    logs.reset();
    logs.on(DeleteLogGroupCommand).resolves({});
    cwd = mkdtempSync(join(tmpdir(), 'authecs-timing-cli-'));
    writeLogGroupOnlyState(cwd);
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
