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
  /** Each statement's reasons by action, so a statement cut by service keeps only its own. */
  reasons: Record<string, Record<string, string[]>>;
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
  /** The reasons, by action. */
  why: Map<string, Set<string>>;
}

function mergeWhy(into: Map<string, Set<string>>, from: Map<string, Set<string>>): Map<string, Set<string>> {
  for (const [action, reasons] of from) into.set(action, new Set([...(into.get(action) ?? []), ...reasons]));
  return into;
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
    return { scope: 'tag' as const, actions: new Set([action]), resources: sortedUnique(entry.resources), condition, why: new Map([[action, new Set([entry.why])]]) };
  });
}

const READ_ACTION = /:(Describe|List|Get|Filter)/;

function titleOf(service: string): string {
  return service.replace(/(^|-)([a-z0-9])/g, (_, __, letter: string) => letter.toUpperCase());
}

function serviceTitle(action: string): string {
  return titleOf(action.split(':')[0]!);
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
      .map((grant) => ({
        scope: grant.scope,
        actions: new Set([grant.action]),
        resources: sortedUnique(grant.resources(context)),
        condition: grant.condition?.(context),
        why: new Map([[grant.action, new Set([grant.why])]]),
      })),
    ...mergeTagOnCreate(grants.filter((one) => one.onCreate), context),
    // A grant with no resource in this context (S3 for a local state) is not needed.
  ].filter((draft) => draft.resources.length > 0);
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
      merged.set(key, { ...draft, actions: new Set(draft.actions), why: mergeWhy(new Map(), draft.why) });
      continue;
    }
    for (const action of draft.actions) existing.actions.add(action);
    existing.resources = sortedUnique([...existing.resources, ...draft.resources]);
    mergeWhy(existing.why, draft.why);
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
    mergeWhy(existing.why, draft.why);
    merged.delete(key);
  }

  const order: ScopeKind[] = ['tag', 'condition', 'name', 'any'];
  const ordered = [...merged.values()].sort((a, b) => order.indexOf(a.scope) - order.indexOf(b.scope) || sortedUnique(a.actions)[0]!.localeCompare(sortedUnique(b.actions)[0]!));
  const used = new Set<string>();
  const statements: PolicyStatement[] = [];
  const notes: StatementNote[] = [];
  const reasons: Record<string, Record<string, string[]>> = {};
  for (const draft of ordered) {
    const sid = sidOf(draft, used);
    statements.push({
      Sid: sid,
      Effect: 'Allow',
      Action: sortedUnique(draft.actions),
      Resource: draft.resources.length === 1 ? draft.resources[0]! : draft.resources,
      ...(draft.condition && Object.keys(draft.condition).length > 0 ? { Condition: draft.condition } : {}),
    });
    notes.push({ sid, scope: draft.scope, why: sortedUnique([...draft.why.values()].flatMap((set) => [...set])) });
    reasons[sid] = Object.fromEntries([...draft.why].map(([action, set]) => [action, sortedUnique(set)]));
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
    reasons,
  };
}

/** The policy's size as IAM counts it: whitespace is not counted (IAM and AWS STS quotas). */
export function policySize(document: PolicyDocument): number {
  return JSON.stringify(document).replace(/\s/g, '').length;
}

// IAM and AWS STS quotas (IAM User Guide): each managed policy 6,144 characters; a role's inline
// policies 10,240 in all; 10 managed policies attached to a role by default.
export const MANAGED_POLICY_MAX_CHARS = 6144;
export const INLINE_ROLE_POLICY_MAX_CHARS = 10_240;
export const MANAGED_POLICIES_PER_ROLE = 10;

export interface ManagedPolicy {
  /** authecs-<stack>-1, -2, ...: stable for the same table and settings. */
  name: string;
  document: PolicyDocument;
  size: number;
  /** The services whose actions it holds. */
  services: string[];
}

