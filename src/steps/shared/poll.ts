import { AuthecsError } from '../../errors.js';
import type { StepName } from '../outputs.js';
import type { StepContext } from '../step.js';

/**
 * One phase of a poll schedule: check every `everySeconds` until the wait is `untilSeconds` old.
 * The last phase has no end. Times are before context.pollSeconds() scales them.
 */
export interface PollPhase {
  readonly untilSeconds?: number;
  readonly everySeconds: number;
}

/** Phases in order: fast while the change is likely, slower after, so a change is seen soon without spending the API's rate limit. */
export type PollSchedule = readonly PollPhase[];

/** A fixed interval, for retries and waits with no likely moment. */
export function every(seconds: number): PollSchedule {
  return [{ everySeconds: seconds }];
}

// Each schedule stays far below its API's rate limit, which the whole account shares (other
// tools, the console, a second run). README "Performance" lists them with their call budgets.

/**
 * ACM DescribeCertificate: 10 requests per second per account and Region (ACM User Guide, "Quotas",
 * API rate quotas: "DescribeCertificate 10"). The wait starts when the validation record is sent:
 * INSYNC within a minute, then validation usually within minutes, so 5 s for 4 minutes (48 calls),
 * then 15 s (4 a minute).
 */
export const CERTIFICATE_ISSUED_SCHEDULE: PollSchedule = [{ untilSeconds: 240, everySeconds: 5 }, { everySeconds: 15 }];

/**
 * The validation CNAME shows up in DescribeCertificate a few seconds after RequestCertificate (same
 * 10/s quota), and ACM's clock starts only once it is in the zone: 1 s for 15 s (15 calls), then 5 s.
 */
export const CERTIFICATE_RECORD_SCHEDULE: PollSchedule = [{ untilSeconds: 15, everySeconds: 1 }, { everySeconds: 5 }];

/**
 * ELBv2 DescribeLoadBalancers: non-mutating actions (Describe*) share a bucket of 40 tokens refilled
 * at 10 per second, per account and Region (ELB User Guide, "Request throttling for the ELB API").
 * An ALB goes from provisioning to active in 1-3 minutes: 5 s for 3 minutes, then 15 s.
 */
export const LOAD_BALANCER_SCHEDULE: PollSchedule = [{ untilSeconds: 180, everySeconds: 5 }, { everySeconds: 15 }];

/**
 * Route 53 GetChange: the account's API requests share one bucket, 5 requests per second for
 * years and 10 (burst 50) since the change-based throttling update (Route 53 Developer Guide,
 * "Throttling for Amazon Route 53 API requests"). A change is INSYNC in under a minute: 3 s for
 * 1 minute, then 10 s.
 */
export const DNS_CHANGE_SCHEDULE: PollSchedule = [{ untilSeconds: 60, everySeconds: 3 }, { everySeconds: 10 }];

/**
 * ECS DescribeServices, ListContainerInstances, DescribeContainerInstances: one token bucket per
 * action group, account and Region (ECS API Reference, "Request throttling for the Amazon ECS API";
 * its example: DescribeClusters, a cluster read, bursts to 50 requests). Tasks start and instances
 * register in 1-2 minutes: 5 s for 2 minutes, then 15 s.
 */
export const ECS_SCHEDULE: PollSchedule = [{ untilSeconds: 120, everySeconds: 5 }, { everySeconds: 15 }];

/** The interval of the phase that holds `seconds` into the wait. */
export function intervalAt(schedule: PollSchedule, seconds: number): number {
  const phase = schedule.find((each) => each.untilSeconds === undefined || seconds < each.untilSeconds) ?? schedule[schedule.length - 1];
  if (!phase) throw new AuthecsError('A poll schedule has no phase', { code: 'POLL_SCHEDULE_EMPTY', exit: 'internal' });
  return phase.everySeconds;
}

/** How many checks a wait that never ends early makes in its first `seconds` (the check at 0 counts): its call budget. */
export function callsWithin(schedule: PollSchedule, seconds: number): number {
  let at = 0;
  let calls = 1;
  for (;;) {
    const next = at + intervalAt(schedule, at);
    if (next > seconds) return calls;
    at = next;
    calls += 1;
  }
}

export type WaitOutcome = 'done' | 'timed-out' | 'failed';

/** One finished wait, for the `wait` event: how many checks it made and how long it took. */
export interface WaitReport {
  description: string;
  /** Checks made: each is one Describe/Get call (a rollout check also reads target health). */
  calls: number;
  elapsedMs: number;
  outcome: WaitOutcome;
}

/** What a wait needs of its context: a StepContext fits, and so does a rollout watch's. */
export interface WaitContext {
  sleep(seconds: number): Promise<void>;
  /** Milliseconds on the clock that sleep() advances. */
  now(): number;
  pollSeconds(seconds: number): number;
  /** Receives each finished wait; the engine turns it into a `wait` event. */
  waits?(wait: WaitReport): void;
}

/**
 * The clock of one wait: which phase it is in, how many checks it made, and its report at the end.
 * The phase follows the later of the clock and the sum of unscaled pauses, so a scaled-down test
 * run walks through the same phases as a real one.
 */
export class WaitClock {
  private checks = 0;
  private readonly started: number;
  private scheduled = 0;
  /** When the next check is due, on the context's clock. */
  private dueMs: number;

  constructor(
    private readonly context: WaitContext,
    private readonly schedule: PollSchedule,
  ) {
    this.started = context.now();
    this.dueMs = this.started;
  }

  /** Counts one check (one poll of AWS). */
  checked(): void {
    this.checks += 1;
  }

  get calls(): number {
    return this.checks;
  }

