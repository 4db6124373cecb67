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
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { securityGroupIngressStep as step } from '../../../src/steps/security-group-ingress.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ec2 = mockClient(EC2Client);
const GROUP = SAMPLE_OUTPUTS.network.securityGroupId;
const APP = GROUP;
const ALB = SAMPLE_OUTPUTS['load-balancer-security-group'].groupId;
const OUR_TAGS = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];
const RULE_TAGS = [{ ResourceType: 'security-group-rule', Tags: OUR_TAGS }];
const EGRESS: SecurityGroupRule = { SecurityGroupRuleId: 'sgr-egress', GroupId: GROUP, IsEgress: true, IpProtocol: '-1', FromPort: -1, ToPort: -1, CidrIpv4: '0.0.0.0/0' };
const ARTICLE = { ingressMode: 'article' as const };
const duplicate = () => Object.assign(new Error('The specified rule already exists'), { name: 'InvalidPermission.Duplicate' });

function worldRule(groupId: string, port: number, id: string, tags: { Key: string; Value: string }[] = []): SecurityGroupRule {
  return { SecurityGroupRuleId: id, GroupId: groupId, IsEgress: false, IpProtocol: 'tcp', FromPort: port, ToPort: port, CidrIpv4: '0.0.0.0/0', Tags: tags };
}
function rule(port: number, id: string, tags: { Key: string; Value: string }[] = []): SecurityGroupRule {
  return worldRule(GROUP, port, id, tags);
}
function fromGroupRule(groupId: string, port: number, sourceGroupId: string, id: string, tags: { Key: string; Value: string }[] = []): SecurityGroupRule {
  return { SecurityGroupRuleId: id, GroupId: groupId, IsEgress: false, IpProtocol: 'tcp', FromPort: port, ToPort: port, ReferencedGroupInfo: { GroupId: sourceGroupId, UserId: '123456789012' }, Tags: tags };
}
function record(rules: IngressRule[], created = true) {
  return { created, complete: true, data: { groupId: GROUP, rules } };
}
/** DescribeSecurityGroupRules answered per group from a list of live rules. */
function liveRules(rules: SecurityGroupRule[]): void {
  ec2.on(DescribeSecurityGroupRulesCommand).callsFake((input: { Filters: { Values: string[] }[] }) => {
    const groupId = input.Filters[0]!.Values[0];
    return { SecurityGroupRules: [{ ...EGRESS, GroupId: groupId }, ...rules.filter((each) => each.GroupId === groupId)] };
  });
}
/** Authorize and revoke calls in order, e.g. "authorize sg-1 80", "revoke sgr-1". */
function recordCalls(): string[] {
  const order: string[] = [];
  ec2.on(AuthorizeSecurityGroupIngressCommand).callsFake((input: { GroupId: string; IpPermissions: IpPermission[] }) => {
    const permission = input.IpPermissions[0]!;
    const port = permission.FromPort!;
    const source = permission.UserIdGroupPairs?.[0]?.GroupId;
    order.push(`authorize ${input.GroupId} ${port}${source ? ` from ${source}` : ''}`);
    const id = `sgr-${input.GroupId}-${port}`;
    return { Return: true, SecurityGroupRules: [source ? fromGroupRule(input.GroupId, port, source, id, OUR_TAGS) : worldRule(input.GroupId, port, id, OUR_TAGS)] };
  });
  ec2.on(RevokeSecurityGroupIngressCommand).callsFake((input: { SecurityGroupRuleIds: string[] }) => {
    order.push(`revoke ${input.SecurityGroupRuleIds.join(',')}`);
    return { Return: true };
  });
  return order;
}

