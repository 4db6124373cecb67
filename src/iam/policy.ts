/**
 * Builds the least-privilege IAM policy from the table in actions.ts. Grants with the same
 * resources and condition become one statement; statements are merged further only when that
 * widens nothing (same actions and condition: the resources are joined).
 */
import { SDK_CALLS, type ConditionBlock, type Grant, type PolicyContext, type ScopeKind, type SdkCall } from './actions.js';

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** Why a statement is scoped as it is: IAM policies have no comments, so these go beside it. */
export interface StatementNote {
  sid: string;
  scope: ScopeKind;
  why: string[];
}

/** One question for the IAM policy simulator: these actions, on these resources, under this condition. */
export interface Simulation {
  actions: string[];
  /** ARN patterns as the actions need them (before the policy joins them per service). */
  resources: string[];
  condition: ConditionBlock | undefined;
}

export interface BuiltPolicy {
  document: PolicyDocument;
  /** The policy's grants, grouped by resources and condition, for `doctor` to simulate. */
  simulations: Simulation[];
  notes: StatementNote[];
  /** Every action in the policy, sorted. */
  actions: string[];
  /** How many actions are scoped in each way (an action can be in several statements). */
  scopeCounts: Record<ScopeKind, number>;
}

export interface BuildOptions {
  /** Include what `doctor` alone calls (default false). */
  includeDoctor?: boolean;
  /** The table to build from (tests pass their own). */
  calls?: readonly SdkCall[];
}

// The services whose tagging action has a key naming the create call it is part of.
const CREATE_ACTION_KEY: Record<string, string> = { ec2: 'ec2:CreateAction', elasticloadbalancing: 'elasticloadbalancing:CreateAction', ecs: 'ecs:CreateAction' };

interface Draft {
  scope: ScopeKind;
  actions: Set<string>;
  resources: string[];
  condition: ConditionBlock | undefined;
  why: Set<string>;
}

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

function keyOf(resources: readonly string[], condition: ConditionBlock | undefined): string {
  return JSON.stringify([resources, condition ?? null]);
}

/** Tagging-on-create grants of one action become one grant whose CreateAction lists every create call. */
function mergeTagOnCreate(grants: readonly Grant[], context: PolicyContext): Draft[] {
  const byAction = new Map<string, { resources: Set<string>; creates: Set<string>; condition: ConditionBlock | undefined; why: string }>();
  for (const grant of grants) {
    const entry = byAction.get(grant.action) ?? { resources: new Set<string>(), creates: new Set<string>(), condition: grant.condition?.(context), why: grant.why };
    for (const resource of grant.resources(context)) entry.resources.add(resource);
    entry.creates.add(grant.onCreate!);
    byAction.set(grant.action, entry);
  }
  return [...byAction].map(([action, entry]) => {
    const key = CREATE_ACTION_KEY[action.split(':')[0]!];
    const condition: ConditionBlock = structuredClone(entry.condition ?? {});
    if (key) condition.StringEquals = { ...condition.StringEquals, [key]: sortedUnique(entry.creates) };
    return { scope: 'tag' as const, actions: new Set([action]), resources: sortedUnique(entry.resources), condition, why: new Set([entry.why]) };
  });
}

const READ_ACTION = /:(Describe|List|Get)/;

function serviceTitle(action: string): string {
  return action.split(':')[0]!.replace(/(^|-)([a-z0-9])/g, (_, __, letter: string) => letter.toUpperCase());
}

function conditionKeys(draft: Draft): string[] {
  return Object.values(draft.condition ?? {}).flatMap((block) => Object.keys(block));
}

/** Short, stable statement IDs that say what each statement is for. */
function sidOf(draft: Draft, used: Set<string>): string {
  const keys = conditionKeys(draft);
  const services = sortedUnique([...draft.actions].map(serviceTitle));
  const single = services.length === 1 ? services[0]! : '';
  let base: string;
  if (draft.scope === 'any') base = 'NoResourceLevelPermissions';
  else if (keys.some((key) => key.startsWith('aws:ResourceTag/'))) base = 'ChangeOnlyWhatTheStackOwns';
  else if (keys.some((key) => key.endsWith(':CreateAction'))) base = `TagOnlyOnCreate${single}`;
  else if (keys.some((key) => key.startsWith('aws:RequestTag/'))) base = 'CreateOnlyTaggedForTheStack';
  else if (keys.includes('aws:CalledVia')) base = 'NetworkStackThroughCloudFormation';
  else if (draft.scope === 'name' && [...draft.actions].every((action) => READ_ACTION.test(action))) base = 'ReadNamedResources';
  else base = `${draft.scope === 'name' ? 'Named' : 'Conditioned'}${single}`;
  let sid = base;
  for (let index = 2; used.has(sid); index += 1) sid = `${base}${index}`;
  used.add(sid);
  return sid;
}

/** arn:partition:service:region:account:* for each service among the resources. */
function perService(resources: readonly string[]): string[] {
  return sortedUnique(resources.map((resource) => resource.split(':').slice(0, 5).join(':') + ':*'));
}

