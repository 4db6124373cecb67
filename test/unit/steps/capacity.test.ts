import {
  CreateLaunchTemplateCommand,
  DeleteLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
  type LaunchTemplate,
  type Tag,
} from '@aws-sdk/client-ec2';
import {
  DeregisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  ECSClient,
  ListContainerInstancesCommand,
  type ContainerInstance,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { capacityStep, ECS_AMI_NAME_PATTERN } from '../../../src/steps/capacity.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ec2 = mockClient(EC2Client);
const ecs = mockClient(ECSClient);
const ourTags: Tag[] = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];
const LT_ID = 'lt-0123456789abcdef0';
const PRIVATE_SUBNETS = SAMPLE_OUTPUTS.network.privateSubnets;
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });

/** A small fake of EC2 instances, launch templates and the ECS container instances of the cluster. */
class World {
  instances: Instance[] = [];
  launchTemplates: LaunchTemplate[] = [];
  containerInstances: ContainerInstance[] = [];
  /** RunInstances launched this many; the agent registers an instance after this many registration polls. */
  registerAfterPolls = 0;
  registrationPolls = 0;
  autoRegister = true;
  private counter = 0;

  addInstance(index: number, options: { state?: 'pending' | 'running' | 'stopped' | 'terminated'; stack?: string; launchTime?: Date } = {}): Instance {
    this.counter += 1;
    const instance: Instance = {
      InstanceId: `i-0${String(this.counter).padStart(16, '0')}`,
      State: { Name: options.state ?? 'running' },
      SubnetId: PRIVATE_SUBNETS[index % 2],
      LaunchTime: options.launchTime ?? new Date(Date.UTC(2025, 0, 1, 0, 0, this.counter)),
      ClientToken: `authecs-ecsauth-capacity-abcd1234-${index}`,
      Tags: [
        { Key: 'authecs:stack', Value: options.stack ?? 'ecsauth' },
        { Key: 'managed-by', Value: 'authecs' },
        { Key: 'authecs:capacity-index', Value: String(index) },
      ],
    };
    this.instances.push(instance);
    return instance;
  }

  register(instanceId: string, cluster = 'ecsauth'): ContainerInstance {
    const containerInstance: ContainerInstance = {
      containerInstanceArn: `arn:aws:ecs:eu-west-1:123456789012:container-instance/${cluster}/${instanceId.replace('i-', 'c')}`,
      ec2InstanceId: instanceId,
      status: 'ACTIVE',
    };
    this.containerInstances.push(containerInstance);
    return containerInstance;
  }

  addLaunchTemplate(tags: Tag[] = ourTags): LaunchTemplate {
    const template: LaunchTemplate = { LaunchTemplateId: LT_ID, LaunchTemplateName: 'authecs-ecsauth', Tags: tags, LatestVersionNumber: 1 };
    this.launchTemplates.push(template);
    return template;
  }

