import { SetRulePrioritiesCommand, type Action, type Rule, type RuleCondition } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Config } from '../config/schema.js';
import { AuthecsError } from '../errors.js';
import type { ParkingRuleOutput } from './outputs.js';
import { defineResource, known, UNKNOWN, type Change, type Inputs, type Live, type Maybe } from './resource.js';
import { resolved } from './shared/resolved.js';
import { createRule, deleteRecordedRule, desiredFromState, forwardTargetOf, isOurRule, listenerOf, listenerOfRule, locateRule, ruleAtPriority, updateRule } from './shared/rules.js';
import type { StepContext } from './step.js';

type Context = StepContext<'parking-rule'>;

/**
 * ECS refuses CreateService for a target group no listener or rule forwards to ("does not have an
 * associated load balancer", aws-behaviour.md), and the host rule needs an ISSUED certificate. This
 * rule attaches the target group through the HTTP:80 listener instead, so the service starts, and its
 * targets are health-checked, while ACM validates (only "Target.NotInUse - The target group is not
 * used by any load balancer" stops checks: ELBv2 API Reference, TargetHealth). It matches no request:
 * see NO_CLIENT_SOURCE. Why this over the alternatives: docs/dev/service-before-certificate.md.
 */
export interface DesiredParkingRule {
  listenerArn: Maybe<string>;
  priority: number;
  sourceIp: string;
  targetGroupArn: Maybe<string>;
}

/**
 * SourceIpConditionConfig matches "the IP address of the source that connects to the load
 * balancer ... not satisfied by the addresses in the X-Forwarded-For header" (ELBv2 API
 * Reference), so no header can forge it. The limited broadcast address "MUST NOT be used as a
 * source address" (RFC 1122, 3.2.1.3): no TCP client can ever connect from it.
 */
export const NO_CLIENT_SOURCE = '255.255.255.255/32';

/** The last priority there is (CreateRule Priority: 1-50000): out of the way of any other rule on the listener. */
export const PARKING_PRIORITY = 50000;

type KnownRule = { [Field in keyof DesiredParkingRule]: Exclude<DesiredParkingRule[Field], typeof UNKNOWN> };

function knownRule(want: DesiredParkingRule): KnownRule {
  return { ...want, listenerArn: resolved(want.listenerArn, 'HTTP listener ARN'), targetGroupArn: resolved(want.targetGroupArn, 'target group ARN') };
}

function conditionsFor(want: KnownRule): RuleCondition[] {
  return [{ Field: 'source-ip', SourceIpConfig: { Values: [want.sourceIp] } }];
}

function actionsFor(want: KnownRule): Action[] {
  return [{ Type: 'forward', TargetGroupArn: want.targetGroupArn, Order: 1 }];
}

function desiredRule(_config: Config, inputs: Inputs): DesiredParkingRule {
  return {
    listenerArn: known(inputs['http-redirect-listener'], (listener) => listener.listenerArn) ?? UNKNOWN,
    priority: PARKING_PRIORITY,
    sourceIp: NO_CLIENT_SOURCE,
    targetGroupArn: known(inputs['target-group'], (group) => group.targetGroupArn) ?? UNKNOWN,
  };
}

const valuesOf = (condition: RuleCondition): string[] => condition.SourceIpConfig?.Values ?? condition.HostHeaderConfig?.Values ?? condition.PathPatternConfig?.Values ?? condition.Values ?? [];

/**
 * Anything but one source-ip condition with one value is described in full, so it differs and
 * ModifyRule puts ours back: a drifted condition could let requests through without sign-in.
 */
function sourceOf(conditions: readonly RuleCondition[]): string {
  const [only] = conditions;
  if (conditions.length === 1 && only?.Field === 'source-ip' && valuesOf(only).length === 1) return valuesOf(only)[0]!;
  return conditions.map((condition) => `${condition.Field ?? '?'} ${valuesOf(condition).join(',')}`.trim()).join('; ') || 'no condition';
}

function observedOf(rule: Rule, recordedListener: string | undefined): Partial<DesiredParkingRule> {
  const actions = rule.Actions ?? [];
  const forward = actions.length === 1 && actions[0]?.Type === 'forward' ? actions[0] : undefined;
  return {
    listenerArn: listenerOfRule(rule.RuleArn!) ?? recordedListener,
    priority: Number(rule.Priority),
    sourceIp: sourceOf(rule.Conditions ?? []),
    targetGroupArn: forward ? forwardTargetOf(forward) : undefined,
  };
}

