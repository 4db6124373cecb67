import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import type { FilteredLogEvent, FilterLogEventsCommandInput } from '@aws-sdk/client-cloudwatch-logs';
import { AuthecsError, usageError } from '../../errors.js';
import type { LogGroupOutput } from '../../steps/outputs.js';
import { describeStatePath } from '../io.js';
import type { CommandDefinition, CommandRun } from '../registry.js';

/** How often `--follow` asks for new events (scaled by AUTHECS_POLL_SCALE in tests). */
export const FOLLOW_POLL_MS = 2000;
// Events can reach CloudWatch after later ones (the awslogs driver buffers per task), so each
// poll looks this far behind the newest event seen and drops what it printed by eventId.
export const LATE_EVENT_MS = 10_000;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: 30s, 10m, 2h, 1d, or several together (1h30m), in milliseconds. */
export function parseDuration(text: string): number {
  const value = text.trim().toLowerCase();
  const total = /^(\d+[smhd])+$/.test(value) ? [...value.matchAll(/(\d+)([smhd])/g)].reduce((sum, [, count, unit]) => sum + Number(count) * UNIT_MS[unit!]!, 0) : NaN;
  if (!(total > 0)) throw usageError(`--since "${text}" is not a duration`, 'Give a number and a unit: 30s, 10m, 2h or 1d (or several together, such as 1h30m).');
  return total;
}

