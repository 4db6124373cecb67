import { sharingReads } from '../aws/clients.js';
import { classifyAwsError, outcomeUnknown } from '../aws/errors.js';
import type { Config } from '../config/schema.js';
import { AuthecsError, interruptedError } from '../errors.js';
import type { StepOutcome } from '../report/reporter.js';
import type { ResourceRecord } from '../state/state-file.js';
import type { StepName } from '../steps/outputs.js';
import type { StepContext } from '../steps/step.js';
import { canonical, isUnknown, type AnyResource, type Change, type Inputs, type Maybe } from '../steps/resource.js';
import { currentStep, type EngineEnvironment } from './context.js';
import { runGraph, teardownOrder } from './graph.js';
import { Timeline, type RunTiming } from './timing.js';
import { contextFor, decide, inputsFrom, isEnabled, loose, retiredContext, startRead, type Decision, type PlannedAction, type ResourcePlan } from './reconcile.js';

export type { ResourcePlan } from './reconcile.js';

/**
 * The three actions, kept apart from the CLI: each takes an environment (config, clients,
 * state, reporter) and a list of steps, and returns a result document. They never print.
 */

export interface UpResult {
  outcomes: Record<string, string>;
  changed: boolean;
  /** The plan `up` worked from, before it changed anything. */
  plan: ResourcePlan[];
  timing: RunTiming;
}

export interface ActionOptions {
  shouldStop?: () => boolean;
  /** At most this many steps at once; 1 runs them one after another, as the article does. */
  concurrency?: number;
  /**
   * Asked before a change that destroys data or cuts the site off (a replaced user pool, a
   * service stopped for a launch type change). Without it, or when it answers no, `up` stops
   * before its first change.
   */
  confirmLoss?: (losses: ResourcePlan[]) => Promise<boolean>;
  /**
   * `down` only: steps whose resources stay (`down --keep-logs`). Their records go with the
   * state file; the next `up` adopts the resources by their stack tag.
   */
  keep?: readonly StepName[];
}

function activeSteps(steps: readonly AnyResource[], config: Config): AnyResource[] {
  return steps.filter((step) => isEnabled(step, config));
}

/**
 * What `up` waits for before a step: its waitsFor(config) (a subset of dependsOn) or dependsOn.
 * Dependencies on disabled steps (capacity under Fargate) are dropped, not waited for.
 */
export function upWaitsFor(step: AnyResource, config: Config, enabled: ReadonlySet<string>): string[] {
  const chosen = step.waitsFor?.(config) ?? step.dependsOn;
  return step.dependsOn.filter((dependency) => chosen.includes(dependency) && enabled.has(dependency));
}

/**
 * The plan: every resource's action, from desired state and a fresh read, along the graph so a
 * dependency about to be made hands UNKNOWN ("known after apply") to what depends on it.
 * Read-only: no mutating call and no state write.
 */
export async function plan(environment: EngineEnvironment, steps: readonly AnyResource[], options: { withLoss?: boolean } = {}): Promise<ResourcePlan[]> {
  return (await sharingReads(environment.clients, () => planAndRead(environment, steps, options))).plans;
}

/** What a step's plan saw, for `up` to act on without reading it a second time. */
interface PlannedRead {
  decision: Decision;
  /** canonical() of the inputs the plan decided with: UNKNOWN ones differ from what `up` later has. */
  inputs: string;
}

