import type { Config } from '../config/schema.js';
import type { ResourceRecord } from '../state/state-file.js';
import type { StepName } from '../steps/outputs.js';
import { canonical, diffFields, UNKNOWN, type AnyResource, type Change, type Health, type Inputs, type Live, type Maybe, type Resource } from '../steps/resource.js';
import type { StepContext } from '../steps/step.js';
import { createStepContext, type EngineEnvironment } from './context.js';

/**
 * The one comparison behind `plan`, `up` and `status`: what a resource wants (desired) against
 * what is live (read), and the action that closes the gap.
 */
export type PlannedAction = 'none' | 'create' | 'update' | 'replace' | 'wait' | 'delete' | 'skip';

export interface ResourcePlan {
  step: StepName;
  title: string;
  action: PlannedAction;
  changes: Change[];
  /** Why: the fields that force a replacement, or what disabled a step. */
  reason?: string;
  /** What a replacement or deletion destroys; `up` asks before it goes ahead. */
  loss?: string;
  /** null when nothing is live; false for what authecs found rather than made. */
  created: boolean | null;
  health?: Health;
}

// A loose view of one resource: the engine handles every step alike, whatever its Desired.
type LooseResource = Resource<StepName, Record<string, unknown>>;
export type LooseLive = Live<StepName, Record<string, unknown>>;

export function loose(step: AnyResource): LooseResource {
  return step as unknown as LooseResource;
}

export function isEnabled(step: AnyResource, config: Config): boolean {
  return step.enabled?.(config) ?? true;
}

export function contextFor(step: AnyResource, environment: EngineEnvironment, options: { readOnly?: boolean } = {}): StepContext<StepName> {
  return createStepContext(step, environment, options) as unknown as StepContext<StepName>;
}

/**
 * A context whose own record is a retired (replaced) resource, so delete() removes that one.
 * Its save() and retire() do nothing: the live record belongs to the resource that replaced it.
 */
export function retiredContext(step: AnyResource, environment: EngineEnvironment, data: object): StepContext<StepName> {
  const context = contextFor(step, environment);
  const record: ResourceRecord = { created: true, complete: true, data: data as Record<string, unknown>, updatedAt: new Date().toISOString() };
  return { ...context, record, retiring: true, save: () => {}, retire: () => {}, output: context.output, hasOutput: context.hasOutput, progress: context.progress, pollSeconds: context.pollSeconds, sleep: context.sleep, now: context.now };
}

/** Each change labelled: a setting changed since the last apply, or the live resource drifted. */
export function attributeCauses(changes: Change[], applied: Record<string, unknown> | undefined): Change[] {
  if (!applied) return changes;
  return changes.map((change) => ({ ...change, cause: canonical(applied[change.field]) === canonical(change.to) ? 'drift' : 'settings' }));
}

export interface Decision {
  plan: ResourcePlan;
  want?: Record<string, unknown>;
  live?: LooseLive;
  /** What dependents see: the live output, UNKNOWN when it is about to be made, undefined when absent. */
  output: Maybe<object> | undefined;
}

/**
 * Plans one resource from its desired state and a fresh read. Makes no change and writes nothing.
 * `knownAbsent`: this run's plan read found nothing, and only this step makes the resource, so
 * the read is skipped; never after a lost answer, whose call may have made it.
 */
export async function decide(step: AnyResource, environment: EngineEnvironment, inputs: Inputs, options: { knownAbsent?: boolean; reading?: Promise<LooseLive | undefined> } = {}): Promise<Decision> {
  const resource = loose(step);
  const record = environment.state.get(step.name);
  const base = { step: step.name, title: step.title };
  if (!isEnabled(step, environment.config)) {
    if (!record) return { plan: { ...base, action: 'skip', changes: [], created: null }, output: undefined };
    return {
      plan: { ...base, action: record.created ? 'delete' : 'skip', changes: [], reason: 'not wanted with the current settings', created: record.created },
      output: undefined,
    };
  }
  const want = resource.desired(environment.config, inputs);
  const context = contextFor(step, environment, { readOnly: true });
  const live = options.knownAbsent ? undefined : await (options.reading ?? resource.read(context));
  if (!live) {
    return { plan: { ...base, action: 'create', changes: [], created: null }, want, output: UNKNOWN };
  }
  const changes = attributeCauses(resource.diff ? resource.diff(want, live) : diffFields(want, live.observed, resource.effects), record?.applied);
  const replacing = changes.filter((change) => change.effect === 'replace');
  const plan: ResourcePlan = { ...base, action: 'none', changes, created: live.created, health: live.health };
  if (replacing.length > 0) {
    plan.action = 'replace';
    plan.reason = `${replacing.map((change) => change.field).join(', ')} cannot change in place`;
    return { plan, want, live, output: UNKNOWN };
  }
  if (changes.length > 0) plan.action = 'update';
  else if (live.settled === false) plan.action = 'wait';
  return { plan, want, live, output: live.output };
}

/**
 * Starts a step's read at once, to be handed to decide() later. A read depends only on the state
 * file and AWS, never on the order of the plan, so all of a plan's reads can run side by side.
 */
export function startRead(step: AnyResource, environment: EngineEnvironment): Promise<LooseLive | undefined> | undefined {
  if (!isEnabled(step, environment.config)) return undefined;
  const reading = loose(step).read(contextFor(step, environment, { readOnly: true }));
  // Awaited by decide() once the step's dependencies are planned; until then a failure must not count as unhandled.
  reading.catch(() => undefined);
  return reading;
}

/** A dependency's output for desired(): this run's value, UNKNOWN if not yet known. */
export function inputsFrom(step: AnyResource, outputs: ReadonlyMap<StepName, Maybe<object> | undefined>): Inputs {
  const inputs: Record<string, unknown> = {};
  for (const dependency of step.dependsOn) {
    const output = outputs.get(dependency);
    if (output !== undefined) inputs[dependency] = output;
  }
  return inputs as Inputs;
}