describe('security-group-ingress step, --ingress article', () => {
  let harness: StepHarness<'security-group-ingress'>;
  beforeEach(() => {
    ec2.reset();
  });
  afterEach(() => harness?.cleanup());

  describe('desired', () => {
    it("is the article's 80 and 443 from anywhere on the network group, sorted, with or without the redirect listener", () => {
      const rules = [
        { groupId: GROUP, port: 80, cidr: '0.0.0.0/0' },
        { groupId: GROUP, port: 443, cidr: '0.0.0.0/0' },
      ];
      expect(step.desired(articleConfig(ARTICLE), { network: SAMPLE_OUTPUTS.network })).toEqual({ rules });
      // The article opens 80 though nothing listens there; article mode reproduces it exactly.
      expect(step.desired(articleConfig({ ...ARTICLE, httpRedirect: false }), { network: SAMPLE_OUTPUTS.network })).toEqual({ rules });
    });

    it('names an UNKNOWN group while the network is still to be made', () => {
      expect(step.desired(articleConfig(ARTICLE), { network: UNKNOWN }).rules.map((each) => each.groupId)).toEqual([UNKNOWN, UNKNOWN]);
    });
  });

  describe('create', () => {
    it('authorizes tcp/80 and tcp/443 from 0.0.0.0/0, one tagged call per rule, recording each rule at once', async () => {
      harness = stepHarness(step, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [EGRESS] });
      const recordBeforeEachCall: unknown[] = [];
      ec2.on(AuthorizeSecurityGroupIngressCommand).callsFake((input: { IpPermissions: { FromPort: number }[] }) => {
        recordBeforeEachCall.push(harness.state.get('security-group-ingress')?.data);
        const port = input.IpPermissions[0]!.FromPort;
        return { Return: true, SecurityGroupRules: [rule(port, `sgr-${port}`, OUR_TAGS)] };
      });

      const output = await step.create(harness.context, step.desired(harness.config, harness.inputs));

      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual(
        [80, 443].map((port) => ({ GroupId: GROUP, IpPermissions: [{ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }], TagSpecifications: RULE_TAGS })),
      );
      // The 80 rule was on disk before the 443 call went out.
      expect(recordBeforeEachCall[1]).toEqual({ groupId: GROUP, rules: [{ groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-80' }] });
      const expected = {
        groupId: GROUP,
        rules: [
          { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-80' },
          { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-443' },
        ],
      };
      expect(output).toEqual(expected);
      expect(harness.state.get('security-group-ingress')).toMatchObject({ created: true, data: expected });
      expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand)[0]!.args[0].input.Filters).toEqual([{ Name: 'group-id', Values: [GROUP] }]);
    });

    it('on InvalidPermission.Duplicate, adopts a tagged rule as ours and an untagged one as pre-existing', async () => {
      harness = stepHarness(step, { config: ARTICLE });
      ec2
        .on(DescribeSecurityGroupRulesCommand)
        .resolvesOnce({ SecurityGroupRules: [EGRESS] })
        .resolves({ SecurityGroupRules: [EGRESS, rule(443, 'sgr-killedrun', OUR_TAGS), rule(80, 'sgr-someone')] });
      ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(duplicate());

      const output = await step.create(harness.context, step.desired(harness.config, harness.inputs));

      expect(output.rules).toEqual([
        { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-someone' },
        { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-killedrun' },
      ]);
      expect(harness.state.get('security-group-ingress')?.created).toBe(true);
    });

    it('records created false when both rules already existed, so down keeps them', async () => {
      harness = stepHarness(step, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(80, 'sgr-a'), rule(443, 'sgr-b')] });

      await step.create(harness.context, step.desired(harness.config, harness.inputs));

      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
      expect(harness.state.get('security-group-ingress')).toMatchObject({ created: false });
    });
  });

  describe('read (never writes)', () => {
    it('returns both rules, pre-existing ones as not created, and nothing to change', async () => {
      harness = stepHarness(step, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [EGRESS, rule(443, 'sgr-b'), rule(80, 'sgr-a')] });

      const live = await step.read(harness.readContext);

      expect(live).toMatchObject({
        created: false,
        output: {
          groupId: GROUP,
          rules: [
            { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-a' },
            { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-b' },
          ],
        },
      });
      expect(diffFields(step.desired(harness.config, harness.inputs), live!.observed, step.effects)).toEqual([]);
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
      expect(harness.state.get('security-group-ingress')).toBeUndefined();
    });

    it('adopts tagged rules left by a killed run as created', async () => {
      harness = stepHarness(step, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1', OUR_TAGS), rule(80, 'sgr-2', OUR_TAGS)] });

      const live = await step.read(harness.readContext);

      expect(live?.created).toBe(true);
      expect(live?.output.rules.every((each) => each.created)).toBe(true);
    });

    it('keeps the recorded created flags of rules it finds by ID', async () => {
      harness = stepHarness(step, {
        config: ARTICLE,
        record: record([
          { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-1' },
          { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-2' },
        ]),
      });
      // Tags can be removed by hand; the record still says which rule authecs added.
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), rule(80, 'sgr-2')] });

      const live = await step.read(harness.readContext);

      expect(live?.output.rules.map((each) => [each.port, each.created])).toEqual([
        [80, false],
        [443, true],
      ]);
    });

    it('a missing rule (a wider range does not count) is an update; health says what is missing', async () => {
      harness = stepHarness(step, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), { ...rule(0, 'sgr-range'), FromPort: 0, ToPort: 65535 }] });

      const live = await step.read(harness.readContext);

      expect(diffFields(step.desired(harness.config, harness.inputs), live!.observed, step.effects)).toEqual([
        {
          field: 'rules',
          from: [{ groupId: GROUP, port: 443, cidr: '0.0.0.0/0' }],
          to: [
            { groupId: GROUP, port: 80, cidr: '0.0.0.0/0' },
            { groupId: GROUP, port: 443, cidr: '0.0.0.0/0' },
          ],
          effect: 'update',
        },
      ]);
      expect(live?.health).toMatchObject({ healthy: false, summary: `443 open to 0.0.0.0/0 on ${GROUP}`, details: { missing: [`tcp/80 from 0.0.0.0/0 on ${GROUP}`] } });
    });

    it('finds nothing when no rule is live', async () => {
      harness = stepHarness(step, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [EGRESS] });

      expect(await step.read(harness.readContext)).toBeUndefined();
    });

    it('health: healthy with both rules in place', async () => {
      harness = stepHarness(step, {
        config: ARTICLE,
        record: record([
          { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-1' },
          { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-2' },
        ]),
      });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), rule(80, 'sgr-2')] });

      expect((await step.read(harness.readContext))?.health).toEqual({
        healthy: true,
        summary: `80, 443 open to 0.0.0.0/0 on ${GROUP}`,
        details: { groupId: GROUP, openPorts: [80, 443] },
      });
    });
  });

  describe('update', () => {
    it('authorizes only the missing rule, and records the one it found', async () => {
      harness = stepHarness(step, { config: ARTICLE });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [EGRESS, rule(443, 'sgr-existing')] });
      const order = recordCalls();
      const want = step.desired(harness.config, harness.inputs);
      const live = (await step.read(harness.readContext))!;

      const output = await step.update!(harness.context, want, live, diffFields(want, live.observed, step.effects));

      expect(order).toEqual([`authorize ${GROUP} 80`]);
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]!.args[0].input).toEqual({
        GroupId: GROUP,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
        TagSpecifications: RULE_TAGS,
      });
      expect(output.rules).toEqual([
        { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: true, ruleId: `sgr-${GROUP}-80` },
        { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-existing' },
      ]);
      expect(harness.state.get('security-group-ingress')).toMatchObject({ created: true, data: output });
    });
  });

  describe('delete', () => {
    const mixed = record([
      { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-ours' },
      { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-theirs' },
    ]);

    it('revokes only the rules authecs added, by rule ID', async () => {
      harness = stepHarness(step, { config: ARTICLE, record: mixed });
      ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

      await step.delete(harness.context);

      expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: GROUP, SecurityGroupRuleIds: ['sgr-ours'] }]);
      expect(harness.state.get<SecurityGroupIngressOutput>('security-group-ingress')?.data.rules).toEqual([{ groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-theirs' }]);
    });

    it('treats a rule that is already gone as revoked', async () => {
      harness = stepHarness(step, { config: ARTICLE, record: mixed });
      ec2.on(RevokeSecurityGroupIngressCommand).rejects(Object.assign(new Error('The specified rule does not exist in this security group'), { name: 'InvalidPermission.NotFound' }));

      await expect(step.delete(harness.context)).resolves.toBeUndefined();
    });

    it('waits out DependencyViolation while network interfaces linger', async () => {
      harness = stepHarness(step, { config: ARTICLE, record: mixed });
      ec2
        .on(RevokeSecurityGroupIngressCommand)
        .rejectsOnce(Object.assign(new Error('resource has a dependent object'), { name: 'DependencyViolation' }))
        .rejectsOnce(Object.assign(new Error('resource has a dependent object'), { name: 'DependencyViolation' }))
        .resolves({ Return: true });

      await step.delete(harness.context);

      expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(3);
    });

    it('passes other errors on', async () => {
      harness = stepHarness(step, { config: ARTICLE, record: mixed });
      ec2.on(RevokeSecurityGroupIngressCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }));

      await expect(step.delete(harness.context)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    });
  });
});