/** The plan, and each step's decision with the inputs it was made from. */
async function planAndRead(environment: EngineEnvironment, steps: readonly AnyResource[], options: { withLoss?: boolean } = {}): Promise<{ plans: ResourcePlan[]; reads: Map<StepName, PlannedRead> }> {
  const reads = new Map<StepName, PlannedRead>();
  const outputs = new Map<StepName, Maybe<object> | undefined>();
  // Every read starts now; the decisions then follow the graph, each with its dependencies' outputs.
  const readings = new Map(steps.map((step) => [step.name, currentStep.run(step.name, () => startRead(step, environment))]));
  const plans = new Map<StepName, ResourcePlan>();
  await runGraph(
    steps.map((step) => ({
      name: step.name,
      waitsFor: step.dependsOn.filter((dependency) => steps.some((candidate) => candidate.name === dependency)),
      run: () =>
        currentStep.run(step.name, async () => {
          try {
            const inputs = inputsFrom(step, outputs);
            const reading = readings.get(step.name);
            const decision = await decide(step, environment, inputs, reading ? { reading } : {});
            reads.set(step.name, { decision, inputs: canonical(inputs) });
            outputs.set(step.name, decision.output);
            const resource = loose(step);
            if (options.withLoss !== false && decision.live && resource.loss && (decision.plan.action === 'replace' || decision.plan.action === 'delete')) {
              const loss = await resource.loss(contextFor(step, environment, { readOnly: true }), decision.live);
              if (loss) decision.plan.loss = loss;
            }
            plans.set(step.name, decision.plan);
          } catch (error) {
            throw classifyAwsError(error, { step: step.name, endpointUrl: environment.config.endpointUrl });
          }
        }),
    })),
  );
  return { plans: steps.map((step) => plans.get(step.name)!), reads };
}

function recordAfter(environment: EngineEnvironment, step: AnyResource, decision: Decision, output: object, created: boolean): void {
  const { state } = environment;
  const record = state.get(step.name);
  const applied = decision.want ? (JSON.parse(JSON.stringify(decision.want)) as Record<string, unknown>) : undefined;
  const unchanged =
    record?.complete === true &&
    record.created === created &&
    canonical({ ...record.data, ...output }) === canonical(record.data) &&
    canonical(record.applied) === canonical(applied);
  if (!unchanged) state.update(step.name, { created, complete: true, data: output, ...(applied ? { applied } : {}) });
}

function outcomeOf(action: PlannedAction, decision: Decision, hadRecord: ResourceRecord | undefined): StepOutcome {
  switch (action) {
    case 'create':
      return hadRecord && !hadRecord.complete ? 'resumed' : hadRecord ? 'repaired' : 'created';
    case 'update':
      return decision.plan.changes.every((change) => change.cause === 'drift') ? 'repaired' : 'updated';
    case 'replace':
      return 'replaced';
    case 'wait':
      return 'settled';
    default:
      return 'unchanged';
  }
}

// A lost answer is retried this many times, each after a fresh read, before the run gives up.
const LOST_ANSWER_ATTEMPTS = 4;
const LOST_ANSWER_BACKOFF_SECONDS = 2;

/**
 * Exactly once when an answer is lost: the call may have taken effect, so instead of sending it
 * again blindly, run the work again from a fresh read. `read` finds what the lost call made (by
 * tag, name or recorded intent) and the resource is adopted; only what is still missing is made.
 * A delete treats "not found" as deleted, so running it again is safe.
 */
async function retryLostAnswers<Result>(environment: EngineEnvironment, step: AnyResource, work: () => Promise<Result>): Promise<Result> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!outcomeUnknown(error) || attempt >= LOST_ANSWER_ATTEMPTS) throw error;
      environment.reporter.progress(step.name, `no answer from AWS (${(error as Error).name}); looking again before it tries again`);
      await (environment.sleep ?? ((seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000))))(LOST_ANSWER_BACKOFF_SECONDS * environment.pollScale * attempt);
    }
  }
}

/**
 * The plan's read, where acting on it is safe, as Terraform applies its plan: a resource found
 * absent stays absent until this step makes it (the run holds the stack's lock), and one found
 * as wanted needs nothing if its inputs are the same now. Anything else is decided afresh.
 */
function decideFromPlan(environment: EngineEnvironment, step: AnyResource, inputs: Inputs, planned: PlannedRead | undefined): Promise<Decision> {
  if (planned?.decision.plan.action === 'create' && !planned.decision.live) return decide(step, environment, inputs, { knownAbsent: true });
  if (planned?.decision.plan.action === 'none' && planned.inputs === canonical(inputs)) return Promise.resolve(planned.decision);
  return decide(step, environment, inputs);
}

