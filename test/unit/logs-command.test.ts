import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, FilterLogEventsCommand, ResourceNotFoundException, type FilteredLogEvent, type FilterLogEventsCommandInput, type FilterLogEventsCommandOutput } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInProcess, type InProcessResult } from '../support/in-process-cli.js';
import { formatLogLine, LATE_EVENT_MS, logLineOf, parseDuration, streamFilter } from '../../src/cli/commands/logs.js';
import { EXIT_CODES } from '../../src/errors.js';

const logs = mockClient(CloudWatchLogsClient);

const NOW = Date.parse('2025-03-04T12:00:00.000Z');
const TASK_A = '0123456789abcdef0123456789abcdef';
const TASK_B = 'fedcba9876543210fedcba9876543210';

function event(id: string, task: string, secondsBeforeNow: number, message: string): FilteredLogEvent {
  return { eventId: id, logStreamName: `authecs/web/${task}`, timestamp: NOW - secondsBeforeNow * 1000, ingestionTime: NOW, message };
}

let cwd: string;

function writeState(resources: Record<string, unknown> = {}): void {
  mkdirSync(join(cwd, '.authecs'), { recursive: true });
  writeFileSync(
    join(cwd, '.authecs', 'ecsauth.json'),
    JSON.stringify({ schemaVersion: 2, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1', createdAt: '', updatedAt: '', settings: { domain: 'www.example.com' }, resources }),
  );
}

/** `authecs <args>` in-process, with a fixed clock and an AbortSignal standing in for Ctrl-C. */
function authecs(args: string[], options: { signal?: AbortSignal } = {}): Promise<InProcessResult> {
  return runInProcess(args, {
    cwd,
    env: { HOME: cwd, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AUTHECS_POLL_SCALE: '0.001' },
    now: () => NOW,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

// The paginator reuses one input object (setting nextToken), so each call is copied as it is sent.
let sent: FilterLogEventsCommandInput[] = [];
const inputs = (): FilterLogEventsCommandInput[] => sent;

type Page = Pick<FilterLogEventsCommandOutput, 'events' | 'nextToken'>;

/** FilterLogEvents answers, one per call (the last one repeats). */
function answer(...pages: (Page | (() => Page))[]): void {
  logs.on(FilterLogEventsCommand).callsFake((input: FilterLogEventsCommandInput) => {
    sent.push(JSON.parse(JSON.stringify(input)) as FilterLogEventsCommandInput);
    const next = pages.length > 1 ? pages.shift()! : pages[0]!;
    return typeof next === 'function' ? next() : next;
  });
}

beforeEach(() => {
  logs.reset();
  sent = [];
  cwd = mkdtempSync(join(tmpdir(), 'authecs-logs-'));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

describe('authecs logs', () => {
  it('reads the recorded log group from --since ago, page after page, and prints HH:MM:SS task message', async () => {
    writeState({ 'log-group': { created: true, complete: true, data: { logGroupName: '/authecs/ecsauth', logGroupArn: 'arn:aws:logs:eu-west-1:123456789012:log-group:/authecs/ecsauth' }, updatedAt: '' } });
    answer({ events: [event('1', TASK_A, 90, 'GET / 200\n')], nextToken: 'page-2' }, { events: [event('2', TASK_B, 30, 'GET /health 200')] });

    const result = await authecs(['logs', '--since', '5m']);

    expect(result.code, result.stderr).toBe(0);
    expect(inputs()).toEqual([
      { logGroupName: '/authecs/ecsauth', startTime: NOW - 5 * 60_000 },
      { logGroupName: '/authecs/ecsauth', startTime: NOW - 5 * 60_000, nextToken: 'page-2' },
    ]);
    expect(result.stdout).toBe('11:58:30 01234567  GET / 200\n11:59:30 fedcba98  GET /health 200\n');
  });

  it('without a log-group record, reads /authecs/<stack>, 10 minutes back by default', async () => {
    writeState({ cluster: { created: true, complete: true, data: { clusterName: 'ecsauth' }, updatedAt: '' } });
    answer({ events: [] });

    const result = await authecs(['logs']);

    expect(result.code, result.stderr).toBe(0);
    expect(inputs()).toEqual([{ logGroupName: '/authecs/ecsauth', startTime: NOW - 10 * 60_000 }]);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('No log events in /authecs/ecsauth since 2025-03-04T11:50:00.000Z');
  });

  it('--json prints one JSON object per event and line, and nothing else on stdout', async () => {
    writeState();
    answer({ events: [event('1', TASK_A, 2, 'hello'), event('2', TASK_B, 1, 'world')] });

    const result = await authecs(['--json', 'logs', '--since', '1h30m']);

    expect(result.code, result.stderr).toBe(0);
    expect(inputs()[0]!.startTime).toBe(NOW - 90 * 60_000);
    expect(result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      { timestamp: '2025-03-04T11:59:58.000Z', taskId: TASK_A, message: 'hello', logStream: `authecs/web/${TASK_A}` },
      { timestamp: '2025-03-04T11:59:59.000Z', taskId: TASK_B, message: 'world', logStream: `authecs/web/${TASK_B}` },
    ]);
  });

  it('--task takes a task ID or ARN (the stream authecs/web/<id>), or the start of an ID (a stream prefix)', async () => {
    writeState();
    answer({ events: [] });

    for (const task of [TASK_A, `arn:aws:ecs:eu-west-1:123456789012:task/ecsauth/${TASK_A}`]) {
      sent = [];
      expect((await authecs(['logs', '--task', task])).code).toBe(0);
      expect(inputs()).toEqual([{ logGroupName: '/authecs/ecsauth', startTime: NOW - 600_000, logStreamNames: [`authecs/web/${TASK_A}`] }]);
    }
    sent = [];
    logs.reset();
    // moto ignores the prefix and answers with every stream: only the task's own lines are printed.
    answer({ events: [event('1', TASK_A, 2, 'mine'), event('2', TASK_B, 1, 'not mine')] });
    const short = await authecs(['logs', '--task', '01234567']);
    expect(short.code).toBe(0);
    expect(inputs()).toEqual([{ logGroupName: '/authecs/ecsauth', startTime: NOW - 600_000, logStreamNamePrefix: 'authecs/web/01234567' }]);
    expect(short.stdout).toBe('11:59:58 01234567  mine\n');
  });

  it('a bad --since or --task is a usage error with a hint, before any AWS call', async () => {
    writeState();
    for (const args of [['--since', '10'], ['--since', 'ten minutes'], ['--since', '0m'], ['--task', 'task/../x']]) {
      const result = await authecs(['logs', ...args]);
      expect(result.code, args.join(' ')).toBe(EXIT_CODES.usage);
      expect(result.stderr).toContain('hint:');
    }
    expect(logs.commandCalls(FilterLogEventsCommand)).toHaveLength(0);
    expect(() => parseDuration('2x')).toThrow(/not a duration/);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1d')).toBe(86_400_000);
  });

  it('a missing log group says to run `authecs up`, exit 6', async () => {
    writeState();
    logs.on(FilterLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'The specified log group does not exist.', $metadata: {} }));

    const human = await authecs(['logs']);
    expect(human.code).toBe(EXIT_CODES.notFound);
    expect(human.stderr).toContain('error: Log group /authecs/ecsauth does not exist');
    expect(human.stderr).toContain('hint: Run `authecs up`');

    const json = await authecs(['--json', 'logs']);
    expect(json.code).toBe(EXIT_CODES.notFound);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr.trim().split('\n').at(-1)!)).toMatchObject({ type: 'error', code: 'LOG_GROUP_MISSING', exitCode: EXIT_CODES.notFound });
  });

  it('without a state file there is nothing to read: exit 6 with a hint', async () => {
    const result = await authecs(['logs']);
    expect(result.code).toBe(EXIT_CODES.notFound);
    expect(result.stderr).toContain('No state file at');
    expect(result.stderr).toContain('hint: Run `authecs up` first');
    expect(logs.commandCalls(FilterLogEventsCommand)).toHaveLength(0);
  });

  it('--follow polls for new events, prints each once, and stops when interrupted', async () => {
    writeState();
    const stop = new AbortController();
    const first = [event('1', TASK_A, 20, 'one'), event('2', TASK_A, 5, 'two')];
    const second = [...first.slice(1), event('3', TASK_B, 1, 'three')];
    answer({ events: first }, { events: second }, () => {
      stop.abort();
      return { events: [] };
    });

    const result = await authecs(['logs', '--follow'], { signal: stop.signal });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n').filter(Boolean).map((line) => line.slice(19))).toEqual(['one', 'two', 'three']);
    const newest = NOW - 5000;
    expect(inputs()).toEqual([
      { logGroupName: '/authecs/ecsauth', startTime: NOW - 600_000 },
      { logGroupName: '/authecs/ecsauth', startTime: newest - LATE_EVENT_MS },
      { logGroupName: '/authecs/ecsauth', startTime: NOW - 1000 - LATE_EVENT_MS },
    ]);
    expect(result.stderr).toContain('Following /authecs/ecsauth');
  });
});

describe('log lines', () => {
  it('names the task from its stream, and keeps other streams whole', () => {
    const line = logLineOf(event('1', TASK_A, 0, 'ready\n'), 'authecs/web/');
    expect(line).toEqual({ timestamp: '2025-03-04T12:00:00.000Z', taskId: TASK_A, message: 'ready', logStream: `authecs/web/${TASK_A}` });
    expect(formatLogLine(line)).toBe('12:00:00 01234567  ready');
    expect(logLineOf({ logStreamName: 'other', timestamp: NOW, message: 'x' }, 'authecs/web/').taskId).toBe('other');
    expect(streamFilter(`arn:aws:ecs:eu-west-1:1:task/${TASK_B}`, 'authecs/web/')).toEqual({ logStreamNames: [`authecs/web/${TASK_B}`] });
  });
});
