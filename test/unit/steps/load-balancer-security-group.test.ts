import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateSecurityGroupCommand, DeleteSecurityGroupCommand, DescribeSecurityGroupsCommand, EC2Client, type SecurityGroup } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBalancerGroupName, loadBalancerSecurityGroupStep } from '../../../src/steps/load-balancer-security-group.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ec2 = mockClient(EC2Client);
const cloudformation = mockClient(CloudFormationClient);
const VPC = SAMPLE_OUTPUTS.network.vpcId;
const GROUP_ID = 'sg-0aaaaaaaaaaaaaaa1';
const OUR_TAGS = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];
const OUTPUT = { groupId: GROUP_ID, groupName: 'ecsauth-alb', vpcId: VPC };
const RECORD = { created: true, complete: true, data: OUTPUT };
const notFound = () => Object.assign(new Error(`The security group '${GROUP_ID}' does not exist`), { name: 'InvalidGroup.NotFound' });
const inUse = () => Object.assign(new Error('resource sg has a dependent object'), { name: 'DependencyViolation' });

function group(overrides: Partial<SecurityGroup> = {}): SecurityGroup {
  return {
    GroupId: GROUP_ID,
    GroupName: 'ecsauth-alb',
    VpcId: VPC,
    Tags: OUR_TAGS,
    IpPermissions: [
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
      { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
    ],
    ...overrides,
  };
}

describe('load-balancer-security-group step', () => {
  let harness: StepHarness<'load-balancer-security-group'>;
  beforeEach(() => {
    ec2.reset();
    cloudformation.reset();
  });
  afterEach(() => harness?.cleanup());

  it('runs only with --ingress isolated, the default, after the network', () => {
    expect(loadBalancerSecurityGroupStep.enabled?.(articleConfig())).toBe(true);
    expect(loadBalancerSecurityGroupStep.enabled?.(articleConfig({ ingressMode: 'article' }))).toBe(false);
    expect(loadBalancerSecurityGroupStep.dependsOn).toEqual(['network']);
  });

  it('names the group <cluster>-alb, within the 255-character limit and never starting with sg-', () => {
    expect(loadBalancerGroupName('ecsauth')).toBe('ecsauth-alb');
    expect(loadBalancerGroupName('sg-cluster')).toBe('authecs-sg-cluster-alb');
    expect(loadBalancerGroupName('a'.repeat(255))).toHaveLength(255);
  });

  describe('create', () => {
    it('looks by name in the VPC, then creates <cluster>-alb in the VPC, tagged, recording the intent first', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep);
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
      let recordBeforeCreate: unknown;
      ec2.on(CreateSecurityGroupCommand).callsFake(() => {
        recordBeforeCreate = harness.state.get('load-balancer-security-group');
        return { GroupId: GROUP_ID, Tags: OUR_TAGS };
      });

      const output = await loadBalancerSecurityGroupStep.create(harness.context);

      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0]!.args[0].input).toEqual({
        Filters: [
          { Name: 'group-name', Values: ['ecsauth-alb'] },
          { Name: 'vpc-id', Values: [VPC] },
        ],
      });
      expect(ec2.commandCalls(CreateSecurityGroupCommand).map((call) => call.args[0].input)).toEqual([
        {
          GroupName: 'ecsauth-alb',
          Description: 'authecs: load balancer of ecsauth (443 and 80 from anywhere)',
          VpcId: VPC,
          TagSpecifications: [{ ResourceType: 'security-group', Tags: OUR_TAGS }],
        },
      ]);
      expect(recordBeforeCreate).toMatchObject({ created: true, data: { groupName: 'ecsauth-alb', vpcId: VPC } });
      expect(output).toEqual(OUTPUT);
      expect(harness.state.get('load-balancer-security-group')).toMatchObject({ created: true, data: OUTPUT });
    });

    it('adopts the tagged group a killed run created, with no second CreateSecurityGroup', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep);
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group()] });

      const found = await loadBalancerSecurityGroupStep.find(harness.context);
      const output = await loadBalancerSecurityGroupStep.create(harness.context);

      expect(found).toEqual({ created: true, output: OUTPUT });
      expect(output).toEqual(OUTPUT);
      expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
      expect(harness.state.get('load-balancer-security-group')).toMatchObject({ created: true, data: OUTPUT });
    });

    it('finds the recorded group by ID first', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [GROUP_ID] }).resolves({ SecurityGroups: [group({ Tags: [] })] });

      expect(await loadBalancerSecurityGroupStep.find(harness.context)).toEqual({ created: true, output: OUTPUT });
      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(1);
    });

    it('creates a new group when the recorded one was deleted behind its back', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [GROUP_ID] }).rejects(notFound());
      ec2.on(DescribeSecurityGroupsCommand, { Filters: [{ Name: 'group-name', Values: ['ecsauth-alb'] }, { Name: 'vpc-id', Values: [VPC] }] }).resolves({ SecurityGroups: [] });
      ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-0aaaaaaaaaaaaaaa2' });

      expect(await loadBalancerSecurityGroupStep.find(harness.context)).toBeUndefined();
      const output = await loadBalancerSecurityGroupStep.create(harness.context);

      expect(output.groupId).toBe('sg-0aaaaaaaaaaaaaaa2');
      expect(harness.state.get('load-balancer-security-group')?.data).toMatchObject({ groupId: 'sg-0aaaaaaaaaaaaaaa2' });
    });

    it('refuses a same-named group in the VPC that authecs did not create', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep);
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group({ GroupId: 'sg-0ddddddddddddddd1', Tags: [{ Key: 'team', Value: 'other' }] })] });

      await expect(loadBalancerSecurityGroupStep.find(harness.context)).rejects.toMatchObject({ code: 'ALB_SECURITY_GROUP_NAME_TAKEN', exit: 'conflict' });
      const error = await loadBalancerSecurityGroupStep.create(harness.context).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'ALB_SECURITY_GROUP_NAME_TAKEN', exit: 'conflict', resource: 'sg-0ddddddddddddddd1' });
      expect((error as { hint: string }).hint).toMatch(/--cluster/);
      expect((error as { hint: string }).hint).toMatch(/--ingress article/);
      expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    });

    it('on InvalidGroup.Duplicate, adopts a group that appeared with our tag', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep);
      ec2.on(DescribeSecurityGroupsCommand).resolvesOnce({ SecurityGroups: [] }).resolves({ SecurityGroups: [group()] });
      ec2.on(CreateSecurityGroupCommand).rejects(Object.assign(new Error("The security group 'ecsauth-alb' already exists"), { name: 'InvalidGroup.Duplicate' }));

      expect(await loadBalancerSecurityGroupStep.create(harness.context)).toEqual(OUTPUT);
    });
  });

  describe('preflight (read-only)', () => {
    it("checks the name in the network stack's VPC and stops on someone else's group", async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep);
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'ecsplatform', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [{ OutputKey: 'VPC', OutputValue: VPC }] }] });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group({ Tags: [] })] });

      await expect(loadBalancerSecurityGroupStep.preflight!(harness.context)).rejects.toMatchObject({ code: 'ALB_SECURITY_GROUP_NAME_TAKEN', exit: 'conflict' });
      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0]!.args[0].input.Filters).toContainEqual({ Name: 'vpc-id', Values: [VPC] });
      expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    });

    it('uses --vpc when given, and passes for our own group', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { config: { vpcId: 'vpc-0fffffffffffffff1' } });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group({ VpcId: 'vpc-0fffffffffffffff1' })] });

      await expect(loadBalancerSecurityGroupStep.preflight!(harness.context)).resolves.toBeUndefined();
      expect(cloudformation.commandCalls(DescribeStacksCommand)).toHaveLength(0);
      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0]!.args[0].input.Filters).toContainEqual({ Name: 'vpc-id', Values: ['vpc-0fffffffffffffff1'] });
    });

    it('has nothing to check when the network stack does not exist yet (a new VPC holds no one else\'s group)', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { config: { createNetwork: true } });
      cloudformation.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id ecsplatform does not exist'), { name: 'ValidationError' }));

      await expect(loadBalancerSecurityGroupStep.preflight!(harness.context)).resolves.toBeUndefined();
      expect(ec2.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(0);
    });
  });

  describe('delete', () => {
    it('deletes the recorded group, waiting out DependencyViolation while the ALB\'s network interfaces linger', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: RECORD });
      ec2.on(DeleteSecurityGroupCommand).rejectsOnce(inUse()).rejectsOnce(inUse()).rejectsOnce(inUse()).resolves({});
      const started = harness.context.now();

      await loadBalancerSecurityGroupStep.delete(harness.context);

      expect(ec2.commandCalls(DeleteSecurityGroupCommand).map((call) => call.args[0].input)).toEqual(Array(4).fill({ GroupId: GROUP_ID }));
      // Every 15 s of (simulated) AWS time.
      expect((harness.context.now() - started) / 1000).toBe(45);
    });

    it('gives up with a timeout error after --wait-timeout', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: RECORD, config: { waitTimeoutMinutes: 1 } });
      ec2.on(DeleteSecurityGroupCommand).rejects(inUse());

      await expect(loadBalancerSecurityGroupStep.delete(harness.context)).rejects.toMatchObject({ exit: 'timeout', message: expect.stringContaining('DependencyViolation') });
      // At 0, 15, 30, 45 and 60 s: one more wait would pass the 60 s bound.
      expect(ec2.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(5);
    });

    it('treats a group that is already gone as deleted', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: RECORD });
      ec2.on(DeleteSecurityGroupCommand).rejects(notFound());

      await expect(loadBalancerSecurityGroupStep.delete(harness.context)).resolves.toBeUndefined();
    });

    it('after a run killed during CreateSecurityGroup, deletes only a same-named group carrying our tag', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: { created: true, complete: false, data: { groupName: 'ecsauth-alb', vpcId: VPC } } });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group()] });
      ec2.on(DeleteSecurityGroupCommand).resolves({});

      await loadBalancerSecurityGroupStep.delete(harness.context);
      expect(ec2.commandCalls(DeleteSecurityGroupCommand).map((call) => call.args[0].input)).toEqual([{ GroupId: GROUP_ID }]);

      ec2.reset();
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [group({ Tags: [] })] });
      await loadBalancerSecurityGroupStep.delete(harness.context);
      expect(ec2.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
    });

    it('passes other errors on', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: RECORD });
      ec2.on(DeleteSecurityGroupCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }));

      await expect(loadBalancerSecurityGroupStep.delete(harness.context)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    });
  });

  describe('inspect', () => {
    it('is present and healthy with 443 and 80 open to the world', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [GROUP_ID] }).resolves({ SecurityGroups: [group()] });

      const inspection = await loadBalancerSecurityGroupStep.inspect(harness.context);

      expect(inspection).toMatchObject({ present: true, healthy: true, details: { groupId: GROUP_ID } });
      expect(inspection.drift).toBeUndefined();
    });

    it('reports drift when 80 from 0.0.0.0/0 is missing, or only a narrower range is open', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [GROUP_ID] }).resolves({
        SecurityGroups: [
          group({
            IpPermissions: [
              { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
              { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
            ],
          }),
        ],
      });

      const inspection = await loadBalancerSecurityGroupStep.inspect(harness.context);

      expect(inspection).toMatchObject({ present: true, healthy: false });
      expect(inspection.drift).toEqual([`ingress tcp/80 from 0.0.0.0/0 is missing on ${GROUP_ID}`]);
    });

    it('reports a deleted group as missing', async () => {
      harness = stepHarness(loadBalancerSecurityGroupStep, { record: RECORD });
      ec2.on(DescribeSecurityGroupsCommand).rejects(notFound());

      expect(await loadBalancerSecurityGroupStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false, summary: 'missing' });
    });
  });
});