/** `planned` is trusted for the first attempt only: after a lost answer, whose call may have made the resource, every retry reads afresh. */
function applyOnce(environment: EngineEnvironment, step: AnyResource, inputs: Inputs, planned?: PlannedRead): Promise<{ output: object; outcome: StepOutcome; detail: string }> {
  let attempt = 0;
  return retryLostAnswers(environment, step, () => {
    attempt += 1;
    return apply(environment, step, () => (attempt === 1 ? decideFromPlan(environment, step, inputs, planned) : decide(step, environment, inputs)));
  });
}

/** Carries out one resource's decision and records the result before returning. */
async function apply(environment: EngineEnvironment, step: AnyResource, decideNow: () => Promise<Decision>): Promise<{ output: object; outcome: StepOutcome; detail: string }> {
  const { state } = environment;
  const resource = loose(step);
  const hadRecord = state.get<Record<string, unknown>>(step.name);
  const decision = await decideNow();
  const { plan: planned, want, live } = decision;
  const context = contextFor(step, environment);
  // What the step itself says it made: a lookup (hosted zone, network) saves created: false.
  let savedCreated: boolean | undefined;
  const save = context.save;
  context.save = (patch) => {
    if (patch.created !== undefined) savedCreated = patch.created;
    save(patch);
  };
  let output: object;
  let created = live?.created ?? true;
  switch (planned.action) {
    case 'create':
      output = await resource.create(context, want!);
      created = savedCreated ?? true;
      break;
    case 'update':
      if (!resource.update) throw new AuthecsError(`Step ${step.name} has update effects but no update()`, { code: 'STEP_NO_UPDATE', exit: 'internal' });
      output = await resource.update(context, want!, live!, planned.changes);
      created = hadRecord?.created ?? live!.created;
      break;
    case 'replace':
      if (resource.replace) {
        output = await resource.replace(context, want!, live!, planned.changes);
      } else {
        await resource.delete(context);
        state.update(step.name, { complete: false });
        output = await resource.create(context, want!);
      }
      created = savedCreated ?? true;
      break;
    case 'wait':
      output = resource.settle ? await resource.settle(context, live!) : live!.output;
      created = hadRecord?.created ?? live!.created;
      break;
    default:
      output = live!.output;
      created = hadRecord?.created ?? live!.created;
  }
  recordAfter(environment, step, decision, output, created);
  const changed = planned.changes.map((change) => change.field).join(', ');
  return { output, outcome: outcomeOf(planned.action, decision, hadRecord), detail: [describe(output), changed ? `(${changed})` : ''].filter(Boolean).join(' ') };
}

function lossRefusal(losses: ResourcePlan[]): AuthecsError {
  return new AuthecsError(`This change destroys data or stops the site: ${losses.map((entry) => `${entry.title} ${entry.action} (${entry.loss})`).join('; ')}. Nothing was changed`, {
    code: 'CONFIRMATION_REQUIRED',
    exit: 'usage',
    hint: 'Run `authecs plan` to see every change, then run `authecs up --yes` to accept it (or answer yes at a terminal).',
  });
}

