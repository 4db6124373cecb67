import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  ModifyRuleCommand,
  paginateDescribeRules,
  type Action,
  type ElasticLoadBalancingV2Client,
  type Rule,
  type RuleCondition,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { hasErrorCode } from '../../aws/errors.js';
import type { Config } from '../../config/schema.js';
import { AuthecsError } from '../../errors.js';
import type { StepName } from '../outputs.js';
import { diffFields, type Effect, type Inputs } from '../resource.js';
import type { StepContext } from '../step.js';
import { hasStackTag, stackTags } from './tags.js';

/** What the listener-rule steps (host rule, public-path rule, parking rule) share: look-ups, and the create, change and delete of one rule. */

/** The steps that are one listener rule each; their records and outputs have one shape. */
export type RuleStepName = 'host-rule' | 'public-path-rule' | 'parking-rule';
type RuleContext = StepContext<RuleStepName>;

export interface RuleOutput {
  ruleArn: string;
  listenerArn: string;
  priority: number;
}

/** What one rule is: where it sits, and its conditions and actions. */
export interface RuleSpec {
  listenerArn: string;
  priority: number;
  conditions: RuleCondition[];
  actions: Action[];
}

export const RULE_NOT_FOUND = ['RuleNotFoundException', 'RuleNotFound'];
export const LISTENER_NOT_FOUND = ['ListenerNotFoundException', 'ListenerNotFound', 'LoadBalancerNotFoundException', 'LoadBalancerNotFound'];
export const PRIORITY_IN_USE = ['PriorityInUseException', 'PriorityInUse'];

/** A rule's listener, from its ARN: DescribeRules does not return it. */
export function listenerOfRule(ruleArn: string): string | undefined {
  const match = /^(arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:)listener-rule\/(.+)\/[^/]+$/.exec(ruleArn);
  return match ? `${match[1]}listener/${match[2]}` : undefined;
}

/** The one target group a forward action sends to, in either of the forms DescribeRules returns. */
export function forwardTargetOf(action: Action): string | undefined {
  if (action.TargetGroupArn) return action.TargetGroupArn;
  const groups = action.ForwardConfig?.TargetGroups ?? [];
  return groups.length === 1 ? groups[0]?.TargetGroupArn : undefined;
}

/** The rule, or undefined when it (or its listener) is gone. */
export async function describeRule(elbv2: ElasticLoadBalancingV2Client, ruleArn: string): Promise<Rule | undefined> {
  try {
    const response = await elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }));
    return response.Rules?.[0];
  } catch (error) {
    if (hasErrorCode(error, ...RULE_NOT_FOUND, ...LISTENER_NOT_FOUND)) return undefined;
    throw error;
  }
}

/** The listener's rule at `priority`, across pages; none when the listener is gone. */
export async function ruleAtPriority(elbv2: ElasticLoadBalancingV2Client, listenerArn: string, priority: number): Promise<Rule | undefined> {
  try {
    for await (const page of paginateDescribeRules({ client: elbv2 }, { ListenerArn: listenerArn })) {
      const match = (page.Rules ?? []).find((rule) => rule.Priority === String(priority));
      if (match) return match;
    }
  } catch (error) {
    if (hasErrorCode(error, ...LISTENER_NOT_FOUND)) return undefined;
    throw error;
  }
  return undefined;
}

/** Someone else's rule holds the priority one of ours needs. */
export function priorityInUse(priority: number, listenerArn: string, options: { cause?: unknown; rule?: string } = {}): AuthecsError {
  const rule = options.rule ? ` (for the ${options.rule})` : '';
  return new AuthecsError(`Priority ${priority}${rule} on the HTTPS listener is already used by a rule authecs did not create`, {
    code: 'RULE_PRIORITY_IN_USE',
    exit: 'conflict',
    resource: listenerArn,
    cause: options.cause,
    hint: options.rule
      ? 'Pass --rule-priority (or AUTH_ECS_RULE_PRIORITY) with a priority that is free, and whose predecessor is free too (2-50000).'
      : 'Pass --rule-priority (or AUTH_ECS_RULE_PRIORITY) with a free priority (1-50000).',
  });
}

/** Today's listener for a rule step: its listener step's recorded output, if that step ran. */
export function listenerOf(context: RuleContext, listenerStep: 'https-listener' | 'http-redirect-listener'): string | undefined {
  return context.hasOutput(listenerStep) ? context.output(listenerStep).listenerArn : undefined;
}

/** What a rule step would want, from its dependencies' recorded outputs (a read has no `want`). */
export function desiredFromState<Desired>(context: RuleContext, dependsOn: readonly StepName[], desired: (config: Config, inputs: Inputs) => Desired): Desired {
  const inputs: Record<string, unknown> = {};
  for (const dependency of dependsOn) {
    if (context.hasOutput(dependency)) inputs[dependency] = context.output(dependency);
  }
  return desired(context.config, inputs as Inputs);
}

