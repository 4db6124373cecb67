import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { hasErrorCode } from '../aws/errors.js';
import { retryWhileInUse } from './shared/poll.js';
import { ANYWHERE, LOAD_BALANCER_PORTS } from './load-balancer-security-group.js';
import type { IngressRule, SecurityGroupIngressOutput } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type StepContext } from './step.js';

type Context = StepContext<'security-group-ingress'>;

/** The article's two `authorize-security-group-ingress` calls, in its order. */
export const ARTICLE_INGRESS: readonly { port: number; cidr: string }[] = [
  { port: 443, cidr: ANYWHERE },
  { port: 80, cidr: ANYWHERE },
];

/** A TCP rule up wants: on groupId, from an address range (cidr) or from another group (sourceGroupId). */
interface WantedRule {
  groupId: string;
  port: number;
  cidr?: string;
  sourceGroupId?: string;
}

// ENIs of a deleted ALB keep the group "in use" for minutes (aws-behaviour.md).
const IN_USE_POLL_SECONDS = 15;

/**
 * article: 443 and 80 from anywhere on the network's group, which the ALB and the instances
 * or tasks share. isolated: 443 and 80 (the redirect listener) from anywhere on the ALB's own
 * group, and only the app port on the network's group, from the ALB's group alone.
 */
function wantedRules(context: Context): WantedRule[] {
  const appGroupId = context.output('network').securityGroupId;
  if (context.config.ingressMode !== 'isolated') return ARTICLE_INGRESS.map((rule) => ({ groupId: appGroupId, port: rule.port, cidr: rule.cidr }));
  const loadBalancerGroupId = context.output('load-balancer-security-group').groupId;
  return [
    ...LOAD_BALANCER_PORTS.map((port) => ({ groupId: loadBalancerGroupId, port, cidr: ANYWHERE })),
    { groupId: appGroupId, port: context.config.containerPort, sourceGroupId: loadBalancerGroupId },
  ];
}

function describeRule(rule: { port: number; cidr?: string; sourceGroupId?: string }): string {
  return `tcp/${rule.port} from ${rule.cidr ?? rule.sourceGroupId ?? '?'}`;
}

function sameRule(left: WantedRule, right: WantedRule): boolean {
  return left.groupId === right.groupId && left.port === right.port && left.cidr === right.cidr && left.sourceGroupId === right.sourceGroupId;
}

function toRule(wanted: WantedRule, created: boolean, ruleId: string | undefined): IngressRule {
  return {
    groupId: wanted.groupId,
    port: wanted.port,
    ...(wanted.cidr !== undefined ? { cidr: wanted.cidr } : {}),
    ...(wanted.sourceGroupId !== undefined ? { sourceGroupId: wanted.sourceGroupId } : {}),
    created,
    ...(ruleId ? { ruleId } : {}),
  };
}

async function describeIngress(context: Context, groupId: string): Promise<SecurityGroupRule[]> {
  const rules: SecurityGroupRule[] = [];
  let nextToken: string | undefined;
  do {
    const page = await context.clients.ec2.send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }], ...(nextToken ? { NextToken: nextToken } : {}) }),
    );
    rules.push(...(page.SecurityGroupRules ?? []).filter((rule) => !rule.IsEgress));
    nextToken = page.NextToken;
  } while (nextToken);
  return rules;
}

/** Live ingress rules per group, each group described once per call of the step. */
function liveRules(context: Context): (groupId: string) => Promise<SecurityGroupRule[]> {
  const cache = new Map<string, Promise<SecurityGroupRule[]>>();
  return (groupId) => {
    let rules = cache.get(groupId);
    if (!rules) {
      rules = describeIngress(context, groupId);
      cache.set(groupId, rules);
    }
    return rules;
  };
}

function matches(rule: SecurityGroupRule, wanted: WantedRule): boolean {
  const protocol = rule.IpProtocol === 'tcp' || rule.IpProtocol === '6';
  const source = wanted.cidr !== undefined ? rule.CidrIpv4 === wanted.cidr : rule.ReferencedGroupInfo?.GroupId === wanted.sourceGroupId;
  return protocol && (rule.GroupId === undefined || rule.GroupId === wanted.groupId) && rule.FromPort === wanted.port && rule.ToPort === wanted.port && source;
}

