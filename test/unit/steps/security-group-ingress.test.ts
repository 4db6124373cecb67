import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  type IpPermission,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngressRule, SecurityGroupIngressOutput } from '../../../src/steps/outputs.js';
import { securityGroupIngressStep } from '../../../src/steps/security-group-ingress.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ec2 = mockClient(EC2Client);
const GROUP = SAMPLE_OUTPUTS.network.securityGroupId;
const OUR_TAGS = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];

function rule(port: number, id: string, tags: { Key: string; Value: string }[] = []): SecurityGroupRule {
  return { SecurityGroupRuleId: id, GroupId: GROUP, IsEgress: false, IpProtocol: 'tcp', FromPort: port, ToPort: port, CidrIpv4: '0.0.0.0/0', Tags: tags };
}
const EGRESS: SecurityGroupRule = { SecurityGroupRuleId: 'sgr-egress', GroupId: GROUP, IsEgress: true, IpProtocol: '-1', FromPort: -1, ToPort: -1, CidrIpv4: '0.0.0.0/0' };
const ARTICLE = { ingressMode: 'article' as const };
const duplicate = () => Object.assign(new Error('The specified rule already exists'), { name: 'InvalidPermission.Duplicate' });

function record(rules: IngressRule[], created = true) {
  return { created, complete: true, data: { groupId: GROUP, rules } };
}