/**
 * An unrecorded rule at our priority is ours when it is exactly the rule we would make (a killed
 * run's), or when it carries our stack tag; else it is someone else's.
 */
export async function isOurRule<Desired extends object>(
  context: RuleContext,
  rule: Rule,
  want: Desired,
  observed: Partial<Desired>,
  effects: { readonly [Field in keyof Desired]-?: Effect },
): Promise<boolean> {
  if (diffFields(want, observed, effects).length === 0) return true;
  const response = await context.clients.elbv2.send(new DescribeTagsCommand({ ResourceArns: [rule.RuleArn!] }));
  return hasStackTag(response.TagDescriptions?.[0]?.Tags, context.stack);
}

/**
 * The recorded rule, else (a killed run) ours at `priority` on today's listener. A rule on an
 * older listener went with it. Someone else's rule at that priority is a conflict.
 */
export async function locateRule(
  context: RuleContext,
  where: { listenerArn: string | undefined; priority: number },
  isOurs: (rule: Rule) => Promise<boolean>,
  conflict: () => AuthecsError,
): Promise<Rule | undefined> {
  const elbv2 = context.clients.elbv2;
  const recordedArn = context.record?.data.ruleArn;
  const recorded = recordedArn ? await describeRule(elbv2, recordedArn) : undefined;
  if (recorded) return recorded;
  if (!where.listenerArn || where.priority < 1) return undefined;
  const atPriority = await ruleAtPriority(elbv2, where.listenerArn, where.priority);
  if (!atPriority) return undefined;
  if (!(await isOurs(atPriority))) throw conflict();
  return atPriority;
}

/** CreateRule has no idempotency token: the intent (listener, priority) is recorded first, so a killed run finds the rule at that priority. */
export async function createRule(context: RuleContext, rule: RuleSpec, conflict: (cause: unknown) => AuthecsError): Promise<RuleOutput> {
  context.save({ created: true, data: { listenerArn: rule.listenerArn, priority: rule.priority } });
  let ruleArn: string;
  try {
    const response = await context.clients.elbv2.send(
      new CreateRuleCommand({ ListenerArn: rule.listenerArn, Priority: rule.priority, Conditions: rule.conditions, Actions: rule.actions, Tags: stackTags(context.stack) }),
    );
    ruleArn = response.Rules![0]!.RuleArn!;
  } catch (error) {
    if (hasErrorCode(error, ...PRIORITY_IN_USE)) throw conflict(error);
    throw error;
  }
  const output: RuleOutput = { ruleArn, listenerArn: rule.listenerArn, priority: rule.priority };
  context.save({ data: output });
  return output;
}

/**
 * Puts a live rule right: `movePriority` for a new priority, then ModifyRule, which takes whole
 * lists, with both the conditions and the actions, so a drifted one is put back too.
 */
export async function updateRule(
  context: RuleContext,
  current: { ruleArn: string; listenerArn: string },
  rule: Omit<RuleSpec, 'listenerArn'>,
  changedFields: readonly string[],
  movePriority: () => Promise<void>,
): Promise<RuleOutput> {
  if (changedFields.includes('priority')) await movePriority();
  if (changedFields.some((field) => field !== 'priority')) {
    await context.clients.elbv2.send(new ModifyRuleCommand({ RuleArn: current.ruleArn, Conditions: rule.conditions, Actions: rule.actions }));
  }
  const output: RuleOutput = { ruleArn: current.ruleArn, listenerArn: current.listenerArn, priority: rule.priority };
  context.save({ data: output });
  return output;
}

/** Deletes the recorded rule; gone (or its listener gone) counts as deleted. */
export async function deleteRecordedRule(context: RuleContext, isOurs: (rule: Rule, priority: number) => Promise<boolean>): Promise<void> {
  const recorded = context.record?.data;
  let ruleArn = recorded?.ruleArn;
  if (!ruleArn && recorded?.listenerArn && recorded.priority !== undefined) {
    // Killed between the intent and the ARN: delete the rule at our priority only if it is ours.
    const candidate = await ruleAtPriority(context.clients.elbv2, recorded.listenerArn, recorded.priority);
    if (candidate && (await isOurs(candidate, recorded.priority))) ruleArn = candidate.RuleArn;
  }
  if (!ruleArn) return;
  try {
    await context.clients.elbv2.send(new DeleteRuleCommand({ RuleArn: ruleArn }));
  } catch (error) {
    if (!hasErrorCode(error, ...RULE_NOT_FOUND, ...LISTENER_NOT_FOUND)) throw error;
  }
}