describe('security-group-ingress step, --ingress isolated (the default)', () => {
  let harness: StepHarness<'security-group-ingress'>;
  beforeEach(() => {
    ec2.reset();
  });
  afterEach(() => harness?.cleanup());

  const appRule = (created = true, port = 80): IngressRule => ({ groupId: APP, port, sourceGroupId: ALB, created, ruleId: `sgr-${APP}-${port}` });
  /** What `up` recorded before the ALB group step opened its own ports: 443 and 80 on the ALB group too. */
  const legacyIsolatedRules = (): IngressRule[] => [
    { groupId: ALB, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: `sgr-${ALB}-443` },
    { groupId: ALB, port: 80, cidr: '0.0.0.0/0', created: true, ruleId: `sgr-${ALB}-80` },
    appRule(),
  ];

  it('defaults to isolated, after the network and the ALB group', () => {
    expect(articleConfig().ingressMode).toBe('isolated');
    expect(step.dependsOn).toEqual(['network', 'load-balancer-security-group']);
  });

  describe('desired', () => {
    it('is only the app port on the network group, from the ALB group', () => {
      harness = stepHarness(step);
      expect(step.desired(harness.config, harness.inputs)).toEqual({ rules: [{ groupId: APP, port: 80, sourceGroupId: ALB }] });
      expect(step.desired(articleConfig({ containerPort: 8080 }), harness.inputs).rules[0]?.port).toBe(8080);
    });

    it('names an UNKNOWN source while the ALB group is still to be made', () => {
      harness = stepHarness(step);
      expect(step.desired(harness.config, { ...harness.inputs, 'load-balancer-security-group': UNKNOWN })).toEqual({ rules: [{ groupId: APP, port: 80, sourceGroupId: UNKNOWN }] });
    });
  });

  it('create opens only the app port from the ALB group on the network group: nothing from anywhere, nothing on the ALB group', async () => {
    harness = stepHarness(step);
    liveRules([]);
    const order = recordCalls();

    const output = await step.create(harness.context, step.desired(harness.config, harness.inputs));

    expect(order).toEqual([`authorize ${APP} 80 from ${ALB}`]);
    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]!.args[0].input).toEqual({
      GroupId: APP,
      IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, UserIdGroupPairs: [{ GroupId: ALB }] }],
      TagSpecifications: RULE_TAGS,
    });
    expect(output).toEqual({ groupId: APP, rules: [appRule()] });
    expect(harness.state.get('security-group-ingress')).toMatchObject({ created: true, data: { groupId: APP, rules: [appRule()] } });
  });

  // EC2 Developer Guide, "Eventual consistency in the Amazon EC2 API": InvalidGroup.NotFound right after CreateSecurityGroup.
  it('retries the authorize while the ALB group made a moment ago is InvalidGroup.NotFound (EC2 API Reference, "Eventual consistency")', async () => {
    harness = stepHarness(step);
    liveRules([]);
    const order = recordCalls();
    ec2
      .on(AuthorizeSecurityGroupIngressCommand)
      .rejectsOnce(Object.assign(new Error(`The security group '${ALB}' does not exist`), { name: 'InvalidGroup.NotFound' }))
      .callsFake((input: { GroupId: string; IpPermissions: IpPermission[] }) => {
        order.push(`authorize ${input.GroupId} ${input.IpPermissions[0]!.FromPort!}`);
        return { Return: true, SecurityGroupRules: [fromGroupRule(input.GroupId, 80, ALB, `sgr-${input.GroupId}-80`, OUR_TAGS)] };
      });

    const output = await step.create(harness.context, step.desired(harness.config, harness.inputs));

    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(2);
    expect(output).toEqual({ groupId: APP, rules: [appRule()] });
  });

  it('a rule from another group does not count; on InvalidPermission.Duplicate, adopts the tagged one a killed run added', async () => {
    harness = stepHarness(step);
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({ SecurityGroupRules: [fromGroupRule(APP, 80, 'sg-0ccccccccccccccc1', 'sgr-other-source')] })
      .resolves({ SecurityGroupRules: [fromGroupRule(APP, 80, ALB, 'sgr-killedrun', OUR_TAGS)] });
    ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(duplicate());

    const output = await step.create(harness.context, step.desired(harness.config, harness.inputs));

    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(1);
    expect(output.rules).toEqual([{ groupId: APP, port: 80, sourceGroupId: ALB, created: true, ruleId: 'sgr-killedrun' }]);
  });

  it('--container-port 8080 is an update: 8080 from the ALB group first, then the old port revoked', async () => {
    harness = stepHarness(step, { config: { containerPort: 8080 }, record: record([appRule()]) });
    liveRules([fromGroupRule(APP, 80, ALB, `sgr-${APP}-80`)]);
    const order = recordCalls();
    const want = step.desired(harness.config, harness.inputs);
    const live = (await step.read(harness.readContext))!;
    const changes = diffFields(want, live.observed, step.effects);

    expect(changes).toEqual([
      { field: 'rules', from: [{ groupId: APP, port: 80, sourceGroupId: ALB }], to: [{ groupId: APP, port: 8080, sourceGroupId: ALB }], effect: 'update' },
    ]);
    const output = await step.update!(harness.context, want, live, changes);

    expect(order).toEqual([`authorize ${APP} 8080 from ${ALB}`, `revoke sgr-${APP}-80`]);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)[0]!.args[0].input).toEqual({ GroupId: APP, SecurityGroupRuleIds: [`sgr-${APP}-80`] });
    expect(output.rules).toEqual([appRule(true, 8080)]);
    expect(harness.state.get<SecurityGroupIngressOutput>('security-group-ingress')?.data.rules).toEqual([appRule(true, 8080)]);
  });

  it("switching from --ingress article adds the isolated rule first, then revokes only the article's rule authecs added", async () => {
    harness = stepHarness(step, {
      record: record([
        { groupId: APP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-article-443' },
        { groupId: APP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-article-80' },
      ]),
    });
    liveRules([worldRule(APP, 443, 'sgr-article-443'), worldRule(APP, 80, 'sgr-article-80')]);
    const order = recordCalls();
    const want = step.desired(harness.config, harness.inputs);
    const live = (await step.read(harness.readContext))!;
    const changes = diffFields(want, live.observed, step.effects);

    // The pre-existing 80 rule is someone else's: it is neither wanted nor authecs's to revoke.
    expect(changes).toEqual([
      { field: 'rules', from: [{ groupId: APP, port: 443, cidr: '0.0.0.0/0' }], to: [{ groupId: APP, port: 80, sourceGroupId: ALB }], effect: 'update' },
    ]);
    const output = await step.update!(harness.context, want, live, changes);

    expect(order).toEqual([`authorize ${APP} 80 from ${ALB}`, 'revoke sgr-article-443']);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)[0]!.args[0].input).toEqual({ GroupId: APP, SecurityGroupRuleIds: ['sgr-article-443'] });
    expect(output.rules).toEqual([appRule()]);
    expect(harness.state.get<SecurityGroupIngressOutput>('security-group-ingress')?.data.rules).toEqual([appRule()]);
  });

  it('switching to --ingress article opens 80 and 443 to the world first, then revokes the rule from the ALB group', async () => {
    harness = stepHarness(step, { config: ARTICLE, record: record([appRule()]) });
    liveRules([fromGroupRule(APP, 80, ALB, `sgr-${APP}-80`)]);
    const order = recordCalls();
    const want = step.desired(harness.config, { network: SAMPLE_OUTPUTS.network });
    const live = (await step.read(harness.readContext))!;

    await step.update!(harness.context, want, live, diffFields(want, live.observed, step.effects));

    expect(order).toEqual([`authorize ${APP} 80`, `authorize ${APP} 443`, `revoke sgr-${APP}-80`]);
  });

  it('a record from before the ALB group opened its own ports: those rules are handed over, never reported or revoked here', async () => {
    harness = stepHarness(step, { record: record(legacyIsolatedRules()) });
    liveRules([worldRule(ALB, 443, `sgr-${ALB}-443`), worldRule(ALB, 80, `sgr-${ALB}-80`), fromGroupRule(APP, 80, ALB, `sgr-${APP}-80`)]);
    const order = recordCalls();
    const want = step.desired(harness.config, harness.inputs);

    const live = (await step.read(harness.readContext))!;
    expect(live.output).toEqual({ groupId: APP, rules: [appRule()] });
    expect(diffFields(want, live.observed, step.effects)).toEqual([]);

    // Even an update (after some other change) leaves them alone and drops them from the record.
    await step.update!(harness.context, want, live, []);
    expect(order).toEqual([]);
    expect(harness.state.get<SecurityGroupIngressOutput>('security-group-ingress')?.data.rules).toEqual([appRule()]);
  });

  it('delete revokes only the rules authecs added, each on its own group, then the record is empty', async () => {
    const rules = legacyIsolatedRules();
    rules[1] = { ...rules[1]!, created: false };
    harness = stepHarness(step, { record: record(rules) });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    await step.delete(harness.context);

    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([
      { GroupId: ALB, SecurityGroupRuleIds: [`sgr-${ALB}-443`] },
      { GroupId: APP, SecurityGroupRuleIds: [`sgr-${APP}-80`] },
    ]);
    expect(harness.state.get<SecurityGroupIngressOutput>('security-group-ingress')?.data.rules).toEqual([rules[1]]);
  });

  it('delete of a rule recorded without an ID revokes only a live one carrying our tag', async () => {
    const { ruleId: _dropped, ...withoutId } = appRule();
    harness = stepHarness(step, { record: record([withoutId]) });
    liveRules([fromGroupRule(APP, 80, ALB, 'sgr-tagged', OUR_TAGS)]);
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    await step.delete(harness.context);

    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: APP, SecurityGroupRuleIds: ['sgr-tagged'] }]);
  });

  it('health: healthy with the rule from the ALB group; a missing one is unhealthy', async () => {
    harness = stepHarness(step, { record: record([appRule(), { groupId: APP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-stale' }]) });
    liveRules([fromGroupRule(APP, 80, ALB, `sgr-${APP}-80`)]);

    expect((await step.read(harness.readContext))?.health).toEqual({
      healthy: true,
      summary: `80 from ${ALB} on ${APP}`,
      details: { groupId: APP, openPorts: [], fromGroups: [`80 from ${ALB}`] },
    });

    ec2.reset();
    liveRules([worldRule(APP, 443, 'sgr-stale')]);
    const live = await step.read(harness.readContext);
    expect(live?.health).toMatchObject({ healthy: false, details: { missing: [`tcp/80 from ${ALB} on ${APP}`] } });
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

  it('read takes the group from the top of the record and keeps the created flags', async () => {
    harness = stepHarness(step, { config: ARTICLE, record: legacy });
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), rule(80, 'sgr-2')] });

    const live = await step.read(harness.readContext);

    expect(live?.output.rules).toEqual([
      { groupId: GROUP, port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-2' },
      { groupId: GROUP, port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-1' },
    ]);
  });

  it('delete revokes the rule authecs added on the recorded group', async () => {
    harness = stepHarness(step, { record: legacy });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    await step.delete(harness.context);

    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: GROUP, SecurityGroupRuleIds: ['sgr-1'] }]);
  });
});