export async function up(environment: EngineEnvironment, steps: readonly AnyResource[], options: ActionOptions = {}): Promise<UpResult> {
  const timeline = new Timeline(environment.now ?? Date.now);
  environment = { ...environment, timeline };
  const { state, reporter, config } = environment;
  const active = activeSteps(steps, config);
  const activeNames = new Set<string>(active.map((step) => step.name));
  const outcomes: Record<string, string> = {};
  for (const step of steps) {
    if (!activeNames.has(step.name) && !state.get(step.name)) outcomes[step.name] = 'skipped';
  }

  // Both only read: the plan runs alongside the checks, and a failed check still stops `up` before its first change.
  const { plans: planned, reads } = await timedPlan(timeline, async () => {
    const [checked, read] = await sharingReads(environment.clients, () => Promise.allSettled([preflight(environment, active), planAndRead(environment, steps)]));
    if (checked.status === 'rejected') throw checked.reason;
    if (read.status === 'rejected') throw read.reason;
    return read.value;
  });
  const losses = planned.filter((entry) => entry.loss && (entry.action === 'replace' || entry.action === 'delete'));
  if (losses.length > 0 && !(await (options.confirmLoss?.(losses) ?? Promise.resolve(false)))) throw lossRefusal(losses);

  const outputs = new Map<StepName, Maybe<object> | undefined>();
  const runStep = (step: AnyResource, after: readonly string[], work: () => Promise<{ outcome: StepOutcome; detail: string }>) =>
    currentStep.run(step.name, async () => {
      const started = Date.now();
      const end = timeline.start(step.name, after);
      reporter.stepStarted(step.name, step.title);
      try {
        const { outcome, detail } = await work();
        outcomes[step.name] = outcome;
        reporter.stepFinished(step.name, step.title, outcome, Date.now() - started, detail);
      } catch (error) {
        outcomes[step.name] = 'failed';
        reporter.stepFinished(step.name, step.title, 'failed', Date.now() - started);
        throw classifyAwsError(error, { step: step.name, endpointUrl: config.endpointUrl });
      } finally {
        end();
      }
    });

  await runGraph(
    active.map((step) => {
      const waitsFor = upWaitsFor(step, config, activeNames);
      return {
        name: step.name,
        waitsFor,
        run: () =>
          runStep(step, waitsFor.length > 0 ? waitsFor : [PLAN_SPAN], async () => {
            const result = await applyOnce(environment, step, inputsFrom(step, outputs), reads.get(step.name));
            outputs.set(step.name, result.output);
            return result;
          }),
      };
    }),
    withStop(environment, options),
  );
  if (environment.stopSignal?.aborted) throw interruptedError();

  // What the settings no longer want (e.g. --no-http-redirect), once everything that used it has moved.
  let previous: readonly string[] = active.map((step) => step.name);
  for (const step of [...steps].reverse()) {
    if (activeNames.has(step.name) || !state.get(step.name)) continue;
    await runStep(step, previous, async () => {
      const record = state.get(step.name)!;
      if (record.created) await retryLostAnswers(environment, step, () => loose(step).delete(contextFor(step, environment)));
      state.remove(step.name);
      return { outcome: record.created ? 'deleted' : 'kept', detail: 'not wanted with the current settings' };
    });
    previous = [step.name];
  }
  await deleteRetired(environment, steps, previous);
  return { outcomes, changed: reporter.mutations.length > 0, plan: planned, timing: timeline.summary() };
}

/** The run's graph options: a graceful stop (the first Ctrl-C) starts no new step. */
function withStop(environment: EngineEnvironment, options: ActionOptions): ActionOptions {
  const signal = environment.stopSignal;
  if (!signal) return options;
  return { ...options, shouldStop: () => signal.aborted || (options.shouldStop?.() ?? false) };
}

// The reads and checks before the first change; on the critical path, the graph's first steps come after it.
const PLAN_SPAN = 'plan';

async function timedPlan<Result>(timeline: Timeline, work: () => Promise<Result>): Promise<Result> {
  const end = timeline.start(PLAN_SPAN, []);
  try {
    return await work();
  } finally {
    end();
  }
}

/** Create-before-delete: the resources a replacement left behind go once the new ones are in use. */
async function deleteRetired(environment: EngineEnvironment, steps: readonly AnyResource[], after: readonly string[] = []): Promise<void> {
  const { state } = environment;
  let previous = after;
  for (const step of [...steps].reverse()) {
    const retired = [...(state.get(step.name)?.retired ?? [])];
    if (retired.length === 0) continue;
    const span = `${step.name} (replaced)`;
    const end = environment.timeline?.start(span, previous, { waitKey: step.name });
    previous = [span];
    try {
      await deleteRetiredOf(environment, step, retired);
    } finally {
      end?.();
    }
  }
}

