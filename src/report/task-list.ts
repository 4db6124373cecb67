import { Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper, type ListrDefaultRenderer, type ListrSimpleRenderer } from 'listr2';
import { formatDuration, type ReportEvent } from './reporter.js';

type TaskWrapper = ListrTaskWrapper<unknown, ListrDefaultRenderer, ListrSimpleRenderer>;

interface StepView {
  title: string;
  task?: TaskWrapper;
  finish?: (error?: Error) => void;
  ended?: { failed: boolean; skipped: boolean; title: string };
  lastProgress?: string;
}

/**
 * A live task list at a terminal (listr2): one row per step, its latest progress under it,
 * and its outcome and elapsed time when it ends. The engine drives it through the same
 * events the text and JSON renderers get; listr2 only draws.
 */
export class TaskList {
  private readonly views = new Map<string, StepView>();
  private readonly running: Promise<void>;

  constructor(steps: readonly { name: string; title: string }[], stream: NodeJS.WriteStream) {
    for (const step of steps) this.views.set(step.name, { title: step.title });
    const listr = new Listr(
      steps.map((step) => ({
        title: step.title,
        task: (_context: unknown, task: TaskWrapper) =>
          new Promise<void>((resolve, reject) => {
            const view = this.views.get(step.name)!;
            view.task = task;
            view.finish = (error) => (error ? reject(error) : resolve());
            // Events may have arrived before listr2 started the row.
            if (view.lastProgress) task.output = view.lastProgress;
            if (view.ended) this.apply(view);
          }),
      })),
      {
        concurrent: true,
        exitOnError: false,
        registerSignalListeners: false,
        // listr2 draws on stderr so stdout carries only the command's result; its plain fallback too.
        rendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(stream, stream) }), collapseErrors: false, showErrorMessage: false },
        fallbackRendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(stream, stream) }) },
      },
    );
    this.running = listr.run().then(
      () => undefined,
      () => undefined,
    );
  }

  onEvent(event: ReportEvent): void {
    if (event.type === 'step-progress') {
      const view = this.views.get(event.step);
      if (!view) return;
      view.lastProgress = event.message;
      if (view.task) view.task.output = event.message;
      return;
    }
    if (event.type === 'step-end') {
      const view = this.views.get(event.step);
      if (!view) return;
      const detail = event.detail ? `  ${event.detail}` : '';
      view.ended = {
        failed: event.outcome === 'failed',
        skipped: event.outcome === 'skipped' || event.outcome === 'kept',
        title: `${event.title}  ${event.outcome} ${formatDuration(event.elapsedMs)}${detail}`,
      };
      this.apply(view);
    }
  }

  private apply(view: StepView): void {
    if (!view.task || !view.finish || !view.ended) return;
    view.task.title = view.ended.title;
    if (view.ended.skipped) view.task.skip(view.ended.title);
    view.finish(view.ended.failed ? new Error(view.ended.title) : undefined);
    view.finish = undefined;
  }

  /** Ends rows that never ran (after a failure, or steps with nothing to do) and stops drawing. */
  async close(): Promise<void> {
    for (const view of this.views.values()) {
      if (!view.ended) {
        view.ended = { failed: false, skipped: true, title: `${view.title}  not run` };
        this.apply(view);
      }
    }
    await this.running;
  }
}
