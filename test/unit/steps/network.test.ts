import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { DescribeAvailabilityZonesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { networkStep, networkTemplatePath, stackRequestToken } from '../../../src/steps/network.js';
import { stepHarness, type StepHarness } from '../../support/step-harness.js';

const cloudformation = mockClient(CloudFormationClient);
const ec2 = mockClient(EC2Client);

const PROJECT_ROOT = join(import.meta.dirname, '..', '..', '..');
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/ecsplatform/1f2e3d4c-0000-1111-2222-333344445555';
const OUTPUTS = {
  VPC: 'vpc-0a1b2c3d4e5f60718',
  PublicSubnet1: 'subnet-0a00000000000001a',
  PublicSubnet2: 'subnet-0a00000000000002a',
  PrivateSubnet1: 'subnet-0b00000000000001b',
  PrivateSubnet2: 'subnet-0b00000000000002b',
  NoIngressSecurityGroup: 'sg-0c1d2e3f405162738',
};
const notExist = () => Object.assign(new Error('Stack with id ecsplatform does not exist'), { name: 'ValidationError' });

function stack(status: string, extra: Partial<Stack> = {}): Stack {
  return {
    StackName: 'ecsplatform',
    StackId: STACK_ID,
    StackStatus: status as Stack['StackStatus'],
    CreationTime: new Date(),
    Outputs: Object.entries(OUTPUTS).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
    ...extra,
  };
}

const ourTags = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];

