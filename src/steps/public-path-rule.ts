import { SetRulePrioritiesCommand, type Action, type Rule, type RuleCondition } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Config } from '../config/schema.js';
import { hasErrorCode } from '../aws/errors.js';
import type { PublicPathRuleOutput } from './outputs.js';
import { defineResource, known, UNKNOWN, type Change, type Inputs, type Live, type Maybe } from './resource.js';
import { resolved } from './shared/resolved.js';
import {
  createRule,
  deleteRecordedRule,
  desiredFromState,
  forwardTargetOf,
  isOurRule,
  listenerOf,
  listenerOfRule,
  locateRule,
  PRIORITY_IN_USE,
  priorityInUse,
  ruleAtPriority,
  updateRule,
} from './shared/rules.js';
import type { StepContext } from './step.js';

type Context = StepContext<'public-path-rule'>;

const RULE_NAME = 'public-path rule';

/**
 * --public-path: one rule, evaluated before the host rule (a lower priority number), that forwards
 * the given paths of the site to the app with no authenticate action. Everything else still meets
 * the host rule's Cognito sign-in.
 */
export interface DesiredPublicPathRule {
  listenerArn: Maybe<string>;
  /** --rule-priority minus 1: rules are evaluated from the lowest number (ALB guide, "Listener rules"). */
  priority: number;
  /** Lower case: the ALB matches host headers case-insensitively. */
  host: string;
  /** Sorted and de-duplicated: any one matching is enough (PathPatternConditionConfig), so order means nothing. */
  paths: string[];
  targetGroupArn: Maybe<string>;
}

type KnownRule = { [Field in keyof DesiredPublicPathRule]: Exclude<DesiredPublicPathRule[Field], typeof UNKNOWN> };

function knownRule(want: DesiredPublicPathRule): KnownRule {
  return {
    ...want,
    listenerArn: resolved(want.listenerArn, 'listener ARN'),
    targetGroupArn: resolved(want.targetGroupArn, 'target group ARN'),
  };
}

const sortedPaths = (paths: readonly string[]): string[] => [...new Set(paths)].sort();

function conditionsFor(want: KnownRule): RuleCondition[] {
  // Both conditions must hold; host plus paths count against the rule's 5 condition values (ELB quotas).
  return [
    { Field: 'host-header', HostHeaderConfig: { Values: [want.host] } },
    { Field: 'path-pattern', PathPatternConfig: { Values: want.paths } },
  ];
}

function actionsFor(want: KnownRule): Action[] {
  return [{ Type: 'forward', TargetGroupArn: want.targetGroupArn, Order: 1 }];
}

function desiredRule(config: Config, inputs: Inputs): DesiredPublicPathRule {
  return {
    listenerArn: known(inputs['https-listener'], (listener) => listener.listenerArn) ?? UNKNOWN,
    priority: config.rulePriority - 1,
    host: config.domain.toLowerCase(),
    paths: sortedPaths(config.publicPaths),
    targetGroupArn: known(inputs['target-group'], (group) => group.targetGroupArn) ?? UNKNOWN,
  };
}

const valuesOf = (condition: RuleCondition | undefined): string[] =>
  condition?.HostHeaderConfig?.Values ?? condition?.PathPatternConfig?.Values ?? condition?.Values ?? [];

/**
 * The live values of the desired fields. Conditions other than one host and one path condition,
 * or actions other than one forward, are observed in a form that differs, so ModifyRule puts
 * ours back.
 */
function observedOf(rule: Rule, recordedListener: string | undefined): Partial<DesiredPublicPathRule> {
  const conditions = rule.Conditions ?? [];
  const hostConditions = conditions.filter((condition) => condition.Field === 'host-header');
  const pathConditions = conditions.filter((condition) => condition.Field === 'path-pattern');
  const onlyOurs = conditions.length === 2 && hostConditions.length === 1 && pathConditions.length === 1;
  const hosts = valuesOf(hostConditions[0]);
  const described = conditions.map((condition) => `${condition.Field ?? '?'} ${valuesOf(condition).join(',')}`.trim()).join('; ') || 'no condition';
  const actions = rule.Actions ?? [];
  const forward = actions.length === 1 && actions[0]?.Type === 'forward' ? actions[0] : undefined;
  return {
    listenerArn: listenerOfRule(rule.RuleArn!) ?? recordedListener,
    priority: Number(rule.Priority),
    host: onlyOurs && hosts.length === 1 ? hosts[0]!.toLowerCase() : described,
    paths: onlyOurs ? sortedPaths(valuesOf(pathConditions[0])) : [],
    // An authenticate action, or anything but one forward, is not ours: it differs, and is put back.
    targetGroupArn: forward ? forwardTargetOf(forward) : undefined,
  };
}