/** The live rule for a wanted rule: the recorded one if it is still there, else any identical one. */
function resolveRule(context: Context, live: SecurityGroupRule[], wanted: WantedRule, recorded: IngressRule | undefined): IngressRule | undefined {
  const byId = recorded?.ruleId ? live.find((rule) => rule.SecurityGroupRuleId === recorded.ruleId && matches(rule, wanted)) : undefined;
  const rule = byId ?? live.find((candidate) => matches(candidate, wanted));
  if (!rule) return undefined;
  // Ours when recorded as ours, or tagged (a killed run added it); otherwise it pre-existed and is never revoked.
  const created = (byId !== undefined && recorded?.created === true) || hasStackTag(rule.Tags, context.stack);
  return toRule(wanted, created, rule.SecurityGroupRuleId);
}

/** The recorded rules; records written before isolated ingress keep the group once, at the top. */
function recordedRules(context: Context): IngressRule[] {
  const data = context.record?.data;
  return (data?.rules ?? []).map((rule) => ({ ...rule, groupId: rule.groupId ?? data?.groupId ?? '' }));
}

function recordedFor(recorded: IngressRule[], wanted: WantedRule): IngressRule | undefined {
  return recorded.find((rule) => sameRule(rule, wanted));
}

/** Rules authecs added that the current mode no longer wants (the other --ingress mode's, or another group's). */
function staleRules(recorded: IngressRule[], wanted: WantedRule[]): IngressRule[] {
  return recorded.filter((rule) => rule.created && !wanted.some((each) => sameRule(rule, each)));
}

function permissionFor(wanted: WantedRule): IpPermission {
  return {
    IpProtocol: 'tcp',
    FromPort: wanted.port,
    ToPort: wanted.port,
    ...(wanted.cidr !== undefined ? { IpRanges: [{ CidrIp: wanted.cidr }] } : { UserIdGroupPairs: [{ GroupId: wanted.sourceGroupId! }] }),
  };
}

/** One rule per call: with two IpPermissions in one call, moto reports only the last rule. */
async function authorize(context: Context, wanted: WantedRule): Promise<IngressRule> {
  try {
    const response = await context.clients.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: wanted.groupId,
        IpPermissions: [permissionFor(wanted)],
        TagSpecifications: [{ ResourceType: 'security-group-rule', Tags: stackTags(context.stack) }],
      }),
    );
    const added = response.SecurityGroupRules?.find((rule) => matches(rule, wanted)) ?? response.SecurityGroupRules?.[0];
    return toRule(wanted, true, added?.SecurityGroupRuleId);
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidPermission.Duplicate')) throw error;
    // It appeared since we looked: ours if it carries our tag, someone else's otherwise.
    const existing = resolveRule(context, await describeIngress(context, wanted.groupId), wanted, undefined);
    if (!existing) throw error;
    return existing;
  }
}

async function revoke(context: Context, groupId: string, ruleId: string, rule: IngressRule): Promise<void> {
  await retryWhileInUse(
    context,
    {
      description: `revoke ${describeRule(rule)} (${ruleId}) on ${groupId}`,
      codes: ['DependencyViolation'],
      intervalSeconds: IN_USE_POLL_SECONDS,
      call: async () => {
        try {
          await context.clients.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: [ruleId] }));
        } catch (error) {
          // Already revoked, or the whole group is gone: either way the rule is no more.
          if (!hasErrorCode(error, 'InvalidPermission.NotFound', 'InvalidSecurityGroupRuleId.NotFound', 'InvalidGroup.NotFound')) throw error;
        }
      },
    },
    hasErrorCode,
  );
}

/** Revokes a rule authecs recorded as its own; without a recorded ID, only a live rule carrying our tag. */
async function revokeRecorded(context: Context, rule: IngressRule): Promise<void> {
  let ruleId = rule.ruleId;
  if (!ruleId) {
    const live = (await describeIngress(context, rule.groupId)).find((candidate) => matches(candidate, rule) && hasStackTag(candidate.Tags, context.stack));
    ruleId = live?.SecurityGroupRuleId;
  }
  if (ruleId) await revoke(context, rule.groupId, ruleId, rule);
}

/** "443, 80 open to 0.0.0.0/0 on sg-alb; 80 from sg-alb on sg-app" */
function summarize(rules: WantedRule[]): string {
  const groups = [...new Set(rules.map((rule) => rule.groupId))];
  return groups
    .flatMap((groupId) => {
      const onGroup = rules.filter((rule) => rule.groupId === groupId);
      const cidrs = [...new Set(onGroup.flatMap((rule) => (rule.cidr !== undefined ? [rule.cidr] : [])))];
      return [
        ...cidrs.map((cidr) => `${onGroup.filter((rule) => rule.cidr === cidr).map((rule) => rule.port).join(', ')} open to ${cidr} on ${groupId}`),
        ...onGroup.filter((rule) => rule.sourceGroupId !== undefined).map((rule) => `${rule.port} from ${rule.sourceGroupId} on ${groupId}`),
      ];
    })
    .join('; ');
}

