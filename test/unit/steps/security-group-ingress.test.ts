import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngressRule, SecurityGroupIngressOutput } from '../../../src/steps/outputs.js';
import { securityGroupIngressStep } from '../../../src/steps/security-group-ingress.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

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
const duplicate = () => Object.assign(new Error('The specified rule already exists'), { name: 'InvalidPermission.Duplicate' });

function record(rules: IngressRule[], created = true) {
  return { created, complete: true, data: { groupId: GROUP, rules } };
}

describe('security-group-ingress step', () => {
  let harness: StepHarness<'security-group-ingress'>;
  beforeEach(() => {
    ec2.reset();
  });
  afterEach(() => harness?.cleanup());

  describe('create', () => {
    it("authorizes the article's tcp/443 then tcp/80 from 0.0.0.0/0, one call per rule, tagged, recording each rule at once", async () => {
      harness = stepHarness(securityGroupIngressStep);
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
      expect(recordBeforeEachCall[1]).toEqual({ groupId: GROUP, rules: [{ port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-443' }] });
      const expected = {
        groupId: GROUP,
        rules: [
          { port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-443' },
          { port: 80, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-80' },
        ],
      };
      expect(output).toEqual(expected);
      expect(harness.state.get('security-group-ingress')).toMatchObject({ created: true, data: expected });
      expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand)[0]!.args[0].input.Filters).toEqual([{ Name: 'group-id', Values: [GROUP] }]);
    });

    it('on InvalidPermission.Duplicate, adopts a tagged rule as ours and an untagged one as pre-existing', async () => {
      harness = stepHarness(securityGroupIngressStep);
      ec2
        .on(DescribeSecurityGroupRulesCommand)
        .resolvesOnce({ SecurityGroupRules: [EGRESS] })
        .resolves({ SecurityGroupRules: [EGRESS, rule(443, 'sgr-killedrun', OUR_TAGS), rule(80, 'sgr-someone')] });
      ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(duplicate());

      const output = await securityGroupIngressStep.create(harness.context);

      expect(output.rules).toEqual([
        { port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-killedrun' },
        { port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-someone' },
      ]);
      expect(harness.state.get('security-group-ingress')?.created).toBe(true);
    });

    it('adds only the missing rule, and records the existing one as not created', async () => {
      harness = stepHarness(securityGroupIngressStep);
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [EGRESS, rule(443, 'sgr-existing')] });
      ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true, SecurityGroupRules: [rule(80, 'sgr-80', OUR_TAGS)] });

      const output = await securityGroupIngressStep.create(harness.context);

      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(1);
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]!.args[0].input.IpPermissions?.[0]?.FromPort).toBe(80);
      expect(output.rules).toEqual([
        { port: 443, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-existing' },
        { port: 80, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-80' },
      ]);
      expect(harness.state.get('security-group-ingress')?.created).toBe(true);
    });

    it('records created false when both rules already existed, so down keeps them', async () => {
      harness = stepHarness(securityGroupIngressStep);
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(80, 'sgr-a'), rule(443, 'sgr-b')] });

      await securityGroupIngressStep.create(harness.context);

      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
      expect(harness.state.get('security-group-ingress')).toMatchObject({ created: false });
    });
  });

  describe('find', () => {
    it('returns both rules, pre-existing ones as not created, so a second up makes no call', async () => {
      harness = stepHarness(securityGroupIngressStep);
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [EGRESS, rule(443, 'sgr-b'), rule(80, 'sgr-a')] });

      const found = await securityGroupIngressStep.find(harness.context);

      expect(found).toEqual({
        created: false,
        output: {
          groupId: GROUP,
          rules: [
            { port: 443, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-b' },
            { port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-a' },
          ],
        },
      });
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
    });

    it('adopts tagged rules left by a killed run as created', async () => {
      harness = stepHarness(securityGroupIngressStep);
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1', OUR_TAGS), rule(80, 'sgr-2', OUR_TAGS)] });

      const found = await securityGroupIngressStep.find(harness.context);

      expect(found?.created).toBe(true);
      expect(found?.output.rules.every((each) => each.created)).toBe(true);
    });

    it('keeps the recorded created flags of rules it finds by ID', async () => {
      harness = stepHarness(securityGroupIngressStep, {
        record: record([
          { port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-1' },
          { port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-2' },
        ]),
      });
      // Tags can be removed by hand; the record still says which rule authecs added.
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), rule(80, 'sgr-2')] });

      const found = await securityGroupIngressStep.find(harness.context);

      expect(found?.output.rules.map((each) => each.created)).toEqual([true, false]);
    });

    it('is undefined while a rule is missing, or only a wider rule exists', async () => {
      harness = stepHarness(securityGroupIngressStep);
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), { ...rule(0, 'sgr-range'), FromPort: 0, ToPort: 65535 }] });

      expect(await securityGroupIngressStep.find(harness.context)).toBeUndefined();
    });
  });

  describe('delete', () => {
    const mixed = record([
      { port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-ours' },
      { port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-theirs' },
    ]);

    it('revokes only the rules authecs added, by rule ID', async () => {
      harness = stepHarness(securityGroupIngressStep, { record: mixed });
      ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

      await securityGroupIngressStep.delete(harness.context);

      expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: GROUP, SecurityGroupRuleIds: ['sgr-ours'] }]);
      expect(harness.state.get<SecurityGroupIngressOutput>('security-group-ingress')?.data.rules).toEqual([{ port: 80, cidr: '0.0.0.0/0', created: false, ruleId: 'sgr-theirs' }]);
    });

    it('treats a rule that is already gone as revoked', async () => {
      harness = stepHarness(securityGroupIngressStep, { record: mixed });
      ec2.on(RevokeSecurityGroupIngressCommand).rejects(Object.assign(new Error('The specified rule does not exist in this security group'), { name: 'InvalidPermission.NotFound' }));

      await expect(securityGroupIngressStep.delete(harness.context)).resolves.toBeUndefined();
    });

    it('waits out DependencyViolation while network interfaces linger', async () => {
      harness = stepHarness(securityGroupIngressStep, { record: mixed });
      ec2
        .on(RevokeSecurityGroupIngressCommand)
        .rejectsOnce(Object.assign(new Error('resource has a dependent object'), { name: 'DependencyViolation' }))
        .rejectsOnce(Object.assign(new Error('resource has a dependent object'), { name: 'DependencyViolation' }))
        .resolves({ Return: true });

      await securityGroupIngressStep.delete(harness.context);

      expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(3);
    });

    it('passes other errors on', async () => {
      harness = stepHarness(securityGroupIngressStep, { record: mixed });
      ec2.on(RevokeSecurityGroupIngressCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }));

      await expect(securityGroupIngressStep.delete(harness.context)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    });
  });

  describe('inspect', () => {
    const ours = record([
      { port: 443, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-1' },
      { port: 80, cidr: '0.0.0.0/0', created: true, ruleId: 'sgr-2' },
    ]);

    it('is healthy with both rules in place', async () => {
      harness = stepHarness(securityGroupIngressStep, { record: ours });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1'), rule(80, 'sgr-2')] });

      expect(await securityGroupIngressStep.inspect(harness.context)).toMatchObject({ present: true, healthy: true, details: { openPorts: [443, 80] } });
    });

    it('reports drift when a recorded rule is gone', async () => {
      harness = stepHarness(securityGroupIngressStep, { record: ours });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [rule(443, 'sgr-1')] });

      const inspection = await securityGroupIngressStep.inspect(harness.context);

      expect(inspection).toMatchObject({ present: true, healthy: false });
      expect(inspection.drift).toEqual([`ingress tcp/80 from 0.0.0.0/0 on ${GROUP} (sgr-2) is gone`]);
    });
  });
});
