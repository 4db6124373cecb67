import type { Writable } from 'node:stream';
import { AuthecsError } from '../errors.js';
import { TaskList } from './task-list.js';

/**
 * One message stream for people and machines. Steps never print: the engine and the
 * commands emit typed events here, and the renderer turns them into text or JSON lines.
 */
export type StepOutcome = 'created' | 'resumed' | 'repaired' | 'updated' | 'replaced' | 'settled' | 'unchanged' | 'deleted' | 'absent' | 'kept' | 'skipped' | 'failed';

export type ReportEvent =
  | { type: 'step-start'; step: string; title: string }
  | { type: 'step-progress'; step: string; message: string }
  | { type: 'step-end'; step: string; title: string; outcome: StepOutcome; elapsedMs: number; detail?: string }
  | { type: 'mutation'; service: string; operation: string; resource: string; step?: string }
  | { type: 'aws-call'; service: string; operation: string; elapsedMs: number; error?: string }
  /** A finished wait: how many checks it made (`calls`) and how long it took; for the benchmark's call budgets. */
  | { type: 'wait'; step: string; description: string; calls: number; elapsedMs: number; outcome: 'done' | 'timed-out' | 'failed' }
  | { type: 'message'; level: 'info' | 'warn' | 'debug'; message: string }
  | {
      type: 'error';
      code: string;
      message: string;
      hint?: string;
      step?: string;
      resource?: string;
      exitCode: number;
      /** The facts behind the error (a failed rollout's explanation), for --json. */
      details?: Readonly<Record<string, unknown>>;
      /** The same facts as lines for people; never written as JSON. */
      detailLines?: string[];
    };

export type Verbosity = 'quiet' | 'normal' | 'verbose';

export interface ReporterOptions {
  json: boolean;
  verbosity: Verbosity;
  stdout: Writable;
  stderr: Writable;
  /** Draw a live task list (listr2) instead of one line per step: at a terminal only. */
  live?: boolean;
  now?: () => number;
}

export interface Mutation {
  service: string;
  operation: string;
  resource: string;
  step?: string;
}

const OUTCOME_SYMBOL: Record<StepOutcome, string> = {
  created: '✔',
  resumed: '✔',
  repaired: '✔',
  updated: '✔',
  replaced: '✔',
  settled: '✔',
  unchanged: '✔',
  deleted: '✔',
  absent: '✔',
  kept: '↷',
  skipped: '↷',
  failed: '✖',
};

