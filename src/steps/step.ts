import type { Config } from '../config/schema.js';
import type { AwsClients } from '../aws/clients.js';
import type { ResourceRecord } from '../state/state-file.js';
import type { StepName, StepOutputs } from './outputs.js';

export { STACK_TAG_KEY, MANAGED_BY_TAG_KEY, MANAGED_BY_TAG_VALUE, stackTags, hasStackTag } from './shared/tags.js';

export interface StepContext<Name extends StepName> {
  readonly config: Config;
  readonly clients: AwsClients;
  /** The stack name (the cluster name), the value of the authecs:stack tag. */
  readonly stack: string;
  readonly statePath: string;
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
  /** Seconds to wait between polls; scaled down in tests. */
  pollSeconds(seconds: number): number;
  /** Overall bound for a wait, in seconds. */
  readonly waitTimeoutSeconds: number;
  sleep(seconds: number): Promise<void>;
  /** Milliseconds on the clock that sleep() advances: wall time in real runs, simulated in tests. */
  now(): number;
}

export interface Found<Output> {
  output: Output;
  /** True when authecs made it (recorded, or tagged as this stack's); false when it already existed. */
  created: boolean;
}

export interface Inspection {
  present: boolean;
  healthy: boolean;
  /** One line for the status table, e.g. "active", "ISSUED", "2/2 running". */
  summary: string;
  /** What differs from what `up` would make; non-empty means drift. */
  drift?: string[];
  details?: Record<string, unknown>;
}

export interface Step<Name extends StepName> {
  readonly name: Name;
  readonly title: string;
  /** The article section this step reproduces; shown in the README's mapping. */
  readonly articleSection: string;
  readonly dependsOn: readonly StepName[];
  /** Steps that do not apply (capacity and key pair under Fargate) are skipped. */
  enabled?(config: Config): boolean;
  /**
   * Read-only checks that run for every step, in parallel, before `up` makes its first
   * changing call: a missing prerequisite or a name held by someone else stops the run
   * with nothing created. Outputs of other steps are not available here.
   */
  preflight?(context: StepContext<Name>): Promise<void>;
  /** The live resource if it is in place and needs nothing more; undefined means create() must run. */
  find(context: StepContext<Name>): Promise<Found<StepOutputs[Name]> | undefined>;
  /** Creates the resource, or finishes a creation that an earlier run began (context.record). */
  create(context: StepContext<Name>): Promise<StepOutputs[Name]>;
  /** Deletes what authecs created; "not found" counts as deleted. Waits where AWS needs it. */
  delete(context: StepContext<Name>): Promise<void>;
  /** Live presence and health for `status`. */
  inspect(context: StepContext<Name>): Promise<Inspection>;
}

export type AnyStep = { [Name in StepName]: Step<Name> }[StepName];

export function defineStep<Name extends StepName>(step: Step<Name>): Step<Name> {
  return step;
}
