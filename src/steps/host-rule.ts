import { DescribeTagsCommand, SetRulePrioritiesCommand, type Action, type Rule, type RuleCondition } from '@aws-sdk/client-elastic-load-balancing-v2';
import { MAX_SESSION_TIMEOUT_SECONDS, type Config } from '../config/schema.js';
import { hasErrorCode } from '../aws/errors.js';
import type { HostRuleOutput } from './outputs.js';
import { defineResource, known, UNKNOWN, type Change, type Inputs, type Live, type Maybe } from './resource.js';
import { normaliseScope } from './shared/cognito.js';
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
import { hasStackTag } from './shared/tags.js';
import type { StepContext } from './step.js';

export { listenerOfRule };

type Context = StepContext<'host-rule'>;

/** The rule the article builds: authenticate with Cognito, then forward to the target group. */
export interface DesiredRule {
  listenerArn: Maybe<string>;
  priority: number;
  /** Lower case: the ALB matches host headers case-insensitively. */
  host: string;
  userPoolArn: Maybe<string>;
  userPoolClientId: Maybe<string>;
  userPoolDomain: Maybe<string>;
  sessionCookieName: string;
  /** --session-timeout: seconds a sign-in lasts (AuthenticateCognitoActionConfig SessionTimeout). */
  sessionTimeout: number;
  /** Sorted and single-spaced, as the ALB does not keep the order. */
  scope: string;
  targetGroupArn: Maybe<string>;
}

/** The desired rule with every dependency known, as create and update send it. */
type KnownRule = { [Field in keyof DesiredRule]: Exclude<DesiredRule[Field], typeof UNKNOWN> };

function knownRule(want: DesiredRule): KnownRule {
  return {
    ...want,
    listenerArn: resolved(want.listenerArn, 'listener ARN'),
    userPoolArn: resolved(want.userPoolArn, 'user pool ARN'),
    userPoolClientId: resolved(want.userPoolClientId, 'app client ID'),
    userPoolDomain: resolved(want.userPoolDomain, 'Cognito domain'),
    targetGroupArn: resolved(want.targetGroupArn, 'target group ARN'),
  };
}

function conditionsFor(want: KnownRule): RuleCondition[] {
  return [{ Field: 'host-header', HostHeaderConfig: { Values: [want.host] } }];
}

function actionsFor(want: KnownRule): Action[] {
  return [
    {
      Type: 'authenticate-cognito',
      AuthenticateCognitoConfig: {
        UserPoolArn: want.userPoolArn,
        UserPoolClientId: want.userPoolClientId,
        UserPoolDomain: want.userPoolDomain,
        SessionCookieName: want.sessionCookieName,
        Scope: want.scope,
        SessionTimeout: want.sessionTimeout,
        OnUnauthenticatedRequest: 'authenticate',
      },
      Order: 1,
    },
    { Type: 'forward', TargetGroupArn: want.targetGroupArn, Order: 2 },
  ];
}

function desiredRule(config: Config, inputs: Inputs): DesiredRule {
  return {
    listenerArn: known(inputs['https-listener'], (listener) => listener.listenerArn) ?? UNKNOWN,
    priority: config.rulePriority,
    host: config.domain.toLowerCase(),
    userPoolArn: known(inputs['user-pool'], (pool) => pool.userPoolArn) ?? UNKNOWN,
    userPoolClientId: known(inputs['app-client'], (client) => client.clientId) ?? UNKNOWN,
    userPoolDomain: known(inputs['user-pool-domain'], (domain) => domain.domain) ?? UNKNOWN,
    sessionCookieName: config.sessionCookieName,
    sessionTimeout: config.sessionTimeoutSeconds,
    scope: normaliseScope(config.scope),
    targetGroupArn: known(inputs['target-group'], (group) => group.targetGroupArn) ?? UNKNOWN,
  };
}

/** The host the rule matches; anything but one host-header value is described in full, so it differs. */
function hostOf(conditions: readonly RuleCondition[]): string {
  const [only] = conditions;
  const hosts = only?.HostHeaderConfig?.Values ?? only?.Values ?? [];
  if (conditions.length === 1 && only?.Field === 'host-header' && hosts.length === 1) return hosts[0]!.toLowerCase();
  return conditions.map((condition) => `${condition.Field ?? '?'} ${(condition.HostHeaderConfig?.Values ?? condition.Values ?? []).join(',')}`.trim()).join('; ') || 'no condition';
}

/**
 * The live values of the desired fields. The Cognito and forward fields are observed only when the
 * actions are ours (authenticate, then forward); otherwise they are undefined, so they differ and
 * ModifyRule puts both actions back.
 */
