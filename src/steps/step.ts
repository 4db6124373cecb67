import type { Config } from '../config/schema.js';
import type { AwsClients } from '../aws/clients.js';
import type { KeyFilePolicy, ResourceRecord } from '../state/state-file.js';
import type { StepName, StepOutputs } from './outputs.js';
import type { WaitReport } from './shared/poll.js';

export interface StepContext<Name extends StepName> {
  readonly config: Config;
  readonly clients: AwsClients;
  /** The stack name (the cluster name), the value of the authecs:stack tag. */
  readonly stack: string;
  readonly statePath: string;
  /** Where the key pair's private key goes on this machine (or nowhere: --no-key-file). */
  readonly keyFiles: KeyFilePolicy;
  /** This step's record in the state file, if any: partial progress from an earlier run. */
  readonly record: ResourceRecord<Partial<StepOutputs[Name]>> | undefined;
  /**
   * Record, then move on: merge identifiers into the state file, atomically, before the
   * next call. Call it right after every call that creates or deletes something, and
   * before a call whose result cannot be found again by tag or name (an intent).
   */
  save(patch: { created?: boolean; data: Partial<StepOutputs[Name]> }): void;
  /**
   * Create-before-delete: records a replaced resource's old output for deletion once the whole
   * run has succeeded (dependents have moved to the new one). The engine then calls delete()
   * with a context whose `record.data` is that old output. Written to the state file at once.
   */
  retire(oldOutput: StepOutputs[Name]): void;
  /** True when delete() is removing a retired (replaced) resource rather than the live one. */
  readonly retiring?: boolean;
  /** A completed dependency's output. Throws if `Name` does not declare it in dependsOn. */
  output<Dependency extends StepName>(name: Dependency): StepOutputs[Dependency];
  /** Whether a dependency ran (it may be disabled, e.g. capacity under Fargate). */
  hasOutput(name: StepName): boolean;
  progress(message: string): void;
  /** Something the user should fix that does not stop the run (e.g. the instance role cannot write logs). */
  warn(message: string): void;
  /** Seconds to wait between polls; scaled down in tests. */
  pollSeconds(seconds: number): number;
  /** Overall bound for a wait, in seconds. */
  readonly waitTimeoutSeconds: number;
  /** Between polls; the time counts as waiting on AWS (the critical path's "Waiting on AWS"). */
  sleep(seconds: number): Promise<void>;
  /** Counts a wait that does not go through sleep() (an SDK waiter) as waiting on AWS. */
  waiting<Result>(work: () => Promise<Result>): Promise<Result>;
  /** Milliseconds on the clock that sleep() advances: wall time in real runs, simulated in tests. */
  now(): number;
  /** Receives each finished wait (its checks and time); the engine reports it as a `wait` event. */
  waits?(wait: WaitReport): void;
  /** Aborted by a graceful stop (the first Ctrl-C): an SDK waiter given it ends at once. */
  readonly stopSignal?: AbortSignal;
}
