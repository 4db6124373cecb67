import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DescribeRulesCommand,
  type DescribeRulesCommandOutput,
  ModifyRuleCommand,
  SetRulePrioritiesCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
  type Rule,
  type RuleCondition,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { HostRuleOutput } from './outputs.js';
import { defineStep, stackTags, type StepContext } from './step.js';

type Context = StepContext<'host-rule'>;

const RULE_NOT_FOUND = ['RuleNotFoundException', 'RuleNotFound'];
const LISTENER_NOT_FOUND = ['ListenerNotFoundException', 'ListenerNotFound', 'LoadBalancerNotFoundException', 'LoadBalancerNotFound'];

/** The rule the article builds: authenticate with Cognito, then forward to the target group. */
export interface DesiredRule {
  listenerArn: string;
  priority: number;
  host: string;
  userPoolArn: string;
  userPoolClientId: string;
  userPoolDomain: string;
  sessionCookieName: string;
  scope: string;
  targetGroupArn: string;
}

export function conditionsFor(want: DesiredRule): RuleCondition[] {
  return [{ Field: 'host-header', HostHeaderConfig: { Values: [want.host] } }];
}

export function actionsFor(want: DesiredRule): Action[] {
  return [
    {
      Type: 'authenticate-cognito',
      AuthenticateCognitoConfig: {
        UserPoolArn: want.userPoolArn,
        UserPoolClientId: want.userPoolClientId,
        UserPoolDomain: want.userPoolDomain,
        SessionCookieName: want.sessionCookieName,
        Scope: want.scope,
        OnUnauthenticatedRequest: 'authenticate',
      },
      Order: 1,
    },
    { Type: 'forward', TargetGroupArn: want.targetGroupArn, Order: 2 },
  ];
}

function desired(context: Context): DesiredRule {
  const { config } = context;
  return {
    listenerArn: context.output('https-listener').listenerArn,
    priority: config.rulePriority,
    host: config.domain,
    userPoolArn: context.output('user-pool').userPoolArn,
    userPoolClientId: context.output('app-client').clientId,
    userPoolDomain: context.output('user-pool-domain').domain,
    sessionCookieName: config.sessionCookieName,
    scope: config.scope,
    targetGroupArn: context.output('target-group').targetGroupArn,
  };
}

const normaliseScope = (scope: string | undefined): string => (scope ?? '').split(/\s+/).filter(Boolean).sort().join(' ');

function forwardTargetOf(action: Action): string | undefined {
  if (action.TargetGroupArn) return action.TargetGroupArn;
  const groups = action.ForwardConfig?.TargetGroups ?? [];
  return groups.length === 1 ? groups[0]?.TargetGroupArn : undefined;
}

/**
 * Each way the rule differs from ours; empty when it matches. Fields of `want` that are
 * undefined are not checked (status may run without every upstream output).
 */
export function ruleDrift(rule: Rule, want: Partial<DesiredRule>): string[] {
  const drift: string[] = [];
  if (want.priority !== undefined && rule.Priority !== String(want.priority)) drift.push(`priority is ${rule.Priority ?? 'unset'}, not ${want.priority}`);

  const conditions = rule.Conditions ?? [];
  const hostCondition = conditions.find((condition) => condition.Field === 'host-header');
  const hosts = (hostCondition?.HostHeaderConfig?.Values ?? hostCondition?.Values ?? []).map((host) => host.toLowerCase());
  if (want.host !== undefined && (hosts.length !== 1 || hosts[0] !== want.host.toLowerCase())) drift.push(`host is ${hosts.join(', ') || 'unset'}, not ${want.host}`);
  if (conditions.length !== 1) drift.push(`rule has ${conditions.length} conditions, not just the host header`);

  const actions = [...(rule.Actions ?? [])].sort((left, right) => (left.Order ?? 0) - (right.Order ?? 0));
  const [authenticate, forward] = actions;
  if (actions.length !== 2 || authenticate?.Type !== 'authenticate-cognito' || forward?.Type !== 'forward') {
    drift.push(`actions are ${actions.map((action) => action.Type).join(' then ') || 'none'}, not authenticate-cognito then forward`);
  }
  const cognito = authenticate?.Type === 'authenticate-cognito' ? authenticate.AuthenticateCognitoConfig : undefined;
  const compare = (label: string, have: string | undefined, expected: string | undefined) => {
    if (expected !== undefined && have !== expected) drift.push(`${label} is ${have ?? 'unset'}, not ${expected}`);
  };
  if (cognito) {
    compare('user pool ARN', cognito.UserPoolArn, want.userPoolArn);
    compare('client ID', cognito.UserPoolClientId, want.userPoolClientId);
    compare('Cognito domain', cognito.UserPoolDomain, want.userPoolDomain);
    compare('session cookie', cognito.SessionCookieName, want.sessionCookieName);
    if (want.scope !== undefined && normaliseScope(cognito.Scope) !== normaliseScope(want.scope)) drift.push(`scope is ${cognito.Scope ?? 'unset'}, not ${want.scope}`);
    compare('unauthenticated requests', cognito.OnUnauthenticatedRequest, 'authenticate');
  }
  if (forward?.Type === 'forward') compare('forward target', forwardTargetOf(forward), want.targetGroupArn);
  return drift;
}