async function deleteRetiredOf(environment: EngineEnvironment, step: AnyResource, retired: readonly object[]): Promise<void> {
  const { state } = environment;
  for (const data of retired) {
    // A replacement that was recorded but never made leaves the live resource in `retired`: keep it.
    const live = state.get(step.name)?.data;
    if (live && canonical(live) === canonical(data)) {
      state.update(step.name, { retired: (state.get(step.name)?.retired ?? []).filter((entry) => canonical(entry) !== canonical(data)) });
      continue;
    }
    await currentStep.run(step.name, async () => {
      environment.reporter.progress(step.name, `deleting the replaced ${step.title.toLowerCase()} ${describe(data)}`.trim());
      try {
        await retryLostAnswers(environment, step, () => loose(step).delete(retiredContext(step, environment, data)));
      } catch (error) {
        throw classifyAwsError(error, { step: step.name, endpointUrl: environment.config.endpointUrl });
      }
      const remaining = (state.get(step.name)?.retired ?? []).filter((entry) => canonical(entry) !== canonical(data));
      state.update(step.name, { retired: remaining });
    });
  }
}

/**
 * Every step's read-only checks, all at once, before the first changing call: a missing hosted
 * zone or a name held by someone else must stop `up` with nothing created, not half-way.
 */
async function preflight(environment: EngineEnvironment, active: readonly AnyResource[]): Promise<void> {
  const results = await Promise.allSettled(
    active.map((step) => currentStep.run(step.name, async () => loose(step).preflight?.(contextFor(step, environment, { readOnly: true })))),
  );
  const failures = results.flatMap((result, index) => (result.status === 'rejected' ? [{ step: active[index]!, error: result.reason as unknown }] : []));
  if (failures.length === 0) return;
  const classified = failures.map(({ step, error }) => classifyAwsError(error, { step: step.name, endpointUrl: environment.config.endpointUrl }));
  // The most telling failure first: a user's mistake (conflict, missing zone) before a generic AWS error.
  const rank = (error: (typeof classified)[number]) => ['credentials', 'endpoint', 'accessDenied', 'notFound', 'conflict', 'usage'].indexOf(error.exit);
  const first = [...classified].sort((left, right) => (rank(left) === -1 ? 99 : rank(left)) - (rank(right) === -1 ? 99 : rank(right)))[0]!;
  const others = classified.filter((error) => error !== first);
  if (others.length > 0) environment.reporter.debug(`also failed preflight: ${others.map((error) => error.message).join('; ')}`);
  throw first;
}

/** A short identifier for the progress line: the name, ID or ARN tail the user will recognise. */
function describe(output: object): string {
  const values = output as Record<string, unknown>;
  for (const key of ['dnsName', 'recordName', 'domain', 'name', 'serviceName', 'clusterName', 'keyName', 'userPoolId', 'clientId', 'vpcId', 'zoneName', 'groupId', 'family']) {
    const value = values[key];
    if (typeof value === 'string') return value;
  }
  if (Array.isArray(values.instanceIds)) return `${values.instanceIds.length} instance(s)`;
  if (typeof values.priority === 'number') return `priority ${values.priority}`;
  if (typeof values.port === 'number') return `port ${values.port}`;
  return '';
}

export interface DeployOptions {
  /** A new deployment even when the revision is unchanged (a moving tag such as latest). */
  force: boolean;
  /** Wait for the rollout to finish (and explain a failure); false returns once it has started. */
  wait: boolean;
}

export interface DeployResult {
  taskDefinitionArn: string;
  /** The revision the service ran before. */
  previousTaskDefinitionArn: string | undefined;
  /** unchanged: nothing to ship; started: --no-wait; completed: the rollout finished. */
  rollout: 'unchanged' | 'started' | 'completed';
}

/**
 * `deploy`: a new task definition revision and an UpdateService, nothing else. Every other
 * resource's output comes from the state file, so no other resource is read or changed.
 */
