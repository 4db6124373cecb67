import { describe, expect, it } from 'vitest';
import { AuthecsError } from '../../src/errors.js';
import {
  callsWithin,
  CERTIFICATE_ISSUED_SCHEDULE,
  DNS_CHANGE_SCHEDULE,
  ECS_SCHEDULE,
  intervalAt,
  LOAD_BALANCER_SCHEDULE,
  pollUntil,
  progressGate,
  retryWhileInUse,
  type PollSchedule,
  type WaitReport,
} from '../../src/steps/shared/poll.js';
import type { StepContext } from '../../src/steps/step.js';

/** A StepContext with a fake clock: sleep() advances it at once; `checkSeconds` is how long each check takes. */
function fakeContext(options: { scale?: number; timeoutSeconds?: number } = {}) {
  const scale = options.scale ?? 1;
  let clock = 1_000_000;
  const sleeps: number[] = [];
  const waits: WaitReport[] = [];
  const progress: string[] = [];
  const context = {
    waitTimeoutSeconds: options.timeoutSeconds ?? 20 * 60,
    sleep: async (seconds: number) => {
      sleeps.push(seconds);
      clock += seconds * 1000;
    },
    now: () => clock,
    pollSeconds: (seconds: number) => seconds * scale,
    progress: (message: string) => progress.push(message),
    waits: (wait: WaitReport) => waits.push(wait),
  } as unknown as StepContext<'certificate'>;
  return { context, sleeps, waits, progress, advance: (seconds: number) => (clock += seconds * 1000) };
}

const FAST_THEN_SLOW: PollSchedule = [{ untilSeconds: 180, everySeconds: 5 }, { everySeconds: 15 }];

describe('poll schedules', () => {
  it('picks the phase that holds the time: 5 s before 180 s, 15 s from 180 s on', () => {
    expect([0, 5, 175, 179.9, 180, 600, 36_000].map((seconds) => intervalAt(FAST_THEN_SLOW, seconds))).toEqual([5, 5, 5, 5, 15, 15, 15]);
    expect(intervalAt([{ everySeconds: 7 }], 1e9)).toBe(7);
  });

  it('call budgets: the checks a wait makes when nothing ends it early (the check at 0 s counts)', () => {
    // ACM, from the validation record sent: 48 in the first 4 minutes, then 4 a minute.
    expect(callsWithin(CERTIFICATE_ISSUED_SCHEDULE, 235)).toBe(48);
    expect(callsWithin(CERTIFICATE_ISSUED_SCHEDULE, 300)).toBe(53);
    expect(callsWithin(CERTIFICATE_ISSUED_SCHEDULE, 480) - callsWithin(CERTIFICATE_ISSUED_SCHEDULE, 420)).toBe(4);
    expect(callsWithin(CERTIFICATE_ISSUED_SCHEDULE, 75 * 60)).toBe(48 + 285);
    // The ALB: 36 in 3 minutes, then 4 a minute.
    expect(callsWithin(LOAD_BALANCER_SCHEDULE, 175)).toBe(36);
    expect(callsWithin(LOAD_BALANCER_SCHEDULE, 240)).toBe(41);
    // Route 53: 20 in the first minute, then 6 a minute.
    expect(callsWithin(DNS_CHANGE_SCHEDULE, 59)).toBe(20);
    expect(callsWithin(DNS_CHANGE_SCHEDULE, 120)).toBe(27);
    // ECS: 24 in 2 minutes, then 4 a minute.
    expect(callsWithin(ECS_SCHEDULE, 119)).toBe(24);
    expect(callsWithin(ECS_SCHEDULE, 300)).toBe(37);
  });

  it('no schedule polls faster than every 2 s, far below each API rate limit (10/s ACM and ELBv2 reads, 5/s Route 53)', () => {
    for (const schedule of [CERTIFICATE_ISSUED_SCHEDULE, LOAD_BALANCER_SCHEDULE, DNS_CHANGE_SCHEDULE, ECS_SCHEDULE]) {
      expect(Math.min(...schedule.map((phase) => phase.everySeconds))).toBeGreaterThanOrEqual(2);
      // The last phase has no end, and the phases end in order.
      expect(schedule.at(-1)!.untilSeconds).toBeUndefined();
      const ends = schedule.flatMap((phase) => (phase.untilSeconds === undefined ? [] : [phase.untilSeconds]));
      expect(ends).toEqual([...ends].sort((a, b) => a - b));
    }
  });
});