  install(): void {
    ec2.on(DescribeLaunchTemplatesCommand).callsFake((input: { LaunchTemplateNames?: string[] }) => {
      const found = this.launchTemplates.filter((template) => input.LaunchTemplateNames?.includes(template.LaunchTemplateName!));
      if (found.length === 0) throw codeError('InvalidLaunchTemplateName.NotFoundException', 'At least one of the launch templates specified in the request does not exist.');
      return { LaunchTemplates: found };
    });
    ec2.on(CreateLaunchTemplateCommand).callsFake((input: { LaunchTemplateName: string; TagSpecifications: { Tags: Tag[] }[] }) => {
      const template: LaunchTemplate = { LaunchTemplateId: LT_ID, LaunchTemplateName: input.LaunchTemplateName, Tags: input.TagSpecifications[0]!.Tags, LatestVersionNumber: 1 };
      this.launchTemplates.push(template);
      return { LaunchTemplate: template };
    });
    ec2.on(DeleteLaunchTemplateCommand).callsFake((input: { LaunchTemplateId: string }) => {
      const before = this.launchTemplates.length;
      this.launchTemplates = this.launchTemplates.filter((template) => template.LaunchTemplateId !== input.LaunchTemplateId);
      if (before === this.launchTemplates.length) throw codeError('InvalidLaunchTemplateId.NotFound');
      return {};
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [{ LaunchTemplateData: { ImageId: 'ami-0aaaaaaaaaaaaaaa0' } }] });
    ec2.on(RunInstancesCommand).callsFake((input: { SubnetId: string; ClientToken: string; TagSpecifications: { ResourceType: string; Tags: Tag[] }[] }) => {
      this.counter += 1;
      const instance: Instance = {
        InstanceId: `i-0${String(this.counter).padStart(16, '0')}`,
        State: { Name: 'running' },
        SubnetId: input.SubnetId,
        LaunchTime: new Date(),
        ClientToken: input.ClientToken,
        Tags: input.TagSpecifications.find((spec) => spec.ResourceType === 'instance')!.Tags,
      };
      this.instances.push(instance);
      return { Instances: [{ ...instance, State: { Name: 'pending' } }] };
    });
    ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[]; Filters?: { Name: string; Values: string[] }[] }) => {
      let found = this.instances;
      if (input.InstanceIds) found = found.filter((instance) => input.InstanceIds!.includes(instance.InstanceId!));
      for (const filter of input.Filters ?? []) {
        if (filter.Name === 'instance-state-name') found = found.filter((instance) => filter.Values.includes(instance.State!.Name!));
        else if (filter.Name.startsWith('tag:')) {
          const key = filter.Name.slice(4);
          found = found.filter((instance) => instance.Tags?.some((tag) => tag.Key === key && filter.Values.includes(tag.Value!)));
        } else throw new Error(`unexpected filter ${filter.Name}`);
      }
      return { Reservations: found.length ? [{ Instances: found }] : [] };
    });
    ec2.on(TerminateInstancesCommand).callsFake((input: { InstanceIds: string[] }) => {
      const unknown = input.InstanceIds.filter((id) => !this.instances.some((instance) => instance.InstanceId === id));
      if (unknown.length) throw codeError('InvalidInstanceID.NotFound', `The instance ID '${unknown[0]}' does not exist`);
      for (const instance of this.instances) if (input.InstanceIds.includes(instance.InstanceId!)) instance.State = { Name: 'terminated' };
      return { TerminatingInstances: input.InstanceIds.map((InstanceId) => ({ InstanceId, CurrentState: { Name: 'shutting-down' as const } })) };
    });
    ecs.on(ListContainerInstancesCommand).callsFake(() => {
      this.registrationPolls += 1;
      if (this.autoRegister && this.registrationPolls > this.registerAfterPolls) {
        for (const instance of this.instances) {
          const running = instance.State?.Name === 'running';
          if (running && !this.containerInstances.some((container) => container.ec2InstanceId === instance.InstanceId)) {
            this.register(instance.InstanceId!);
            break; // one registration per poll, so progress shows 1/2 first
          }
        }
      }
      return { containerInstanceArns: this.containerInstances.map((container) => container.containerInstanceArn!) };
    });
    ecs.on(DescribeContainerInstancesCommand).callsFake((input: { containerInstances: string[] }) => {
      if (input.containerInstances.length === 0) throw codeError('ClientException', 'Container Instances cannot be empty.');
      return { containerInstances: this.containerInstances.filter((container) => input.containerInstances.includes(container.containerInstanceArn!)) };
    });
    ecs.on(DeregisterContainerInstanceCommand).callsFake((input: { containerInstance: string }) => {
      const index = this.containerInstances.findIndex((container) => container.containerInstanceArn === input.containerInstance);
      // moto answers a second deregister with an HTML 500.
      if (index < 0) throw Object.assign(new SyntaxError('Unexpected token <'), { $metadata: { httpStatusCode: 500 } });
      const [removed] = this.containerInstances.splice(index, 1);
      return { containerInstance: removed };
    });
  }
}