/** An unrecorded rule at our priority is ours when it carries our stack tag, or is exactly the rule we would make. */
function isOurs(context: Context, rule: Rule): Promise<boolean> {
  return isOurRule(context, rule, desiredFromState(context, parkingRuleStep.dependsOn, desiredRule), observedOf(rule, undefined), parkingRuleStep.effects);
}

function priorityTaken(listenerArn: string, cause?: unknown): AuthecsError {
  return new AuthecsError(`Priority ${PARKING_PRIORITY} on the HTTP listener is already used by a rule authecs did not create`, {
    code: 'RULE_PRIORITY_IN_USE',
    exit: 'conflict',
    resource: listenerArn,
    cause,
    hint: `authecs made this listener to redirect to HTTPS and keeps priority ${PARKING_PRIORITY} on it for itself: delete that rule, or pass --no-http-redirect.`,
  });
}

/** The recorded rule, else (a killed run) ours at our priority on today's HTTP listener; someone else's there is a conflict. */
function locate(context: Context): Promise<Rule | undefined> {
  const listenerArn = listenerOf(context, 'http-redirect-listener');
  return locateRule(
    context,
    { listenerArn, priority: PARKING_PRIORITY },
    (rule) => isOurs(context, rule),
    () => priorityTaken(listenerArn!),
  );
}

function toOutput(ruleArn: string, listenerArn: string, priority: number): ParkingRuleOutput {
  return { ruleArn, listenerArn, priority };
}

function live(rule: Rule, recordedListener: string | undefined): Live<'parking-rule', DesiredParkingRule> {
  const observed = observedOf(rule, recordedListener);
  return {
    output: toOutput(rule.RuleArn!, resolved(observed.listenerArn, 'listener ARN'), observed.priority!),
    observed,
    created: true,
    health: {
      healthy: observed.sourceIp === NO_CLIENT_SOURCE,
      summary: `priority ${rule.Priority ?? '?'}: source ${observed.sourceIp ?? '?'} (no request matches), forward to the target group`,
      details: { priority: rule.Priority, ruleArn: rule.RuleArn },
    },
  };
}

export const parkingRuleStep = defineResource<'parking-rule', DesiredParkingRule>({
  name: 'parking-rule',
  title: 'Parking rule (attaches the target group; matches no request)',
  articleSection: 'Create the ECS service (authecs addition: the service starts while ACM validates)',
  dependsOn: ['http-redirect-listener', 'target-group'],
  // ALB User Guide, "Delete a listener rule": "When you delete a listener, all its rules are deleted."
  deletedWith: 'load-balancer',
  // Without the HTTP listener there is nowhere to park: the service waits for the host rule instead.
  enabled: (config) => config.httpRedirect,

  desired: desiredRule,

  effects: {
    // A rule belongs to one listener; ModifyRule cannot move it.
    listenerArn: 'replace',
    // SetRulePriorities reorders rules in place (API reference).
    priority: 'update',
    // ModifyRule replaces the conditions and actions it is given (API reference).
    sourceIp: 'update',
    targetGroupArn: 'update',
  },

  async read(context) {
    const rule = await locate(context);
    const listenerArn = context.record?.data.listenerArn ?? listenerOf(context, 'http-redirect-listener');
    return rule ? live(rule, listenerArn) : undefined;
  },

  async create(context, desired) {
    const want = knownRule(desired);
    return createRule(context, { listenerArn: want.listenerArn, priority: want.priority, conditions: conditionsFor(want), actions: actionsFor(want) }, (cause) => priorityTaken(want.listenerArn, cause));
  },

  async update(context, desired, current, changes: Change[]) {
    const want = knownRule(desired);
    const { ruleArn, listenerArn } = current.output;
    return updateRule(
      context,
      current.output,
      { priority: want.priority, conditions: conditionsFor(want), actions: actionsFor(want) },
      changes.map((change) => change.field),
      async () => {
        const holder = await ruleAtPriority(context.clients.elbv2, listenerArn, want.priority);
        if (holder && holder.RuleArn !== ruleArn) throw priorityTaken(listenerArn);
        await context.clients.elbv2.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: ruleArn, Priority: want.priority }] }));
      },
    );
  },

  async delete(context) {
    await deleteRecordedRule(context, (rule) => isOurs(context, rule));
  },
});