export const securityGroupIngressStep = defineStep({
  name: 'security-group-ingress',
  title: 'Security group ingress (443 and 80)',
  articleSection: 'Configure the security group rules needed for web traffic access',
  dependsOn: ['network', 'load-balancer-security-group'],

  async find(context) {
    const groupId = context.output('network').securityGroupId;
    const wanted = wantedRules(context);
    const recorded = recordedRules(context);
    // Rules of the other mode are still to be revoked: that is create()'s work.
    if (staleRules(recorded, wanted).length > 0) return undefined;
    const live = liveRules(context);
    const rules: IngressRule[] = [];
    for (const each of wanted) {
      const rule = resolveRule(context, await live(each.groupId), each, recordedFor(recorded, each));
      if (!rule) return undefined;
      rules.push(rule);
    }
    const output: SecurityGroupIngressOutput = { groupId, rules };
    const created = rules.some((rule) => rule.created);
    // A tagged rule a killed run added makes the record ours, so `down` revokes it.
    if (created && context.record && !context.record.created) context.save({ created: true, data: output });
    return { output, created };
  },

  async create(context) {
    const groupId = context.output('network').securityGroupId;
    const wanted = wantedRules(context);
    const recorded = recordedRules(context);
    let stale = staleRules(recorded, wanted);
    const live = liveRules(context);
    const rules: IngressRule[] = [];
    // Stale rules stay in the record until revoked, so a killed run still revokes them later.
    const record = () => {
      const all = [...rules, ...stale];
      context.save({ created: all.some((each) => each.created) || context.record?.created === true, data: { groupId, rules: all } });
    };
    for (const each of wanted) {
      const rule = resolveRule(context, await live(each.groupId), each, recordedFor(recorded, each)) ?? (await authorize(context, each));
      rules.push(rule);
      // Record, then move on: created is true as soon as any rule is authecs's to revoke.
      record();
    }
    // Open the new way in before closing the old one.
    for (const rule of [...stale]) {
      await revokeRecorded(context, rule);
      stale = stale.filter((each) => each !== rule);
      record();
    }
    return { groupId, rules };
  },

  async delete(context) {
    const data = context.record?.data;
    const groupId = data?.groupId;
    if (!groupId) return;
    const recorded = recordedRules(context);
    let remaining = [...recorded];
    for (const rule of recorded) {
      if (!rule.created) continue;
      await revokeRecorded(context, rule);
      remaining = remaining.filter((each) => each !== rule);
      context.save({ data: { groupId, rules: remaining } });
    }
  },

  async inspect(context) {
    const data = context.record?.data;
    const groupId = data?.groupId;
    if (!groupId) return { present: false, healthy: false, summary: 'missing' };
    const recorded = recordedRules(context);
    // What up would make now; without the ALB group's record (an unfinished run), what was recorded.
    const isolatedWithoutGroup = context.config.ingressMode === 'isolated' && !context.hasOutput('load-balancer-security-group');
    const wanted: WantedRule[] = isolatedWithoutGroup || !context.hasOutput('network') ? recorded : wantedRules(context);
    const live = liveRules(context);
    const drift: string[] = [];
    const open: WantedRule[] = [];
    for (const each of wanted) {
      const recordedRule = recordedFor(recorded, each);
      const rule = resolveRule(context, await live(each.groupId), each, recordedRule);
      if (rule) open.push(each);
      else drift.push(`ingress ${describeRule(each)} on ${each.groupId}${recordedRule?.ruleId ? ` (${recordedRule.ruleId})` : ''} is gone`);
    }
    const groupIds = [...new Set(wanted.map((rule) => rule.groupId))];
    return {
      present: open.length > 0,
      healthy: drift.length === 0,
      summary: open.length > 0 ? summarize(open) : `no authecs ingress rules on ${groupIds.join(', ') || groupId}`,
      ...(drift.length > 0 ? { drift } : {}),
      details: {
        groupId,
        openPorts: open.filter((rule) => rule.cidr !== undefined).map((rule) => rule.port),
        ...(open.some((rule) => rule.sourceGroupId !== undefined) ? { fromGroups: open.filter((rule) => rule.sourceGroupId !== undefined).map((rule) => `${rule.port} from ${rule.sourceGroupId}`) } : {}),
      },
    };
  },
});
