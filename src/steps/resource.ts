import type { Config } from '../config/schema.js';
import type { StepName, StepOutputs } from './outputs.js';
import type { StepContext } from './step.js';

/**
 * The reconcile lifecycle every resource follows (README "Architecture"). A resource says what
 * it wants as a pure function of the settings and its dependencies' outputs; the engine reads
 * what is live, diffs the two and decides: nothing, create, update, replace, wait or delete.
 * `plan`, `up` and `status` are views of that one comparison.
 */

/** A value that is not known until a dependency is created or replaced ("known after apply"). */
export const UNKNOWN: unique symbol = Symbol('known after apply');
export type Unknown = typeof UNKNOWN;
export type Maybe<T> = T | Unknown;

export function isUnknown(value: unknown): value is Unknown {
  return value === UNKNOWN;
}

/** A field of a dependency's output, or UNKNOWN while that dependency is still to be made. */
export function known<Output, Field>(output: Maybe<Output> | undefined, pick: (output: Output) => Field): Maybe<Field> | undefined {
  if (output === undefined) return undefined;
  return isUnknown(output) ? UNKNOWN : pick(output);
}

/** Dependencies' outputs as `desired` sees them; a disabled dependency is absent. */
export type Inputs = { readonly [Name in StepName]?: Maybe<StepOutputs[Name]> };

/** `update`: AWS changes it in place. `replace`: it needs a new resource. */
export type Effect = 'update' | 'replace';

export interface Change {
  /** The desired-state field, e.g. `image` or `healthCheck.path`. */
  field: string;
  from: unknown;
  to: unknown;
  effect: Effect;
  /** `settings`: the desired value changed since the last apply; `drift`: the live resource was changed out of band. */
  cause?: 'settings' | 'drift';
}

export interface Health {
  healthy: boolean;
  /** One line for the status table, e.g. "active", "ISSUED", "2/2 running". */
  summary: string;
  details?: Record<string, unknown>;
}

export interface Live<Name extends StepName, Desired extends object> {
  /** What dependents read: the identifiers to record. */
  output: StepOutputs[Name];
  /** The live values of the desired fields; a field left out is not compared. */
  observed: Partial<Desired>;
  /** True when authecs made it (recorded, or tagged as this stack's); false when it already existed. */
  created: boolean;
  /** False while AWS is still bringing it up (ALB provisioning, certificate pending): the engine waits with settle(). */
  settled?: boolean;
  /** Health as `status` shows it, derived from the same read. */
  health: Health;
}

/** What `recover` makes of a resource it found with no record at all. */
export interface Recovered<Name extends StepName, Desired extends object> {
  live: Live<Name, Desired>;
  /** What the lost state file held that AWS cannot give back (a private key). */
  lost?: string[];
}

/** What the engine gives `read`, `preflight` and `desired`-time code: a context whose save() refuses. */
export type ReadContext<Name extends StepName> = StepContext<Name>;

export interface Resource<Name extends StepName, Desired extends object> {
  readonly name: Name;
  readonly title: string;
  /** The article section this step reproduces; shown in the README's mapping. */
  readonly articleSection: string;
  readonly dependsOn: readonly StepName[];
  /**
   * What `up` waits for with these settings, when less than dependsOn (entries outside dependsOn
   * are ignored). dependsOn still orders `down` and `plan`; a step left out here must not be read
   * by desired() or the step. E.g. the service waits for the parking rule, not the host rule.
   */
  waitsFor?(config: Config): readonly StepName[];
  /**
   * Teardown: AWS deletes this resource with that step's (DeleteLoadBalancer "also deletes its
   * listeners", and a listener's rules go with it). When `down` deletes that step's resource, it
   * stops waiting for this one; this one waits for it instead, then only checks that it is gone.
   */
  readonly deletedWith?: StepName;
  /** A disabled step's resource is deleted if it exists (e.g. --no-http-redirect). */
  enabled?(config: Config): boolean;
  /** Read-only checks before the first change: a missing prerequisite stops `up` with nothing created. */
  preflight?(context: ReadContext<Name>): Promise<void>;
  /** Pure: no AWS call, no clock. A value from a dependency still to be made is UNKNOWN. */
  desired(config: Config, inputs: Inputs): Desired;
  /** How each desired field can change: in place, or only with a new resource. */
  readonly effects: { readonly [Field in keyof Desired]-?: Effect };
  /** The live resource or undefined: from the record first, then tags or names. Never writes, never waits. */
  read(context: ReadContext<Name>): Promise<Live<Name, Desired> | undefined>;
  /**
   * `authecs recover` (and `status`/`down` without a state file): the live resource with no record
   * at all; read() when absent. A step overrides it where read() cannot claim or find without its
   * record: untagged DNS records, a key pair whose private key is gone. Read-only, like read().
   */
  recover?(context: ReadContext<Name>): Promise<Recovered<Name, Desired> | undefined>;
  /** Overrides the field-by-field diff where one field's effect depends on another. */
  diff?(want: Desired, live: Live<Name, Desired>): Change[];
  create(context: StepContext<Name>, want: Desired): Promise<StepOutputs[Name]>;
  update?(context: StepContext<Name>, want: Desired, live: Live<Name, Desired>, changes: Change[]): Promise<StepOutputs[Name]>;
  /** A new resource in place of the old. Without it the engine deletes, then creates. */
  replace?(context: StepContext<Name>, want: Desired, live: Live<Name, Desired>, changes: Change[]): Promise<StepOutputs[Name]>;
  /** Waits until a resource that exists but is not settled is ready, and returns its output. */
  settle?(context: StepContext<Name>, live: Live<Name, Desired>): Promise<StepOutputs[Name]>;
  /** Deletes what authecs created; "not found" counts as deleted. Waits where AWS needs it. */
  delete(context: StepContext<Name>): Promise<void>;
  /**
   * What replacing or deleting the live resource destroys (read-only), e.g. "12 users"; the engine
   * asks before going ahead, and `plan` shows it.
   */
  loss?(context: ReadContext<Name>, live: Live<Name, Desired>): Promise<string | undefined>;
}

// eslint-style escape hatch for heterogeneous lists: every step, whatever its Desired.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyResource = { [Name in StepName]: Resource<Name, any> }[StepName];

export function defineResource<Name extends StepName, Desired extends object>(resource: Resource<Name, Desired>): Resource<Name, Desired> {
  return resource;
}

/** Canonical JSON: object keys sorted, so two equal values compare equal whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (isUnknown(inner)) return '(known after apply)';
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      return Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([left], [right]) => left.localeCompare(right)));
    }
    return inner;
  });
}

function containsUnknown(value: unknown): boolean {
  if (isUnknown(value)) return true;
  if (value && typeof value === 'object') return Object.values(value as Record<string, unknown>).some(containsUnknown);
  return false;
}

/**
 * The field-by-field diff: each desired field whose live value differs, with the field's effect.
 * A field that is not observed (undefined in `observed`) is not compared; a wanted value that
 * is still UNKNOWN always counts as a change, as it will be once known.
 */
export function diffFields<Desired extends object>(want: Desired, observed: Partial<Desired>, effects: { readonly [Field in keyof Desired]-?: Effect }): Change[] {
  const changes: Change[] = [];
  for (const field of Object.keys(effects) as (keyof Desired & string)[]) {
    const to = want[field];
    const from = observed[field];
    if (from === undefined && !(field in observed)) continue;
    if (!containsUnknown(to) && canonical(from) === canonical(to)) continue;
    changes.push({ field, from, to, effect: effects[field] });
  }
  return changes;
}