export interface SplitPolicy {
  policies: ManagedPolicy[];
  /** Why each statement of every policy is scoped as it is. */
  notes: StatementNote[];
}

interface Piece {
  service: string;
  statement: PolicyStatement;
  why: string[];
  /** Position of the statement it came from, to keep the built order inside each document. */
  order: number;
}

const asList = (resource: string | string[]): string[] => (Array.isArray(resource) ? resource : [resource]);
const serviceOfAction = (action: string): string => action.split(':')[0]!;
const serviceOfResource = (resource: string): string => (resource === '*' ? '*' : resource.split(':')[2] ?? '*');

function documentOf(statements: readonly PolicyStatement[]): PolicyDocument {
  return { Version: '2012-10-17', Statement: [...statements] };
}

function uniqueSid(base: string, used: Set<string>): string {
  let sid = base;
  for (let index = 2; used.has(sid); index += 1) sid = `${base}${index}`;
  used.add(sid);
  return sid;
}

/**
 * One statement per service. An action is only ever authorised against its own service's ARNs
 * (or "*"), so keeping just those resources allows exactly what the joint statement did.
 */
function piecesByService(built: BuiltPolicy, used: Set<string>): Piece[] {
  return built.document.Statement.flatMap((statement, order) => {
    const whyOf = (actions: readonly string[]) => sortedUnique(actions.flatMap((action) => built.reasons[statement.Sid]?.[action] ?? []));
    const services = sortedUnique(statement.Action.map(serviceOfAction));
    if (services.length === 1) return [{ service: services[0]!, statement, why: whyOf(statement.Action), order }];
    const resources = asList(statement.Resource);
    return services.map((service) => {
      const own = resources.filter((resource) => resource === '*' || serviceOfResource(resource) === service);
      const kept = own.length > 0 ? own : resources;
      const actions = statement.Action.filter((action) => serviceOfAction(action) === service);
      return {
        service,
        why: whyOf(actions),
        order,
        statement: {
          ...statement,
          Sid: uniqueSid(`${statement.Sid}${titleOf(service)}`, used),
          Action: actions,
          Resource: kept.length === 1 ? kept[0]! : kept,
        },
      };
    });
  });
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((value, index) => value === b[index]);

/**
 * Joins statements of one service with the same condition and the same resources (their actions
 * are joined) or the same actions (their resources are joined): either allows exactly what the two did.
 */
export function compactStatements<Item extends { statement: PolicyStatement; why: string[] }>(items: readonly Item[]): Item[] {
  const result = items.map((item) => ({ ...item, statement: { ...item.statement } }));
  for (let merged = true; merged; ) {
    merged = false;
    search: for (let i = 0; i < result.length; i += 1) {
      for (let j = i + 1; j < result.length; j += 1) {
        const a = result[i]!.statement;
        const b = result[j]!.statement;
        if (JSON.stringify(a.Condition ?? null) !== JSON.stringify(b.Condition ?? null)) continue;
        const resourcesA = sortedUnique(asList(a.Resource));
        const resourcesB = sortedUnique(asList(b.Resource));
        const sameResources = sameList(resourcesA, resourcesB);
        if (!sameResources && !sameList(sortedUnique(a.Action), sortedUnique(b.Action))) continue;
        const resources = sameResources ? resourcesA : sortedUnique([...resourcesA, ...resourcesB]);
        a.Action = sortedUnique([...a.Action, ...b.Action]);
        a.Resource = resources.length === 1 ? resources[0]! : resources;
        result[i]!.why = sortedUnique([...result[i]!.why, ...result[j]!.why]);
        result.splice(j, 1);
        merged = true;
        break search;
      }
    }
  }
  return result;
}

/** A statement too big for one document, cut into statements of fewer actions. */
function cutActions(piece: Piece, maxSize: number, used: Set<string>): Piece[] {
  const parts: Piece[] = [];
  let actions: string[] = [];
  const make = (list: string[], index: number): Piece => ({
    ...piece,
    statement: { ...piece.statement, Sid: index === 0 ? piece.statement.Sid : uniqueSid(`${piece.statement.Sid}Part${index + 1}`, used), Action: list },
  });
  for (const action of piece.statement.Action) {
    const candidate = [...actions, action];
    if (actions.length > 0 && policySize(documentOf([make(candidate, parts.length).statement])) > maxSize) {
      parts.push(make(actions, parts.length));
      actions = [action];
    } else actions = candidate;
  }
  parts.push(make(actions, parts.length));
  return parts;
}

/**
 * Managed policies of at most `maxSize` characters each, for a policy too big to attach as one.
 * Statements are cut by service and each service is kept in one document where it fits
 * (first fit, largest service first), so the documents stay the same while the table does.
 */
export function splitPolicy(built: BuiltPolicy, options: { namePrefix: string; maxSize?: number }): SplitPolicy {
  const maxSize = options.maxSize ?? MANAGED_POLICY_MAX_CHARS;
  const used = new Set(built.document.Statement.map((statement) => statement.Sid));
  const byService = new Map<string, Piece[]>();
  for (const piece of piecesByService(built, used)) byService.set(piece.service, [...(byService.get(piece.service) ?? []), piece]);
  const sizeOf = (pieces: readonly Piece[]) => policySize(documentOf(pieces.map((piece) => piece.statement)));
  const groups = [...byService.values()].map((pieces) => compactStatements(pieces)).sort((a, b) => sizeOf(b) - sizeOf(a) || a[0]!.service.localeCompare(b[0]!.service));

  const documents: Piece[][] = [];
  const place = (pieces: Piece[]): boolean => {
    const target = documents.find((document) => sizeOf([...document, ...pieces]) <= maxSize);
    if (target) target.push(...pieces);
    else if (sizeOf(pieces) <= maxSize) documents.push([...pieces]);
    else return false;
    return true;
  };
  for (const group of groups) {
    if (place(group)) continue;
    // A service too big for one document: its statements go where they fit, cut if need be.
    for (const piece of [...group].sort((a, b) => sizeOf([b]) - sizeOf([a]))) {
      if (place([piece])) continue;
      // One action can be too big only if its resources are: left whole, and the size test says so.
      for (const part of cutActions(piece, maxSize, used)) if (!place([part])) documents.push([part]);
    }
  }

  const ordered = documents.map((pieces) => [...pieces].sort((a, b) => a.order - b.order || a.service.localeCompare(b.service)));
  const policies = ordered.map((pieces, index): ManagedPolicy => {
    const document = documentOf(pieces.map((piece) => piece.statement));
    return { name: `${options.namePrefix}-${index + 1}`, document, size: policySize(document), services: sortedUnique(pieces.map((piece) => piece.service)) };
  });
  const notes = ordered.flat().map((piece): StatementNote => ({ sid: piece.statement.Sid, scope: built.notes[piece.order]!.scope, why: piece.why }));
  return { policies, notes };
}

export interface PolicyLayout {
  /** False: one policy, to attach inline. True: managed policies of at most 6,144 characters each. */
  split: boolean;
  /** Why it is split: asked for (--split), or too big for a role's inline policies. */
  reason?: 'asked' | 'too-big-for-inline';
  policies: ManagedPolicy[];
  notes: StatementNote[];
}

/** One policy while it fits a role's inline policies (unless split is asked for), else managed ones. */
export function layOutPolicy(built: BuiltPolicy, options: { namePrefix: string; split?: boolean }): PolicyLayout {
  const size = policySize(built.document);
  if (!options.split && size <= INLINE_ROLE_POLICY_MAX_CHARS) {
    const services = sortedUnique(built.actions.map(serviceOfAction));
    return { split: false, policies: [{ name: options.namePrefix, document: built.document, size, services }], notes: built.notes };
  }
  return { split: true, reason: options.split ? 'asked' : 'too-big-for-inline', ...splitPolicy(built, { namePrefix: options.namePrefix }) };
}