describe('security-group-ingress step, --ingress article', () => {
  let harness: StepHarness<'security-group-ingress'>;
  beforeEach(() => {
    ec2.reset();
  });
  afterEach(() => harness?.cleanup());

  describe('create', () => {
    it("authorizes the article's tcp/443 then tcp/80 from 0.0.0.0/0, one call per rule, tagged, recording each rule at once", async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [EGRESS] });
      const recordBeforeEachCall: unknown[] = [];
      ec2.on(AuthorizeSecurityGroupIngressCommand).callsFake((input: { IpPermissions: { FromPort: number }[] }) => {
        recordBeforeEachCall.push(harness.state.get('security-group-ingress')?.data);
        const port = input.IpPermissions[0]!.FromPort;
        return { Return: true, SecurityGroupRules: [rule(port, `sgr-${port}`, OUR_TAGS)] };
      });

      const output = await securityGroupIngressStep.create(harness.context);

      const calls = ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input);
      expect(calls).toEqual([443, 80].map((port) => ({
        GroupId: GROUP,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
        TagSpecifications: [{ ResourceType: 'security-group-rule', Tags: OUR_TAGS }],
      })));
      // The 443 rule was on disk before the 80 call went out.
      expect(recordBeforeEachCall[1]).toEqual({ groupId: GROUP, rules: [{ groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-443' }] });
      const expected = {
        groupId: GROUP,
        rules: [
          { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-443' },
          { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-80' },
        ],
      };
      expect(output).toEqual(expected);
      expect(harness.state.get('security-group-ingress')).toMatchObject({ created: true, data: expected });
      expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand)[0]!.args[0].input.Filters).toEqual([{ Name: 'group-id', Values: [GROUP] }]);
    });

    it('on InvalidPermission.Duplicate, adopts a tagged rule as ours and an untagged one as pre-existing', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE });
      ec2
        .on(DescribeSecurityGroupRulesCommand)
        .resolvesOnce({ SecurityGroupRules: [EGRESS] })
        .resolves({ SecurityGroupRules: [EGRESS, rule(443, 'sgr-killedrun', OUR_TAGS), rule(80, 'sgr-someone')] });
      ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(duplicate());

      const output = await securityGroupIngressStep.create(harness.context);

      expect(output.rules).toEqual([
        { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-killedrun' },
        { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-someone' },
      ]);
      expect(harness.state.get('security-group-ingress')?.created).toBe(true);
    });

    it('adds only the missing rule, and records the existing one as not created', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [EGRESS, rule(443, 'sgr-existing')] });
      ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true, SecurityGroupRules: [rule(80, 'sgr-80', OUR_TAGS)] });

      const output = await securityGroupIngressStep.create(harness.context);

      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(1);
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]!.args[0].input.IpPermissions?.[0]?.FromPort).toBe(80);
      expect(output.rules).toEqual([
        { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-existing' },
        { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-80' },
      ]);
      expect(harness.state.get('security-group-ingress')?.created).toBe(true);
    });

    it('records created false when both rules already existed, so down keeps them', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(80, 'sgr-a'), rule(443, 'sgr-b')] });

      await securityGroupIngressStep.create(harness.context);

      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
      expect(harness.state.get('security-group-ingress')).toMatchObject({ created: false });
    });
  });

  describe('find', () => {
    it('returns both rules, pre-existing ones as not created, so a second up makes no call', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [EGRESS, rule(443, 'sgr-b'), rule(80, 'sgr-a')] });

      const found = await securityGroupIngressStep.find(harness.context);

      expect(found).toEqual({
        created: false,
        output: {
          groupId: GROUP,
          rules: [
            { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-b' },
            { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-a' },
          ],
        },
      });
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
    });

    it('adopts tagged rules left by a killed run as created', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1', OUR_TAGS), rule(80, 'sgr-2', OUR_TAGS)] });

      const found = await securityGroupIngressStep.find(harness.context);

      expect(found?.created).toBe(true);
      expect(found?.output.rules.every((each) => each.created)).toBe(true);
    });

    it('keeps the recorded created flags of rules it finds by ID', async () => {
      harness = stepHarness(securityGroupIngressStep, {
        config: ARTICLE,
        record: record([
          { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-1' },
          { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-2' },
        ]),
      });
      // Tags can be removed by hand; the record still says which rule authecs added.
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), rule(80, 'sgr-2')] });

      const found = await securityGroupIngressStep.find(harness.context);

      expect(found?.output.rules.map((each) => each.created)).toEqual([true, false]);
    });

    it('is undefined while a rule is missing, or only a wider rule exists', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), { ...rule(0, 'sgr-range'), FromPort: 0, ToPort: 65535 }] });

      expect(await securityGroupIngressStep.find(harness.context)).toBeUndefined();
    });
  });

  describe('delete', () => {
    const mixed = record([
      { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-ours' },
      { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-theirs' },
    ]);

    it('revokes only the rules authecs added, by rule ID', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE, record: mixed });
      ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

      await securityGroupIngressStep.delete(harness.context);

      expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: GROUP, SecurityGroupRuleIds: ['sgr-ours'] }]);
      expect(harness.state.get<SecurityGroupIngressOutput>('security-group-ingress')?.data.rules).toEqual([{ groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-theirs' }]);
    });

    it('treats a rule that is already gone as revoked', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE, record: mixed });
      ec2.on(RevokeSecurityGroupIngressCommand).rejects(Object.assign(new Error('The specified rule does not exist in this security group'), { name: 'InvalidPermission.NotFound' }));

      await expect(securityGroupIngressStep.delete(harness.context)).resolves.toBeUndefined();
    });

    it('waits out DependencyViolation while network interfaces linger', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE, record: mixed });
      ec2
        .on(RevokeSecurityGroupIngressCommand)
        .rejectsOnce(Object.assign(new Error('resource has a dependent object'), { name: 'DependencyViolation' }))
        .rejectsOnce(Object.assign(new Error('resource has a dependent object'), { name: 'DependencyViolation' }))
        .resolves({ Return: true });

      await securityGroupIngressStep.delete(harness.context);

      expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(3);
    });

    it('passes other errors on', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE, record: mixed });
      ec2.on(RevokeSecurityGroupIngressCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }));

      await expect(securityGroupIngressStep.delete(harness.context)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    });
  });

  describe('inspect', () => {
    const ours = record([
      { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-1' },
      { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-2' },
    ]);

    it('is healthy with both rules in place', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE, record: ours });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), rule(80, 'sgr-2')] });

      expect(await securityGroupIngressStep.inspect(harness.context)).toMatchObject({ present: true, healthy: true, details: { openPorts: [443, 80] } });
    });

    it('reports drift when a recorded rule is gone', async () => {
      harness = stepHarness(securityGroupIngressStep, { config: ARTICLE, record: ours });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1')] });

      const inspection = await securityGroupIngressStep.inspect(harness.context);

      expect(inspection).toMatchObject({ present: true, healthy: false });
      expect(inspection.drift).toEqual([`ingress tcp/80 from 0.0.0.0/0 on ${GROUP} (sgr-2) is gone`]);
    });
  });
});

