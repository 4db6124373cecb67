import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { hasErrorCode } from '../aws/errors.js';
import { retryWhileInUse } from '../engine/poll.js';
import type { IngressRule, SecurityGroupIngressOutput } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type StepContext } from './step.js';

type Context = StepContext<'security-group-ingress'>;

/** The article's two `authorize-security-group-ingress` calls, in its order. */
export const ARTICLE_INGRESS: readonly { port: number; cidr: string }[] = [
  { port: 443, cidr: '0.0.0.0/0' },
  { port: 80, cidr: '0.0.0.0/0' },
];

// ENIs of a deleted ALB keep the group "in use" for minutes (aws-behaviour.md).
const IN_USE_POLL_SECONDS = 15;

function describeRule(rule: { port: number; cidr: string }): string {
  return `tcp/${rule.port} from ${rule.cidr}`;
}

async function ingressRules(context: Context, groupId: string): Promise<SecurityGroupRule[]> {
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

function matches(rule: SecurityGroupRule, wanted: { port: number; cidr: string }): boolean {
  return (rule.IpProtocol === 'tcp' || rule.IpProtocol === '6') && rule.FromPort === wanted.port && rule.ToPort === wanted.port && rule.CidrIpv4 === wanted.cidr;
}

/** The live rule for a wanted port: the recorded one if it is still there, else any identical one. */
function resolveRule(context: Context, live: SecurityGroupRule[], wanted: { port: number; cidr: string }, recorded: IngressRule | undefined): IngressRule | undefined {
  const byId = recorded?.ruleId ? live.find((rule) => rule.SecurityGroupRuleId === recorded.ruleId && matches(rule, wanted)) : undefined;
  const rule = byId ?? live.find((candidate) => matches(candidate, wanted));
  if (!rule) return undefined;
  // Ours when recorded as ours, or tagged (a killed run added it); otherwise it pre-existed and is never revoked.
  const created = (byId !== undefined && recorded?.created === true) || hasStackTag(rule.Tags, context.stack);
  return { port: wanted.port, cidr: wanted.cidr, created, ...(rule.SecurityGroupRuleId ? { ruleId: rule.SecurityGroupRuleId } : {}) };
}

function recordedRules(context: Context, groupId: string): IngressRule[] {
  const data = context.record?.data;
  return data?.groupId === groupId ? (data.rules ?? []) : [];
}

function recordedFor(recorded: IngressRule[], wanted: { port: number; cidr: string }): IngressRule | undefined {
  return recorded.find((rule) => rule.port === wanted.port && rule.cidr === wanted.cidr);
}

/** One rule per call: with two IpPermissions in one call, moto reports only the last rule. */
async function authorize(context: Context, groupId: string, wanted: { port: number; cidr: string }): Promise<IngressRule> {
  try {
    const response = await context.clients.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: wanted.port, ToPort: wanted.port, IpRanges: [{ CidrIp: wanted.cidr }] }],
        TagSpecifications: [{ ResourceType: 'security-group-rule', Tags: stackTags(context.stack) }],
      }),
    );
    const added = response.SecurityGroupRules?.find((rule) => matches(rule, wanted)) ?? response.SecurityGroupRules?.[0];
    return { port: wanted.port, cidr: wanted.cidr, created: true, ...(added?.SecurityGroupRuleId ? { ruleId: added.SecurityGroupRuleId } : {}) };
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidPermission.Duplicate')) throw error;
    // It appeared since we looked: ours if it carries our tag, someone else's otherwise.
    const existing = resolveRule(context, await ingressRules(context, groupId), wanted, undefined);
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

export const securityGroupIngressStep = defineStep({
  name: 'security-group-ingress',
  title: 'Security group ingress (443 and 80)',
  articleSection: 'Configure the security group rules needed for web traffic access',
  dependsOn: ['network'],

  async find(context) {
    const groupId = context.output('network').securityGroupId;
    const live = await ingressRules(context, groupId);
    const recorded = recordedRules(context, groupId);
    const rules: IngressRule[] = [];
    for (const wanted of ARTICLE_INGRESS) {
      const rule = resolveRule(context, live, wanted, recordedFor(recorded, wanted));
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
    const live = await ingressRules(context, groupId);
    const recorded = recordedRules(context, groupId);
    const rules: IngressRule[] = [];
    for (const wanted of ARTICLE_INGRESS) {
      const rule = resolveRule(context, live, wanted, recordedFor(recorded, wanted)) ?? (await authorize(context, groupId, wanted));
      rules.push(rule);
      // Record, then move on: created is true as soon as any rule is authecs's to revoke.
      context.save({ created: rules.some((each) => each.created) || context.record?.created === true, data: { groupId, rules: [...rules] } });
    }
    return { groupId, rules };
  },

  async delete(context) {
    const data = context.record?.data;
    const groupId = data?.groupId;
    if (!groupId) return;
    let remaining = [...(data.rules ?? [])];
    for (const rule of data.rules ?? []) {
      if (!rule.created) continue;
      let ruleId = rule.ruleId;
      if (!ruleId) {
        // Recorded without an ID: only a rule carrying our tag may be revoked.
        const live = (await ingressRules(context, groupId)).find((candidate) => matches(candidate, rule) && hasStackTag(candidate.Tags, context.stack));
        ruleId = live?.SecurityGroupRuleId;
      }
      if (ruleId) await revoke(context, groupId, ruleId, rule);
      remaining = remaining.filter((each) => each !== rule);
      context.save({ data: { groupId, rules: remaining } });
    }
  },

  async inspect(context) {
    const data = context.record?.data;
    const groupId = data?.groupId;
    if (!groupId) return { present: false, healthy: false, summary: 'missing' };
    const live = await ingressRules(context, groupId);
    const drift: string[] = [];
    const open: number[] = [];
    for (const wanted of ARTICLE_INGRESS) {
      const recorded = recordedFor(data.rules ?? [], wanted);
      const rule = resolveRule(context, live, wanted, recorded);
      if (rule) open.push(wanted.port);
      else drift.push(`ingress ${describeRule(wanted)} on ${groupId}${recorded?.ruleId ? ` (${recorded.ruleId})` : ''} is gone`);
    }
    return {
      present: open.length > 0,
      healthy: drift.length === 0,
      summary: open.length > 0 ? `${open.join(', ')} open to 0.0.0.0/0 on ${groupId}` : `no article rules on ${groupId}`,
      ...(drift.length > 0 ? { drift } : {}),
      details: { groupId, openPorts: open },
    };
  },
});
