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
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { networkStep as step, networkTemplatePath, stackRequestToken } from '../../../src/steps/network.js';
import type { NetworkOutput } from '../../../src/steps/outputs.js';
import { diffFields } from '../../../src/steps/resource.js';
import { articleConfig, stepHarness, type StepHarness } from '../../support/step-harness.js';

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
const SETTINGS = {
  vpcId: 'vpc-0123456789abcdef1',
  publicSubnets: ['subnet-0123456789abcdef2', 'subnet-0123456789abcdef1'],
  privateSubnets: ['subnet-0123456789abcdef3', 'subnet-0123456789abcdef4'],
  securityGroupId: 'sg-0123456789abcdef1',
};
const FROM_STACK: NetworkOutput = {
  vpcId: OUTPUTS.VPC,
  publicSubnets: [OUTPUTS.PublicSubnet1, OUTPUTS.PublicSubnet2],
  privateSubnets: [OUTPUTS.PrivateSubnet1, OUTPUTS.PrivateSubnet2],
  securityGroupId: OUTPUTS.NoIngressSecurityGroup,
  source: 'stack',
  stackName: 'ecsplatform',
};
const CREATED_STACK: NetworkOutput = { ...FROM_STACK, source: 'created-stack', stackId: STACK_ID };
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

/** Every VPC, subnet and group asked about exists, as health expects. */
function networkExists(): void {
  ec2.on(DescribeVpcsCommand).callsFake((input: { Filters: { Values: string[] }[] }) => ({ Vpcs: [{ VpcId: input.Filters[0]!.Values[0], State: 'available' }] }));
  ec2.on(DescribeSubnetsCommand).callsFake((input: { Filters: { Values: string[] }[] }) => ({ Subnets: input.Filters[0]!.Values.map((SubnetId) => ({ SubnetId })) }));
  ec2.on(DescribeSecurityGroupsCommand).callsFake((input: { Filters: { Values: string[] }[] }) => ({ SecurityGroups: [{ GroupId: input.Filters[0]!.Values[0] }] }));
}

function recorded(data: NetworkOutput) {
  return { created: data.source === 'created-stack', complete: true, data };
}

