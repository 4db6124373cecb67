/**
 * Simulated time for engine tests: sleep() resolves in order of wake-up time, and the clock jumps
 * to it once every task that can run has run (a setImmediate after the microtasks). Parallel
 * sleeps overlap as they do on a real clock, so the makespan and critical path are exact.
 * The code under test must wait only through sleep() (no real timers, no I/O that takes time).
 */
export class VirtualClock {
  nowMs = 0;
  private readonly timers: { at: number; order: number; resolve: () => void }[] = [];
  private order = 0;
  private scheduled = false;

  readonly now = (): number => this.nowMs;

  readonly sleep = (seconds: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.timers.push({ at: this.nowMs + seconds * 1000, order: this.order++, resolve });
      this.schedule();
    });

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.timers.sort((left, right) => left.at - right.at || left.order - right.order);
      const next = this.timers.shift();
      if (!next) return;
      this.nowMs = Math.max(this.nowMs, next.at);
      next.resolve();
      if (this.timers.length > 0) this.schedule();
    });
  }
}