/** An unrecorded rule at our priority is ours when it carries our stack tag, or is exactly the rule we would make. */
function isOurs(context: Context, rule: Rule, priority: number): Promise<boolean> {
  const want = { ...desiredFromState(context, publicPathRuleStep.dependsOn, desiredRule), priority };
  return isOurRule(context, rule, want, observedOf(rule, undefined), publicPathRuleStep.effects);
}

/** The recorded rule, else (a killed run) ours at today's priority on today's listener; someone else's there is a conflict. */
function locate(context: Context): Promise<Rule | undefined> {
  const listenerArn = listenerOf(context, 'https-listener');
  const priority = context.config.rulePriority - 1;
  return locateRule(
    context,
    { listenerArn, priority },
    (rule) => isOurs(context, rule, priority),
    () => priorityInUse(priority, listenerArn!, { rule: RULE_NAME }),
  );
}

function toOutput(ruleArn: string, listenerArn: string, priority: number): PublicPathRuleOutput {
  return { ruleArn, listenerArn, priority };
}

function live(rule: Rule, recordedListener: string | undefined): Live<'public-path-rule', DesiredPublicPathRule> {
  const observed = observedOf(rule, recordedListener);
  const paths = observed.paths ?? [];
  return {
    output: toOutput(rule.RuleArn!, resolved(observed.listenerArn, 'listener ARN'), observed.priority!),
    observed,
    created: true,
    health: {
      healthy: true,
      summary: `priority ${rule.Priority ?? '?'}: ${paths.join(', ') || 'no path'} without sign-in`,
      details: { priority: rule.Priority, ruleArn: rule.RuleArn, paths },
    },
  };
}

/** Moves our rule to a new priority, unless someone else's rule holds it. */
async function movePriority(context: Context, ruleArn: string, listenerArn: string, priority: number): Promise<void> {
  const holder = await ruleAtPriority(context.clients.elbv2, listenerArn, priority);
  if (holder && holder.RuleArn !== ruleArn) throw priorityInUse(priority, listenerArn, { rule: RULE_NAME });
  try {
    await context.clients.elbv2.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: ruleArn, Priority: priority }] }));
  } catch (error) {
    if (hasErrorCode(error, ...PRIORITY_IN_USE)) throw priorityInUse(priority, listenerArn, { cause: error, rule: RULE_NAME });
    throw error;
  }
}

export const publicPathRuleStep = defineResource<'public-path-rule', DesiredPublicPathRule>({
  name: 'public-path-rule',
  title: 'Public-path rule (no sign-in)',
  articleSection: 'Configure host-based routing and an authentication rule on the ALB (authecs addition)',
  // After the host rule, so that a --rule-priority change has moved it before this rule takes its old place.
  dependsOn: ['https-listener', 'target-group', 'host-rule'],
  // ALB User Guide, "Delete a listener rule": "When you delete a listener, all its rules are deleted."
  deletedWith: 'load-balancer',

  enabled: (config) => config.publicPaths.length > 0,

  desired: desiredRule,

  effects: {
    // A rule belongs to one listener; ModifyRule cannot move it.
    listenerArn: 'replace',
    // SetRulePriorities reorders rules in place (API reference).
    priority: 'update',
    // ModifyRule replaces the conditions and actions it is given (API reference).
    host: 'update',
    paths: 'update',
    targetGroupArn: 'update',
  },

  async read(context) {
    const rule = await locate(context);
    const listenerArn = context.record?.data.listenerArn ?? listenerOf(context, 'https-listener');
    return rule ? live(rule, listenerArn) : undefined;
  },

  async create(context, desired) {
    const want = knownRule(desired);
    return createRule(context, { listenerArn: want.listenerArn, priority: want.priority, conditions: conditionsFor(want), actions: actionsFor(want) }, (cause) =>
      priorityInUse(want.priority, want.listenerArn, { cause, rule: RULE_NAME }),
    );
  },

  async update(context, desired, current, changes: Change[]) {
    const want = knownRule(desired);
    const { ruleArn, listenerArn } = current.output;
    return updateRule(
      context,
      current.output,
      { priority: want.priority, conditions: conditionsFor(want), actions: actionsFor(want) },
      changes.map((change) => change.field),
      () => movePriority(context, ruleArn, listenerArn, want.priority),
    );
  },

  async delete(context) {
    await deleteRecordedRule(context, (rule, priority) => isOurs(context, rule, priority));
  },
});