describe('network step', () => {
  let harness: StepHarness<'network'>;
  beforeEach(() => {
    cloudformation.reset();
    ec2.reset();
    // Defaults: t3.small offered in every zone, no network interface left in the VPC.
    ec2.on(DescribeInstanceTypeOfferingsCommand).resolves({ InstanceTypeOfferings: ['euw1-az1', 'euw1-az2', 'euw1-az3', 'eu-west-1a', 'eu-west-1b'].map((Location) => ({ InstanceType: 't3.small', LocationType: 'availability-zone-id', Location })) });
    ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] });
  });
  afterEach(() => harness?.cleanup());

  describe('desired', () => {
    it('is the ecsplatform stack, every ID from its outputs', () => {
      expect(step.desired(articleConfig(), {})).toEqual({
        networkStack: 'ecsplatform',
        createNetwork: false,
        vpcId: null,
        publicSubnets: null,
        privateSubnets: null,
        securityGroupId: null,
      });
    });

    it('with all four settings needs no stack, and sorts the subnets', () => {
      expect(step.desired(articleConfig({ ...SETTINGS, createNetwork: true }), {})).toEqual({
        networkStack: null,
        createNetwork: true,
        vpcId: SETTINGS.vpcId,
        publicSubnets: [...SETTINGS.publicSubnets].sort(),
        privateSubnets: SETTINGS.privateSubnets,
        securityGroupId: SETTINGS.securityGroupId,
      });
    });

    it('keeps the stack for the IDs a partial set of settings leaves out', () => {
      expect(step.desired(articleConfig({ securityGroupId: 'sg-0fffffffffffffff1', networkStack: 'othernet' }), {})).toMatchObject({ networkStack: 'othernet', vpcId: null, securityGroupId: 'sg-0fffffffffffffff1' });
    });
  });

  describe('read (never writes)', () => {
    it("reads the article's six outputs of the ecsplatform stack: found, not created, nothing to change", async () => {
      harness = stepHarness(step);
      cloudformation.on(DescribeStacksCommand, { StackName: 'ecsplatform' }).resolves({ Stacks: [stack('CREATE_COMPLETE')] });
      networkExists();

      const live = await step.read(harness.readContext);

      expect(live).toMatchObject({ created: false, output: FROM_STACK });
      expect(diffFields(step.desired(harness.config, {}), live!.observed, step.effects)).toEqual([]);
      expect(cloudformation.commandCalls(CreateStackCommand)).toHaveLength(0);
      expect(harness.state.get('network')).toBeUndefined();
    });

    it('uses the settings alone, without CloudFormation, when all four are given', async () => {
      harness = stepHarness(step, { config: SETTINGS });
      networkExists();

      const live = await step.read(harness.readContext);

      expect(live).toMatchObject({
        created: false,
        output: { vpcId: SETTINGS.vpcId, publicSubnets: [...SETTINGS.publicSubnets].sort(), privateSubnets: SETTINGS.privateSubnets, securityGroupId: SETTINGS.securityGroupId, source: 'settings' },
      });
      expect(diffFields(step.desired(harness.config, {}), live!.observed, step.effects)).toEqual([]);
      expect(cloudformation.calls()).toHaveLength(0);
    });

    it('lets an individual setting replace its stack output', async () => {
      harness = stepHarness(step, { config: { securityGroupId: 'sg-0fffffffffffffff1', networkStack: 'othernet' } });
      cloudformation.on(DescribeStacksCommand, { StackName: 'othernet' }).resolves({ Stacks: [stack('UPDATE_COMPLETE', { StackName: 'othernet' })] });
      networkExists();

      const live = await step.read(harness.readContext);

      expect(live?.output).toMatchObject({ vpcId: OUTPUTS.VPC, securityGroupId: 'sg-0fffffffffffffff1', source: 'stack', stackName: 'othernet' });
      expect(diffFields(step.desired(harness.config, {}), live!.observed, step.effects)).toEqual([]);
    });

    it('adopts a stack tagged as this stack (a run killed before it recorded the stack) as created', async () => {
      harness = stepHarness(step, { config: { createNetwork: true } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE', { Tags: ourTags })] });
      networkExists();

      expect(await step.read(harness.readContext)).toMatchObject({ created: true, output: { source: 'created-stack', stackId: STACK_ID, stackName: 'ecsplatform' } });
    });

    it('finds nothing while the stack is missing or still being created', async () => {
      harness = stepHarness(step);
      cloudformation.on(DescribeStacksCommand).rejectsOnce(notExist()).resolves({ Stacks: [stack('CREATE_IN_PROGRESS', { Outputs: [] })] });

      expect(await step.read(harness.readContext)).toBeUndefined();
      expect(await step.read(harness.readContext)).toBeUndefined();
    });

    it('reads the recorded network first, from the stack it recorded', async () => {
      harness = stepHarness(step, { record: recorded(CREATED_STACK) });
      cloudformation.on(DescribeStacksCommand, { StackName: STACK_ID }).resolves({ Stacks: [stack('CREATE_COMPLETE')] });
      networkExists();

      const live = await step.read(harness.readContext);

      expect(live).toMatchObject({ created: true, output: CREATED_STACK });
      expect(diffFields(step.desired(harness.config, {}), live!.observed, step.effects)).toEqual([]);
    });

    it('finds nothing when the recorded stack is gone', async () => {
      harness = stepHarness(step, { record: recorded(CREATED_STACK) });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('DELETE_COMPLETE')] });

      expect(await step.read(harness.readContext)).toBeUndefined();
    });

    it('health: the VPC and the stack it came from', async () => {
      harness = stepHarness(step, { record: recorded(FROM_STACK) });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE')] });
      networkExists();

      expect((await step.read(harness.readContext))?.health).toEqual({
        healthy: true,
        summary: `${OUTPUTS.VPC} (from stack ecsplatform)`,
        details: { vpcId: OUTPUTS.VPC, source: 'stack', stackName: 'ecsplatform', stackStatus: 'CREATE_COMPLETE' },
      });
      expect(ec2.commandCalls(DescribeVpcsCommand)[0]!.args[0].input).toEqual({ Filters: [{ Name: 'vpc-id', Values: [OUTPUTS.VPC] }] });
    });

    it('health: a missing VPC, a missing subnet or a stack mid-update is unhealthy', async () => {
      harness = stepHarness(step, { record: recorded(FROM_STACK) });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('UPDATE_IN_PROGRESS')] });
      ec2.on(DescribeVpcsCommand).resolvesOnce({ Vpcs: [] }).resolves({ Vpcs: [{ VpcId: OUTPUTS.VPC, State: 'available' }] });
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [OUTPUTS.PublicSubnet1, OUTPUTS.PrivateSubnet1, OUTPUTS.PrivateSubnet2].map((SubnetId) => ({ SubnetId })) });
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: OUTPUTS.NoIngressSecurityGroup }] });

      expect((await step.read(harness.readContext))?.health).toMatchObject({ healthy: false, summary: `${OUTPUTS.VPC} missing` });
      expect((await step.read(harness.readContext))?.health).toMatchObject({
        healthy: false,
        details: { problems: [`subnet ${OUTPUTS.PublicSubnet2} no longer exists`, 'CloudFormation stack ecsplatform is UPDATE_IN_PROGRESS'] },
      });
    });
  });

  describe('diff: only a switch to another network counts', () => {
    async function changesWith(data: NetworkOutput, config: Parameters<typeof articleConfig>[0], stackExtra: Partial<Stack> = {}) {
      harness = stepHarness(step, { record: recorded(data), config });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE', stackExtra)] });
      networkExists();
      const live = await step.read(harness.readContext);
      return diffFields(step.desired(harness.config, {}), live!.observed, step.effects);
    }

    it('--vpc naming another VPC replaces the network', async () => {
      expect(await changesWith(FROM_STACK, { vpcId: 'vpc-0fffffffffffffff1' })).toEqual([{ field: 'vpcId', from: null, to: 'vpc-0fffffffffffffff1', effect: 'replace' }]);
    });

    it('--vpc naming the VPC already in use changes nothing', async () => {
      expect(await changesWith(FROM_STACK, { vpcId: OUTPUTS.VPC })).toEqual([]);
    });

    it('all four settings naming the network already in use change nothing, even for a stack authecs created', async () => {
      const same = { vpcId: OUTPUTS.VPC, publicSubnets: [OUTPUTS.PublicSubnet2, OUTPUTS.PublicSubnet1], privateSubnets: FROM_STACK.privateSubnets, securityGroupId: OUTPUTS.NoIngressSecurityGroup };
      expect(await changesWith(CREATED_STACK, same)).toEqual([]);
    });

    it('--network-stack naming another stack replaces the network', async () => {
      expect(await changesWith(FROM_STACK, { networkStack: 'othernet' })).toEqual([{ field: 'networkStack', from: 'ecsplatform', to: 'othernet', effect: 'replace' }]);
    });

    it('a stack whose outputs now name other subnets replaces the network', async () => {
      const outputs = Object.entries({ ...OUTPUTS, PublicSubnet2: 'subnet-0a00000000000003a' }).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }));
      expect(await changesWith(FROM_STACK, {}, { Outputs: outputs })).toEqual([
        { field: 'publicSubnets', from: [OUTPUTS.PublicSubnet1, OUTPUTS.PublicSubnet2], to: null, effect: 'replace' },
      ]);
    });

    it('--create-network on a stack that exists changes nothing: the stack is used either way', async () => {
      expect(await changesWith(FROM_STACK, { createNetwork: true })).toEqual([]);
      harness.cleanup();
      expect(await changesWith(CREATED_STACK, { createNetwork: false })).toEqual([]);
    });
  });

  describe('create', () => {
    it('refuses to go on without the stack unless --create-network is given, naming the flags', async () => {
      harness = stepHarness(step);
      cloudformation.on(DescribeStacksCommand).rejects(notExist());

      const error = await step.create(harness.context, step.desired(harness.config, {})).catch((caught: unknown) => caught);

      expect(error).toMatchObject({ code: 'NETWORK_STACK_MISSING', exit: 'notFound' });
      const hint = (error as { hint: string }).hint;
      for (const flag of ['--create-network', '--vpc', '--public-subnets', '--private-subnets', '--security-group']) expect(hint).toContain(flag);
      expect(cloudformation.commandCalls(CreateStackCommand)).toHaveLength(0);
      expect(harness.state.get('network')).toBeUndefined();
      await expect(step.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'NETWORK_STACK_MISSING' });
    });

    it('records the settings alone as found, with no AWS call', async () => {
      harness = stepHarness(step, { config: SETTINGS });

      const output = await step.create(harness.context, step.desired(harness.config, {}));

      expect(output).toMatchObject({ vpcId: SETTINGS.vpcId, source: 'settings' });
      expect(harness.state.get('network')).toMatchObject({ created: false, data: output });
      expect(cloudformation.calls()).toHaveLength(0);
      expect(ec2.calls()).toHaveLength(0);
    });

    it('creates the stack from templates/network.yaml in two AZs, tagged, with an intent saved first', async () => {
      harness = stepHarness(step, { config: { createNetwork: true } });
      cloudformation.on(DescribeStacksCommand).rejectsOnce(notExist()).resolves({ Stacks: [stack('CREATE_COMPLETE', { Tags: ourTags })] });
      ec2.on(DescribeAvailabilityZonesCommand).resolves({
        AvailabilityZones: [
          { ZoneName: 'eu-west-1c', ZoneId: 'euw1-az3', State: 'available', ZoneType: 'availability-zone' },
          { ZoneName: 'eu-west-1-lax-1a', ZoneId: 'euw1-lax1-az1', State: 'available', ZoneType: 'local-zone' },
          { ZoneName: 'eu-west-1a', ZoneId: 'euw1-az1', State: 'available', ZoneType: 'availability-zone' },
          { ZoneName: 'eu-west-1b', ZoneId: 'euw1-az2', State: 'impaired', ZoneType: 'availability-zone' },
        ],
      });
      let recordAtCreate: unknown;
      cloudformation.on(CreateStackCommand).callsFake(() => {
        recordAtCreate = harness.state.get('network');
        return { StackId: STACK_ID };
      });

      const output = await step.create(harness.context, step.desired(harness.config, {}));

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
      expect(output).toEqual(CREATED_STACK);
      expect(harness.state.get('network')).toMatchObject({ created: true, data: { source: 'created-stack', stackId: STACK_ID, vpcId: OUTPUTS.VPC } });
      expect(harness.progress.some((line) => line.includes('CREATE_COMPLETE'))).toBe(true);
    });

    it('resumes a creation a killed run started: read finds nothing to use, create waits for it and makes no second CreateStack', async () => {
      harness = stepHarness(step, { config: { createNetwork: true }, record: { created: true, complete: false, data: { stackName: 'ecsplatform', source: 'created-stack' } } });
      cloudformation
        .on(DescribeStacksCommand)
        .resolvesOnce({ Stacks: [stack('CREATE_IN_PROGRESS', { Outputs: [] })] })
        .resolvesOnce({ Stacks: [stack('CREATE_IN_PROGRESS', { Outputs: [] })] })
        .resolvesOnce({ Stacks: [stack('CREATE_IN_PROGRESS', { Outputs: [] })] })
        .resolves({ Stacks: [stack('CREATE_COMPLETE')] });

      expect(await step.read(harness.readContext)).toBeUndefined();
      const output = await step.create(harness.context, step.desired(harness.config, {}));

      expect(cloudformation.commandCalls(CreateStackCommand)).toHaveLength(0);
      expect(output).toMatchObject({ source: 'created-stack', stackId: STACK_ID });
      expect(harness.state.get('network')?.created).toBe(true);
    });

    it('uses an existing stack someone else made even with --create-network, and records it as not created', async () => {
      harness = stepHarness(step, { config: { createNetwork: true } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE', { Tags: [{ Key: 'team', Value: 'platform' }] })] });

      const output = await step.create(harness.context, step.desired(harness.config, {}));

      expect(cloudformation.commandCalls(CreateStackCommand)).toHaveLength(0);
      expect(output.source).toBe('stack');
      expect(harness.state.get('network')).toMatchObject({ created: false, data: { source: 'stack' } });
    });

    it('reports the failed resource when the stack rolls back', async () => {
      harness = stepHarness(step, { config: { createNetwork: true } });
      ec2.on(DescribeAvailabilityZonesCommand).resolves({ AvailabilityZones: [{ ZoneName: 'eu-west-1a' }, { ZoneName: 'eu-west-1b' }] });
      cloudformation.on(DescribeStacksCommand).rejectsOnce(notExist()).resolves({ Stacks: [stack('ROLLBACK_COMPLETE', { Outputs: [], Tags: ourTags })] });
      cloudformation.on(CreateStackCommand).resolves({ StackId: STACK_ID });
      cloudformation.on(DescribeStackEventsCommand).resolves({
        StackEvents: [
          { StackId: STACK_ID, EventId: '2', StackName: 'ecsplatform', Timestamp: new Date(), LogicalResourceId: 'ecsplatform', ResourceStatus: 'ROLLBACK_IN_PROGRESS', ResourceStatusReason: 'The following resource(s) failed to create: [NatGateway1EIP].' },
          { StackId: STACK_ID, EventId: '1', StackName: 'ecsplatform', Timestamp: new Date(), LogicalResourceId: 'NatGateway1EIP', ResourceStatus: 'CREATE_FAILED', ResourceStatusReason: 'The maximum number of addresses has been reached.' },
        ],
      });

      await expect(step.create(harness.context, step.desired(harness.config, {}))).rejects.toMatchObject({
        code: 'NETWORK_STACK_FAILED',
        exit: 'aws',
        message: expect.stringContaining('NatGateway1EIP: The maximum number of addresses has been reached.'),
      });
      // The intent stays, so `down` can delete the rolled-back stack.
      expect(harness.state.get('network')).toMatchObject({ created: true, data: { stackId: STACK_ID } });
    });

    it("names the missing output of a stack that is not the article's", async () => {
      harness = stepHarness(step);
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE', { Outputs: [{ OutputKey: 'VPC', OutputValue: OUTPUTS.VPC }] })] });

      await expect(step.create(harness.context, step.desired(harness.config, {}))).rejects.toMatchObject({ code: 'NETWORK_STACK_OUTPUT_MISSING', message: expect.stringContaining('PublicSubnet1') });
    });
  });

  describe('update', () => {
    it('--create-network alone only records the network as it is, with no AWS call', async () => {
      harness = stepHarness(step, { record: recorded(FROM_STACK), config: { createNetwork: true } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE')] });
      networkExists();
      const live = (await step.read(harness.readContext))!;
      cloudformation.resetHistory();
      ec2.resetHistory();

      const change = { field: 'createNetwork', from: false, to: true, effect: 'update' as const };
      expect(await step.update!(harness.context, step.desired(harness.config, {}), live, [change])).toEqual(FROM_STACK);
      expect(cloudformation.calls()).toHaveLength(0);
      expect(ec2.calls()).toHaveLength(0);
    });
  });

  describe('replace', () => {
    it('a stack authecs created gives way to the settings: the new network is recorded, the old stack retired for deletion after the run', async () => {
      harness = stepHarness(step, { record: recorded(CREATED_STACK), config: SETTINGS });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE')] });
      networkExists();
      const want = step.desired(harness.config, {});
      const live = (await step.read(harness.readContext))!;
      const changes = diffFields(want, live.observed, step.effects);
      expect(changes.every((change) => change.effect === 'replace')).toBe(true);

      const output = await step.replace!(harness.context, want, live, changes);

      expect(output).toMatchObject({ vpcId: SETTINGS.vpcId, source: 'settings' });
      expect(cloudformation.commandCalls(DeleteStackCommand)).toHaveLength(0);
      const saved = harness.state.get<NetworkOutput>('network');
      expect(saved).toMatchObject({ created: false, data: output, retired: [CREATED_STACK] });
      // Nothing of the old stack lingers in the record.
      expect(saved?.data.stackId).toBeUndefined();
      expect(saved?.data.stackName).toBeUndefined();
    });

    it("a network that was only found is never retired (it is not authecs's to delete)", async () => {
      harness = stepHarness(step, { record: recorded(FROM_STACK), config: { networkStack: 'othernet' } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE', { StackName: 'othernet' })] });
      networkExists();
      const want = step.desired(harness.config, {});
      const live = (await step.read(harness.readContext))!;

      const output = await step.replace!(harness.context, want, live, diffFields(want, live.observed, step.effects));

      expect(output).toMatchObject({ stackName: 'othernet', source: 'stack' });
      expect(harness.state.get('network')?.retired).toBeUndefined();
    });

    it('a created stack whose VPC the new network still uses is kept', async () => {
      harness = stepHarness(step, { record: recorded(CREATED_STACK), config: { securityGroupId: 'sg-0fffffffffffffff1', networkStack: 'othernet' } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE', { StackName: 'othernet', StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/othernet/1' })] });
      networkExists();
      const want = step.desired(harness.config, {});
      const live = (await step.read(harness.readContext))!;

      await step.replace!(harness.context, want, live, diffFields(want, live.observed, step.effects));

      expect(harness.state.get('network')?.retired).toBeUndefined();
      expect(harness.progress).toContain(`keeping CloudFormation stack ecsplatform: the new network still uses its VPC ${OUTPUTS.VPC}`);
    });
  });

  // Zone names map to different physical zones per account; zone IDs do not (issue 8 #7).
  describe('zones by ID (EC2 DescribeInstanceTypeOfferings; ECS "Supported Regions for Amazon ECS on AWS Fargate")', () => {
    const zones = (region: string, ids: [string, string][]) => ({
      AvailabilityZones: ids.map(([ZoneName, ZoneId]) => ({ ZoneName, ZoneId, State: 'available' as const, ZoneType: 'availability-zone', RegionName: region })),
    });

    it('EC2: picks the two lowest zone IDs that offer the instance type, and passes their names in this account', async () => {
      harness = stepHarness(step, { config: { createNetwork: true, instanceType: 't3.small' } });
      cloudformation.on(DescribeStacksCommand).rejectsOnce(notExist()).resolves({ Stacks: [stack('CREATE_COMPLETE', { Tags: ourTags })] });
      cloudformation.on(CreateStackCommand).resolves({ StackId: STACK_ID });
      // In this account eu-west-1a is euw1-az2, which lacks t3.small.
      ec2.on(DescribeAvailabilityZonesCommand).resolves(zones('eu-west-1', [['eu-west-1a', 'euw1-az2'], ['eu-west-1b', 'euw1-az3'], ['eu-west-1c', 'euw1-az1']]));
      ec2.on(DescribeInstanceTypeOfferingsCommand).resolves({ InstanceTypeOfferings: ['euw1-az1', 'euw1-az3'].map((Location) => ({ InstanceType: 't3.small', LocationType: 'availability-zone-id', Location })) });

      await step.create(harness.context, step.desired(harness.config, {}));

      expect(ec2.commandCalls(DescribeInstanceTypeOfferingsCommand)[0]!.args[0].input).toEqual({ LocationType: 'availability-zone-id', Filters: [{ Name: 'instance-type', Values: ['t3.small'] }] });
      expect(cloudformation.commandCalls(CreateStackCommand)[0]!.args[0].input.Parameters).toEqual([
        { ParameterKey: 'EnvironmentName', ParameterValue: 'ecsplatform' },
        { ParameterKey: 'AZ1', ParameterValue: 'eu-west-1c' },
        { ParameterKey: 'AZ2', ParameterValue: 'eu-west-1b' },
      ]);
    });

    it('FARGATE: leaves out use1-az3, which lacks Fargate, whatever its name in this account', async () => {
      harness = stepHarness(step, { config: { createNetwork: true, launchType: 'FARGATE', region: 'us-east-1' } });
      cloudformation.on(DescribeStacksCommand).rejectsOnce(notExist()).resolves({ Stacks: [stack('CREATE_COMPLETE', { Tags: ourTags })] });
      cloudformation.on(CreateStackCommand).resolves({ StackId: STACK_ID });
      ec2.on(DescribeAvailabilityZonesCommand).resolves(zones('us-east-1', [['us-east-1a', 'use1-az3'], ['us-east-1b', 'use1-az4'], ['us-east-1c', 'use1-az6']]));

      await step.create(harness.context, step.desired(harness.config, {}));

      const parameters = cloudformation.commandCalls(CreateStackCommand)[0]!.args[0].input.Parameters!;
      expect(parameters.filter((parameter) => parameter.ParameterKey!.startsWith('AZ')).map((parameter) => parameter.ParameterValue)).toEqual(['us-east-1b', 'us-east-1c']);
      expect(ec2.commandCalls(DescribeInstanceTypeOfferingsCommand)).toHaveLength(0);
    });

    it('preflight stops --create-network when fewer than two zones qualify, before anything is created', async () => {
      harness = stepHarness(step, { config: { createNetwork: true, instanceType: 't3.small' } });
      cloudformation.on(DescribeStacksCommand).rejects(notExist());
      ec2.on(DescribeAvailabilityZonesCommand).resolves(zones('eu-west-1', [['eu-west-1a', 'euw1-az1'], ['eu-west-1b', 'euw1-az2']]));
      ec2.on(DescribeInstanceTypeOfferingsCommand).resolves({ InstanceTypeOfferings: [{ InstanceType: 't3.small', LocationType: 'availability-zone-id', Location: 'euw1-az1' }] });

      await expect(step.preflight!(harness.readContext)).rejects.toMatchObject({
        code: 'NETWORK_TOO_FEW_ZONES',
        exit: 'usage',
        message: expect.stringContaining('offer t3.small'),
        hint: expect.stringContaining('--instance-type'),
      });
      expect(cloudformation.commandCalls(CreateStackCommand)).toHaveLength(0);
    });
  });

  it('loss: a stack authecs created takes its VPC with it; a found network loses nothing', async () => {
    harness = stepHarness(step, { record: recorded(CREATED_STACK) });
    cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE')] });
    networkExists();
    const live = (await step.read(harness.readContext))!;

    expect(await step.loss!(harness.readContext, live)).toBe(`CloudFormation stack ecsplatform: VPC ${OUTPUTS.VPC}, its subnets, NAT gateways and security group`);
    expect(await step.loss!(harness.readContext, { ...live, created: false, output: FROM_STACK })).toBeUndefined();
  });

  describe('delete', () => {
    const created = { created: true, complete: true, data: { vpcId: OUTPUTS.VPC, source: 'created-stack' as const, stackName: 'ecsplatform', stackId: STACK_ID } };

    it('deletes a stack authecs created and waits for DELETE_COMPLETE', async () => {
      harness = stepHarness(step, { record: created });
      cloudformation
        .on(DescribeStacksCommand)
        .resolvesOnce({ Stacks: [stack('CREATE_COMPLETE')] })
        .resolvesOnce({ Stacks: [stack('DELETE_IN_PROGRESS')] })
        .resolves({ Stacks: [stack('DELETE_COMPLETE')] });
      cloudformation.on(DeleteStackCommand).resolves({});

      await step.delete(harness.context);

      expect(cloudformation.commandCalls(DeleteStackCommand)[0]!.args[0].input).toEqual({ StackName: STACK_ID });
      expect(cloudformation.commandCalls(DescribeStacksCommand).length).toBeGreaterThanOrEqual(3);
      expect(harness.progress).toContain('waiting for CloudFormation stack ecsplatform to be deleted');
    });

    // ECS DeleteService: tasks stop after the service drains; ALB and task ENIs linger (aws-behaviour.md).
    it('waits until the ALB\'s and Fargate tasks\' network interfaces in the VPC are gone before DeleteStack (ECS DeleteService; aws-behaviour.md)', async () => {
      harness = stepHarness(step, { record: created });
      cloudformation.on(DescribeStacksCommand).resolvesOnce({ Stacks: [stack('CREATE_COMPLETE')] }).resolves({ Stacks: [stack('DELETE_COMPLETE')] });
      const nat = { NetworkInterfaceId: 'eni-0nat', Description: 'Interface for NAT Gateway nat-0123', InterfaceType: 'natGateway' as const };
      const alb = { NetworkInterfaceId: 'eni-0alb', Description: 'ELB app/ecsauth/50dc6c495c0c9188', RequesterManaged: true };
      const task = { NetworkInterfaceId: 'eni-0task', Description: 'arn:aws:ecs:eu-west-1:123456789012:attachment/1234abcd-0000-1111-2222-333344445555', RequesterManaged: true };
      let deletedWhile: number | undefined;
      ec2
        .on(DescribeNetworkInterfacesCommand)
        .resolvesOnce({ NetworkInterfaces: [nat, alb, task] })
        .resolvesOnce({ NetworkInterfaces: [nat, task] })
        .resolves({ NetworkInterfaces: [nat] });
      cloudformation.on(DeleteStackCommand).callsFake(() => {
        deletedWhile = ec2.commandCalls(DescribeNetworkInterfacesCommand).length;
        return {};
      });

      await step.delete(harness.context);

      expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)[0]!.args[0].input).toMatchObject({ Filters: [{ Name: 'vpc-id', Values: [OUTPUTS.VPC] }] });
      expect(deletedWhile).toBe(3);
      expect(harness.progress.some((line) => line.includes('eni-0alb') && line.includes('released'))).toBe(true);
    });

    it('gives up on interfaces that never go, with a timeout and no DeleteStack (it would only end DELETE_FAILED)', async () => {
      harness = stepHarness(step, { record: created, config: { waitTimeoutMinutes: 2 } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE')] });
      ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [{ NetworkInterfaceId: 'eni-0alb', Description: 'ELB app/ecsauth/50dc6c495c0c9188' }] });

      await expect(step.delete(harness.context)).rejects.toMatchObject({ code: 'NETWORK_INTERFACES_LINGER', exit: 'timeout' });
      expect(cloudformation.commandCalls(DeleteStackCommand)).toHaveLength(0);
    });

    it('treats a stack that is already gone as deleted', async () => {
      harness = stepHarness(step, { record: created });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('DELETE_COMPLETE')] });

      await step.delete(harness.context);

      expect(cloudformation.commandCalls(DeleteStackCommand)).toHaveLength(0);
    });

    it('never deletes a stack it only read', async () => {
      harness = stepHarness(step, { record: { created: false, complete: true, data: { vpcId: OUTPUTS.VPC, source: 'stack', stackName: 'ecsplatform' } } });
      cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [stack('CREATE_COMPLETE')] });

      await step.delete(harness.context);

      expect(cloudformation.calls()).toHaveLength(0);
    });

    it('accepts a failed DeleteStack call when the stack is gone anyway (as moto does)', async () => {
      harness = stepHarness(step, { record: created });
      cloudformation.on(DescribeStacksCommand).resolvesOnce({ Stacks: [stack('CREATE_COMPLETE')] }).rejects(notExist());
      cloudformation.on(DeleteStackCommand).rejects(Object.assign(new Error('The vpc has dependencies and cannot be deleted.'), { name: 'DependencyViolation' }));

      await step.delete(harness.context);

      expect(harness.progress.some((line) => line.includes('DependencyViolation'))).toBe(true);
    });

    it('reports DELETE_FAILED with its reason', async () => {
      harness = stepHarness(step, { record: created });
      cloudformation
        .on(DescribeStacksCommand)
        .resolvesOnce({ Stacks: [stack('CREATE_COMPLETE')] })
        .resolves({ Stacks: [stack('DELETE_FAILED', { StackStatusReason: 'The following resource(s) failed to delete: [NoIngressSecurityGroup].' })] });
      cloudformation.on(DeleteStackCommand).resolves({});
      cloudformation.on(DescribeStackEventsCommand).resolves({ StackEvents: [] });

      await expect(step.delete(harness.context)).rejects.toMatchObject({
        code: 'NETWORK_STACK_DELETE_FAILED',
        exit: 'aws',
        message: expect.stringContaining('NoIngressSecurityGroup'),
      });
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