export async function deploy(environment: EngineEnvironment, steps: readonly AnyResource[], rollOut: RollOut, options: DeployOptions): Promise<DeployResult> {
  const { state, reporter, config } = environment;
  const taskDefinition = steps.find((step) => step.name === 'task-definition')!;
  const service = steps.find((step) => step.name === 'service')!;
  if (!state.get('service')?.complete) {
    throw new AuthecsError(`Stack ${config.cluster} has no running service to deploy to`, {
      code: 'NO_SERVICE',
      exit: 'notFound',
      hint: 'Run `authecs up` first; `deploy` ships a new image to a stack that is up.',
    });
  }
  const recorded = new Map<StepName, Maybe<object> | undefined>();
  for (const step of steps) {
    if (step.name !== 'task-definition' && step.name !== 'service') recorded.set(step.name, state.get(step.name)?.data);
  }
  await preflight(environment, [taskDefinition]);
  const run = async <Result>(step: AnyResource, work: () => Promise<{ result: Result; outcome: StepOutcome; detail: string }>): Promise<Result> =>
    currentStep.run(step.name, async () => {
      const started = Date.now();
      reporter.stepStarted(step.name, step.title);
      try {
        const { result, outcome, detail } = await work();
        reporter.stepFinished(step.name, step.title, outcome, Date.now() - started, detail);
        return result;
      } catch (error) {
        reporter.stepFinished(step.name, step.title, 'failed', Date.now() - started);
        throw classifyAwsError(error, { step: step.name, endpointUrl: config.endpointUrl });
      }
    });

  const registered = await run(taskDefinition, async () => {
    const applied = await applyOnce(environment, taskDefinition, inputsFrom(taskDefinition, recorded));
    return { result: applied.output as { taskDefinitionArn: string }, outcome: applied.outcome, detail: applied.detail };
  });
  const outcome = await run<{ previous: string | undefined; rollout: DeployResult['rollout'] }>(service, async () => {
    const live = await loose(service).read(contextFor(service, environment, { readOnly: true }));
    if (!live) {
      throw new AuthecsError(`The service of stack ${config.cluster} is not running`, { code: 'NO_SERVICE', exit: 'notFound', hint: 'Run `authecs up` to create it again.' });
    }
    const previous = live.observed.taskDefinitionArn as string | undefined;
    const moving = previous !== registered.taskDefinitionArn;
    if (!moving && !options.force) return { result: { previous, rollout: 'unchanged' }, outcome: 'unchanged', detail: 'already runs this revision' };
    const context = contextFor(service, environment);
    const desiredCount = live.observed.desiredCount as number | undefined;
    await rollOut(context, live.output, registered.taskDefinitionArn, { ...options, ...(desiredCount === undefined ? {} : { desiredCount }) });
    return {
      result: { previous, rollout: options.wait ? 'completed' : 'started' },
      outcome: 'updated',
      detail: `${options.force && !moving ? 'new deployment of ' : ''}${registered.taskDefinitionArn.split('/').pop()}${options.wait ? '' : ' (rollout started)'}`,
    };
  });
  // The old revision stays registered until the new one runs: a rollback needs it.
  if (outcome.rollout !== 'started') await deleteRetired(environment, [taskDefinition]);
  return { taskDefinitionArn: registered.taskDefinitionArn, previousTaskDefinitionArn: outcome.previous, rollout: outcome.rollout };
}

/** The service step's deployment: UpdateService to the revision, then (with wait) the rollout watched to its end. */
export type RollOut = (context: StepContext<StepName>, service: object, taskDefinitionArn: string, options: DeployOptions & { desiredCount?: number }) => Promise<void>;

export interface DownResult {
  outcomes: Record<string, string>;
  remaining: string[];
  timing: RunTiming;
}