export function formatDuration(milliseconds: number): string {
  const seconds = milliseconds / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

export class Reporter {
  readonly mutations: Mutation[] = [];
  readonly events: ReportEvent[] = [];
  private readonly startedAt: number;
  private taskList: TaskList | undefined;
  private deferredLines: string[] = [];

  constructor(private readonly options: ReporterOptions) {
    this.startedAt = (options.now ?? Date.now)();
  }

  get json(): boolean {
    return this.options.json;
  }

  get elapsedMs(): number {
    return (this.options.now ?? Date.now)() - this.startedAt;
  }

  emit(event: ReportEvent): void {
    this.events.push(event);
    if (event.type === 'mutation') this.mutations.push({ service: event.service, operation: event.operation, resource: event.resource, step: event.step });
    if (this.options.json) this.renderJsonLine(event);
    else this.renderHuman(event);
  }

  /** Announces the steps a command will run, so a live view can list them up front. */
  plan(steps: readonly { name: string; title: string }[]): void {
    if (this.options.live && !this.options.json && steps.length > 0) this.taskList = new TaskList(steps, this.options.stderr as NodeJS.WriteStream);
  }

  /** Stops the live view, then prints what was held back while it drew. */
  async finish(): Promise<void> {
    if (!this.taskList) return;
    await this.taskList.close();
    this.taskList = undefined;
    for (const line of this.deferredLines.splice(0)) this.options.stderr.write(`${line}\n`);
  }

  /** On an interrupt there is no time to let the live view finish: print what it held back now. */
  abandonLiveView(): void {
    this.taskList = undefined;
    for (const line of this.deferredLines.splice(0)) this.options.stderr.write(`${line}\n`);
  }

  stepStarted(step: string, title: string): void {
    this.emit({ type: 'step-start', step, title });
  }

  progress(step: string, message: string): void {
    this.emit({ type: 'step-progress', step, message });
  }

  stepFinished(step: string, title: string, outcome: StepOutcome, elapsedMs: number, detail?: string): void {
    this.emit({ type: 'step-end', step, title, outcome, elapsedMs, ...(detail ? { detail } : {}) });
  }

  wait(step: string, wait: { description: string; calls: number; elapsedMs: number; outcome: 'done' | 'timed-out' | 'failed' }): void {
    this.emit({ type: 'wait', step, description: wait.description, calls: wait.calls, elapsedMs: wait.elapsedMs, outcome: wait.outcome });
  }

  info(message: string): void {
    this.emit({ type: 'message', level: 'info', message });
  }

  warn(message: string): void {
    this.emit({ type: 'message', level: 'warn', message });
  }

  debug(message: string): void {
    this.emit({ type: 'message', level: 'debug', message });
  }

  error(error: AuthecsError): void {
    this.emit({
      type: 'error',
      code: error.code,
      message: error.message,
      exitCode: error.exitCode,
      ...(error.hint ? { hint: error.hint } : {}),
      ...(error.step ? { step: error.step } : {}),
      ...(error.resource ? { resource: error.resource } : {}),
      ...(error.details ? { details: error.details } : {}),
      ...(error.detailLines().length > 0 ? { detailLines: error.detailLines() } : {}),
    });
  }

  /** The command's final answer: one JSON document on stdout, or text for people. */
  result(document: Record<string, unknown>, humanLines: string[]): void {
    if (this.options.json) {
      this.options.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      return;
    }
    if (humanLines.length > 0) this.options.stdout.write(`${humanLines.join('\n')}\n`);
  }

  /** One record of a result that streams (`logs`): a JSON line on stdout, or one line of text. */
  record(document: Record<string, unknown>, humanLine: string): void {
    this.options.stdout.write(`${this.options.json ? JSON.stringify(document) : humanLine}\n`);
  }

  private renderJsonLine(event: ReportEvent): void {
    // stdout is kept for the one result document; events go to stderr as JSON lines.
    if (this.options.verbosity === 'quiet' && event.type !== 'error') return;
    if (event.type === 'aws-call' && this.options.verbosity !== 'verbose') return;
    if (event.type === 'message' && event.level === 'debug' && this.options.verbosity !== 'verbose') return;
    // Pre-rendered text for people stays out of the JSON; `details` carries the same facts.
    const { detailLines: _forPeople, ...jsonEvent } = event as ReportEvent & { detailLines?: string[] };
    this.options.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...jsonEvent })}\n`);
  }

  private renderHuman(event: ReportEvent): void {
    const { verbosity } = this.options;
    if (this.taskList && (event.type === 'step-progress' || event.type === 'step-end' || event.type === 'step-start')) {
      this.taskList.onEvent(event);
      return;
    }
    // While the live view draws, other lines wait until it stops so they do not tear it.
    const write = (line: string) => (this.taskList ? this.deferredLines.push(line) : this.options.stderr.write(`${line}\n`));
    switch (event.type) {
      case 'step-start':
        if (verbosity === 'verbose') write(`  … ${event.title}`);
        return;
      case 'step-progress':
        if (verbosity !== 'quiet') write(`  ${event.step}: ${event.message}`);
        return;
      case 'step-end': {
        if (verbosity === 'quiet' && event.outcome !== 'failed') return;
        const detail = event.detail ? `  ${event.detail}` : '';
        write(`${OUTCOME_SYMBOL[event.outcome]} ${event.title.padEnd(40)} ${event.outcome.padEnd(9)} ${formatDuration(event.elapsedMs).padStart(6)}${detail}`);
        return;
      }
      case 'mutation':
        if (verbosity === 'verbose') write(`    → ${event.service} ${event.operation} ${event.resource}`);
        return;
      case 'aws-call':
        if (verbosity === 'verbose') write(`    · ${event.service}.${event.operation} ${formatDuration(event.elapsedMs)}${event.error ? ` (${event.error})` : ''}`);
        return;
      case 'wait':
        if (verbosity === 'verbose') write(`    ⧗ ${event.step}: ${event.description}: ${event.calls} check(s) in ${formatDuration(event.elapsedMs)}${event.outcome === 'done' ? '' : ` (${event.outcome})`}`);
        return;
      case 'message':
        if (event.level === 'debug' && verbosity !== 'verbose') return;
        if (event.level === 'info' && verbosity === 'quiet') return;
        write(event.level === 'warn' ? `warning: ${event.message}` : event.message);
        return;
      case 'error':
        write(`error: ${event.message}`);
        for (const line of event.detailLines ?? []) write(line);
        if (event.hint) write(`  hint: ${event.hint}`);
        return;
    }
  }
}