// A task ID is 32 hex digits (older tasks: a UUID); anything shorter is taken as the start of one.
const FULL_TASK_ID = /^([0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** `--task`: a task ID, the start of one, or a task ARN, as the FilterLogEvents stream filter. */
export function streamFilter(task: string, streamPrefix: string): Pick<FilterLogEventsCommandInput, 'logStreamNames' | 'logStreamNamePrefix'> {
  let id = task.trim();
  if (id.startsWith('arn:')) {
    if (!/:task\//.test(id)) throw usageError(`--task "${task}" is not a task ARN`, 'Pass a task ID or ARN, as `aws ecs list-tasks` prints it.');
    id = id.slice(id.lastIndexOf('/') + 1);
  }
  if (!/^[A-Za-z0-9-]+$/.test(id)) throw usageError(`--task "${task}" is not a task ID`, 'Pass a task ID (the last part of its ARN) or its task ARN.');
  return FULL_TASK_ID.test(id) ? { logStreamNames: [`${streamPrefix}${id}`] } : { logStreamNamePrefix: `${streamPrefix}${id}` };
}

export interface LogLine {
  /** ISO 8601, UTC. */
  timestamp: string;
  taskId: string;
  message: string;
  logStream: string;
}

export function logLineOf(event: FilteredLogEvent, streamPrefix: string): LogLine {
  const logStream = event.logStreamName ?? '';
  return {
    timestamp: new Date(event.timestamp ?? 0).toISOString(),
    taskId: logStream.startsWith(streamPrefix) ? logStream.slice(streamPrefix.length) : logStream,
    message: (event.message ?? '').replace(/\r?\n$/, ''),
    logStream,
  };
}

/** For people: `HH:MM:SS taskid-8  message`, the time in UTC. */
export function formatLogLine(line: LogLine): string {
  return `${line.timestamp.slice(11, 19)} ${line.taskId.slice(0, 8).padEnd(8)}  ${line.message}`;
}

function logGroupMissing(logGroupName: string, stack: string, cause: unknown): AuthecsError {
  return new AuthecsError(`Log group ${logGroupName} does not exist: stack ${stack} has not been brought up, or its log group was deleted`, {
    code: 'LOG_GROUP_MISSING',
    exit: 'notFound',
    resource: logGroupName,
    hint: 'Run `authecs up` (it makes the log group the containers write to), then `authecs logs` again.',
    cause,
  });
}

/** Waits, or stops early when the signal fires; false once stopped. */
async function pause(milliseconds: number, signal: AbortSignal): Promise<boolean> {
  try {
    await delay(milliseconds, undefined, { signal });
    return true;
  } catch (error) {
    if (signal.aborted) return false;
    throw error;
  }
}

export const logsCommand: CommandDefinition = {
  readOnly: true,
  name: 'logs',
  summary: "print the app's container logs from the stack's log group (read-only)",
  configure(command: Command) {
    command.option('--since <duration>', 'how far back to start: 30s, 10m, 2h, 1d', '10m');
    command.option('-f, --follow', 'keep printing new events until Ctrl-C');
    command.option('--task <id>', 'only this task (a task ID, the start of one, or a task ARN)');
    command.addHelpText(
      'after',
      "\nEach task writes to its own stream, authecs/web/<task id>, in the log group /authecs/<stack>. People see `HH:MM:SS <task id>  <message>` (UTC); --json prints one JSON object per event and line: {timestamp, taskId, message, logStream}.\n",
    );
  },
  async run({ command, reporter, io, onInterrupt }: CommandRun) {
    const options = command.opts() as { since: string; follow?: boolean; task?: string };
    const sinceMs = parseDuration(options.since);
    // Imported when the command runs, so that --help stays fast.
    const [{ logEventPages }, { openStateSession }, { logGroupNameFor }, { taskLogStreamName }, { pollScaleFromEnvironment }, { hasErrorCode }] = await Promise.all([
      import('../../aws/log-events.js'),
      import('../session.js'),
      import('../../steps/log-group.js'),
      import('../../steps/shared/rollout.js'),
      import('../../engine/context.js'),
      import('../../aws/errors.js'),
    ]);
    // authecs/web/: what awslogs puts before each task's ID.
    const streamPrefix = taskLogStreamName('');
    const streams = options.task === undefined ? {} : streamFilter(options.task, streamPrefix);

    const session = await openStateSession(command, reporter, io, undefined);
    if (!session) {
      throw new AuthecsError(`No state file at ${describeStatePath(command, io)}: no stack has been brought up with these settings, so there are no logs`, {
        code: 'STATE_MISSING',
        exit: 'notFound',
        hint: 'Run `authecs up` first, or pass --state / --cluster to point at an existing state file.',
      });
    }
    const stop = new AbortController();
    const signal = io.signal ? AbortSignal.any([io.signal, stop.signal]) : stop.signal;
    onInterrupt(() => {
      stop.abort();
      session.close();
    });
    try {
      const { stack } = session.environment;
      // The recorded name, else the one `up` gives it (a stack brought up before the log group step).
      const logGroupName = session.state.get<LogGroupOutput>('log-group')?.data.logGroupName ?? logGroupNameFor(stack);
      const startTime = (io.now ?? Date.now)() - sinceMs;
      const printed = new Map<string, number>();
      let newest: number | undefined;

      const printFrom = async (from: number): Promise<void> => {
        try {
          for await (const page of logEventPages(session.clients.logs, { logGroupName, startTime: from, ...streams })) {
            for (const event of page.events ?? []) {
              // Emulators (moto) ignore logStreamNamePrefix: filter here too.
              if (streams.logStreamNamePrefix && !event.logStreamName?.startsWith(streams.logStreamNamePrefix)) continue;
              const id = event.eventId ?? `${event.logStreamName}/${event.timestamp}/${event.message}`;
              if (printed.has(id)) continue;
              printed.set(id, event.timestamp ?? 0);
              newest = Math.max(newest ?? 0, event.timestamp ?? 0);
              const line = logLineOf(event, streamPrefix);
              reporter.record({ ...line }, formatLogLine(line));
            }
          }
        } catch (error) {
          if (hasErrorCode(error, 'ResourceNotFoundException')) throw logGroupMissing(logGroupName, stack, error);
          throw error;
        }
      };

      if (options.follow && !reporter.json) reporter.info(`Following ${logGroupName}${options.task ? ` (task ${options.task})` : ''} from ${new Date(startTime).toISOString()}; Ctrl-C stops.`);
      await printFrom(startTime);
      if (!options.follow) {
        if (printed.size === 0 && !reporter.json) reporter.info(`No log events in ${logGroupName} since ${new Date(startTime).toISOString()}.`);
        return 0;
      }
      // Polling, not StartLiveTail: that is a streaming API that moto (the tests' and demo's AWS) does not implement.
      const interval = Math.max(1, FOLLOW_POLL_MS * pollScaleFromEnvironment(io.env));
      while (await pause(interval, signal)) {
        const from = Math.max(startTime, (newest ?? startTime) - LATE_EVENT_MS);
        for (const [id, timestamp] of printed) if (timestamp < from) printed.delete(id);
        await printFrom(from);
      }
      return 0;
    } finally {
      session.close();
    }
  },
};