describe('security-group-ingress step, --ingress isolated (the default)', () => {
  const APP = GROUP;
  const ALB = SAMPLE_OUTPUTS['load-balancer-security-group'].groupId;
  let harness: StepHarness<'security-group-ingress'>;
  beforeEach(() => {
    ec2.reset();
  });
  afterEach(() => harness?.cleanup());

  function worldRule(groupId: string, port: number, id: string, tags: { Key: string; Value: string }[] = []): SecurityGroupRule {
    return { ...rule(port, id, tags), GroupId: groupId };
  }
  function fromGroupRule(groupId: string, port: number, sourceGroupId: string, id: string, tags: { Key: string; Value: string }[] = []): SecurityGroupRule {
    return { SecurityGroupRuleId: id, GroupId: groupId, IsEgress: false, IpProtocol: 'tcp', FromPort: port, ToPort: port, ReferencedGroupInfo: { GroupId: sourceGroupId, UserId: '123456789012' }, Tags: tags };
  }
  /** DescribeSecurityGroupRules answered per group from a list of live rules. */
  function liveRules(rules: SecurityGroupRule[]): void {
    ec2.on(DescribeSecurityGroupRulesCommand).callsFake((input: { Filters: { Values: string[] }[] }) => {
      const groupId = input.Filters[0]!.Values[0];
      return { SecurityGroupRules: [{ ...EGRESS, GroupId: groupId }, ...rules.filter((each) => each.GroupId === groupId)] };
    });
  }
  /** Authorize answers with the rule it was asked for, tagged, as AWS does. */
  function authorizeEchoes(): unknown[] {
    const recordBeforeEachCall: unknown[] = [];
    ec2.on(AuthorizeSecurityGroupIngressCommand).callsFake((input: { GroupId: string; IpPermissions: IpPermission[] }) => {
      recordBeforeEachCall.push(harness.state.get('security-group-ingress')?.data);
      const permission = input.IpPermissions[0]!;
      const port = permission.FromPort!;
      const source = permission.UserIdGroupPairs?.[0]?.GroupId;
      const added = source ? fromGroupRule(input.GroupId, port, source, `sgr-${input.GroupId}-${port}`, OUR_TAGS) : worldRule(input.GroupId, port, `sgr-${input.GroupId}-${port}`, OUR_TAGS);
      return { Return: true, SecurityGroupRules: [added] };
    });
    return recordBeforeEachCall;
  }

  const isolatedRules = (created = true): IngressRule[] => [
    { groupId: ALB, port: 443, cidr: '0.0.0.0/0', created, ruleId: `sgr-${ALB}-443` },
    { groupId: ALB, port: 80, cidr: '0.0.0.0/0', created, ruleId: `sgr-${ALB}-80` },
    { groupId: APP, port: 80, sourceGroupId: ALB, created, ruleId: `sgr-${APP}-80` },
  ];

  it('defaults to isolated', () => {
    expect(articleConfig().ingressMode).toBe('isolated');
    expect(securityGroupIngressStep.dependsOn).toEqual(['network', 'load-balancer-security-group']);
  });

  it('opens 443 and 80 to the world on the ALB group, and only the app port from the ALB group on the network group', async () => {
    harness = stepHarness(securityGroupIngressStep);
    liveRules([]);
    const recordBeforeEachCall = authorizeEchoes();

    const output = await securityGroupIngressStep.create(harness.context);

    const calls = ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input);
    const tags = [{ ResourceType: 'security-group-rule', Tags: OUR_TAGS }];
    expect(calls).toEqual([
      { GroupId: ALB, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }], TagSpecifications: tags },
      { GroupId: ALB, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }], TagSpecifications: tags },
      { GroupId: APP, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, UserIdGroupPairs: [{ GroupId: ALB }] }], TagSpecifications: tags },
    ]);
    // Nothing from anywhere lands on the instances' group.
    expect(calls.filter((input) => input.GroupId === APP && input.IpPermissions?.some((permission) => permission.IpRanges?.length))).toEqual([]);
    // Each rule was on disk before the next call went out.
    expect(recordBeforeEachCall[2]).toEqual({ groupId: APP, rules: isolatedRules().slice(0, 2) });
    expect(output).toEqual({ groupId: APP, rules: isolatedRules() });
    expect(harness.state.get('security-group-ingress')).toMatchObject({ created: true, data: { groupId: APP, rules: isolatedRules() } });
  });

  it('uses --container-port for the rule from the ALB group', async () => {
    harness = stepHarness(securityGroupIngressStep, { config: { containerPort: 8080 } });
    liveRules([]);
    authorizeEchoes();

    const output = await securityGroupIngressStep.create(harness.context);

    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[2]!.args[0].input.IpPermissions).toEqual([
      { IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: ALB }] },
    ]);
    expect(output.rules[2]).toEqual({ groupId: APP, port: 8080, sourceGroupId: ALB, created: true, ruleId: `sgr-${APP}-8080` });
  });

  it('records an identical rule that already existed as not created, and a rule from another group does not count', async () => {
    harness = stepHarness(securityGroupIngressStep);
    liveRules([worldRule(ALB, 443, 'sgr-theirs'), fromGroupRule(APP, 80, 'sg-0ccccccccccccccc1', 'sgr-other-source')]);
    authorizeEchoes();

    const output = await securityGroupIngressStep.create(harness.context);

    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => `${call.args[0].input.GroupId} ${call.args[0].input.IpPermissions?.[0]?.FromPort}`)).toEqual([
      `${ALB} 80`,
      `${APP} 80`,
    ]);
    expect(output.rules.map((each) => [each.ruleId, each.created])).toEqual([
      ['sgr-theirs', false],
      [`sgr-${ALB}-80`, true],
      [`sgr-${APP}-80`, true],
    ]);
  });

  it('on InvalidPermission.Duplicate for the rule from the ALB group, adopts the tagged one a killed run added', async () => {
    harness = stepHarness(securityGroupIngressStep);
    let described = 0;
    ec2.on(DescribeSecurityGroupRulesCommand).callsFake((input: { Filters: { Values: string[] }[] }) => {
      const groupId = input.Filters[0]!.Values[0];
      if (groupId === ALB) return { SecurityGroupRules: [worldRule(ALB, 443, 'sgr-a', OUR_TAGS), worldRule(ALB, 80, 'sgr-b', OUR_TAGS)] };
      described += 1;
      return { SecurityGroupRules: described === 1 ? [] : [fromGroupRule(APP, 80, ALB, 'sgr-killedrun', OUR_TAGS)] };
    });
    ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(duplicate());

    const output = await securityGroupIngressStep.create(harness.context);

    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(1);
    expect(output.rules[2]).toEqual({ groupId: APP, port: 80, sourceGroupId: ALB, created: true, ruleId: 'sgr-killedrun' });
  });

  it('find returns all three rules without a call, and is undefined while the rule from the ALB group is missing', async () => {
    harness = stepHarness(securityGroupIngressStep, { record: { created: true, complete: true, data: { groupId: APP, rules: isolatedRules() } } });
    liveRules([worldRule(ALB, 443, `sgr-${ALB}-443`), worldRule(ALB, 80, `sgr-${ALB}-80`), fromGroupRule(APP, 80, ALB, `sgr-${APP}-80`)]);

    expect(await securityGroupIngressStep.find(harness.context)).toEqual({ created: true, output: { groupId: APP, rules: isolatedRules() } });

    ec2.reset();
    liveRules([worldRule(ALB, 443, `sgr-${ALB}-443`), worldRule(ALB, 80, `sgr-${ALB}-80`), worldRule(APP, 80, 'sgr-world-on-app')]);
    expect(await securityGroupIngressStep.find(harness.context)).toBeUndefined();
    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it("switching from --ingress article adds the isolated rules first, then revokes the article's rules authecs added", async () => {
    const articleRecord = { created: true, complete: true, data: { groupId: APP, rules: [
      { groupId: APP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-article-443' },
      { groupId: APP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-article-80' },
    ] } };
    harness = stepHarness(securityGroupIngressStep, { record: articleRecord });
    liveRules([worldRule(APP, 443, 'sgr-article-443'), worldRule(APP, 80, 'sgr-article-80')]);
    const order: string[] = [];
    ec2.on(AuthorizeSecurityGroupIngressCommand).callsFake((input: { GroupId: string; IpPermissions: IpPermission[] }) => {
      order.push(`authorize ${input.GroupId} ${input.IpPermissions[0]!.FromPort}`);
      const port = input.IpPermissions[0]!.FromPort!;
      const source = input.IpPermissions[0]!.UserIdGroupPairs?.[0]?.GroupId;
      return { SecurityGroupRules: [source ? fromGroupRule(input.GroupId, port, source, `sgr-${input.GroupId}-${port}`) : worldRule(input.GroupId, port, `sgr-${input.GroupId}-${port}`)] };
    });
    ec2.on(RevokeSecurityGroupIngressCommand).callsFake((input: { SecurityGroupRuleIds: string[] }) => {
      order.push(`revoke ${input.SecurityGroupRuleIds.join(',')}`);
      return { Return: true };
    });

    expect(await securityGroupIngressStep.find(harness.context), 'a stale rule makes find undefined').toBeUndefined();
    const output = await securityGroupIngressStep.create(harness.context);

    // Only the rule authecs added is revoked; the pre-existing 80 rule is someone else's to keep.
    expect(order).toEqual([`authorize ${ALB} 443`, `authorize ${ALB} 80`, `authorize ${APP} 80`, 'revoke sgr-article-443']);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)[0]!.args[0].input).toEqual({ GroupId: APP, SecurityGroupRuleIds: ['sgr-article-443'] });
    expect(output.rules).toEqual(isolatedRules());
    expect(harness.state.get<SecurityGroupIngressOutput>('security-group-ingress')?.data.rules).toEqual(isolatedRules());
  });

  it('delete revokes only the rules authecs added, each on its own group, then the record is empty', async () => {
    const rules = isolatedRules();
    rules[1] = { ...rules[1]!, created: false };
    harness = stepHarness(securityGroupIngressStep, { record: { created: true, complete: true, data: { groupId: APP, rules } } });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    await securityGroupIngressStep.delete(harness.context);

    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([
      { GroupId: ALB, SecurityGroupRuleIds: [`sgr-${ALB}-443`] },
      { GroupId: APP, SecurityGroupRuleIds: [`sgr-${APP}-80`] },
    ]);
    expect(harness.state.get<SecurityGroupIngressOutput>('security-group-ingress')?.data.rules).toEqual([rules[1]]);
  });

  it('delete of a rule recorded without an ID revokes only a live one carrying our tag', async () => {
    const { ruleId: _dropped, ...withoutId } = isolatedRules()[2]!;
    harness = stepHarness(securityGroupIngressStep, { record: { created: true, complete: true, data: { groupId: APP, rules: [withoutId] } } });
    liveRules([fromGroupRule(APP, 80, ALB, 'sgr-tagged', OUR_TAGS)]);
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    await securityGroupIngressStep.delete(harness.context);

    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: APP, SecurityGroupRuleIds: ['sgr-tagged'] }]);
  });

  it('inspect: healthy with a summary per group; drift when the rule from the ALB group is gone', async () => {
    harness = stepHarness(securityGroupIngressStep, { record: { created: true, complete: true, data: { groupId: APP, rules: isolatedRules() } } });
    liveRules([worldRule(ALB, 443, `sgr-${ALB}-443`), worldRule(ALB, 80, `sgr-${ALB}-80`), fromGroupRule(APP, 80, ALB, `sgr-${APP}-80`)]);

    expect(await securityGroupIngressStep.inspect(harness.context)).toMatchObject({
      present: true,
      healthy: true,
      summary: `443, 80 open to 0.0.0.0/0 on ${ALB}; 80 from ${ALB} on ${APP}`,
      details: { groupId: APP, openPorts: [443, 80] },
    });

    ec2.reset();
    liveRules([worldRule(ALB, 443, `sgr-${ALB}-443`), worldRule(ALB, 80, `sgr-${ALB}-80`)]);
    const inspection = await securityGroupIngressStep.inspect(harness.context);
    expect(inspection).toMatchObject({ present: true, healthy: false });
    expect(inspection.drift).toEqual([`ingress tcp/80 from ${ALB} on ${APP} (sgr-${APP}-80) is gone`]);
  });
});

describe('security-group-ingress step, a record written before isolated ingress (rules without groupId)', () => {
  let harness: StepHarness<'security-group-ingress'>;
  beforeEach(() => {
    ec2.reset();
  });
  afterEach(() => harness?.cleanup());
  const legacy = {
    created: true,
    complete: true,
    data: { groupId: GROUP, rules: [{ port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-1' }, { port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-2' }] as IngressRule[] },
  };

  it('find reads the group from the top of the record and keeps the created flags', async () => {
    harness = stepHarness(securityGroupIngressStep, { config: ARTICLE, record: legacy });
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), rule(80, 'sgr-2')] });

    const found = await securityGroupIngressStep.find(harness.context);

    expect(found?.output.rules).toEqual([
      { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-1' },
      { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-2' },
    ]);
  });

  it('delete revokes the rule authecs added on the recorded group', async () => {
    harness = stepHarness(securityGroupIngressStep, { record: legacy });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    await securityGroupIngressStep.delete(harness.context);

    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: GROUP, SecurityGroupRuleIds: ['sgr-1'] }]);
  });
});