const images = [
  { ImageId: 'ami-0old0000000000000', Name: 'al2023-ami-ecs-hvm-2023.0.20240702-kernel-6.1-x86_64', CreationDate: '2024-07-02T00:00:00.000Z' },
  { ImageId: 'ami-0new0000000000000', Name: 'al2023-ami-ecs-hvm-2023.0.20250812-kernel-6.1-x86_64', CreationDate: '2025-08-12T00:00:00.000Z' },
  { ImageId: 'ami-0mid0000000000000', Name: 'al2023-ami-ecs-hvm-2023.0.20250117-kernel-6.1-x86_64', CreationDate: '2025-01-17T00:00:00.000Z' },
];

describe('capacity step', () => {
  let harness: StepHarness<'capacity'>;
  let world: World;
  beforeEach(() => {
    ec2.reset();
    ecs.reset();
    world = new World();
    world.install();
    ec2.on(DescribeImagesCommand).resolves({ Images: images });
  });
  afterEach(() => harness?.cleanup());

  it('is enabled only for the EC2 launch type', () => {
    expect(capacityStep.enabled?.(articleConfig())).toBe(true);
    expect(capacityStep.enabled?.(articleConfig({ launchType: 'FARGATE' }))).toBe(false);
  });

  it('makes a launch template (not a launch configuration) with the newest ECS-optimized AL2023 AMI, IMDSv2 and the ECS_CLUSTER user data', async () => {
    harness = stepHarness(capacityStep);
    world.registerAfterPolls = 1;

    const output = await capacityStep.create(harness.context);

    expect(ec2.commandCalls(DescribeImagesCommand)[0]!.args[0].input).toEqual({
      Owners: ['amazon'],
      Filters: [
        { Name: 'name', Values: ['al2023-ami-ecs-hvm-*-x86_64'] },
        { Name: 'state', Values: ['available'] },
        { Name: 'architecture', Values: ['x86_64'] },
      ],
    });
    expect(ECS_AMI_NAME_PATTERN).toBe('al2023-ami-ecs-hvm-*-x86_64');
    const template = ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input;
    expect(template).toMatchObject({
      LaunchTemplateName: 'authecs-ecsauth',
      TagSpecifications: [{ ResourceType: 'launch-template', Tags: ourTags }],
      LaunchTemplateData: {
        ImageId: 'ami-0new0000000000000',
        InstanceType: 't3.small',
        KeyName: 'ecsauth',
        IamInstanceProfile: { Name: 'ecsInstanceRole' },
        SecurityGroupIds: [SAMPLE_OUTPUTS.network.securityGroupId],
        MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
        TagSpecifications: [
          { ResourceType: 'instance', Tags: ourTags },
          { ResourceType: 'volume', Tags: ourTags },
        ],
      },
    });
    expect(template.ClientToken).toMatch(/^authecs-ecsauth-capacity-[0-9a-f]{8}-lt$/);
    const userData = Buffer.from(template.LaunchTemplateData!.UserData!, 'base64').toString('utf8');
    expect(userData).toBe('#!/bin/bash\necho ECS_CLUSTER=ecsauth >> /etc/ecs/ecs.config\n');
    expect(/ECS_CLUSTER=(\S+)/.exec(userData)?.[1]).toBe('ecsauth');

    // Two instances, one per private subnet, each its own RunInstances with a per-slot token and tag.
    const runs = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
    expect(runs).toHaveLength(2);
    expect(runs.map((run) => run.SubnetId)).toEqual(PRIVATE_SUBNETS);
    for (const [index, run] of runs.entries()) {
      expect(run).toMatchObject({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: LT_ID, Version: '$Latest' } });
      expect(run.ClientToken).toBe(`${output.clientToken}-${index}`);
      expect(run.TagSpecifications![0]!.Tags).toEqual(expect.arrayContaining([...ourTags, { Key: 'authecs:capacity-index', Value: String(index) }]));
    }

    expect(output).toEqual({
      launchTemplateId: LT_ID,
      launchTemplateName: 'authecs-ecsauth',
      amiId: 'ami-0new0000000000000',
      instanceIds: world.instances.map((instance) => instance.InstanceId),
      clientToken: expect.stringMatching(/^authecs-ecsauth-capacity-[0-9a-f]{8}$/),
    });
    expect(harness.state.get('capacity')).toMatchObject({ created: true, data: output });
    expect(harness.progress).toContain('0/2 container instances registered');
    expect(harness.progress).toContain('1/2 container instances registered');
  });

  it('saves each instance ID right after its RunInstances', async () => {
    harness = stepHarness(capacityStep);
    const seen: unknown[] = [];
    ec2.on(RunInstancesCommand).callsFake(() => {
      seen.push(harness.state.get<{ instanceIds?: string[] }>('capacity')?.data.instanceIds ?? []);
      if (seen.length === 2) throw codeError('InsufficientInstanceCapacity', 'no t3.small in this AZ');
      const instance = world.addInstance(seen.length - 1);
      return { Instances: [instance] };
    });

    await expect(capacityStep.create(harness.context)).rejects.toMatchObject({ name: 'InsufficientInstanceCapacity' });

    // The second launch already sees the first instance's ID in the state file.
    expect(seen).toEqual([[], [world.instances[0]!.InstanceId]]);
    expect(harness.state.get('capacity')).toMatchObject({ created: true, complete: false, data: { instanceIds: [world.instances[0]!.InstanceId], launchTemplateId: LT_ID } });
  });

  it('uses --ami when given and never looks the AMI up', async () => {
    harness = stepHarness(capacityStep, { config: { amiId: 'ami-0123456789abcdef0' } });

    const output = await capacityStep.create(harness.context);

    expect(ec2.commandCalls(DescribeImagesCommand)).toHaveLength(0);
    expect(ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input.LaunchTemplateData?.ImageId).toBe('ami-0123456789abcdef0');
    expect(output.amiId).toBe('ami-0123456789abcdef0');
  });

  it('fails with a hint when no ECS-optimized AMI is found', async () => {
    harness = stepHarness(capacityStep);
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });

    await expect(capacityStep.create(harness.context)).rejects.toMatchObject({ code: 'AMI_NOT_FOUND', exit: 'notFound', hint: expect.stringContaining('--ami') });
    expect(ec2.commandCalls(CreateLaunchTemplateCommand)).toHaveLength(0);
  });

  it('picks the newest AMI by name when the creation dates tie (as on moto)', async () => {
    harness = stepHarness(capacityStep);
    const sameDate = images.map((image) => ({ ...image, CreationDate: '2025-09-01T00:00:00.000Z' }));
    ec2.on(DescribeImagesCommand).resolves({ Images: sameDate });

    const output = await capacityStep.create(harness.context);
    expect(output.amiId).toBe('ami-0new0000000000000');
  });

  it('after a crash, adopts the tagged launch template and instance and launches only the missing slot', async () => {
    harness = stepHarness(capacityStep, {
      record: { created: true, complete: false, data: { clientToken: 'authecs-ecsauth-capacity-abcd1234', launchTemplateName: 'authecs-ecsauth', amiId: 'ami-0new0000000000000' } },
    });
    world.addLaunchTemplate();
    const survivor = world.addInstance(0);

    const output = await capacityStep.create(harness.context);

    expect(ec2.commandCalls(CreateLaunchTemplateCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DescribeImagesCommand)).toHaveLength(0);
    const runs = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ SubnetId: PRIVATE_SUBNETS[1], ClientToken: 'authecs-ecsauth-capacity-abcd1234-1' });
    expect(output.instanceIds[0]).toBe(survivor.InstanceId);
    expect(output.instanceIds).toHaveLength(2);
    expect(output.clientToken).toBe('authecs-ecsauth-capacity-abcd1234');
  });

  it('ignores instances of another stack and stopped ones when counting what is there', async () => {
    harness = stepHarness(capacityStep);
    world.addLaunchTemplate();
    world.addInstance(0, { stack: 'otherstack' });
    world.addInstance(1, { state: 'stopped' });

    await capacityStep.create(harness.context);

    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(2);
  });

  it('refuses a same-named launch template that authecs did not create', async () => {
    harness = stepHarness(capacityStep);
    world.addLaunchTemplate([{ Key: 'team', Value: 'other' }]);

    await expect(capacityStep.create(harness.context)).rejects.toMatchObject({ code: 'LAUNCH_TEMPLATE_NAME_TAKEN', exit: 'conflict' });
    await expect(capacityStep.find(harness.context)).rejects.toMatchObject({ code: 'LAUNCH_TEMPLATE_NAME_TAKEN' });
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it('turns a missing instance profile into INSTANCE_PROFILE_MISSING with a hint', async () => {
    harness = stepHarness(capacityStep);
    ec2.on(RunInstancesCommand).rejectsOnce(codeError('NoSuchEntity', 'Instance profile ecsInstanceRole not found')).rejects(codeError('InvalidParameterValue', "Value (ecsInstanceRole) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"));

    const first = capacityStep.create(harness.context);
    await expect(first).rejects.toMatchObject({ code: 'INSTANCE_PROFILE_MISSING', exit: 'notFound', hint: expect.stringMatching(/ecsInstanceRole[\s\S]*--instance-profile/) });
    await expect(capacityStep.create(harness.context)).rejects.toMatchObject({ code: 'INSTANCE_PROFILE_MISSING' });
  });

  it('times out with CAPACITY_NOT_REGISTERED when the agents never register', async () => {
    harness = stepHarness(capacityStep, { config: { waitTimeoutMinutes: 1 } });
    world.autoRegister = false;

    await expect(capacityStep.create(harness.context)).rejects.toMatchObject({ code: 'CAPACITY_NOT_REGISTERED', exit: 'timeout', hint: expect.stringContaining('NAT') });
    expect(harness.progress).toContain('0/2 container instances registered');
  });

  it('counts only container instances of our EC2 instances as registered', async () => {
    harness = stepHarness(capacityStep, { config: { waitTimeoutMinutes: 1 } });
    world.autoRegister = false;
    world.register('i-0someoneelse0000');
    world.register('i-0someoneelse0001');

    await expect(capacityStep.create(harness.context)).rejects.toMatchObject({ code: 'CAPACITY_NOT_REGISTERED' });
  });

  it('find returns the output when every slot is running and registered, with no mutating call', async () => {
    harness = stepHarness(capacityStep, {
      record: {
        created: true,
        complete: true,
        data: { clientToken: 'authecs-ecsauth-capacity-abcd1234', launchTemplateId: LT_ID, launchTemplateName: 'authecs-ecsauth', amiId: 'ami-0new0000000000000', instanceIds: [] },
      },
    });
    world.addLaunchTemplate();
    const first = world.addInstance(0);
    const second = world.addInstance(1);
    world.autoRegister = false;
    world.register(first.InstanceId!);
    world.register(second.InstanceId!);

    const found = await capacityStep.find(harness.context);

    expect(found).toEqual({
      created: true,
      output: {
        launchTemplateId: LT_ID,
        launchTemplateName: 'authecs-ecsauth',
        amiId: 'ami-0new0000000000000',
        instanceIds: [first.InstanceId, second.InstanceId],
        clientToken: 'authecs-ecsauth-capacity-abcd1234',
      },
    });
    const mutating = [...ec2.calls(), ...ecs.calls()].map((call) => call.args[0].constructor.name).filter((name) => !/^(Describe|List)/.test(name));
    expect(mutating).toEqual([]);
  });

  it('find without a record (state lost) reads the AMI from the launch template and the token from the instance', async () => {
    harness = stepHarness(capacityStep);
    world.addLaunchTemplate();
    world.autoRegister = false;
    world.register(world.addInstance(0).InstanceId!);
    world.register(world.addInstance(1).InstanceId!);

    const found = await capacityStep.find(harness.context);
    expect(found?.output).toMatchObject({ amiId: 'ami-0aaaaaaaaaaaaaaa0', clientToken: 'authecs-ecsauth-capacity-abcd1234' });
  });

  it('find returns undefined while a slot is missing, pending or unregistered', async () => {
    harness = stepHarness(capacityStep);
    world.addLaunchTemplate();
    world.autoRegister = false;
    const first = world.addInstance(0);
    world.register(first.InstanceId!);
    expect(await capacityStep.find(harness.context)).toBeUndefined();

    const second = world.addInstance(1, { state: 'pending' });
    world.register(second.InstanceId!);
    expect(await capacityStep.find(harness.context)).toBeUndefined();

    second.State = { Name: 'running' };
    world.containerInstances = world.containerInstances.slice(0, 1);
    expect(await capacityStep.find(harness.context)).toBeUndefined();
  });

  it('delete deregisters our container instances once each, terminates and waits, then deletes the launch template', async () => {
    world.addLaunchTemplate();
    const first = world.addInstance(0);
    const second = world.addInstance(1);
    world.autoRegister = false;
    world.register(first.InstanceId!);
    world.register(second.InstanceId!);
    const foreign = world.register('i-0someoneelse0000');
    harness = stepHarness(capacityStep, {
      record: { created: true, complete: true, data: { ...SAMPLE_OUTPUTS.capacity, launchTemplateId: LT_ID, launchTemplateName: 'authecs-ecsauth', instanceIds: [first.InstanceId!, second.InstanceId!] } },
    });

    await capacityStep.delete(harness.context);

    const deregistered = ecs.commandCalls(DeregisterContainerInstanceCommand).map((call) => call.args[0].input);
    expect(deregistered).toHaveLength(2);
    for (const input of deregistered) expect(input).toMatchObject({ cluster: 'ecsauth', force: true });
    expect(world.containerInstances).toEqual([foreign]);
    expect(ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input.InstanceIds).toEqual([first.InstanceId, second.InstanceId]);
    expect(world.instances.every((instance) => instance.State?.Name === 'terminated')).toBe(true);
    expect(ec2.commandCalls(DeleteLaunchTemplateCommand)[0]!.args[0].input).toEqual({ LaunchTemplateId: LT_ID });

    const order = [...ec2.calls(), ...ecs.calls()]
      .filter((call) => ['DeregisterContainerInstanceCommand', 'TerminateInstancesCommand', 'DeleteLaunchTemplateCommand'].includes(call.args[0].constructor.name))
      .sort((left, right) => (left.calledBefore(right) ? -1 : 1))
      .map((call) => call.args[0].constructor.name);
    expect(order).toEqual(['DeregisterContainerInstanceCommand', 'DeregisterContainerInstanceCommand', 'TerminateInstancesCommand', 'DeleteLaunchTemplateCommand']);
    expect(harness.state.get('capacity')).toMatchObject({ data: { instanceIds: [] } });
  });

  it('delete also terminates tagged instances a killed run never recorded', async () => {
    world.addLaunchTemplate();
    const recorded = world.addInstance(0);
    const unrecorded = world.addInstance(1, { state: 'pending' });
    harness = stepHarness(capacityStep, { record: { created: true, complete: false, data: { clientToken: 'authecs-ecsauth-capacity-abcd1234', instanceIds: [recorded.InstanceId!] } } });

    await capacityStep.delete(harness.context);

    expect(ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input.InstanceIds).toEqual([recorded.InstanceId, unrecorded.InstanceId]);
    expect(world.launchTemplates).toEqual([]);
  });

  it('delete tolerates instances, container instances and a launch template that are already gone', async () => {
    world.autoRegister = false;
    const live = world.addInstance(0);
    const ghost = world.register(live.InstanceId!);
    harness = stepHarness(capacityStep, {
      record: { created: true, complete: true, data: { ...SAMPLE_OUTPUTS.capacity, launchTemplateId: LT_ID, launchTemplateName: 'authecs-ecsauth', instanceIds: ['i-0gone00000000000', live.InstanceId!] } },
    });
    // Someone deregistered it between our list and our call: moto then answers HTTP 500.
    ecs.on(DeregisterContainerInstanceCommand).callsFake(() => {
      world.containerInstances = [];
      throw Object.assign(new SyntaxError('Unexpected token <'), { $metadata: { httpStatusCode: 500 } });
    });

    await capacityStep.delete(harness.context);

    expect(ghost.status).toBe('ACTIVE');
    expect(ecs.commandCalls(DeregisterContainerInstanceCommand)).toHaveLength(1);
    // The whole-batch call failed on the unknown ID; the live one was still terminated.
    expect(ec2.commandCalls(TerminateInstancesCommand).map((call) => call.args[0].input.InstanceIds)).toEqual([['i-0gone00000000000', live.InstanceId], ['i-0gone00000000000'], [live.InstanceId]]);
    expect(live.State?.Name).toBe('terminated');
    expect(ec2.commandCalls(DeleteLaunchTemplateCommand)).toHaveLength(0);
  });

  it('delete rethrows a deregister error when the container instance is still there', async () => {
    world.autoRegister = false;
    const live = world.addInstance(0);
    world.register(live.InstanceId!);
    harness = stepHarness(capacityStep, { record: { created: true, complete: true, data: { ...SAMPLE_OUTPUTS.capacity, instanceIds: [live.InstanceId!] } } });
    ecs.on(DeregisterContainerInstanceCommand).rejects(codeError('AccessDeniedException'));

    await expect(capacityStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
  });

  it('delete leaves a same-named launch template that is not ours', async () => {
    world.addLaunchTemplate([{ Key: 'team', Value: 'other' }]);
    harness = stepHarness(capacityStep, { record: { created: true, complete: true, data: { ...SAMPLE_OUTPUTS.capacity, launchTemplateId: 'lt-0ffffffffffffffff', launchTemplateName: 'authecs-ecsauth', instanceIds: [] } } });

    await capacityStep.delete(harness.context);

    expect(ec2.commandCalls(DeleteLaunchTemplateCommand)).toHaveLength(0);
  });

  it('inspect: healthy with 2/2 running and registered; unhealthy with fewer; missing when nothing is there', async () => {
    harness = stepHarness(capacityStep, { record: { created: true, complete: true, data: { ...SAMPLE_OUTPUTS.capacity, launchTemplateName: 'authecs-ecsauth' } } });
    expect(await capacityStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false, summary: 'missing' });

    world.addLaunchTemplate();
    world.autoRegister = false;
    const first = world.addInstance(0);
    const second = world.addInstance(1);
    world.register(first.InstanceId!);
    expect(await capacityStep.inspect(harness.context)).toMatchObject({ present: true, healthy: false, summary: '2/2 running, 1/2 registered' });

    world.register(second.InstanceId!);
    expect(await capacityStep.inspect(harness.context)).toMatchObject({
      present: true,
      healthy: true,
      summary: '2/2 running, 2/2 registered',
      drift: [],
      details: { runningCount: 2, registeredCount: 2 },
    });

    world.launchTemplates = [];
    const noTemplate = await capacityStep.inspect(harness.context);
    expect(noTemplate).toMatchObject({ present: true, healthy: false });
    expect(noTemplate.drift).toEqual(['launch template authecs-ecsauth is missing']);
  });
});