function observedOf(rule: Rule, recordedListener: string | undefined): Partial<DesiredRule> {
  const actions = [...(rule.Actions ?? [])].sort((left, right) => (left.Order ?? 0) - (right.Order ?? 0));
  const [authenticate, forward] = actions;
  const cognito =
    actions.length === 2 && authenticate?.Type === 'authenticate-cognito' && authenticate.AuthenticateCognitoConfig?.OnUnauthenticatedRequest === 'authenticate'
      ? authenticate.AuthenticateCognitoConfig
      : undefined;
  const forwardsTo = cognito && forward?.Type === 'forward' ? forwardTargetOf(forward) : undefined;
  return {
    listenerArn: listenerOfRule(rule.RuleArn!) ?? recordedListener,
    priority: Number(rule.Priority),
    host: hostOf(rule.Conditions ?? []),
    userPoolArn: cognito?.UserPoolArn,
    userPoolClientId: cognito?.UserPoolClientId,
    userPoolDomain: cognito?.UserPoolDomain,
    sessionCookieName: cognito?.SessionCookieName,
    // Left out, the ALB uses 604800 s, 7 days (AuthenticateCognitoActionConfig SessionTimeout).
    sessionTimeout: cognito ? Number(cognito.SessionTimeout ?? MAX_SESSION_TIMEOUT_SECONDS) : undefined,
    scope: cognito ? normaliseScope(cognito.Scope) : undefined,
    targetGroupArn: forwardsTo,
  };
}

/**
 * An unrecorded rule at our priority is ours when it carries our stack tag, or when it is exactly
 * the rule we would make (a killed run's, made before tags were read back); else someone else's.
 */
function isOurs(context: Context, rule: Rule, priority: number): Promise<boolean> {
  const want = { ...desiredFromState(context, hostRuleStep.dependsOn, desiredRule), priority };
  return isOurRule(context, rule, want, observedOf(rule, undefined), hostRuleStep.effects);
}

/** The recorded rule, else (a killed run) ours at today's priority on today's listener; someone else's there is a conflict. */
function locate(context: Context): Promise<Rule | undefined> {
  const listenerArn = listenerOf(context, 'https-listener');
  const priority = context.config.rulePriority;
  return locateRule(
    context,
    { listenerArn, priority },
    (rule) => isOurs(context, rule, priority),
    () => priorityInUse(priority, listenerArn!),
  );
}

function toOutput(ruleArn: string, listenerArn: string, priority: number): HostRuleOutput {
  return { ruleArn, listenerArn, priority };
}

function live(rule: Rule, recordedListener: string | undefined): Live<'host-rule', DesiredRule> {
  const observed = observedOf(rule, recordedListener);
  return {
    output: toOutput(rule.RuleArn!, resolved(observed.listenerArn, 'listener ARN'), observed.priority!),
    observed,
    created: true,
    health: { healthy: true, summary: `priority ${rule.Priority ?? '?'}: sign in, then forward`, details: { priority: rule.Priority, ruleArn: rule.RuleArn } },
  };
}

/**
 * Moves our rule to a new priority, unless someone else's rule holds it. Our public-path rule sits
 * just before this one (public-path-rule.ts), so when the new priority is its, both move in one
 * SetRulePriorities call ("no priority conflicts in the new order", API reference).
 */
async function movePriority(context: Context, ruleArn: string, listenerArn: string, priority: number): Promise<void> {
  const holder = await ruleAtPriority(context.clients.elbv2, listenerArn, priority);
  const moves = [{ RuleArn: ruleArn, Priority: priority }];
  if (holder && holder.RuleArn !== ruleArn) {
    const tags = await context.clients.elbv2.send(new DescribeTagsCommand({ ResourceArns: [holder.RuleArn!] }));
    if (!hasStackTag(tags.TagDescriptions?.[0]?.Tags, context.stack) || priority < 2) throw priorityInUse(priority, listenerArn);
    moves.push({ RuleArn: holder.RuleArn!, Priority: priority - 1 });
  }
  try {
    await context.clients.elbv2.send(new SetRulePrioritiesCommand({ RulePriorities: moves }));
  } catch (error) {
    if (hasErrorCode(error, ...PRIORITY_IN_USE)) throw priorityInUse(priority, listenerArn, { cause: error });
    throw error;
  }
}

export const hostRuleStep = defineResource<'host-rule', DesiredRule>({
  name: 'host-rule',
  title: 'Host-header rule with Cognito sign-in',
  articleSection: 'Configure host-based routing and an authentication rule on the ALB',
  dependsOn: ['https-listener', 'user-pool', 'app-client', 'user-pool-domain', 'target-group'],
  // ALB User Guide, "Delete a listener rule": "When you delete a listener, all its rules are deleted."
  deletedWith: 'load-balancer',

  desired: desiredRule,

  effects: {
    // A rule belongs to one listener; ModifyRule cannot move it.
    listenerArn: 'replace',
    // SetRulePriorities reorders rules in place (API reference).
    priority: 'update',
    // ModifyRule replaces the conditions and actions it is given (API reference).
    host: 'update',
    userPoolArn: 'update',
    userPoolClientId: 'update',
    userPoolDomain: 'update',
    sessionCookieName: 'update',
    sessionTimeout: 'update',
    scope: 'update',
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
      priorityInUse(want.priority, want.listenerArn, { cause }),
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
