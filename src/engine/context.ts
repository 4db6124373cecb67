import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { AwsClients } from '../aws/clients.js';
import type { Config } from '../config/schema.js';
import { AuthecsError, interruptedError } from '../errors.js';
import type { Reporter } from '../report/reporter.js';
import { keyFilePolicy, type KeyFilePolicy, type StateFile } from '../state/state-file.js';
import type { StepName, StepOutputs } from '../steps/outputs.js';
import type { StepContext } from '../steps/step.js';
import type { Timeline } from './timing.js';

/** Which step the current async call chain belongs to, so the mutation log can name it. */
export const currentStep = new AsyncLocalStorage<string>();

export interface EngineEnvironment {
  config: Config;
  clients: AwsClients;
  state: StateFile;
  reporter: Reporter;
  stack: string;
  /** Test-only scale for poll intervals (AUTHECS_POLL_SCALE); 1 in real use. */
  pollScale: number;
  /** Where a new private key goes (default: beside a local state, under .authecs/ of the working directory for S3). */
  keyFiles?: KeyFilePolicy;
  sleep?: (seconds: number) => Promise<void>;
  now?: () => number;
  /** Aborted by a graceful stop (the first Ctrl-C): waits end at once, no new step starts. */
  stopSignal?: AbortSignal;
  /** The current `up` or `down`: where each step's waits on AWS are counted. */
  timeline?: Timeline;
}

export function pollScaleFromEnvironment(env: NodeJS.ProcessEnv): number {
  const scale = Number(env.AUTHECS_POLL_SCALE);
  return Number.isFinite(scale) && scale > 0 && scale <= 1 ? scale : 1;
}

/** Sleeps; a graceful stop ends it at once with the interrupted error (nothing is in flight while a step sleeps). */
export async function sleepUnlessStopped(seconds: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) throw interruptedError();
  try {
    await delay(seconds * 1000, undefined, signal ? { signal } : {});
  } catch (error) {
    if (signal?.aborted) throw interruptedError();
    throw error;
  }
}

/**
 * A step's view of the run. With `readOnly`, save() refuses: `read`, `preflight`, `plan` and
 * `status` must never write the state file.
 */
export function createStepContext<Name extends StepName>(
  step: { name: Name; dependsOn: readonly StepName[] },
  environment: EngineEnvironment,
  options: { readOnly?: boolean } = {},
): StepContext<Name> {
  const { state, reporter, config } = environment;
  const allowed = new Set<string>(step.dependsOn);
  const sleep = environment.sleep ?? ((seconds: number) => sleepUnlessStopped(seconds, environment.stopSignal));
  const waiting = <Result>(work: () => Promise<Result>): Promise<Result> => (environment.timeline ? environment.timeline.waiting(step.name, work) : work());
  return {
    config,
    clients: environment.clients,
    stack: environment.stack,
    statePath: state.path,
    keyFiles: environment.keyFiles ?? keyFilePolicy(state, { cwd: process.cwd(), stack: environment.stack, keep: true }),
    get record() {
      return state.get<Partial<StepOutputs[Name]>>(step.name);
    },
    save(patch) {
      if (options.readOnly) {
        throw new AuthecsError(`Step ${step.name} tried to write the state file during a read`, { code: 'STATE_WRITE_IN_READ', exit: 'internal' });
      }
      state.update<Partial<StepOutputs[Name]>>(step.name, { ...(patch.created === undefined ? {} : { created: patch.created }), data: patch.data });
    },
    retire(oldOutput) {
      if (options.readOnly) {
        throw new AuthecsError(`Step ${step.name} tried to write the state file during a read`, { code: 'STATE_WRITE_IN_READ', exit: 'internal' });
      }
      const record = state.get<StepOutputs[Name]>(step.name);
      const retired = [...(record?.retired ?? [])];
      if (!retired.some((entry) => JSON.stringify(entry) === JSON.stringify(oldOutput))) retired.push(oldOutput);
      state.update<StepOutputs[Name]>(step.name, { retired });
    },
    output<Dependency extends StepName>(name: Dependency): StepOutputs[Dependency] {
      if (!allowed.has(name)) {
        throw new AuthecsError(`Step ${step.name} reads ${name} without declaring it in dependsOn`, { code: 'STEP_UNDECLARED_INPUT', exit: 'internal' });
      }
      const record = state.get<StepOutputs[Dependency]>(name);
      if (!record) {
        throw new AuthecsError(`Step ${step.name} needs ${name}, which is not in the state file`, {
          code: 'STEP_MISSING_INPUT',
          exit: 'state',
          step: step.name,
          hint: 'Run `authecs up` to create it first.',
        });
      }
      return record.data;
    },
    hasOutput(name) {
      return state.get(name) !== undefined;
    },
    progress(message) {
      reporter.progress(step.name, message);
    },
    warn(message) {
      reporter.warn(`${step.name}: ${message}`);
    },
    pollSeconds(seconds) {
      return Math.max(seconds * environment.pollScale, 0.001);
    },
    ...(environment.stopSignal ? { stopSignal: environment.stopSignal } : {}),
    waitTimeoutSeconds: config.waitTimeoutMinutes * 60,
    sleep: (seconds) => waiting(() => sleep(seconds)),
    waiting,
    now: environment.now ?? Date.now,
    waits(wait) {
      reporter.wait(step.name, wait);
    },
  };
}