describe('network step', () => {
  let harness: StepHarness<'network'>;
  beforeEach(() => {
    cloudformation.reset();
    ec2.reset();
  });
  afterEach(() => harness?.cleanup());

  describe('find', () => {
    it("reads the article's six outputs of the ecsplatform stack", async () => {
      harness = stepHarness(networkStep);
      cloudformation.on(DescribeStacksCommand, { StackName: 'ecsplatform' }).resolves({ Stacks: [stack('CREATE_COMPLETE')] });

      const found = await networkStep.find(harness.context);

      expect(found).toEqual({
        created: false,
        output: {
          vpcId: OUTPUTS.VPC,
          publicSubnets: [OUTPUTS.PublicSubnet1, OUTPUTS.PublicSubnet2],
          privateSubnets: [OUTPUTS.PrivateSubnet1, OUTPUTS.PrivateSubnet2],
          securityGroupId: OUTPUTS.NoIngressSecurityGroup,
          source: 'stack',
          stackName: 'ecsplatform',
        },
      });
      expect(cloudformation.commandCalls(CreateStackCommand)).toHaveLength(0);
    });

    it('uses the settings alone, without CloudFormation, when all four are given', async () => {
      harness = stepHarness(networkStep, {
        config: {
          vpcId: 'vpc-0123456789abcdef1',
          publicSubnets: ['subnet-0123456789abcdef1', 'subnet-0123456789abcdef2'],
          privateSubnets: ['subnet-0123456789abcdef3', 'subnet-0123456789abcdef4'],
          securityGroupId: 'sg-0123456789abcdef1',
        },
      });

      const found = await networkStep.find(harness.context);

      expect(found).toEqual({
        created: false,
        output: {
          vpcId: 'vpc-0123456789abcdef1',
          publicSubnets: ['subnet-0123456789abcdef1', 'subnet-0123456789abcdef2'],
          privateSubnets: ['subnet-0123456789abcdef3', 'subnet-0123456789abcdef4'],
          securityGroupId: 'sg-0123456789abcdef1',
          source: 'settings',
        },
      });
      expect(cloudformation.calls()).toHaveLength(0);
    });

    it('lets an individual setting replace its stack output', async () => {
      harness = stepHarness(networkStep, { config: { securityGroupId: 'sg-0fffffffffffffff1', networkStack: 'othernet' } });
      cloudformation.on(DescribeStacksCommand, { StackName: 'othernet' }).resolves({ Stacks: [stack('UPDATE_COMPLETE', { StackName: 'othernet' })] });

      const found = await networkStep.find(harness.context);

      expect(found?.output).toMatchObject({ vpcId: OUTPUTS.VPC, securityGroupId: 'sg-0fffffffffffffff1', source: 'stack', stackName: 'othernet' });
    });

    it('adopts a stack tagged as this stack (a run killed before it recorded the stack) as created', async () => {
      harness = stepHarness(networkStep, { config: { createNetwork: true } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE', { Tags: ourTags })] });

      const found = await networkStep.find(harness.context);

      expect(found).toMatchObject({ created: true, output: { source: 'created-stack', stackId: STACK_ID, stackName: 'ecsplatform' } });
    });

    it('returns nothing while the stack is missing or still being created', async () => {
      harness = stepHarness(networkStep);
      cloudformation.on(DescribeStacksCommand).rejectsOnce(notExist()).resolves({ Stacks: [stack('CREATE_IN_PROGRESS', { Outputs: [] })] });

      expect(await networkStep.find(harness.context)).toBeUndefined();
      expect(await networkStep.find(harness.context)).toBeUndefined();
    });
  });

  describe('create', () => {
    it('refuses to go on without the stack unless --create-network is given, naming the flags', async () => {
      harness = stepHarness(networkStep);
      cloudformation.on(DescribeStacksCommand).rejects(notExist());

      const error = await networkStep.create(harness.context).catch((caught: unknown) => caught);

      expect(error).toMatchObject({ code: 'NETWORK_STACK_MISSING', exit: 'notFound' });
      const hint = (error as { hint: string }).hint;
      for (const flag of ['--create-network', '--vpc', '--public-subnets', '--private-subnets', '--security-group']) expect(hint).toContain(flag);
      expect(cloudformation.commandCalls(CreateStackCommand)).toHaveLength(0);
      expect(harness.state.get('network')).toBeUndefined();
    });

    it('creates the stack from templates/network.yaml in two AZs, tagged, with an intent saved first', async () => {
      harness = stepHarness(networkStep, { config: { createNetwork: true } });
      cloudformation.on(DescribeStacksCommand).rejectsOnce(notExist()).resolves({ Stacks: [stack('CREATE_COMPLETE', { Tags: ourTags })] });
      ec2.on(DescribeAvailabilityZonesCommand).resolves({
        AvailabilityZones: [
          { ZoneName: 'eu-west-1c', State: 'available', ZoneType: 'availability-zone' },
          { ZoneName: 'eu-west-1-lax-1a', State: 'available', ZoneType: 'local-zone' },
          { ZoneName: 'eu-west-1a', State: 'available', ZoneType: 'availability-zone' },
          { ZoneName: 'eu-west-1b', State: 'impaired', ZoneType: 'availability-zone' },
        ],
      });
      let recordAtCreate: unknown;
      cloudformation.on(CreateStackCommand).callsFake(() => {
        recordAtCreate = harness.state.get('network');
        return { StackId: STACK_ID };
      });

      const output = await networkStep.create(harness.context);

      const create = cloudformation.commandCalls(CreateStackCommand)[0]!.args[0].input;
      expect(create.StackName).toBe('ecsplatform');
      expect(create.TemplateBody).toBe(readFileSync(join(PROJECT_ROOT, 'templates', 'network.yaml'), 'utf8'));
      expect(create.Parameters).toEqual([
        { ParameterKey: 'EnvironmentName', ParameterValue: 'ecsplatform' },
        { ParameterKey: 'AZ1', ParameterValue: 'eu-west-1a' },
        { ParameterKey: 'AZ2', ParameterValue: 'eu-west-1c' },
      ]);
      expect(create.Tags).toEqual(ourTags);
      expect(create.ClientRequestToken).toBe('authecs-ecsauth-network');
      expect(recordAtCreate).toMatchObject({ created: true, data: { stackName: 'ecsplatform', source: 'created-stack' } });
      expect(output).toEqual({
        vpcId: OUTPUTS.VPC,
        publicSubnets: [OUTPUTS.PublicSubnet1, OUTPUTS.PublicSubnet2],
        privateSubnets: [OUTPUTS.PrivateSubnet1, OUTPUTS.PrivateSubnet2],
        securityGroupId: OUTPUTS.NoIngressSecurityGroup,
        source: 'created-stack',
        stackName: 'ecsplatform',
        stackId: STACK_ID,
      });
      expect(harness.state.get('network')).toMatchObject({ created: true, data: { source: 'created-stack', stackId: STACK_ID, vpcId: OUTPUTS.VPC } });
      expect(harness.progress.some((line) => line.includes('CREATE_COMPLETE'))).toBe(true);
    });

    it('resumes a creation a killed run started: waits for it and makes no second CreateStack', async () => {
      harness = stepHarness(networkStep, { config: { createNetwork: true }, record: { created: true, complete: false, data: { stackName: 'ecsplatform', source: 'created-stack' } } });
      cloudformation
        .on(DescribeStacksCommand)
        .resolvesOnce({ Stacks: [stack('CREATE_IN_PROGRESS', { Outputs: [] })] })
        .resolvesOnce({ Stacks: [stack('CREATE_IN_PROGRESS', { Outputs: [] })] })
        .resolves({ Stacks: [stack('CREATE_COMPLETE')] });

      const output = await networkStep.create(harness.context);

      expect(cloudformation.commandCalls(CreateStackCommand)).toHaveLength(0);
      expect(output).toMatchObject({ source: 'created-stack', stackId: STACK_ID });
      expect(harness.state.get('network')?.created).toBe(true);
    });

    it('uses an existing stack someone else made even with --create-network, and records it as not created', async () => {
      harness = stepHarness(networkStep, { config: { createNetwork: true } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE', { Tags: [{ Key: 'team', Value: 'platform' }] })] });

      const output = await networkStep.create(harness.context);

      expect(cloudformation.commandCalls(CreateStackCommand)).toHaveLength(0);
      expect(output.source).toBe('stack');
      expect(harness.state.get('network')).toMatchObject({ created: false, data: { source: 'stack' } });
    });

    it('reports the failed resource when the stack rolls back', async () => {
      harness = stepHarness(networkStep, { config: { createNetwork: true } });
      ec2.on(DescribeAvailabilityZonesCommand).resolves({ AvailabilityZones: [{ ZoneName: 'eu-west-1a' }, { ZoneName: 'eu-west-1b' }] });
      cloudformation.on(DescribeStacksCommand).rejectsOnce(notExist()).resolves({ Stacks: [stack('ROLLBACK_COMPLETE', { Outputs: [], Tags: ourTags })] });
      cloudformation.on(CreateStackCommand).resolves({ StackId: STACK_ID });
      cloudformation.on(DescribeStackEventsCommand).resolves({
        StackEvents: [
          { StackId: STACK_ID, EventId: '2', StackName: 'ecsplatform', Timestamp: new Date(), LogicalResourceId: 'ecsplatform', ResourceStatus: 'ROLLBACK_IN_PROGRESS', ResourceStatusReason: 'The following resource(s) failed to create: [NatGateway1EIP].' },
          { StackId: STACK_ID, EventId: '1', StackName: 'ecsplatform', Timestamp: new Date(), LogicalResourceId: 'NatGateway1EIP', ResourceStatus: 'CREATE_FAILED', ResourceStatusReason: 'The maximum number of addresses has been reached.' },
        ],
      });

      await expect(networkStep.create(harness.context)).rejects.toMatchObject({
        code: 'NETWORK_STACK_FAILED',
        exit: 'aws',
        message: expect.stringContaining('NatGateway1EIP: The maximum number of addresses has been reached.'),
      });
      // The intent stays, so `down` can delete the rolled-back stack.
      expect(harness.state.get('network')).toMatchObject({ created: true, data: { stackId: STACK_ID } });
    });

    it('names the missing output of a stack that is not the article\'s', async () => {
      harness = stepHarness(networkStep);
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE', { Outputs: [{ OutputKey: 'VPC', OutputValue: OUTPUTS.VPC }] })] });

      await expect(networkStep.create(harness.context)).rejects.toMatchObject({ code: 'NETWORK_STACK_OUTPUT_MISSING', message: expect.stringContaining('PublicSubnet1') });
    });
  });

  describe('delete', () => {
    const created = { created: true, complete: true, data: { vpcId: OUTPUTS.VPC, source: 'created-stack' as const, stackName: 'ecsplatform', stackId: STACK_ID } };

    it('deletes a stack authecs created and waits for DELETE_COMPLETE', async () => {
      harness = stepHarness(networkStep, { record: created });
      cloudformation
        .on(DescribeStacksCommand)
        .resolvesOnce({ Stacks: [stack('CREATE_COMPLETE')] })
        .resolvesOnce({ Stacks: [stack('DELETE_IN_PROGRESS')] })
        .resolves({ Stacks: [stack('DELETE_COMPLETE')] });
      cloudformation.on(DeleteStackCommand).resolves({});

      await networkStep.delete(harness.context);

      expect(cloudformation.commandCalls(DeleteStackCommand)[0]!.args[0].input).toEqual({ StackName: STACK_ID });
      expect(cloudformation.commandCalls(DescribeStacksCommand).length).toBeGreaterThanOrEqual(3);
      expect(harness.progress).toContain('waiting for CloudFormation stack ecsplatform to be deleted');
    });

    it('treats a stack that is already gone as deleted', async () => {
      harness = stepHarness(networkStep, { record: created });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('DELETE_COMPLETE')] });

      await networkStep.delete(harness.context);

      expect(cloudformation.commandCalls(DeleteStackCommand)).toHaveLength(0);
    });

    it('never deletes a stack it only read', async () => {
      harness = stepHarness(networkStep, { record: { created: false, complete: true, data: { vpcId: OUTPUTS.VPC, source: 'stack', stackName: 'ecsplatform' } } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE')] });

      await networkStep.delete(harness.context);

      expect(cloudformation.calls()).toHaveLength(0);
    });

    it('accepts a failed DeleteStack call when the stack is gone anyway (as moto does)', async () => {
      harness = stepHarness(networkStep, { record: created });
      cloudformation.on(DescribeStacksCommand).resolvesOnce({ Stacks: [stack('CREATE_COMPLETE')] }).rejects(notExist());
      cloudformation.on(DeleteStackCommand).rejects(Object.assign(new Error('The vpc has dependencies and cannot be deleted.'), { name: 'DependencyViolation' }));

      await networkStep.delete(harness.context);

      expect(harness.progress.some((line) => line.includes('DependencyViolation'))).toBe(true);
    });

    it('reports DELETE_FAILED with its reason', async () => {
      harness = stepHarness(networkStep, { record: created });
      cloudformation
        .on(DescribeStacksCommand)
        .resolvesOnce({ Stacks: [stack('CREATE_COMPLETE')] })
        .resolves({ Stacks: [stack('DELETE_FAILED', { StackStatusReason: 'The following resource(s) failed to delete: [NoIngressSecurityGroup].' })] });
      cloudformation.on(DeleteStackCommand).resolves({});
      cloudformation.on(DescribeStackEventsCommand).resolves({ StackEvents: [] });

      await expect(networkStep.delete(harness.context)).rejects.toMatchObject({
        code: 'NETWORK_STACK_DELETE_FAILED',
        exit: 'aws',
        message: expect.stringContaining('NoIngressSecurityGroup'),
      });
    });
  });

  describe('inspect', () => {
    const recorded = {
      created: false,
      complete: true,
      data: {
        vpcId: OUTPUTS.VPC,
        publicSubnets: [OUTPUTS.PublicSubnet1, OUTPUTS.PublicSubnet2],
        privateSubnets: [OUTPUTS.PrivateSubnet1, OUTPUTS.PrivateSubnet2],
        securityGroupId: OUTPUTS.NoIngressSecurityGroup,
        source: 'stack' as const,
        stackName: 'ecsplatform',
      },
    };

    it('reports the VPC and the stack it came from', async () => {
      harness = stepHarness(networkStep, { record: recorded });
      ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: OUTPUTS.VPC, State: 'available' }] });
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [OUTPUTS.PublicSubnet1, OUTPUTS.PublicSubnet2, OUTPUTS.PrivateSubnet1, OUTPUTS.PrivateSubnet2].map((SubnetId) => ({ SubnetId })) });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: OUTPUTS.NoIngressSecurityGroup }] });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE')] });

      const inspection = await networkStep.inspect(harness.context);

      expect(inspection).toMatchObject({ present: true, healthy: true, summary: `${OUTPUTS.VPC} (from stack ecsplatform)` });
      expect(inspection.drift).toBeUndefined();
      expect(ec2.commandCalls(DescribeVpcsCommand)[0]!.args[0].input).toEqual({ Filters: [{ Name: 'vpc-id', Values: [OUTPUTS.VPC] }] });
    });

    it('reports a missing VPC', async () => {
      harness = stepHarness(networkStep, { record: recorded });
      ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [] });

      expect(await networkStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
    });

    it('reports drift when the stack or a subnet is gone', async () => {
      harness = stepHarness(networkStep, { record: recorded });
      ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: OUTPUTS.VPC, State: 'available' }] });
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [OUTPUTS.PublicSubnet1, OUTPUTS.PrivateSubnet1, OUTPUTS.PrivateSubnet2].map((SubnetId) => ({ SubnetId })) });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: OUTPUTS.NoIngressSecurityGroup }] });
      cloudformation.on(DescribeStacksCommand).rejects(notExist());

      const inspection = await networkStep.inspect(harness.context);

      expect(inspection.present).toBe(true);
      expect(inspection.healthy).toBe(false);
      expect(inspection.drift).toEqual([`subnet ${OUTPUTS.PublicSubnet2} no longer exists`, 'CloudFormation stack ecsplatform no longer exists']);
    });
  });

  describe('template', () => {
    it('is found at the package root from both the source and the compiled file', () => {
      const expected = join(PROJECT_ROOT, 'templates', 'network.yaml');
      expect(networkTemplatePath()).toBe(expected);
      expect(networkTemplatePath(pathToFileURL(join(PROJECT_ROOT, 'dist', 'steps', 'network.js')).href)).toBe(expected);
    });

    it("matches the article's codebuild-vpc-cfn.yaml: parameters, resources and the six outputs", () => {
      const template = readFileSync(join(PROJECT_ROOT, 'templates', 'network.yaml'), 'utf8');
      expect(template).toMatch(/^ {2}EnvironmentName:\n(?: {4}.*\n)*? {4}Default: ecsplatform$/m);
      expect(template).toMatch(/^ {2}AZ1:\n(?: {4}.*\n)*? {4}Type: AWS::EC2::AvailabilityZone::Name$/m);
      expect(template).toMatch(/^ {2}AZ2:\n(?: {4}.*\n)*? {4}Type: AWS::EC2::AvailabilityZone::Name$/m);
      expect(template).toContain('Default: 10.192.0.0/16');
      expect(template).not.toMatch(/!GetAZs|Fn::GetAZs/);
      const count = (type: string) => template.split(`Type: AWS::EC2::${type}\n`).length - 1;
      expect(count('VPC')).toBe(1);
      expect(count('InternetGateway')).toBe(1);
      expect(count('Subnet')).toBe(4);
      expect(count('EIP')).toBe(2);
      expect(count('NatGateway')).toBe(2);
      expect(count('RouteTable')).toBe(3);
      expect(count('SecurityGroup')).toBe(1);
      expect(template).not.toMatch(/SecurityGroupIngress/);
      const outputs = template.slice(template.indexOf('\nOutputs:'));
      for (const key of ['VPC', 'PublicSubnet1', 'PublicSubnet2', 'PrivateSubnet1', 'PrivateSubnet2', 'NoIngressSecurityGroup']) {
        expect(outputs).toMatch(new RegExp(`^ {2}${key}:\\n(?: {4}.*\\n)*? {4}Value: !Ref ${key}$`, 'm'));
      }
    });

    it('derives a CreateStack token CloudFormation accepts', () => {
      expect(stackRequestToken('ecsauth')).toBe('authecs-ecsauth-network');
      expect(stackRequestToken('my_cluster')).toMatch(/^[a-zA-Z][-a-zA-Z0-9]*$/);
      expect(stackRequestToken('x'.repeat(200))).toHaveLength(128);
    });
  });
});