describe('pollUntil on a schedule', () => {
  it('sleeps exactly 5 s x 36, then 15 s, on the fake clock, and reports the wait with its call count', async () => {
    const { context, sleeps, waits } = fakeContext();
    const times: number[] = [];
    const started = context.now();

    const result = await pollUntil(context, {
      description: 'the thing to be ready',
      schedule: FAST_THEN_SLOW,
      check: async () => {
        times.push((context.now() - started) / 1000);
        return times.length === 40 ? 'ready' : undefined;
      },
    });

    expect(result).toBe('ready');
    expect(sleeps).toEqual([...Array(36).fill(5), 15, 15, 15]);
    expect(times.slice(34)).toEqual([170, 175, 180, 195, 210, 225]);
    expect(waits).toEqual([{ description: 'the thing to be ready', calls: 40, elapsedMs: 225_000, outcome: 'done' }]);
  });

  it('a scaled-down run (AUTHECS_POLL_SCALE) walks through the same phases: the schedule follows the unscaled pauses', async () => {
    const { context, sleeps } = fakeContext({ scale: 0.01 });
    let calls = 0;

    await pollUntil(context, { description: 'x', schedule: FAST_THEN_SLOW, check: async () => (++calls === 39 ? true : undefined) });

    expect(sleeps.map((seconds) => Math.round(seconds * 100))).toEqual([...Array(36).fill(5), 15, 15]);
  });

  it('polls on time: slow checks (1 s each) are followed by 4 s pauses, so a check still starts every 5 s, then every 15 s from 180 s', async () => {
    const { context, sleeps, advance } = fakeContext();
    const startedAt: number[] = [];
    let calls = 0;

    await pollUntil(context, {
      description: 'x',
      schedule: FAST_THEN_SLOW,
      check: async () => {
        startedAt.push((context.now() - 1_000_000) / 1000);
        advance(1);
        return ++calls === 39 ? true : undefined;
      },
    });

    expect(sleeps).toEqual([...Array(36).fill(4), 14, 14]);
    expect(startedAt.slice(34)).toEqual([170, 175, 180, 195, 210]);
  });

  it('a check that overruns its slot (7 s against 5 s) is followed a full interval later, not at once: no burst of catch-up calls', async () => {
    const { context, sleeps, advance } = fakeContext();
    let calls = 0;

    await pollUntil(context, {
      description: 'x',
      schedule: FAST_THEN_SLOW,
      check: async () => {
        advance(calls === 1 ? 7 : 1);
        return ++calls === 4 ? true : undefined;
      },
    });

    // Checks at 0, 5 (overruns to 12), 17, 22: the slot at 10 is skipped rather than made up.
    expect(sleeps).toEqual([4, 5, 4]);
  });

  it('times out when the next check would pass the bound, reporting timed-out with the checks it made', async () => {
    const { context, sleeps, waits } = fakeContext({ timeoutSeconds: 200 });

    const error = await pollUntil(context, { description: 'the thing', schedule: FAST_THEN_SLOW, timeoutCode: 'THING_TIMEOUT', check: async () => undefined }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AuthecsError);
    expect(error).toMatchObject({ code: 'THING_TIMEOUT', exit: 'timeout', message: 'Timed out after 195s waiting for the thing' });
    // Checks at 0, 5, ... 180, 195: 38; the next (210 s) would pass 200 s.
    expect(sleeps).toEqual([...Array(36).fill(5), 15]);
    expect(waits).toEqual([{ description: 'the thing', calls: 38, elapsedMs: 195_000, outcome: 'timed-out' }]);
  });

  it('a check that throws ends the wait as failed, and the wait is still reported', async () => {
    const { context, waits } = fakeContext();
    let calls = 0;

    await expect(
      pollUntil(context, {
        description: 'the thing',
        intervalSeconds: 10,
        check: async () => {
          if (++calls === 3) throw new Error('gone');
          return undefined;
        },
      }),
    ).rejects.toThrow('gone');

    expect(waits).toEqual([{ description: 'the thing', calls: 3, elapsedMs: 20_000, outcome: 'failed' }]);
  });

  it('a retry of a call is reported only when it had to retry', async () => {
    const { context, waits } = fakeContext();
    const inUse = Object.assign(new Error('busy'), { name: 'ResourceInUse' });
    const isCode = (error: unknown, ...codes: string[]) => codes.includes((error as Error).name);
    let calls = 0;

    await retryWhileInUse(context, { description: 'delete the thing', codes: ['ResourceInUse'], intervalSeconds: 15, call: async () => 'deleted' }, isCode);
    expect(waits).toEqual([]);

    await retryWhileInUse(
      context,
      {
        description: 'delete the other thing',
        codes: ['ResourceInUse'],
        intervalSeconds: 15,
        call: async () => {
          if (++calls < 3) throw inUse;
          return 'deleted';
        },
      },
      isCode,
    );
    expect(waits).toEqual([{ description: 'delete the other thing', calls: 3, elapsedMs: 30_000, outcome: 'done' }]);
  });

  it('progressGate lets a line through when its key changes, or once a minute while it does not', () => {
    const show = progressGate();
    const shown = [0, 5, 10, 55, 60, 65, 70, 125].map((seconds, index) => show(index === 3 ? 'ISSUED' : 'PENDING', seconds));
    expect(shown).toEqual([true, false, false, true, true, false, false, true]);
  });
});