async function describeRule(elbv2: ElasticLoadBalancingV2Client, ruleArn: string): Promise<Rule | undefined> {
  try {
    const response = await elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }));
    return response.Rules?.[0];
  } catch (error) {
    if (hasErrorCode(error, ...RULE_NOT_FOUND, ...LISTENER_NOT_FOUND)) return undefined;
    throw error;
  }
}

/** The listener's rule at `priority`, across pages; none when the listener is gone. */
async function ruleAtPriority(elbv2: ElasticLoadBalancingV2Client, listenerArn: string, priority: number): Promise<Rule | undefined> {
  let marker: string | undefined;
  do {
    let page: DescribeRulesCommandOutput;
    try {
      page = await elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn, ...(marker ? { Marker: marker } : {}) }));
    } catch (error) {
      if (hasErrorCode(error, ...LISTENER_NOT_FOUND)) return undefined;
      throw error;
    }
    const match = (page.Rules ?? []).find((rule) => rule.Priority === String(priority));
    if (match) return match;
    marker = page.NextMarker;
  } while (marker);
  return undefined;
}

function priorityInUse(priority: number, listenerArn: string, cause?: unknown): AuthecsError {
  return new AuthecsError(`Priority ${priority} on the HTTPS listener is already used by a rule authecs did not create`, {
    code: 'RULE_PRIORITY_IN_USE',
    exit: 'conflict',
    resource: listenerArn,
    cause,
    hint: 'Pass --rule-priority (or AUTH_ECS_RULE_PRIORITY) with a free priority (1-50000).',
  });
}

function toOutput(ruleArn: string, want: DesiredRule): HostRuleOutput {
  return { ruleArn, listenerArn: want.listenerArn, priority: want.priority };
}

interface Located {
  /** The rule we recorded, if it still exists on our listener. */
  recorded: Rule | undefined;
  /** Whatever rule holds our priority now. */
  atPriority: Rule | undefined;
}

async function locate(context: Context, want: DesiredRule): Promise<Located> {
  const recordedArn = context.record?.data.ruleArn;
  const recorded = recordedArn ? await describeRule(context.clients.elbv2, recordedArn) : undefined;
  // A rule on an older listener went with it; only a rule on today's listener counts.
  const recordedHere = recorded && (!context.record?.data.listenerArn || context.record.data.listenerArn === want.listenerArn) ? recorded : undefined;
  const atPriority = recordedHere && recordedHere.Priority === String(want.priority) ? recordedHere : await ruleAtPriority(context.clients.elbv2, want.listenerArn, want.priority);
  return { recorded: recordedHere, atPriority };
}

