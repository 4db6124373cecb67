import { AuthecsError } from '../../errors.js';
import type { StepName } from '../outputs.js';
import type { StepContext } from '../step.js';

export interface PollOptions<Result> {
  /** What is awaited, for the timeout message: "certificate to be ISSUED". */
  description: string;
  intervalSeconds: number;
  timeoutSeconds?: number;
  /** Returns a value when done, or undefined to poll again. May throw to stop. */
  check: (attempt: number) => Promise<Result | undefined>;
  /** Progress text shown every few polls, e.g. the current status. */
  onWaiting?: (attempt: number, elapsedSeconds: number) => string | undefined;
  timeoutHint?: string;
  timeoutCode?: string;
}

/** Polls with the context's clock, so tests run instantly and real runs report progress. */
export async function pollUntil<Name extends StepName, Result>(context: StepContext<Name>, options: PollOptions<Result>): Promise<Result> {
  const timeoutSeconds = options.timeoutSeconds ?? context.waitTimeoutSeconds;
  const interval = context.pollSeconds(options.intervalSeconds);
  const started = context.now();
  for (let attempt = 1; ; attempt += 1) {
    const result = await options.check(attempt);
    if (result !== undefined) return result;
    const elapsedSeconds = (context.now() - started) / 1000;
    if (elapsedSeconds + interval > timeoutSeconds) {
      throw new AuthecsError(`Timed out after ${Math.round(elapsedSeconds)}s waiting for ${options.description}`, {
        code: options.timeoutCode ?? 'WAIT_TIMEOUT',
        exit: 'timeout',
        hint: options.timeoutHint ?? 'Run the command again to keep waiting, or raise --wait-timeout.',
      });
    }
    const message = options.onWaiting?.(attempt, Math.round(elapsedSeconds));
    if (message) context.progress(message);
    await context.sleep(interval);
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
