import { AuthorizeSecurityGroupIngressCommand, type SecurityGroupRule } from '@aws-sdk/client-ec2';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { IngressRule, SecurityGroupIngressOutput } from './outputs.js';
import { defineResource, isUnknown, known, UNKNOWN, type Live, type Maybe } from './resource.js';
import { ANYWHERE, describeIngressRules, describeSource, revokeIngress, ruleMatches, tcpPermission } from './shared/security-groups.js';
import { hasStackTag, stackTags } from './shared/tags.js';
import { retryWhileNotVisible } from './shared/visibility.js';
import type { StepContext } from './step.js';

type Context = StepContext<'security-group-ingress'>;

/** The article's two `authorize-security-group-ingress` calls: 443 and 80 from anywhere. */
const ARTICLE_PORTS: readonly number[] = [443, 80];

/** A TCP rule authecs wants: on groupId, from an address range (cidr) or from another group (sourceGroupId). */
export interface DesiredRule {
  groupId: Maybe<string>;
  port: number;
  cidr?: string;
  sourceGroupId?: Maybe<string>;
}

export interface DesiredIngress {
  /** Sorted by group, port and source, so the same wish always compares equal. */
  rules: DesiredRule[];
}

/** A wanted rule once every group ID is known. */
interface WantedRule {
  groupId: string;
  port: number;
  cidr?: string;
  sourceGroupId?: string;
}

function sortKey(rule: DesiredRule): string {
  const text = (value: Maybe<string> | undefined) => (value === undefined || isUnknown(value) ? '' : value);
  return `${text(rule.groupId)} ${String(rule.port).padStart(5, '0')} ${rule.cidr ?? ''} ${text(rule.sourceGroupId)}`;
}

function sortRules<Rule extends DesiredRule>(rules: Rule[]): Rule[] {
  return [...rules].sort((left, right) => sortKey(left).localeCompare(sortKey(right)));
}

/**
 * article: 443 and 80 from anywhere on the network's group, which the ALB and the instances or
 * tasks share, exactly as the article does (80 too without the redirect listener). isolated: only
 * the app port on the network's group, from the ALB's group alone; the ALB group's own ports
 * belong to the load-balancer-security-group step.
 */
function rulesFor(ingressMode: string, containerPort: number, appGroupId: Maybe<string>, loadBalancerGroupId: Maybe<string>): DesiredRule[] {
  if (ingressMode !== 'isolated') return sortRules(ARTICLE_PORTS.map((port) => ({ groupId: appGroupId, port, cidr: ANYWHERE })));
  return [{ groupId: appGroupId, port: containerPort, sourceGroupId: loadBalancerGroupId }];
}

/** Only the fields that describe the rule itself, in the desired form. */
function shape(rule: WantedRule): WantedRule {
  return {
    groupId: rule.groupId,
    port: rule.port,
    ...(rule.cidr !== undefined ? { cidr: rule.cidr } : {}),
    ...(rule.sourceGroupId !== undefined ? { sourceGroupId: rule.sourceGroupId } : {}),
  };
}

function sameRule(left: WantedRule, right: WantedRule): boolean {
  return left.groupId === right.groupId && left.port === right.port && left.cidr === right.cidr && left.sourceGroupId === right.sourceGroupId;
}

function toRule(wanted: WantedRule, created: boolean, ruleId: string | undefined): IngressRule {
  return { ...shape(wanted), created, ...(ruleId ? { ruleId } : {}) };
}

/** Live ingress rules per group, each group described once per call of the step. */
function liveRules(context: Context): (groupId: string) => Promise<SecurityGroupRule[]> {
  const cache = new Map<string, Promise<SecurityGroupRule[]>>();
  return (groupId) => {
    let rules = cache.get(groupId);
    if (!rules) {
      rules = describeIngressRules(context, groupId);
      cache.set(groupId, rules);
    }
    return rules;
  };
}

