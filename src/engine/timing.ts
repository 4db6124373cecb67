import { formatDuration } from '../report/reporter.js';

/**
 * Where a run's time went: each task's start and end on the run's clock, what it waited for in
 * the graph, and how long it spent waiting on AWS. From these, the critical path: the chain of
 * tasks that set the run's length, and how much of it was AWS rather than authecs.
 */

export interface Span {
  step: string;
  /** Since the run began. */
  startedMs: number;
  endedMs: number;
  /** Time spent waiting on AWS: sleeping between polls or inside an SDK waiter. */
  waitingMs: number;
  /** The tasks it waited for in the graph. */
  after: readonly string[];
  /** Had nothing to do (no record in `down`): it links the path but is not shown on it. */
  idle?: boolean;
}

export interface CriticalStep {
  step: string;
  startedMs: number;
  durationMs: number;
  waitingMs: number;
}

export interface RunTiming {
  criticalPath: CriticalStep[];
  makespanMs: number;
  /** Time the critical path spent waiting on AWS: the part of the makespan no code of ours can shorten. */
  waitingMs: number;
}

function later(left: Span | undefined, right: Span): Span {
  if (!left) return right;
  if (right.endedMs !== left.endedMs) return right.endedMs > left.endedMs ? right : left;
  // A tie: the one that did something, else the one that started later (it waited for the other),
  // else the one recorded later (spans are recorded as they end).
  if (Boolean(left.idle) !== Boolean(right.idle)) return left.idle ? right : left;
  return right.startedMs >= left.startedMs ? right : left;
}

/**
 * Backwards from the task that finished last: at each task, the dependency that finished last
 * before it started, until a task that waited for nothing. Returned first to last.
 */
export function criticalPath(spans: readonly Span[]): Span[] {
  const byStep = new Map(spans.map((span) => [span.step, span]));
  // An idle task can end after the real work (it only ran once its waits were over): start at real work.
  const busy = spans.filter((span) => !span.idle);
  let current = (busy.length > 0 ? busy : spans).reduce<Span | undefined>(later, undefined);
  const path: Span[] = [];
  const seen = new Set<string>();
  while (current && !seen.has(current.step)) {
    seen.add(current.step);
    path.push(current);
    const started = current.startedMs;
    current = current.after
      .map((name) => byStep.get(name))
      .filter((span): span is Span => span !== undefined && span.endedMs <= started)
      .reduce<Span | undefined>(later, undefined);
  }
  return path.reverse();
}

export function summarise(spans: readonly Span[], makespanMs: number): RunTiming {
  const path = criticalPath(spans).filter((span) => !span.idle);
  return {
    criticalPath: path.map((span) => ({ step: span.step, startedMs: span.startedMs, durationMs: span.endedMs - span.startedMs, waitingMs: span.waitingMs })),
    makespanMs,
    waitingMs: path.reduce((sum, span) => sum + span.waitingMs, 0),
  };
}

interface Meter {
  open: number;
  since: number;
  total: number;
}

/** One run's spans and waits, on the engine's clock (simulated in tests). */
export class Timeline {
  private readonly origin: number;
  private readonly spans: Span[] = [];
  private readonly meters = new Map<string, Meter>();

  constructor(private readonly clock: () => number) {
    this.origin = clock();
  }

  /** Marks a task's start; call the result at its end. Waits are counted under `waitKey` (the step name). */
  start(step: string, after: readonly string[], options: { waitKey?: string } = {}): (result?: { idle?: boolean }) => void {
    const key = options.waitKey ?? step;
    const startedMs = this.clock() - this.origin;
    const waitedBefore = this.waitedMs(key);
    return (result = {}) => {
      this.spans.push({ step, startedMs, endedMs: this.clock() - this.origin, waitingMs: this.waitedMs(key) - waitedBefore, after, ...(result.idle ? { idle: true } : {}) });
    };
  }

  /**
   * Runs `work` as time spent waiting on AWS for `step`. Overlapping waits of one step (nested,
   * or in parallel) count once: the meter adds up the time at least one of them was open.
   */
  async waiting<Result>(step: string, work: () => Promise<Result>): Promise<Result> {
    let meter = this.meters.get(step);
    if (!meter) {
      meter = { open: 0, since: 0, total: 0 };
      this.meters.set(step, meter);
    }
    if (meter.open === 0) meter.since = this.clock();
    meter.open += 1;
    try {
      return await work();
    } finally {
      meter.open -= 1;
      if (meter.open === 0) meter.total += this.clock() - meter.since;
    }
  }

  waitedMs(step: string): number {
    const meter = this.meters.get(step);
    if (!meter) return 0;
    return meter.total + (meter.open > 0 ? this.clock() - meter.since : 0);
  }

  get recorded(): readonly Span[] {
    return this.spans;
  }

  summary(): RunTiming {
    return summarise(this.spans, this.clock() - this.origin);
  }
}

/** The two closing lines for people, e.g. "Critical path (3m52s of 4m01s): certificate 2m40s → service 1m07s". */
export function timingLines(timing: RunTiming): string[] {
  if (timing.criticalPath.length === 0) return [];
  const pathMs = timing.criticalPath.reduce((sum, step) => sum + step.durationMs, 0);
  const chain = timing.criticalPath.map((step) => `${step.step} ${formatDuration(step.durationMs)}`).join(' → ');
  const share = timing.makespanMs > 0 ? Math.round((timing.waitingMs / timing.makespanMs) * 100) : 0;
  return [`Critical path (${formatDuration(pathMs)} of ${formatDuration(timing.makespanMs)}): ${chain}`, `Waiting on AWS: ${formatDuration(timing.waitingMs)} (${share}%)`];
}