  /** Seconds since the wait began, on the context's clock. */
  get elapsedSeconds(): number {
    return (this.context.now() - this.started) / 1000;
  }

  /** The next pause as sleep() takes it (scaled). */
  get nextPauseSeconds(): number {
    return this.context.pollSeconds(intervalAt(this.schedule, this.position()));
  }

  /**
   * Sleeps until the next check is due: an interval after the last one was due, not after it
   * answered, so call latency does not pile up into a change seen late. A check that overran
   * its slot is followed an interval later, never at once: no burst of catch-up calls.
   */
  async pause(): Promise<void> {
    const at = this.position();
    const interval = intervalAt(this.schedule, at);
    this.scheduled = at + interval;
    const pauseMs = this.context.pollSeconds(interval) * 1000;
    const now = this.context.now();
    this.dueMs = this.dueMs + pauseMs > now ? this.dueMs + pauseMs : now + pauseMs;
    await this.context.sleep((this.dueMs - now) / 1000);
  }

  /** Reports the wait; `onlyIfWaited` leaves out one that ended at its first check. */
  finish(description: string, outcome: WaitOutcome, onlyIfWaited = false): void {
    if (onlyIfWaited && this.checks <= 1) return;
    this.context.waits?.({ description, calls: this.checks, elapsedMs: Math.max(0, Math.round(this.context.now() - this.started)), outcome });
  }

  private position(): number {
    return Math.max(this.scheduled, this.elapsedSeconds);
  }
}

/** Lets a progress line through when its key changes, or once `everySeconds` while it does not, so fast polls stay quiet. */
export function progressGate(everySeconds = 60): (key: string, elapsedSeconds: number) => boolean {
  let lastKey: string | undefined;
  let lastAt = Number.NEGATIVE_INFINITY;
  return (key, elapsedSeconds) => {
    if (key === lastKey && elapsedSeconds - lastAt < everySeconds) return false;
    lastKey = key;
    lastAt = elapsedSeconds;
    return true;
  };
}

interface PollBase<Result> {
  /** What is awaited, for the timeout message and the `wait` event: "certificate to be ISSUED". */
  description: string;
  timeoutSeconds?: number;
  /** Returns a value when done, or undefined to poll again. May throw to stop. */
  check: (attempt: number) => Promise<Result | undefined>;
  /** Progress text shown after a check that did not end the wait, e.g. the current status. */
  onWaiting?: (attempt: number, elapsedSeconds: number) => string | undefined;
  timeoutHint?: string;
  timeoutCode?: string;
  /** What the timeout error names as its resource. */
  timeoutResource?: string;
  /** A retry of a call rather than a wait for a state: reported only when it had to retry. */
  retry?: boolean;
}

/** Either a schedule, or one interval for the whole wait. */
export type PollOptions<Result> = PollBase<Result> & ({ schedule: PollSchedule; intervalSeconds?: never } | { intervalSeconds: number; schedule?: never });

/** Polls on the context's clock (tests run instantly, real runs report progress) and reports the wait when it ends. */
export async function pollUntil<Name extends StepName, Result>(context: StepContext<Name>, options: PollOptions<Result>): Promise<Result> {
  const timeoutSeconds = options.timeoutSeconds ?? context.waitTimeoutSeconds;
  const clock = new WaitClock(context, options.schedule ?? every(options.intervalSeconds!));
  let outcome: WaitOutcome = 'failed';
  try {
    for (let attempt = 1; ; attempt += 1) {
      clock.checked();
      const result = await options.check(attempt);
      if (result !== undefined) {
        outcome = 'done';
        return result;
      }
      const elapsedSeconds = clock.elapsedSeconds;
      if (elapsedSeconds + clock.nextPauseSeconds > timeoutSeconds) {
        outcome = 'timed-out';
        throw new AuthecsError(`Timed out after ${Math.round(elapsedSeconds)}s waiting for ${options.description}`, {
          code: options.timeoutCode ?? 'WAIT_TIMEOUT',
          exit: 'timeout',
          hint: options.timeoutHint ?? 'Run the command again to keep waiting, or raise --wait-timeout.',
          ...(options.timeoutResource ? { resource: options.timeoutResource } : {}),
        });
      }
      const message = options.onWaiting?.(attempt, Math.round(elapsedSeconds));
      if (message) context.progress(message);
      await clock.pause();
    }
  } finally {
    clock.finish(options.description, outcome, options.retry === true);
  }
}

/** Retries a call while AWS says a dependency is still in use (ResourceInUse, DependencyViolation). */
export async function retryWhileInUse<Name extends StepName, Result>(
  context: StepContext<Name>,
  options: { description: string; codes: string[]; intervalSeconds: number; timeoutSeconds?: number; call: () => Promise<Result> },
  isCode: (error: unknown, ...codes: string[]) => boolean,
): Promise<Result> {
  let lastError: unknown;
  try {
    return await pollUntil(context, {
      description: options.description,
      intervalSeconds: options.intervalSeconds,
      retry: true,
      ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
      check: async () => {
        try {
          return { value: await options.call() };
        } catch (error) {
          if (!isCode(error, ...options.codes)) throw error;
          lastError = error;
          return undefined;
        }
      },
      onWaiting: (attempt) => (attempt % 4 === 1 ? `still in use, waiting to ${options.description}` : undefined),
    }).then((wrapped) => wrapped.value);
  } catch (error) {
    if (error instanceof AuthecsError && error.exit === 'timeout' && lastError instanceof Error) {
      error.message += ` (last error: ${lastError.name}: ${lastError.message})`;
    }
    throw error;
  }
}
