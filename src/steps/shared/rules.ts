import {
  DescribeRulesCommand,
  paginateDescribeRules,
  type Action,
  type ElasticLoadBalancingV2Client,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { hasErrorCode } from '../../aws/errors.js';
import { AuthecsError } from '../../errors.js';

/** Listener-rule look-ups that the host rule and the public-path rule share. */

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