export const hostRuleStep = defineStep({
  name: 'host-rule',
  title: 'Host-header rule with Cognito sign-in',
  articleSection: 'Configure host-based routing and an authentication rule on the ALB',
  dependsOn: ['https-listener', 'user-pool', 'app-client', 'user-pool-domain', 'target-group'],

  async find(context) {
    const want = desired(context);
    const { recorded, atPriority } = await locate(context, want);
    const candidate = recorded ?? atPriority;
    if (!candidate || ruleDrift(candidate, want).length > 0) return undefined;
    return { output: toOutput(candidate.RuleArn!, want), created: true };
  },

  async create(context) {
    const want = desired(context);
    const elbv2 = context.clients.elbv2;
    const { recorded, atPriority } = await locate(context, want);
    const conditions = conditionsFor(want);
    const actions = actionsFor(want);

    if (recorded) {
      const ruleArn = recorded.RuleArn!;
      context.save({ created: true, data: toOutput(ruleArn, want) });
      if (recorded.Priority !== String(want.priority)) {
        // --rule-priority changed: move our rule, unless someone else holds the new slot.
        if (atPriority && atPriority.RuleArn !== ruleArn) throw priorityInUse(want.priority, want.listenerArn);
        try {
          await elbv2.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: ruleArn, Priority: want.priority }] }));
        } catch (error) {
          if (hasErrorCode(error, 'PriorityInUseException', 'PriorityInUse')) throw priorityInUse(want.priority, want.listenerArn, error);
          throw error;
        }
      }
      if (ruleDrift({ ...recorded, Priority: String(want.priority) }, want).length > 0) {
        context.progress('updating the host rule to the expected host, Cognito settings and target group');
        await elbv2.send(new ModifyRuleCommand({ RuleArn: ruleArn, Conditions: conditions, Actions: actions }));
      }
      return toOutput(ruleArn, want);
    }

    if (atPriority) {
      // Not recorded: ours only if it is exactly the rule we would make (a killed run's).
      if (ruleDrift(atPriority, want).length > 0) throw priorityInUse(want.priority, want.listenerArn);
      const output = toOutput(atPriority.RuleArn!, want);
      context.save({ created: true, data: output });
      return output;
    }

    // Rules can be tagged but not looked up by tag cheaply: record the intent first.
    context.save({ created: true, data: { listenerArn: want.listenerArn, priority: want.priority } });
    let ruleArn: string;
    try {
      const response = await elbv2.send(
        new CreateRuleCommand({ ListenerArn: want.listenerArn, Priority: want.priority, Conditions: conditions, Actions: actions, Tags: stackTags(context.stack) }),
      );
      ruleArn = response.Rules![0]!.RuleArn!;
    } catch (error) {
      if (hasErrorCode(error, 'PriorityInUseException', 'PriorityInUse')) throw priorityInUse(want.priority, want.listenerArn, error);
      throw error;
    }
    const output = toOutput(ruleArn, want);
    context.save({ data: output });
    return output;
  },

  async delete(context) {
    const recorded = context.record?.data;
    let ruleArn = recorded?.ruleArn;
    if (!ruleArn && recorded?.listenerArn && recorded.priority !== undefined) {
      // Killed between the intent and the ARN: delete the rule at our priority only if it is ours.
      const candidate = await ruleAtPriority(context.clients.elbv2, recorded.listenerArn, recorded.priority);
      if (candidate && ruleDrift(candidate, { ...wantedForStatus(context), priority: recorded.priority }).length === 0) ruleArn = candidate.RuleArn;
    }
    if (!ruleArn) return;
    try {
      await context.clients.elbv2.send(new DeleteRuleCommand({ RuleArn: ruleArn }));
    } catch (error) {
      if (!hasErrorCode(error, ...RULE_NOT_FOUND, ...LISTENER_NOT_FOUND)) throw error;
    }
  },

  async inspect(context) {
    const ruleArn = context.record?.data.ruleArn;
    const rule = ruleArn ? await describeRule(context.clients.elbv2, ruleArn) : undefined;
    if (!rule) return { present: false, healthy: false, summary: 'missing' };
    const drift = ruleDrift(rule, wantedForStatus(context));
    return {
      present: true,
      healthy: true,
      summary: `priority ${rule.Priority ?? '?'}: sign in, then forward`,
      drift,
      details: { priority: rule.Priority, ruleArn: rule.RuleArn },
    };
  },
});

/** What the rule should be, from whichever upstream outputs are still recorded. */
function wantedForStatus(context: Context): Partial<DesiredRule> {
  const { config } = context;
  return {
    priority: config.rulePriority,
    host: config.domain,
    sessionCookieName: config.sessionCookieName,
    scope: config.scope,
    ...(context.hasOutput('user-pool') ? { userPoolArn: context.output('user-pool').userPoolArn } : {}),
    ...(context.hasOutput('app-client') ? { userPoolClientId: context.output('app-client').clientId } : {}),
    ...(context.hasOutput('user-pool-domain') ? { userPoolDomain: context.output('user-pool-domain').domain } : {}),
    ...(context.hasOutput('target-group') ? { targetGroupArn: context.output('target-group').targetGroupArn } : {}),
  };
}
