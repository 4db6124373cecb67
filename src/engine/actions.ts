import { classifyAwsError } from '../aws/errors.js';
import type { Config } from '../config/schema.js';
import type { StepName } from '../steps/outputs.js';
import type { AnyStep, Inspection, StepContext } from '../steps/step.js';
import { createStepContext, currentStep, type EngineEnvironment } from './context.js';
import { reverseDependencies, runGraph } from './graph.js';

/**
 * The three actions, kept apart from the CLI: each takes an environment (config, clients,
 * state, reporter) and a list of steps, and returns a result document. They never print.
 */

export interface UpResult {
  outcomes: Record<string, string>;
  changed: boolean;
}

function enabledSteps(steps: readonly AnyStep[], config: Config): AnyStep[] {
  return steps.filter((step) => step.enabled?.(config) ?? true);
}

/** Dependencies on disabled steps (capacity under Fargate) are dropped, not waited for. */
function waitsFor(step: AnyStep, enabled: ReadonlySet<string>): string[] {
  return step.dependsOn.filter((dependency) => enabled.has(dependency));
}

function contextFor(step: AnyStep, environment: EngineEnvironment): StepContext<StepName> {
  return createStepContext(step, environment) as unknown as StepContext<StepName>;
}

type LooseStep = {
  preflight?(context: StepContext<StepName>): Promise<void>;
  find(context: StepContext<StepName>): Promise<{ output: object; created: boolean } | undefined>;
  create(context: StepContext<StepName>): Promise<object>;
  delete(context: StepContext<StepName>): Promise<void>;
  inspect(context: StepContext<StepName>): Promise<Inspection>;
};

function loose(step: AnyStep): LooseStep {
  return step as unknown as LooseStep;
}

function sameData(left: object, right: object): boolean {
  return JSON.stringify(left) === JSON.stringify(right);
}

export interface ActionOptions {
  shouldStop?: () => boolean;
  /** At most this many steps at once; 1 runs them one after another, as the article does. */
  concurrency?: number;
}

export async function up(environment: EngineEnvironment, steps: readonly AnyStep[], options: ActionOptions = {}): Promise<UpResult> {
  const { state, reporter } = environment;
  const active = enabledSteps(steps, environment.config);
  const activeNames = new Set(active.map((step) => step.name));
  const outcomes: Record<string, string> = {};

  for (const step of steps) {
    if (!activeNames.has(step.name)) outcomes[step.name] = 'skipped';
  }

  await preflight(environment, active);

  await runGraph(
    active.map((step) => ({
      name: step.name,
      waitsFor: waitsFor(step, activeNames),
      run: () =>
        currentStep.run(step.name, async () => {
          const started = Date.now();
          const context = contextFor(step, environment);
          reporter.stepStarted(step.name, step.title);
          try {
            const before = state.get(step.name);
            const found = await loose(step).find(context);
            if (found) {
              const record = state.get(step.name);
              if (!record || !record.complete || !sameData(record.data, found.output)) {
                state.update(step.name, { created: record?.created ?? found.created, complete: true, data: found.output });
              }
              outcomes[step.name] = 'unchanged';
              reporter.stepFinished(step.name, step.title, 'unchanged', Date.now() - started, describe(found.output));
              return;
            }
            const outcome = !before ? 'created' : before.complete ? 'repaired' : 'resumed';
            const output = await loose(step).create(context);
            // A step that saved nothing yet made its resource in this one call.
            const saved = state.get(step.name);
            state.update(step.name, { complete: true, data: output, created: saved ? saved.created : true });
            outcomes[step.name] = outcome;
            reporter.stepFinished(step.name, step.title, outcome, Date.now() - started, describe(output));
          } catch (error) {
            outcomes[step.name] = 'failed';
            reporter.stepFinished(step.name, step.title, 'failed', Date.now() - started);
            throw classifyAwsError(error, { step: step.name, endpointUrl: environment.config.endpointUrl });
          }
        }),
    })),
    options,
  );
  return { outcomes, changed: reporter.mutations.length > 0 };
}

/**
 * Every step's read-only checks, all at once, before the first changing call: a missing hosted
 * zone or a name held by someone else must stop `up` with nothing created, not half-way.
 */
async function preflight(environment: EngineEnvironment, active: readonly AnyStep[]): Promise<void> {
  const results = await Promise.allSettled(
    active.map((step) => currentStep.run(step.name, async () => loose(step).preflight?.(contextFor(step, environment)))),
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

export interface DownResult {
  outcomes: Record<string, string>;
  remaining: string[];
}

export async function down(environment: EngineEnvironment, steps: readonly AnyStep[], options: ActionOptions = {}): Promise<DownResult> {
  const { state, reporter } = environment;
  const recorded = steps.filter((step) => state.get(step.name) !== undefined);
  const recordedNames = new Set(recorded.map((step) => step.name));
  // Graph over every known step, so ordering holds even when a middle step has no record.
  const dependents = reverseDependencies(steps.map((step) => ({ name: step.name, waitsFor: step.dependsOn })));
  const outcomes: Record<string, string> = {};

  await runGraph(
    steps.map((step) => ({
      name: step.name,
      waitsFor: dependents.get(step.name) ?? [],
      run: () =>
        currentStep.run(step.name, async () => {
          if (!recordedNames.has(step.name)) return;
          const record = state.get(step.name)!;
          const started = Date.now();
          reporter.stepStarted(step.name, step.title);
          try {
            if (!record.created) {
              state.remove(step.name);
              outcomes[step.name] = 'kept';
              reporter.stepFinished(step.name, step.title, 'kept', Date.now() - started, 'not created by authecs');
              return;
            }
            await loose(step).delete(contextFor(step, environment));
            state.remove(step.name);
            outcomes[step.name] = 'deleted';
            reporter.stepFinished(step.name, step.title, 'deleted', Date.now() - started);
          } catch (error) {
            outcomes[step.name] = 'failed';
            reporter.stepFinished(step.name, step.title, 'failed', Date.now() - started);
            throw classifyAwsError(error, { step: step.name, endpointUrl: environment.config.endpointUrl });
          }
        }),
    })),
    options,
  );
  return { outcomes, remaining: state.resourceNames };
}

export interface StatusRow {
  step: string;
  title: string;
  created: boolean | null;
  present: boolean;
  healthy: boolean;
  summary: string;
  drift: string[];
  details?: Record<string, unknown>;
}

export async function status(environment: EngineEnvironment, steps: readonly AnyStep[]): Promise<StatusRow[]> {
  const { state } = environment;
  const active = enabledSteps(steps, environment.config);
  const rows = await Promise.all(
    active.map((step) =>
      currentStep.run(step.name, async (): Promise<StatusRow> => {
        const record = state.get(step.name);
        if (!record) {
          return { step: step.name, title: step.title, created: null, present: false, healthy: false, summary: 'not in state (run authecs up)', drift: [] };
        }
        try {
          const inspection = await loose(step).inspect(contextFor(step, environment));
          return {
            step: step.name,
            title: step.title,
            created: record.created,
            present: inspection.present,
            healthy: inspection.present && inspection.healthy && (inspection.drift ?? []).length === 0,
            summary: inspection.summary,
            drift: inspection.drift ?? [],
            ...(inspection.details ? { details: inspection.details } : {}),
          };
        } catch (error) {
          const classified = classifyAwsError(error, { step: step.name, endpointUrl: environment.config.endpointUrl });
          if (classified.exit !== 'aws') throw classified;
          return { step: step.name, title: step.title, created: record.created, present: false, healthy: false, summary: `error: ${classified.message}`, drift: [] };
        }
      }),
    ),
  );
  return rows;
}
