import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBalancerGroupName, loadBalancerSecurityGroupStep as step } from '../../../src/steps/load-balancer-security-group.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ec2 = mockClient(EC2Client);
const cloudformation = mockClient(CloudFormationClient);
const VPC = SAMPLE_OUTPUTS.network.vpcId;
const OTHER_VPC = 'vpc-0fffffffffffffff1';
const GROUP_ID = 'sg-0aaaaaaaaaaaaaaa1';
const OUR_TAGS = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];
const RULE_TAGS = [{ ResourceType: 'security-group-rule', Tags: OUR_TAGS }];
const OUTPUT = { groupName: 'ecsauth-alb', vpcId: VPC, groupId: GROUP_ID };
const RECORD = { created: true, complete: true, data: OUTPUT };
const notFound = () => Object.assign(new Error(`The security group '${GROUP_ID}' does not exist`), { name: 'InvalidGroup.NotFound' });
const inUse = () => Object.assign(new Error('resource sg has a dependent object'), { name: 'DependencyViolation' });
const world = (port: number) => ({ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '0.0.0.0/0' }] });

function group(overrides: Partial<SecurityGroup> = {}): SecurityGroup {
  return { GroupId: GROUP_ID, GroupName: 'ecsauth-alb', VpcId: VPC, Tags: OUR_TAGS, IpPermissions: [world(443), world(80)], ...overrides };
}