function matches(rule: SecurityGroupRule, wanted: WantedRule): boolean {
  return (rule.GroupId === undefined || rule.GroupId === wanted.groupId) && ruleMatches(rule, wanted);
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

/**
 * Rules this step manages: records written before the ALB group step opened its own ports also
 * hold rules on the ALB group. That group's ports now belong to its step (and go with the group),
 * so reconciling neither reports nor revokes them; `down` still revokes them, harmlessly.
 */
function ownRules(context: Context): IngressRule[] {
  const recorded = recordedRules(context);
  const loadBalancerGroups = new Set(recorded.flatMap((rule) => (rule.sourceGroupId ? [rule.sourceGroupId] : [])));
  if (context.hasOutput('load-balancer-security-group')) loadBalancerGroups.add(context.output('load-balancer-security-group').groupId);
  return recorded.filter((rule) => !loadBalancerGroups.has(rule.groupId));
}

function recordedFor(recorded: IngressRule[], wanted: WantedRule): IngressRule | undefined {
  return recorded.find((rule) => sameRule(rule, wanted));
}

/** What the settings want now, as far as the recorded dependencies tell (read cannot see UNKNOWN). */
function currentWanted(context: Context): WantedRule[] {
  if (!context.hasOutput('network')) return [];
  const isolated = context.config.ingressMode === 'isolated';
  if (isolated && !context.hasOutput('load-balancer-security-group')) return [];
  const loadBalancerGroupId = isolated ? context.output('load-balancer-security-group').groupId : UNKNOWN;
  return knownRules(rulesFor(context.config.ingressMode, context.config.containerPort, context.output('network').securityGroupId, loadBalancerGroupId));
}

function knownRules(rules: DesiredRule[]): WantedRule[] {
  return rules.map(({ groupId, port, cidr, sourceGroupId }) => {
    if (isUnknown(groupId) || isUnknown(sourceGroupId)) {
      throw new AuthecsError('Ingress rules were asked to apply before their security groups were known', { code: 'STEP_INPUT_UNKNOWN', exit: 'internal' });
    }
    return shape({ groupId, port, cidr, sourceGroupId });
  });
}

/** One rule per call: with two IpPermissions in one call, moto reports only the last rule. */
async function authorize(context: Context, wanted: WantedRule): Promise<IngressRule> {
  try {
    const command = new AuthorizeSecurityGroupIngressCommand({
      GroupId: wanted.groupId,
      IpPermissions: [tcpPermission(wanted)],
      TagSpecifications: [{ ResourceType: 'security-group-rule', Tags: stackTags(context.stack) }],
    });
    // The group (or the ALB group it admits) may have been made a moment ago (EC2 API Reference, "Eventual consistency").
    const response = await retryWhileNotVisible(context, {
      description: `security group ${wanted.groupId}${wanted.sourceGroupId ? ` and ${wanted.sourceGroupId}` : ''} to be visible to AuthorizeSecurityGroupIngress`,
      codes: ['InvalidGroup.NotFound'],
      call: () => context.clients.ec2.send(command),
    });
    const added = response.SecurityGroupRules?.find((rule) => matches(rule, wanted)) ?? response.SecurityGroupRules?.[0];
    return toRule(wanted, true, added?.SecurityGroupRuleId);
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidPermission.Duplicate')) throw error;
    // It appeared since we looked: ours if it carries our tag, someone else's otherwise.
    const existing = resolveRule(context, await describeIngressRules(context, wanted.groupId), wanted, undefined);
    if (!existing) throw error;
    return existing;
  }
}

/** Revokes a rule authecs recorded as its own; without a recorded ID, only a live rule carrying our tag. */
async function revokeRecorded(context: Context, rule: IngressRule): Promise<void> {
  let ruleId = rule.ruleId;
  if (!ruleId) {
    const live = (await describeIngressRules(context, rule.groupId)).find((candidate) => matches(candidate, rule) && hasStackTag(candidate.Tags, context.stack));
    ruleId = live?.SecurityGroupRuleId;
  }
  if (ruleId) await revokeIngress(context, { GroupId: rule.groupId, SecurityGroupRuleIds: [ruleId] }, `${describeSource(rule)} (${ruleId})`);
}

/** "443, 80 open to 0.0.0.0/0 on sg-app" or "80 from sg-alb on sg-app" */
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

/**
 * Authorizes the wanted rules that are not live yet, then revokes the rules authecs added that
 * are no longer wanted (the other --ingress mode's, another port's or another group's), never a
 * rule that pre-existed. Known rules of the last read are reused without describing again.
 */
async function apply(context: Context, want: DesiredIngress, known: IngressRule[]): Promise<SecurityGroupIngressOutput> {
  const wanted = knownRules(want.rules);
  const groupId = wanted[0]?.groupId ?? context.output('network').securityGroupId;
  const own = ownRules(context);
  const unwanted = [...own, ...known].filter((rule) => rule.created && !wanted.some((each) => sameRule(rule, each)));
  let stale = unwanted.filter((rule, index) => unwanted.findIndex((other) => sameRule(other, rule)) === index);
  const live = liveRules(context);
  const rules: IngressRule[] = [];
  // Stale rules stay in the record until revoked, so a killed run still revokes them later.
  const record = () => {
    const all = [...rules, ...stale];
    context.save({ created: all.some((each) => each.created), data: { groupId, rules: all } });
  };
  for (const each of wanted) {
    const seen = known.find((rule) => sameRule(rule, each));
    const rule = seen ?? resolveRule(context, await live(each.groupId), each, recordedFor(own, each)) ?? (await authorize(context, each));
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
}

export const securityGroupIngressStep = defineResource<'security-group-ingress', DesiredIngress>({
  name: 'security-group-ingress',
  title: 'Security group ingress',
  articleSection: 'Configure the security group rules needed for web traffic access',
  dependsOn: ['network', 'load-balancer-security-group'],

  desired: (config, inputs) => ({
    rules: rulesFor(
      config.ingressMode,
      config.containerPort,
      known(inputs.network, (network) => network.securityGroupId) ?? UNKNOWN,
      known(inputs['load-balancer-security-group'], (group) => group.groupId) ?? UNKNOWN,
    ),
  }),
  // AuthorizeSecurityGroupIngress and RevokeSecurityGroupIngress change a group's rules in place.
  effects: { rules: 'update' },

  /**
   * The live rules this step answers for: those the settings want that exist (whoever made
   * them), and those authecs added that are still there though no longer wanted.
   */
  async read(context): Promise<Live<'security-group-ingress', DesiredIngress> | undefined> {
    const own = ownRules(context);
    const wanted = currentWanted(context);
    const candidates = [...wanted, ...own.filter((rule) => rule.created && !wanted.some((each) => sameRule(rule, each)))];
    const live = liveRules(context);
    const found: IngressRule[] = [];
    for (const candidate of candidates) {
      const rule = resolveRule(context, await live(candidate.groupId), candidate, recordedFor(own, candidate));
      if (rule) found.push(rule);
    }
    if (found.length === 0) return undefined;
    const rules = sortRules(found);
    const missing = wanted.filter((each) => !rules.some((rule) => sameRule(rule, each)));
    const groupId = context.hasOutput('network') ? context.output('network').securityGroupId : (context.record?.data.groupId ?? rules[0]!.groupId);
    const open = wanted.length > 0 ? wanted.filter((each) => !missing.includes(each)) : rules;
    return {
      output: { groupId, rules },
      observed: { rules: rules.map(shape) },
      created: rules.some((rule) => rule.created),
      health: {
        healthy: missing.length === 0,
        summary: open.length > 0 ? summarize(open) : `no authecs ingress rules on ${groupId}`,
        details: {
          groupId,
          openPorts: open.filter((rule) => rule.cidr !== undefined).map((rule) => rule.port),
          ...(open.some((rule) => rule.sourceGroupId !== undefined) ? { fromGroups: open.filter((rule) => rule.sourceGroupId !== undefined).map((rule) => `${rule.port} from ${rule.sourceGroupId}`) } : {}),
          ...(missing.length > 0 ? { missing: missing.map((rule) => `${describeSource(rule)} on ${rule.groupId}`) } : {}),
        },
      },
    };
  },

  create: (context, want) => apply(context, want, []),

  update: (context, want, current) => apply(context, want, current.output.rules),

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
});