export function buildPolicy(context: PolicyContext, options: BuildOptions = {}): BuiltPolicy {
  const includeDoctor = options.includeDoctor ?? false;
  const calls = (options.calls ?? SDK_CALLS).filter((call) => includeDoctor || !call.doctorOnly);
  const grants = calls.flatMap((call) => call.grants);

  // One statement per condition: every tag-scoped action shares the one gate that matters, the
  // stack's tag, so joining their resources allows nothing untagged. Reads named by the settings
  // join too. Named writes stay apart: joining them could let CreateSecurityGroup make an
  // untagged group where RunInstances only uses one.
  const drafts: Draft[] = [
    ...grants
      .filter((one) => !one.onCreate)
      .map((grant) => ({ scope: grant.scope, actions: new Set([grant.action]), resources: sortedUnique(grant.resources(context)), condition: grant.condition?.(context), why: new Set([grant.why]) })),
    ...mergeTagOnCreate(grants.filter((one) => one.onCreate), context),
  ];
  const simulations = new Map<string, Simulation>();
  for (const draft of drafts) {
    const key = keyOf(draft.resources, draft.condition);
    const existing = simulations.get(key);
    if (existing) existing.actions = sortedUnique([...existing.actions, ...draft.actions]);
    else simulations.set(key, { actions: sortedUnique(draft.actions), resources: draft.resources, condition: draft.condition });
  }
  const groupOf = (draft: Draft): string => {
    if (draft.scope === 'any') return 'any';
    if (draft.scope === 'name') return [...draft.actions].every((action) => READ_ACTION.test(action)) ? 'name-read' : `name|${keyOf(draft.resources, undefined)}|${sortedUnique(draft.actions).join()}`;
    return `${draft.scope}|${JSON.stringify(draft.condition ?? null)}`;
  };
  const merged = new Map<string, Draft>();
  for (const draft of drafts) {
    const key = groupOf(draft);
    const existing = merged.get(key);
    if (!existing) {
      merged.set(key, { ...draft, actions: new Set(draft.actions), why: new Set(draft.why) });
      continue;
    }
    for (const action of draft.actions) existing.actions.add(action);
    existing.resources = sortedUnique([...existing.resources, ...draft.resources]);
    for (const why of draft.why) existing.why.add(why);
  }
  // Where the gate is the stack's tag (or CloudFormation making the call), the resource type adds
  // nothing: one ARN pattern per service keeps the policy within IAM's size limits.
  for (const draft of merged.values()) {
    const keys = conditionKeys(draft);
    if (keys.some((key) => key.startsWith('aws:ResourceTag/')) || keys.includes('aws:CalledVia')) draft.resources = perService(draft.resources);
  }
  // Named writes with the same resources: one statement.
  const byResources = new Map<string, Draft>();
  for (const [key, draft] of merged) {
    if (!key.startsWith('name|')) continue;
    const resourcesKey = keyOf(draft.resources, undefined);
    const existing = byResources.get(resourcesKey);
    if (!existing) {
      byResources.set(resourcesKey, draft);
      continue;
    }
    for (const action of draft.actions) existing.actions.add(action);
    for (const why of draft.why) existing.why.add(why);
    merged.delete(key);
  }

  const order: ScopeKind[] = ['tag', 'condition', 'name', 'any'];
  const ordered = [...merged.values()].sort((a, b) => order.indexOf(a.scope) - order.indexOf(b.scope) || sortedUnique(a.actions)[0]!.localeCompare(sortedUnique(b.actions)[0]!));
  const used = new Set<string>();
  const statements: PolicyStatement[] = [];
  const notes: StatementNote[] = [];
  for (const draft of ordered) {
    const sid = sidOf(draft, used);
    statements.push({
      Sid: sid,
      Effect: 'Allow',
      Action: sortedUnique(draft.actions),
      Resource: draft.resources.length === 1 ? draft.resources[0]! : draft.resources,
      ...(draft.condition && Object.keys(draft.condition).length > 0 ? { Condition: draft.condition } : {}),
    });
    notes.push({ sid, scope: draft.scope, why: sortedUnique(draft.why) });
  }

  const scopeCounts: Record<ScopeKind, number> = { any: 0, name: 0, tag: 0, condition: 0 };
  const actionsByScope = new Map<ScopeKind, Set<string>>();
  for (const statement of statements) {
    const scope = notes.find((note) => note.sid === statement.Sid)!.scope;
    const set = actionsByScope.get(scope) ?? new Set<string>();
    for (const action of statement.Action) set.add(action);
    actionsByScope.set(scope, set);
  }
  for (const [scope, set] of actionsByScope) scopeCounts[scope] = set.size;

  return {
    document: { Version: '2012-10-17', Statement: statements },
    simulations: [...simulations.values()],
    notes,
    actions: sortedUnique(statements.flatMap((statement) => statement.Action)),
    scopeCounts,
  };
}

/** The policy's size as IAM counts it (no whitespace); managed policies allow 6,144 characters. */
export function policySize(document: PolicyDocument): number {
  return JSON.stringify(document).length;
}

export const MANAGED_POLICY_MAX_CHARS = 6144;