describe('load-balancer-security-group step', () => {
  let harness: StepHarness<'load-balancer-security-group'>;
  beforeEach(() => {
    ec2.reset();
    cloudformation.reset();
  });
  afterEach(() => harness?.cleanup());

  it('runs only with --ingress isolated, the default, after the network', () => {
    expect(step.enabled?.(articleConfig())).toBe(true);
    expect(step.enabled?.(articleConfig({ ingressMode: 'article' }))).toBe(false);
    expect(step.dependsOn).toEqual(['network']);
  });

  it('names the group <cluster>-alb, within the 255-character limit and never starting with sg-', () => {
    expect(loadBalancerGroupName('ecsauth')).toBe('ecsauth-alb');
    expect(loadBalancerGroupName('sg-cluster')).toBe('authecs-sg-cluster-alb');
    expect(loadBalancerGroupName('a'.repeat(255))).toHaveLength(255);
  });

  describe('desired', () => {
    it('wants <cluster>-alb in the network\'s VPC, open on 80 and 443', () => {
      harness = stepHarness(step);
      expect(step.desired(harness.config, harness.inputs)).toEqual({ groupName: 'ecsauth-alb', vpcId: VPC, ingressPorts: [80, 443] });
    });

    it('opens only 443 with --no-http-redirect: nothing listens on 80', () => {
      expect(step.desired(articleConfig({ httpRedirect: false }), { network: SAMPLE_OUTPUTS.network }).ingressPorts).toEqual([443]);
    });

    it('has an UNKNOWN VPC while the network is still to be made', () => {
      harness = stepHarness(step);
      expect(step.desired(harness.config, { ...harness.inputs, network: UNKNOWN }).vpcId).toBe(UNKNOWN);
    });
  });

  describe('read (never writes)', () => {
    it('adopts the tagged group a killed run created, by name in the network\'s VPC, with its open ports', async () => {
      harness = stepHarness(step);
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group()] });

      const live = await step.read(harness.readContext);

      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0]!.args[0].input).toEqual({
        Filters: [
          { Name: 'group-name', Values: ['ecsauth-alb'] },
          { Name: 'vpc-id', Values: [VPC] },
        ],
      });
      expect(live).toMatchObject({ created: true, output: OUTPUT, observed: { groupName: 'ecsauth-alb', vpcId: VPC, ingressPorts: [80, 443] } });
      expect(diffFields(step.desired(harness.config, harness.inputs), live!.observed, step.effects)).toEqual([]);
      expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
      expect(harness.state.get('load-balancer-security-group')).toBeUndefined();
    });

    it('finds the recorded group by ID first, even with its tags stripped', async () => {
      harness = stepHarness(step, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [GROUP_ID] }).resolves({ SecurityGroups: [group({ Tags: [] })] });

      expect(await step.read(harness.readContext)).toMatchObject({ created: true, output: OUTPUT });
      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(1);
    });

    it('finds nothing when the recorded group was deleted behind its back', async () => {
      harness = stepHarness(step, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [GROUP_ID] }).rejects(notFound());
      ec2.on(DescribeSecurityGroupsCommand, { Filters: [{ Name: 'group-name', Values: ['ecsauth-alb'] }, { Name: 'vpc-id', Values: [VPC] }] }).resolves({ SecurityGroups: [] });

      expect(await step.read(harness.readContext)).toBeUndefined();
    });

    it('has nowhere to look before the network exists', async () => {
      harness = stepHarness(step);
      harness.state.remove('network');

      expect(await step.read(harness.readContext)).toBeUndefined();
      expect(ec2.calls()).toHaveLength(0);
    });

    it('refuses a same-named group in the VPC that authecs did not create', async () => {
      harness = stepHarness(step);
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group({ GroupId: 'sg-0ddddddddddddddd1', Tags: [{ Key: 'team', Value: 'other' }] })] });

      const error = await step.read(harness.readContext).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'ALB_SECURITY_GROUP_NAME_TAKEN', exit: 'conflict', resource: 'sg-0ddddddddddddddd1' });
      expect((error as { hint: string }).hint).toMatch(/--cluster/);
      expect((error as { hint: string }).hint).toMatch(/--ingress article/);
      await expect(step.create(harness.context, step.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'ALB_SECURITY_GROUP_NAME_TAKEN' });
      expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    });

    it('health: healthy with the wanted ports open; 80 missing (or only a narrower range) is unhealthy', async () => {
      harness = stepHarness(step, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [GROUP_ID] }).resolvesOnce({ SecurityGroups: [group()] }).resolves({
        SecurityGroups: [group({ IpPermissions: [world(443), { ...world(80), IpRanges: [{ CidrIp: '10.0.0.0/8' }] }] })],
      });

      expect((await step.read(harness.readContext))?.health).toEqual({
        healthy: true,
        summary: `ecsauth-alb (${GROUP_ID})`,
        details: { groupId: GROUP_ID, vpcId: VPC, openPorts: [80, 443] },
      });
      const drifted = await step.read(harness.readContext);
      expect(drifted?.health).toMatchObject({ healthy: false, summary: `ecsauth-alb (${GROUP_ID}), 80 not open` });
      expect(drifted?.observed.ingressPorts).toEqual([443]);
    });
  });

  describe('diff', () => {
    it('--no-http-redirect on a live group with 80 open: update ingressPorts', async () => {
      harness = stepHarness(step, { record: RECORD, config: { httpRedirect: false } });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group()] });

      const live = await step.read(harness.readContext);

      expect(diffFields(step.desired(harness.config, harness.inputs), live!.observed, step.effects)).toEqual([
        { field: 'ingressPorts', from: [80, 443], to: [443], effect: 'update' },
      ]);
    });

    it('a network in another VPC replaces the group', async () => {
      harness = stepHarness(step, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group()] });

      const live = await step.read(harness.readContext);
      const want = step.desired(harness.config, { network: { ...SAMPLE_OUTPUTS.network, vpcId: OTHER_VPC } });

      expect(diffFields(want, live!.observed, step.effects)).toEqual([{ field: 'vpcId', from: VPC, to: OTHER_VPC, effect: 'replace' }]);
      expect(diffFields(step.desired(harness.config, { network: UNKNOWN }), live!.observed, step.effects)).toEqual([{ field: 'vpcId', from: VPC, to: UNKNOWN, effect: 'replace' }]);
    });
  });

  describe('create', () => {
    it('creates <cluster>-alb in the VPC, tagged, recording the intent first, then opens 80 and 443 to the world, one tagged call each', async () => {
      harness = stepHarness(step);
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
      let recordBeforeCreate: unknown;
      let recordBeforeAuthorize: unknown;
      ec2.on(CreateSecurityGroupCommand).callsFake(() => {
        recordBeforeCreate = harness.state.get('load-balancer-security-group');
        return { GroupId: GROUP_ID, Tags: OUR_TAGS };
      });
      ec2.on(AuthorizeSecurityGroupIngressCommand).callsFake(() => {
        recordBeforeAuthorize ??= harness.state.get('load-balancer-security-group');
        return { Return: true };
      });

      const output = await step.create(harness.context, step.desired(harness.config, harness.inputs));

      expect(ec2.commandCalls(CreateSecurityGroupCommand).map((call) => call.args[0].input)).toEqual([
        { GroupName: 'ecsauth-alb', Description: 'authecs: load balancer of ecsauth', VpcId: VPC, TagSpecifications: [{ ResourceType: 'security-group', Tags: OUR_TAGS }] },
      ]);
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([
        { GroupId: GROUP_ID, IpPermissions: [world(80)], TagSpecifications: RULE_TAGS },
        { GroupId: GROUP_ID, IpPermissions: [world(443)], TagSpecifications: RULE_TAGS },
      ]);
      expect(recordBeforeCreate).toMatchObject({ created: true, data: { groupName: 'ecsauth-alb', vpcId: VPC } });
      // The group ID was on disk before its rules were added.
      expect(recordBeforeAuthorize).toMatchObject({ created: true, data: OUTPUT });
      expect(output).toEqual(OUTPUT);
      expect(harness.state.get('load-balancer-security-group')).toMatchObject({ created: true, data: OUTPUT });
    });

    it('with --no-http-redirect opens only 443', async () => {
      harness = stepHarness(step, { config: { httpRedirect: false } });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
      ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: GROUP_ID });
      ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });

      await step.create(harness.context, step.desired(harness.config, harness.inputs));

      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input.IpPermissions)).toEqual([[world(443)]]);
    });

    it('retries briefly while the new group is not yet visible (EC2 eventual consistency), and takes an existing rule as done', async () => {
      harness = stepHarness(step);
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
      ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: GROUP_ID });
      ec2
        .on(AuthorizeSecurityGroupIngressCommand)
        .rejectsOnce(notFound())
        .rejectsOnce(Object.assign(new Error('the specified rule already exists'), { name: 'InvalidPermission.Duplicate' }))
        .resolves({ Return: true });

      await step.create(harness.context, step.desired(harness.config, harness.inputs));

      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input.IpPermissions?.[0]?.FromPort)).toEqual([80, 80, 443]);
    });

    it('on InvalidGroup.Duplicate, adopts a group that appeared with our tag, opening only what is missing', async () => {
      harness = stepHarness(step);
      ec2.on(DescribeSecurityGroupsCommand).resolvesOnce({ SecurityGroups: [] }).resolves({ SecurityGroups: [group({ IpPermissions: [world(443)] })] });
      ec2.on(CreateSecurityGroupCommand).rejects(Object.assign(new Error("The security group 'ecsauth-alb' already exists"), { name: 'InvalidGroup.Duplicate' }));
      ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });

      expect(await step.create(harness.context, step.desired(harness.config, harness.inputs))).toEqual(OUTPUT);
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input.IpPermissions)).toEqual([[world(80)]]);
    });
  });

  describe('update', () => {
    it('--no-http-redirect revokes 80 from the world, and nothing else', async () => {
      harness = stepHarness(step, { record: RECORD, config: { httpRedirect: false } });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group()] });
      ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
      const want = step.desired(harness.config, harness.inputs);
      const live = (await step.read(harness.readContext))!;

      const output = await step.update!(harness.context, want, live, diffFields(want, live.observed, step.effects));

      expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: GROUP_ID, IpPermissions: [world(80)] }]);
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
      expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
      expect(output).toEqual(OUTPUT);
    });

    it('turning the redirect back on authorizes 80 again, and nothing else', async () => {
      harness = stepHarness(step, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group({ IpPermissions: [world(443)] })] });
      ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });
      const want = step.desired(harness.config, harness.inputs);
      const live = (await step.read(harness.readContext))!;

      await step.update!(harness.context, want, live, diffFields(want, live.observed, step.effects));

      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: GROUP_ID, IpPermissions: [world(80)], TagSpecifications: RULE_TAGS }]);
      expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
      expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    });
  });

  describe('replace', () => {
    it('makes the group in the new VPC first, then retires the old one for deletion after the run', async () => {
      harness = stepHarness(step, { record: RECORD, outputs: { network: { ...SAMPLE_OUTPUTS.network, vpcId: OTHER_VPC } } });
      ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [GROUP_ID] }).resolves({ SecurityGroups: [group()] });
      ec2.on(DescribeSecurityGroupsCommand, { Filters: [{ Name: 'group-name', Values: ['ecsauth-alb'] }, { Name: 'vpc-id', Values: [OTHER_VPC] }] }).resolves({ SecurityGroups: [] });
      ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-0aaaaaaaaaaaaaaa2' });
      ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });
      const want = step.desired(harness.config, harness.inputs);
      const live = (await step.read(harness.readContext))!;

      const output = await step.replace!(harness.context, want, live, diffFields(want, live.observed, step.effects));

      expect(ec2.commandCalls(CreateSecurityGroupCommand)[0]!.args[0].input).toMatchObject({ GroupName: 'ecsauth-alb', VpcId: OTHER_VPC });
      expect(ec2.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
      expect(output).toEqual({ groupName: 'ecsauth-alb', vpcId: OTHER_VPC, groupId: 'sg-0aaaaaaaaaaaaaaa2' });
      expect(harness.state.get('load-balancer-security-group')).toMatchObject({ data: output, retired: [OUTPUT] });
    });
  });

  describe('preflight (read-only)', () => {
    it("checks the name in the network stack's VPC and stops on someone else's group", async () => {
      harness = stepHarness(step);
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'ecsplatform', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [{ OutputKey: 'VPC', OutputValue: VPC }] }] });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group({ Tags: [] })] });

      await expect(step.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'ALB_SECURITY_GROUP_NAME_TAKEN', exit: 'conflict' });
      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0]!.args[0].input.Filters).toContainEqual({ Name: 'vpc-id', Values: [VPC] });
      expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    });

    it('uses --vpc when given, and passes for our own group', async () => {
      harness = stepHarness(step, { config: { vpcId: OTHER_VPC } });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group({ VpcId: OTHER_VPC })] });

      await expect(step.preflight!(harness.readContext)).resolves.toBeUndefined();
      expect(cloudformation.commandCalls(DescribeStacksCommand)).toHaveLength(0);
      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0]!.args[0].input.Filters).toContainEqual({ Name: 'vpc-id', Values: [OTHER_VPC] });
    });

    it("has nothing to check when the network stack does not exist yet (a new VPC holds no one else's group)", async () => {
      harness = stepHarness(step, { config: { createNetwork: true } });
      cloudformation.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id ecsplatform does not exist'), { name: 'ValidationError' }));

      await expect(step.preflight!(harness.readContext)).resolves.toBeUndefined();
      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(0);
    });
  });

  describe('delete', () => {
    it("deletes the recorded group, waiting out DependencyViolation while the ALB's network interfaces linger", async () => {
      harness = stepHarness(step, { record: RECORD });
      ec2.on(DeleteSecurityGroupCommand).rejectsOnce(inUse()).rejectsOnce(inUse()).rejectsOnce(inUse()).resolves({});
      const started = harness.context.now();

      await step.delete(harness.context);

      expect(ec2.commandCalls(DeleteSecurityGroupCommand).map((call) => call.args[0].input)).toEqual(Array(4).fill({ GroupId: GROUP_ID }));
      // Every 15 s of (simulated) AWS time.
      expect((harness.context.now() - started) / 1000).toBe(45);
    });

    it('gives up with a timeout error after --wait-timeout', async () => {
      harness = stepHarness(step, { record: RECORD, config: { waitTimeoutMinutes: 1 } });
      ec2.on(DeleteSecurityGroupCommand).rejects(inUse());

      await expect(step.delete(harness.context)).rejects.toMatchObject({ exit: 'timeout', message: expect.stringContaining('DependencyViolation') });
      // At 0, 15, 30, 45 and 60 s: one more wait would pass the 60 s bound.
      expect(ec2.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(5);
    });

    it('treats a group that is already gone as deleted', async () => {
      harness = stepHarness(step, { record: RECORD });
      ec2.on(DeleteSecurityGroupCommand).rejects(notFound());

      await expect(step.delete(harness.context)).resolves.toBeUndefined();
    });

    it('after a run killed during CreateSecurityGroup, deletes only a same-named group carrying our tag', async () => {
      harness = stepHarness(step, { record: { created: true, complete: false, data: { groupName: 'ecsauth-alb', vpcId: VPC } } });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group()] });
      ec2.on(DeleteSecurityGroupCommand).resolves({});

      await step.delete(harness.context);
      expect(ec2.commandCalls(DeleteSecurityGroupCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: GROUP_ID }]);

      ec2.reset();
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group({ Tags: [] })] });
      await step.delete(harness.context);
      expect(ec2.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
    });

    it('passes other errors on', async () => {
      harness = stepHarness(step, { record: RECORD });
      ec2.on(DeleteSecurityGroupCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }));

      await expect(step.delete(harness.context)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    });
  });
});