export async function down(environment: EngineEnvironment, steps: readonly AnyResource[], options: ActionOptions = {}): Promise<DownResult> {
  const timeline = new Timeline(environment.now ?? Date.now);
  environment = { ...environment, timeline };
  const { state, reporter } = environment;
  const recorded = new Set(steps.filter((step) => state.get(step.name) !== undefined).map((step) => step.name));
  // Deleted by this run, or already gone (a run killed after deleting it, whose record went): either
  // way what AWS deletes with it (deletedWith) is gone or going. A resource that stays never carries.
  const goes = (name: string) => {
    const record = state.get(name);
    return !options.keep?.includes(name as StepName) && (record === undefined || record.created);
  };
  // Graph over every known step, so ordering holds even when a middle step has no record.
  const order = teardownOrder(steps, goes);
  const outcomes: Record<string, string> = {};

  await runGraph(
    steps.map((step) => ({
      name: step.name,
      waitsFor: order.waitsFor.get(step.name) ?? [],
      run: () =>
        currentStep.run(step.name, async () => {
          const end = timeline.start(step.name, order.waitsFor.get(step.name) ?? []);
          if (!recorded.has(step.name)) {
            end({ idle: true });
            return;
          }
          const record = state.get(step.name)!;
          const started = Date.now();
          const carrier = steps.find((candidate) => candidate.name === order.carriedBy.get(step.name));
          reporter.stepStarted(step.name, step.title);
          try {
            if (options.keep?.includes(step.name)) {
              state.remove(step.name);
              outcomes[step.name] = 'kept';
              reporter.stepFinished(step.name, step.title, 'kept', Date.now() - started, 'kept on request');
              return;
            }
            // A replacement's leftovers first: they are older than the live resource.
            for (const data of record.retired ?? []) {
              if (canonical(data) !== canonical(record.data)) await retryLostAnswers(environment, step, () => loose(step).delete(retiredContext(step, environment, data)));
            }
            if (!record.created) {
              state.remove(step.name);
              outcomes[step.name] = 'kept';
              reporter.stepFinished(step.name, step.title, 'kept', Date.now() - started, 'not created by authecs');
              return;
            }
            if (carrier) {
              // Its carrier's deletion is confirmed by now: a read that finds nothing is the deletion's
              // proof. Whatever is somehow left is deleted as usual.
              await retryLostAnswers(environment, step, async () => {
                if (await loose(step).read(contextFor(step, environment, { readOnly: true }))) await loose(step).delete(contextFor(step, environment));
              });
            } else {
              await retryLostAnswers(environment, step, () => loose(step).delete(contextFor(step, environment)));
            }
            state.remove(step.name);
            outcomes[step.name] = 'deleted';
            reporter.stepFinished(step.name, step.title, 'deleted', Date.now() - started, carrier ? `with the ${carrier.title.toLowerCase()}` : undefined);
          } catch (error) {
            outcomes[step.name] = 'failed';
            reporter.stepFinished(step.name, step.title, 'failed', Date.now() - started);
            throw classifyAwsError(error, { step: step.name, endpointUrl: environment.config.endpointUrl });
          } finally {
            end();
          }
        }),
    })),
    withStop(environment, options),
  );
  if (environment.stopSignal?.aborted) throw interruptedError();
  return { outcomes, remaining: state.resourceNames, timing: timeline.summary() };
}

export interface StatusRow {
  step: string;
  title: string;
  created: boolean | null;
  present: boolean;
  healthy: boolean;
  summary: string;
  /** The same diff `plan` shows: the live resource against what the recorded settings want. */
  drift: string[];
  changes: Change[];
  details?: Record<string, unknown>;
}

export function formatValue(value: unknown): string {
  if (isUnknown(value)) return '(known after apply)';
  if (value === undefined) return '(none)';
  return typeof value === 'string' ? value : canonical(value);
}

export function formatChange(change: Change): string {
  return `${change.field}: ${formatValue(change.from)} → ${formatValue(change.to)}`;
}

/** `status`: the plan against the recorded settings, with each live resource's health. */
export async function status(environment: EngineEnvironment, steps: readonly AnyResource[]): Promise<StatusRow[]> {
  const { state } = environment;
  const planned = await plan(environment, steps, { withLoss: false });
  return planned
    .filter((entry) => entry.action !== 'skip')
    .map((entry): StatusRow => {
      const record = state.get(entry.step);
      const row = { step: entry.step, title: entry.title, created: record?.created ?? entry.created, changes: entry.changes };
      if (entry.action === 'create') {
        return { ...row, present: false, healthy: false, summary: record ? 'missing' : 'not in state (run authecs up)', drift: [] };
      }
      if (entry.action === 'delete') {
        return { ...row, present: true, healthy: false, summary: 'no longer wanted by the settings (run authecs up to delete it)', drift: [] };
      }
      const health = entry.health ?? { healthy: true, summary: 'present' };
      const settled = entry.action !== 'wait';
      return {
        ...row,
        present: true,
        healthy: health.healthy && settled && entry.changes.length === 0,
        summary: settled ? health.summary : `${health.summary} (settling)`,
        drift: entry.changes.map(formatChange),
        ...(health.details ? { details: health.details } : {}),
      };
    });
}
