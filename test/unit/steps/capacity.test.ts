import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
  type LaunchTemplate,
  type RequestLaunchTemplateData,
  type ResponseLaunchTemplateData,
  type Tag,
} from '@aws-sdk/client-ec2';
import {
  DeregisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  ECSClient,
  ListContainerInstancesCommand,
  UpdateContainerInstancesStateCommand,
  type ContainerInstance,
} from '@aws-sdk/client-ecs';
import { GetInstanceProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { capacityStep, DEFAULT_AMI, ECS_AMI_NAME_PATTERN, userDataFor, type DesiredCapacity } from '../../../src/steps/capacity.js';
import type { CapacityOutput } from '../../../src/steps/outputs.js';
import { diffFields, UNKNOWN, type Live } from '../../../src/steps/resource.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type HarnessOptions, type StepHarness } from '../../support/step-harness.js';

const ec2 = mockClient(EC2Client);
const ecs = mockClient(ECSClient);
const iam = mockClient(IAMClient);
const ourTags: Tag[] = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];
const LT_ID = 'lt-0123456789abcdef0';
const LT_NAME = 'authecs-ecsauth';
const OLD_AMI = 'ami-0aaaaaaaaaaaaaaa0';
const PRIVATE_SUBNETS = SAMPLE_OUTPUTS.network.privateSubnets;
const SG = SAMPLE_OUTPUTS.network.securityGroupId;
const USER_DATA = userDataFor('ecsauth');
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });

/** The data of a launch template version as authecs makes it for the article's settings. */
function templateData(overrides: ResponseLaunchTemplateData = {}): ResponseLaunchTemplateData {
  return {
    ImageId: OLD_AMI,
    InstanceType: 't3.small',
    KeyName: 'ecsauth',
    IamInstanceProfile: { Name: 'ecsInstanceRole' },
    SecurityGroupIds: [SG],
    UserData: USER_DATA,
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' },
    ...overrides,
  };
}

function responseData(data: RequestLaunchTemplateData): ResponseLaunchTemplateData {
  return {
    ImageId: data.ImageId,
    InstanceType: data.InstanceType,
    KeyName: data.KeyName,
    IamInstanceProfile: data.IamInstanceProfile,
    SecurityGroupIds: data.SecurityGroupIds,
    UserData: data.UserData,
    MetadataOptions: { HttpTokens: data.MetadataOptions?.HttpTokens, HttpPutResponseHopLimit: data.MetadataOptions?.HttpPutResponseHopLimit, HttpEndpoint: data.MetadataOptions?.HttpEndpoint },
  };
}

interface RunInput {
  SubnetId: string;
  ClientToken: string;
  LaunchTemplate: { LaunchTemplateId: string; Version: string };
  TagSpecifications: { ResourceType: string; Tags: Tag[] }[];
}

interface FakeTemplate {
  template: LaunchTemplate;
  versions: { data: ResponseLaunchTemplateData; description?: string }[];
}

/** A small fake of EC2 instances, launch templates and the ECS container instances of the cluster. */
class World {
  instances: Instance[] = [];
  templates: FakeTemplate[] = [];
  containerInstances: ContainerInstance[] = [];
  /** What happened, in order: launches, registrations, drains, deregistrations, terminations. */
  events: string[] = [];
  /** The agent registers an instance after this many registration polls, one per poll. */
  registerAfterPolls = 0;
  registrationPolls = 0;
  autoRegister = true;
  /** ECS moves a draining instance's tasks after this many describes of it. */
  drainAfterPolls = 1;
  private drainPolls = new Map<string, number>();
  private counter = 0;

  nextId(): string {
    this.counter += 1;
    return `i-0${String(this.counter).padStart(16, '0')}`;
  }

  addInstance(
    index: number,
    options: { state?: 'pending' | 'running' | 'stopped' | 'terminated'; stack?: string; version?: number | 'none'; subnet?: string; clientToken?: string } = {},
  ): Instance {
    const version = options.version ?? 1;
    const instance: Instance = {
      InstanceId: this.nextId(),
      State: { Name: options.state ?? 'running' },
      SubnetId: options.subnet ?? PRIVATE_SUBNETS[index % 2],
      LaunchTime: new Date(Date.UTC(2025, 0, 1, 0, 0, this.counter)),
      ClientToken: options.clientToken ?? `authecs-ecsauth-capacity-old${this.counter}`,
      Tags: [
        { Key: 'authecs:stack', Value: options.stack ?? 'ecsauth' },
        { Key: 'managed-by', Value: 'authecs' },
        { Key: 'authecs:capacity-index', Value: String(index) },
        ...(version === 'none'
          ? []
          : [
              { Key: 'authecs:launch-template-id', Value: LT_ID },
              { Key: 'authecs:launch-template-version', Value: String(version) },
            ]),
      ],
    };
    this.instances.push(instance);
    return instance;
  }

  register(instanceId: string, options: { runningTasks?: number; status?: string } = {}): ContainerInstance {
    const containerInstance: ContainerInstance = {
      containerInstanceArn: `arn:aws:ecs:eu-west-1:123456789012:container-instance/ecsauth/${instanceId.replace('i-', 'c')}`,
      ec2InstanceId: instanceId,
      status: options.status ?? 'ACTIVE',
      runningTasksCount: options.runningTasks ?? 0,
    };
    this.containerInstances.push(containerInstance);
    return containerInstance;
  }

  addLaunchTemplate(options: { tags?: Tag[]; versions?: ResponseLaunchTemplateData[]; defaultVersion?: number; description?: string } = {}): LaunchTemplate {
    const versions = (options.versions ?? [templateData()]).map((data) => ({ data, description: options.description ?? 'authecs: ami=default' }));
    const template: LaunchTemplate = {
      LaunchTemplateId: LT_ID,
      LaunchTemplateName: LT_NAME,
      Tags: options.tags ?? ourTags,
      LatestVersionNumber: versions.length,
      DefaultVersionNumber: options.defaultVersion ?? versions.length,
    };
    this.templates.push({ template, versions });
    return template;
  }

  /** RunInstances: a running instance from the named template version, tagged as asked. */
  runInstances(input: RunInput): { Instances: Instance[] } {
    const entry = this.templates.find((candidate) => candidate.template.LaunchTemplateId === input.LaunchTemplate.LaunchTemplateId)!;
    const data = entry.versions[Number(input.LaunchTemplate.Version) - 1]!.data;
    const instance: Instance = {
      InstanceId: this.nextId(),
      State: { Name: 'running' },
      SubnetId: input.SubnetId,
      LaunchTime: new Date(Date.UTC(2025, 6, 1, 0, 0, this.counter)),
      ClientToken: input.ClientToken,
      ImageId: data.ImageId,
      InstanceType: data.InstanceType,
      Tags: input.TagSpecifications.find((spec) => spec.ResourceType === 'instance')!.Tags,
    };
    this.instances.push(instance);
    this.events.push(`run ${instance.InstanceId}`);
    return { Instances: [{ ...instance, State: { Name: 'pending' } }] };
  }

  instance(id: string): Instance {
    return this.instances.find((instance) => instance.InstanceId === id)!;
  }

  tag(instance: Instance, key: string): string | undefined {
    return instance.Tags?.find((tag) => tag.Key === key)?.Value;
  }

  /** Errors CreateLaunchTemplate answers first (e.g. a group EC2 does not see yet). */
  createTemplateFailures: Error[] = [];

  install(): void {
    ec2.on(DescribeLaunchTemplatesCommand).callsFake((input: { LaunchTemplateNames?: string[] }) => {
      const found = this.templates.filter((entry) => input.LaunchTemplateNames?.includes(entry.template.LaunchTemplateName!)).map((entry) => ({ ...entry.template }));
      if (found.length === 0) throw codeError('InvalidLaunchTemplateName.NotFoundException', 'At least one of the launch templates specified in the request does not exist.');
      return { LaunchTemplates: found };
    });
    ec2.on(CreateLaunchTemplateCommand).callsFake((input: { LaunchTemplateName: string; VersionDescription?: string; TagSpecifications: { Tags: Tag[] }[]; LaunchTemplateData: RequestLaunchTemplateData }) => {
      const failure = this.createTemplateFailures.shift();
      if (failure) throw failure;
      if (this.templates.some((entry) => entry.template.LaunchTemplateName === input.LaunchTemplateName)) {
        throw codeError('InvalidLaunchTemplateName.AlreadyExistsException', 'Launch template name already in use.');
      }
      const template: LaunchTemplate = { LaunchTemplateId: LT_ID, LaunchTemplateName: input.LaunchTemplateName, Tags: input.TagSpecifications[0]!.Tags, LatestVersionNumber: 1, DefaultVersionNumber: 1 };
      this.templates.push({ template, versions: [{ data: responseData(input.LaunchTemplateData), ...(input.VersionDescription ? { description: input.VersionDescription } : {}) }] });
      return { LaunchTemplate: template };
    });
    ec2.on(CreateLaunchTemplateVersionCommand).callsFake((input: { LaunchTemplateId: string; VersionDescription?: string; LaunchTemplateData: RequestLaunchTemplateData }) => {
      const entry = this.templates.find((candidate) => candidate.template.LaunchTemplateId === input.LaunchTemplateId)!;
      entry.versions.push({ data: responseData(input.LaunchTemplateData), ...(input.VersionDescription ? { description: input.VersionDescription } : {}) });
      entry.template.LatestVersionNumber = entry.versions.length;
      this.events.push(`version ${entry.versions.length}`);
      return { LaunchTemplateVersion: { LaunchTemplateId: input.LaunchTemplateId, VersionNumber: entry.versions.length } };
    });
    ec2.on(ModifyLaunchTemplateCommand).callsFake((input: { LaunchTemplateId: string; DefaultVersion: string }) => {
      const entry = this.templates.find((candidate) => candidate.template.LaunchTemplateId === input.LaunchTemplateId)!;
      entry.template.DefaultVersionNumber = Number(input.DefaultVersion);
      this.events.push(`default ${input.DefaultVersion}`);
      return { LaunchTemplate: entry.template };
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand).callsFake((input: { LaunchTemplateId: string; Versions: string[] }) => {
      const entry = this.templates.find((candidate) => candidate.template.LaunchTemplateId === input.LaunchTemplateId);
      if (!entry) throw codeError('InvalidLaunchTemplateId.NotFound');
      return {
        LaunchTemplateVersions: input.Versions.map((version) => {
          const found = entry.versions[Number(version) - 1]!;
          return { LaunchTemplateId: input.LaunchTemplateId, VersionNumber: Number(version), LaunchTemplateData: found.data, VersionDescription: found.description };
        }),
      };
    });
    ec2.on(DeleteLaunchTemplateCommand).callsFake((input: { LaunchTemplateId: string }) => {
      const before = this.templates.length;
      this.templates = this.templates.filter((entry) => entry.template.LaunchTemplateId !== input.LaunchTemplateId);
      if (before === this.templates.length) throw codeError('InvalidLaunchTemplateId.NotFound');
      return {};
    });
    ec2.on(RunInstancesCommand).callsFake((input: RunInput) => this.runInstances(input));
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
      return { Reservations: found.length ? [{ Instances: found.map((instance) => ({ ...instance })) }] : [] };
    });
    ec2.on(TerminateInstancesCommand).callsFake((input: { InstanceIds: string[] }) => {
      const unknown = input.InstanceIds.filter((id) => !this.instances.some((instance) => instance.InstanceId === id));
      if (unknown.length) throw codeError('InvalidInstanceID.NotFound', `The instance ID '${unknown[0]}' does not exist`);
      for (const instance of this.instances) if (input.InstanceIds.includes(instance.InstanceId!)) instance.State = { Name: 'terminated' };
      this.events.push(`terminate ${input.InstanceIds.join(',')}`);
      return { TerminatingInstances: input.InstanceIds.map((InstanceId) => ({ InstanceId, CurrentState: { Name: 'shutting-down' as const } })) };
    });
    ecs.on(ListContainerInstancesCommand).callsFake(() => {
      this.registrationPolls += 1;
      if (this.autoRegister && this.registrationPolls > this.registerAfterPolls) {
        for (const instance of this.instances) {
          const running = instance.State?.Name === 'running';
          if (running && !this.containerInstances.some((container) => container.ec2InstanceId === instance.InstanceId)) {
            this.register(instance.InstanceId!);
            this.events.push(`registered ${instance.InstanceId}`);
            break; // one registration per poll, so progress shows 1/2 first
          }
        }
      }
      return { containerInstanceArns: this.containerInstances.map((container) => container.containerInstanceArn!) };
    });
    ecs.on(DescribeContainerInstancesCommand).callsFake((input: { containerInstances: string[] }) => {
      if (input.containerInstances.length === 0) throw codeError('ClientException', 'Container Instances cannot be empty.');
      const found = this.containerInstances.filter((container) => input.containerInstances.includes(container.containerInstanceArn!));
      for (const container of found) {
        if (container.status !== 'DRAINING' || (container.runningTasksCount ?? 0) === 0) continue;
        const polls = (this.drainPolls.get(container.containerInstanceArn!) ?? 0) + 1;
        this.drainPolls.set(container.containerInstanceArn!, polls);
        // Spread placement: the ACTIVE instance with the fewest tasks takes them.
        const elsewhere = this.containerInstances
          .filter((other) => other.status === 'ACTIVE')
          .sort((left, right) => (left.runningTasksCount ?? 0) - (right.runningTasksCount ?? 0))[0];
        if (polls > this.drainAfterPolls && elsewhere) {
          elsewhere.runningTasksCount = (elsewhere.runningTasksCount ?? 0) + container.runningTasksCount!;
          container.runningTasksCount = 0;
          this.events.push(`drained ${container.ec2InstanceId}`);
        }
      }
      return { containerInstances: found.map((container) => ({ ...container })) };
    });
    ecs.on(UpdateContainerInstancesStateCommand).callsFake((input: { containerInstances: string[]; status: string }) => {
      const found = this.containerInstances.filter((container) => input.containerInstances.includes(container.containerInstanceArn!));
      for (const container of found) {
        if (container.status !== 'ACTIVE') throw codeError('InvalidParameterException', 'Container instance is not ACTIVE');
        container.status = input.status;
        this.events.push(`draining ${container.ec2InstanceId}`);
      }
      return { containerInstances: found, failures: [] };
    });
    ecs.on(DeregisterContainerInstanceCommand).callsFake((input: { containerInstance: string; force?: boolean }) => {
      const index = this.containerInstances.findIndex((container) => container.containerInstanceArn === input.containerInstance);
      // moto answers a second deregister with an HTML 500.
      if (index < 0) throw Object.assign(new SyntaxError('Unexpected token <'), { $metadata: { httpStatusCode: 500 } });
      const container = this.containerInstances[index]!;
      if (!input.force && (container.runningTasksCount ?? 0) > 0) throw codeError('InvalidParameterException', 'Found running tasks on the instance.');
      this.containerInstances.splice(index, 1);
      this.events.push(`deregister ${container.ec2InstanceId}`);
      return { containerInstance: container };
    });
  }
}

const images = [
  { ImageId: 'ami-0old0000000000000', Name: 'al2023-ami-ecs-hvm-2023.0.20240702-kernel-6.1-x86_64', CreationDate: '2024-07-02T00:00:00.000Z' },
  { ImageId: 'ami-0new0000000000000', Name: 'al2023-ami-ecs-hvm-2023.0.20250812-kernel-6.1-x86_64', CreationDate: '2025-08-12T00:00:00.000Z' },
  { ImageId: 'ami-0mid0000000000000', Name: 'al2023-ami-ecs-hvm-2023.0.20250117-kernel-6.1-x86_64', CreationDate: '2025-01-17T00:00:00.000Z' },
];

/** What a completed `up` recorded for the article's two instances on version 1. */
function recorded(instanceIds: string[], extra: Partial<CapacityOutput> = {}): HarnessOptions<'capacity'>['record'] {
  return {
    created: true,
    complete: true,
    data: {
      launchTemplateId: LT_ID,
      launchTemplateName: LT_NAME,
      amiId: OLD_AMI,
      amiSource: 'default',
      launchTemplateVersion: 1,
      subnets: PRIVATE_SUBNETS,
      instanceIds,
      clientToken: 'authecs-ecsauth-capacity-0000000000000001',
      ...extra,
    },
  };
}

const MUTATING = /^(Run|Terminate|Create|Modify|Delete|Update|Deregister)/;

describe('capacity step', () => {
  let harness: StepHarness<'capacity'>;
  let world: World;
  const want = () => capacityStep.desired(harness.config, harness.inputs);
  const readLive = async (): Promise<Live<'capacity', DesiredCapacity>> => (await capacityStep.read(harness.readContext))!;
  /** The changing calls to EC2 and ECS, in the order they were made. */
  const mutatingCalls = () =>
    [...ec2.calls(), ...ecs.calls()]
      .sort((left, right) => (left.calledBefore(right) ? -1 : 1))
      .map((call) => call.args[0].constructor.name.replace(/Command$/, ''))
      .filter((name) => MUTATING.test(name));
  /** Two registered instances on version 1, each running one task of the service. */
  const twoOnVersionOne = () => {
    world.autoRegister = true;
    const first = world.addInstance(0);
    const second = world.addInstance(1);
    world.register(first.InstanceId!, { runningTasks: 1 });
    world.register(second.InstanceId!, { runningTasks: 1 });
    return [first.InstanceId!, second.InstanceId!];
  };
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

  describe('desired', () => {
    it('wants the default AMI selector, the settings, sorted lists and one IMDS hop', () => {
      harness = stepHarness(capacityStep, { outputs: { network: { ...SAMPLE_OUTPUTS.network, privateSubnets: [PRIVATE_SUBNETS[1]!, PRIVATE_SUBNETS[0]!] } } });
      expect(want()).toEqual({
        launchTemplate: {
          imageId: DEFAULT_AMI,
          instanceType: 't3.small',
          instanceProfile: 'ecsInstanceRole',
          keyName: 'ecsauth',
          securityGroupIds: [SG],
          userData: USER_DATA,
          metadata: { httpTokens: 'required', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled' },
        },
        instanceCount: 2,
        subnets: PRIVATE_SUBNETS,
        outdatedInstances: 0,
      });
    });

    it('follows --ami, --instance-type, --instance-profile and --instance-count', () => {
      harness = stepHarness(capacityStep, { config: { amiId: 'ami-0123456789abcdef0', instanceType: 'm5.large', instanceProfile: 'myProfile', instanceCount: 3 } });
      expect(want()).toMatchObject({ launchTemplate: { imageId: 'ami-0123456789abcdef0', instanceType: 'm5.large', instanceProfile: 'myProfile' }, instanceCount: 3 });
    });

    it('is UNKNOWN where a dependency is still to be made', () => {
      harness = stepHarness(capacityStep);
      const unknown = capacityStep.desired(harness.config, { ...harness.inputs, network: UNKNOWN, 'key-pair': UNKNOWN, cluster: UNKNOWN });
      expect(unknown.launchTemplate).toMatchObject({ keyName: UNKNOWN, securityGroupIds: UNKNOWN, userData: UNKNOWN, instanceType: 't3.small' });
      expect(unknown.subnets).toBe(UNKNOWN);
      // Against a live group that matches today's values, the unknown fields still count as changes.
      expect(diffFields(unknown, want(), capacityStep.effects).map((change) => change.field)).toEqual(['launchTemplate', 'subnets']);
    });
  });

  describe('create', () => {
    it('makes a launch template (not a launch configuration) with the newest ECS-optimized AL2023 AMI, IMDSv2 with one hop and the ECS_CLUSTER user data', async () => {
      harness = stepHarness(capacityStep);
      world.registerAfterPolls = 1;

      expect(await capacityStep.read(harness.readContext)).toBeUndefined();
      const output = await capacityStep.create(harness.context, want());

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
        LaunchTemplateName: LT_NAME,
        VersionDescription: 'authecs: ami=default',
        TagSpecifications: [{ ResourceType: 'launch-template', Tags: ourTags }],
        LaunchTemplateData: {
          ImageId: 'ami-0new0000000000000',
          InstanceType: 't3.small',
          KeyName: 'ecsauth',
          IamInstanceProfile: { Name: 'ecsInstanceRole' },
          SecurityGroupIds: [SG],
          MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' },
          TagSpecifications: [
            { ResourceType: 'instance', Tags: ourTags },
            { ResourceType: 'volume', Tags: ourTags },
          ],
        },
      });
      const userData = Buffer.from(template.LaunchTemplateData!.UserData!, 'base64').toString('utf8');
      expect(userData).toBe('#!/bin/bash\necho ECS_CLUSTER=ecsauth >> /etc/ecs/ecs.config\n');

      // Two instances, one per private subnet, each its own RunInstances with a fresh token and slot/version tags.
      const runs = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
      expect(runs).toHaveLength(2);
      expect(runs.map((run) => run.SubnetId)).toEqual(PRIVATE_SUBNETS);
      for (const [index, run] of runs.entries()) {
        expect(run).toMatchObject({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: LT_ID, Version: '1' } });
        expect(run.ClientToken).toMatch(/^authecs-ecsauth-capacity-[0-9a-f]{16}$/);
        expect(run.TagSpecifications![0]!.Tags).toEqual(
          expect.arrayContaining([
            ...ourTags,
            { Key: 'authecs:capacity-index', Value: String(index) },
            { Key: 'authecs:launch-template-id', Value: LT_ID },
            { Key: 'authecs:launch-template-version', Value: '1' },
          ]),
        );
      }
      expect(runs[0]!.ClientToken).not.toBe(runs[1]!.ClientToken);

      expect(output).toEqual({
        launchTemplateId: LT_ID,
        launchTemplateName: LT_NAME,
        amiId: 'ami-0new0000000000000',
        amiSource: 'default',
        launchTemplateVersion: 1,
        subnets: PRIVATE_SUBNETS,
        instanceIds: world.instances.map((instance) => instance.InstanceId),
        clientToken: runs[1]!.ClientToken,
      });
      expect(harness.state.get('capacity')).toMatchObject({ created: true, data: output });
      expect(harness.state.get<CapacityOutput>('capacity')!.data.pendingLaunch).toBeUndefined();
      expect(harness.progress).toContain('0/2 container instances registered');
      expect(harness.progress).toContain('1/2 container instances registered');

      // What create made reads back as the desired state: nothing left to change.
      const live = await readLive();
      expect(diffFields(want(), live.observed, capacityStep.effects)).toEqual([]);
      expect(live.settled).toBe(true);
    });

    it('records each fresh ClientToken before its RunInstances, and each instance ID right after it', async () => {
      harness = stepHarness(capacityStep);
      const seen: { pending: unknown; instanceIds: unknown }[] = [];
      ec2.on(RunInstancesCommand).callsFake((input: { ClientToken: string }) => {
        const data = harness.state.get<CapacityOutput>('capacity')!.data;
        seen.push({ pending: data.pendingLaunch, instanceIds: data.instanceIds ?? [] });
        expect(data.pendingLaunch?.clientToken).toBe(input.ClientToken);
        if (seen.length === 2) throw codeError('InsufficientInstanceCapacity', 'no t3.small in this AZ');
        const instance = world.addInstance(0, { clientToken: input.ClientToken });
        return { Instances: [instance] };
      });

      await expect(capacityStep.create(harness.context, want())).rejects.toMatchObject({ name: 'InsufficientInstanceCapacity' });

      expect(seen[0]).toMatchObject({ pending: { index: 0, launchTemplateId: LT_ID, version: 1, subnetId: PRIVATE_SUBNETS[0] }, instanceIds: [] });
      // The second launch already sees the first instance's ID in the state file.
      expect(seen[1]).toMatchObject({ pending: { index: 1, subnetId: PRIVATE_SUBNETS[1] }, instanceIds: [world.instances[0]!.InstanceId] });
      expect(harness.state.get('capacity')).toMatchObject({ created: true, complete: false, data: { instanceIds: [world.instances[0]!.InstanceId], launchTemplateId: LT_ID } });
    });

    it('uses --ami when given and never looks the AMI up', async () => {
      harness = stepHarness(capacityStep, { config: { amiId: 'ami-0123456789abcdef0' } });

      const output = await capacityStep.create(harness.context, want());

      expect(ec2.commandCalls(DescribeImagesCommand)).toHaveLength(0);
      expect(ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input).toMatchObject({ VersionDescription: 'authecs: ami=setting', LaunchTemplateData: { ImageId: 'ami-0123456789abcdef0' } });
      expect(output).toMatchObject({ amiId: 'ami-0123456789abcdef0', amiSource: 'setting' });
    });

    it('fails with a hint when no ECS-optimized AMI is found', async () => {
      harness = stepHarness(capacityStep);
      ec2.on(DescribeImagesCommand).resolves({ Images: [] });

      await expect(capacityStep.create(harness.context, want())).rejects.toMatchObject({ code: 'AMI_NOT_FOUND', exit: 'notFound', hint: expect.stringContaining('--ami') });
      expect(ec2.commandCalls(CreateLaunchTemplateCommand)).toHaveLength(0);
    });

    it('picks the newest AMI by name when the creation dates tie (as on moto)', async () => {
      harness = stepHarness(capacityStep);
      ec2.on(DescribeImagesCommand).resolves({ Images: images.map((image) => ({ ...image, CreationDate: '2025-09-01T00:00:00.000Z' })) });

      const output = await capacityStep.create(harness.context, want());
      expect(output.amiId).toBe('ami-0new0000000000000');
    });

    it('a resumed create keeps the AMI it chose, adopts the template a killed run made and launches only the missing slot', async () => {
      harness = stepHarness(capacityStep, { record: { created: true, complete: false, data: { launchTemplateName: LT_NAME, amiId: OLD_AMI, amiSource: 'default', instanceIds: [] } } });
      world.addLaunchTemplate();
      const survivor = world.addInstance(0);

      const output = await capacityStep.create(harness.context, want());

      expect(ec2.commandCalls(DescribeImagesCommand)).toHaveLength(0);
      expect(ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input.LaunchTemplateData?.ImageId).toBe(OLD_AMI);
      const runs = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ SubnetId: PRIVATE_SUBNETS[1], LaunchTemplate: { Version: '1' } });
      expect(output.instanceIds).toEqual([survivor.InstanceId, world.instances[1]!.InstanceId]);
    });

    it('ignores instances of another stack and stopped ones when counting what is there', async () => {
      harness = stepHarness(capacityStep);
      world.addInstance(0, { stack: 'otherstack' });
      world.addInstance(1, { state: 'stopped' });

      await capacityStep.create(harness.context, want());

      expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(2);
    });

    it('turns a missing instance profile into INSTANCE_PROFILE_MISSING with a hint', async () => {
      harness = stepHarness(capacityStep);
      ec2
        .on(RunInstancesCommand)
        .rejectsOnce(codeError('NoSuchEntity', 'Instance profile ecsInstanceRole not found'))
        .rejects(codeError('InvalidParameterValue', 'Value (ecsInstanceRole) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name'));

      await expect(capacityStep.create(harness.context, want())).rejects.toMatchObject({
        code: 'INSTANCE_PROFILE_MISSING',
        exit: 'notFound',
        hint: expect.stringMatching(/ecsInstanceRole[\s\S]*--instance-profile/),
      });
      await expect(capacityStep.create(harness.context, want())).rejects.toMatchObject({ code: 'INSTANCE_PROFILE_MISSING' });
    });

    it('retries RunInstances briefly while a key pair made a moment ago is not visible yet, with the same token', async () => {
      harness = stepHarness(capacityStep, { config: { instanceCount: 1 } });
      ec2
        .on(RunInstancesCommand)
        .rejectsOnce(codeError('InvalidKeyPair.NotFound', "The key pair 'ecsauth' does not exist"))
        .callsFake((input: RunInput) => world.runInstances(input));

      await capacityStep.create(harness.context, want());

      const tokens = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input.ClientToken);
      expect(tokens).toHaveLength(2);
      expect(tokens[0]).toBe(tokens[1]);
    });

    it('times out with CAPACITY_NOT_REGISTERED when the agents never register', async () => {
      harness = stepHarness(capacityStep, { config: { waitTimeoutMinutes: 1 } });
      world.autoRegister = false;

      await expect(capacityStep.create(harness.context, want())).rejects.toMatchObject({ code: 'CAPACITY_NOT_REGISTERED', exit: 'timeout', hint: expect.stringContaining('NAT') });
      // Checks every 5 s (ECS schedule) for the minute: at 0, 5, ... 60 s; the unchanged count is shown once.
      expect(harness.progress.filter((line) => line.endsWith('container instances registered'))).toEqual(['0/2 container instances registered']);
      expect(harness.reporter.events.filter((event) => event.type === 'wait' && event.description.includes('to register'))).toEqual([
        { type: 'wait', step: 'capacity', description: '2 container instances to register with cluster ecsauth', calls: 13, elapsedMs: 60_000, outcome: 'timed-out' },
      ]);
    });

    it('counts only container instances of our EC2 instances as registered', async () => {
      harness = stepHarness(capacityStep, { config: { waitTimeoutMinutes: 1 } });
      world.autoRegister = false;
      world.register('i-0someoneelse0000');
      world.register('i-0someoneelse0001');

      await expect(capacityStep.create(harness.context, want())).rejects.toMatchObject({ code: 'CAPACITY_NOT_REGISTERED' });
    });
  });

  describe('read', () => {
    it('reports the template, the instances by slot and their registration, with no write and no mutating call', async () => {
      world.addLaunchTemplate();
      const ids = twoOnVersionOne();
      harness = stepHarness(capacityStep, { record: recorded(ids) });

      const live = await readLive();

      expect(live).toMatchObject({
        created: true,
        settled: true,
        output: { launchTemplateId: LT_ID, launchTemplateName: LT_NAME, amiId: OLD_AMI, amiSource: 'default', launchTemplateVersion: 1, subnets: PRIVATE_SUBNETS, instanceIds: ids },
        observed: { instanceCount: 2, subnets: PRIVATE_SUBNETS, outdatedInstances: 0, launchTemplate: { imageId: DEFAULT_AMI, instanceType: 't3.small', metadata: { httpPutResponseHopLimit: 1 } } },
        health: { healthy: true, summary: '2/2 running, 2/2 registered', details: { runningCount: 2, registeredCount: 2, outdatedCount: 0 } },
      });
      expect(diffFields(want(), live.observed, capacityStep.effects)).toEqual([]);
      expect(mutatingCalls()).toEqual([]);
    });

    it('without a record (state lost) reads the AMI and its origin from the template version', async () => {
      world.addLaunchTemplate();
      twoOnVersionOne();
      harness = stepHarness(capacityStep);

      const live = await readLive();
      expect(live.output).toMatchObject({ amiId: OLD_AMI, amiSource: 'default', clientToken: '' });
      expect(live.observed.launchTemplate?.imageId).toBe(DEFAULT_AMI);
    });

    it('is not settled while an instance is pending or not registered; health counts what runs and is registered', async () => {
      world.addLaunchTemplate();
      world.autoRegister = false;
      const first = world.addInstance(0);
      const second = world.addInstance(1, { state: 'pending' });
      world.register(first.InstanceId!);
      harness = stepHarness(capacityStep, { record: recorded([first.InstanceId!, second.InstanceId!]) });

      let live = await readLive();
      expect(live.settled).toBe(false);
      expect(live.health).toMatchObject({ healthy: false, summary: '1/2 running, 1/2 registered' });

      second.State = { Name: 'running' };
      live = await readLive();
      expect(live.settled).toBe(false);
      expect(live.health.summary).toBe('2/2 running, 1/2 registered');

      world.register(second.InstanceId!);
      expect((await readLive()).settled).toBe(true);
    });

    it('settle waits for registration and returns the output', async () => {
      world.addLaunchTemplate();
      world.autoRegister = true;
      world.registerAfterPolls = 2;
      const first = world.addInstance(0);
      const second = world.addInstance(1);
      harness = stepHarness(capacityStep, { record: recorded([first.InstanceId!, second.InstanceId!]) });

      const live = await readLive();
      expect(live.settled).toBe(false);
      expect(await capacityStep.settle!(harness.context, live)).toEqual(live.output);
      expect(world.containerInstances).toHaveLength(2);
    });

    it('finds nothing without a launch template', async () => {
      harness = stepHarness(capacityStep, { record: recorded([]) });
      expect(await capacityStep.read(harness.readContext)).toBeUndefined();
    });

    it('refuses a same-named launch template that authecs did not create', async () => {
      harness = stepHarness(capacityStep);
      world.addLaunchTemplate({ tags: [{ Key: 'team', Value: 'other' }] });

      await expect(capacityStep.read(harness.readContext)).rejects.toMatchObject({ code: 'LAUNCH_TEMPLATE_NAME_TAKEN', exit: 'conflict' });
      await expect(capacityStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'LAUNCH_TEMPLATE_NAME_TAKEN' });
      await expect(capacityStep.create(harness.context, want())).rejects.toMatchObject({ code: 'LAUNCH_TEMPLATE_NAME_TAKEN' });
      expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(0);
    });

    it('--ami that differs from the live image is a change; one that names it is not', async () => {
      world.addLaunchTemplate();
      const ids = twoOnVersionOne();
      harness = stepHarness(capacityStep, { record: recorded(ids), config: { amiId: 'ami-0bbbbbbbbbbbbbbb0' } });
      expect(diffFields(want(), (await readLive()).observed, capacityStep.effects)).toEqual([
        expect.objectContaining({ field: 'launchTemplate', effect: 'update', from: expect.objectContaining({ imageId: DEFAULT_AMI }), to: expect.objectContaining({ imageId: 'ami-0bbbbbbbbbbbbbbb0' }) }),
      ]);

      harness.cleanup();
      harness = stepHarness(capacityStep, { record: recorded(ids), config: { amiId: OLD_AMI } });
      expect(diffFields(want(), (await readLive()).observed, capacityStep.effects)).toEqual([]);
    });

    it('a template from before the hop-limit fix and untagged instances show a template change and instances to replace', async () => {
      world.addLaunchTemplate({ versions: [templateData({ MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' } })] });
      world.addInstance(0, { version: 'none' });
      world.addInstance(1, { version: 'none' });
      harness = stepHarness(capacityStep, { record: recorded(world.instances.map((instance) => instance.InstanceId!)) });

      const changes = diffFields(want(), (await readLive()).observed, capacityStep.effects);
      expect(changes.map((change) => [change.field, change.effect])).toEqual([
        ['launchTemplate', 'update'],
        ['outdatedInstances', 'update'],
      ]);
      expect(changes[1]).toMatchObject({ from: 2, to: 0 });
    });
  });

  describe('update', () => {
    it('t3 -> t4g: the new version gets the newest arm64 ECS AMI, not the x86_64 one it had (DescribeInstanceTypes SupportedArchitectures)', async () => {
      world.addLaunchTemplate();
      const [old0, old1] = twoOnVersionOne();
      harness = stepHarness(capacityStep, { record: recorded([old0!, old1!]), config: { instanceType: 't4g.small' } });
      ec2.on(DescribeInstanceTypesCommand, { InstanceTypes: ['t4g.small'] }).resolves({ InstanceTypes: [{ InstanceType: 't4g.small', ProcessorInfo: { SupportedArchitectures: ['arm64'] } }] });
      ec2.on(DescribeInstanceTypesCommand, { InstanceTypes: ['t3.small'] }).resolves({ InstanceTypes: [{ InstanceType: 't3.small', ProcessorInfo: { SupportedArchitectures: ['x86_64'] } }] });
      ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0arm000000000000', Name: 'al2023-ami-ecs-hvm-2023.0.20250812-kernel-6.1-arm64', CreationDate: '2025-08-12T00:00:00.000Z' }] });

      const live = await readLive();
      await capacityStep.update!(harness.context, want(), live, diffFields(want(), live.observed, capacityStep.effects));

      expect(ec2.commandCalls(DescribeImagesCommand)[0]!.args[0].input.Filters).toContainEqual({ Name: 'architecture', Values: ['arm64'] });
      expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0]!.args[0].input.LaunchTemplateData).toMatchObject({ ImageId: 'ami-0arm000000000000', InstanceType: 't4g.small' });
    });

    it('a changed instance type: a new template version, then a rolling replacement one instance at a time', async () => {
      world.addLaunchTemplate();
      const [old0, old1] = twoOnVersionOne();
      harness = stepHarness(capacityStep, { record: recorded([old0!, old1!]), config: { instanceType: 't3.medium' } });
      const tokensInState: string[] = [];
      ec2.on(RunInstancesCommand).callsFake((input: RunInput) => {
        tokensInState.push(harness.state.get<CapacityOutput>('capacity')!.data.pendingLaunch?.clientToken ?? '');
        return world.runInstances(input);
      });

      const live = await readLive();
      const changes = diffFields(want(), live.observed, capacityStep.effects);
      expect(changes).toEqual([
        {
          field: 'launchTemplate',
          from: expect.objectContaining({ instanceType: 't3.small' }),
          to: expect.objectContaining({ instanceType: 't3.medium' }),
          effect: 'update',
        },
      ]);

      const output = await capacityStep.update!(harness.context, want(), live, changes);

      // The new version keeps the auto-chosen AMI (no lookup), has the new type and one IMDS hop.
      expect(ec2.commandCalls(DescribeImagesCommand)).toHaveLength(0);
      expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0]!.args[0].input).toMatchObject({
        LaunchTemplateId: LT_ID,
        VersionDescription: 'authecs: ami=default',
        LaunchTemplateData: { ImageId: OLD_AMI, InstanceType: 't3.medium', MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' } },
      });
      expect(ec2.commandCalls(ModifyLaunchTemplateCommand)[0]!.args[0].input).toEqual({ LaunchTemplateId: LT_ID, DefaultVersion: '2' });
      const runs = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
      const [new0, new1] = world.instances.slice(2).map((instance) => instance.InstanceId!);
      expect(world.events).toEqual([
        'version 2',
        'default 2',
        `run ${new0}`,
        `registered ${new0}`,
        `draining ${old0}`,
        `drained ${old0}`,
        `deregister ${old0}`,
        `terminate ${old0}`,
        `run ${new1}`,
        `registered ${new1}`,
        `draining ${old1}`,
        `drained ${old1}`,
        `deregister ${old1}`,
        `terminate ${old1}`,
      ]);
      expect(mutatingCalls()).toEqual([
        'CreateLaunchTemplateVersion',
        'ModifyLaunchTemplate',
        'RunInstances',
        'UpdateContainerInstancesState',
        'DeregisterContainerInstance',
        'TerminateInstances',
        'RunInstances',
        'UpdateContainerInstancesState',
        'DeregisterContainerInstance',
        'TerminateInstances',
      ]);
      expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)[0]!.args[0].input).toMatchObject({ cluster: 'ecsauth', status: 'DRAINING' });
      expect(ecs.commandCalls(DeregisterContainerInstanceCommand).map((call) => call.args[0].input.force)).toEqual([false, false]);
      // Each launch: the explicit new version, its slot's subnet, a fresh token that was in the state first.
      expect(runs.map((run) => [run.LaunchTemplate?.Version, run.SubnetId])).toEqual([
        ['2', PRIVATE_SUBNETS[0]],
        ['2', PRIVATE_SUBNETS[1]],
      ]);
      expect(tokensInState).toEqual(runs.map((run) => run.ClientToken));
      expect(new Set([...runs.map((run) => run.ClientToken), 'authecs-ecsauth-capacity-0000000000000001']).size).toBe(3);
      expect(harness.progress).toContain(`1 task(s) still running on ${old0}`);

      expect(output).toMatchObject({ launchTemplateVersion: 2, instanceIds: [new0, new1], amiId: OLD_AMI, amiSource: 'default' });
      expect(world.instance(old0!).State?.Name).toBe('terminated');
      expect(world.instance(old1!).State?.Name).toBe('terminated');
      // The service's two tasks moved onto the new instances.
      expect(world.containerInstances.map((container) => [container.ec2InstanceId, container.runningTasksCount])).toEqual([
        [new0, 1],
        [new1, 1],
      ]);
      const after = await readLive();
      expect(diffFields(want(), after.observed, capacityStep.effects)).toEqual([]);
      expect(after.health.healthy).toBe(true);
    });

    it('records progress after every launch and every termination', async () => {
      world.addLaunchTemplate();
      const [old0, old1] = twoOnVersionOne();
      harness = stepHarness(capacityStep, { record: recorded([old0!, old1!]), config: { instanceType: 't3.medium' } });
      const snapshots: string[][] = [];
      ec2.on(TerminateInstancesCommand).callsFake((input: { InstanceIds: string[] }) => {
        snapshots.push([...(harness.state.get<CapacityOutput>('capacity')!.data.instanceIds ?? [])]);
        for (const instance of world.instances) if (input.InstanceIds.includes(instance.InstanceId!)) instance.State = { Name: 'terminated' };
        return {};
      });
      const live = await readLive();

      await capacityStep.update!(harness.context, want(), live, diffFields(want(), live.observed, capacityStep.effects));

      const [new0, new1] = world.instances.slice(2).map((instance) => instance.InstanceId!);
      // Before each termination the state already holds the new instance; after it, not the old one.
      expect(snapshots).toEqual([
        [old0, old1, new0],
        [old1, new0, new1],
      ]);
      expect(harness.state.get<CapacityOutput>('capacity')!.data.instanceIds).toEqual([new0, new1]);
    });

    it('instanceCount 2 -> 3 launches one instance in the next slot and touches nothing else', async () => {
      world.addLaunchTemplate();
      const ids = twoOnVersionOne();
      harness = stepHarness(capacityStep, { record: recorded(ids), config: { instanceCount: 3 } });

      const live = await readLive();
      const changes = diffFields(want(), live.observed, capacityStep.effects);
      expect(changes).toEqual([{ field: 'instanceCount', from: 2, to: 3, effect: 'update' }]);
      const output = await capacityStep.update!(harness.context, want(), live, changes);

      expect(mutatingCalls()).toEqual(['RunInstances']);
      expect(ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input).toMatchObject({ SubnetId: PRIVATE_SUBNETS[0], LaunchTemplate: { Version: '1' } });
      expect(output.instanceIds).toEqual([...ids, world.instances[2]!.InstanceId]);
    });

    it('instanceCount 2 -> 1 drains and terminates the highest slot and launches nothing', async () => {
      world.addLaunchTemplate();
      const [first, second] = twoOnVersionOne();
      harness = stepHarness(capacityStep, { record: recorded([first!, second!]), config: { instanceCount: 1 } });

      const live = await readLive();
      const changes = diffFields(want(), live.observed, capacityStep.effects);
      expect(changes).toEqual([{ field: 'instanceCount', from: 2, to: 1, effect: 'update' }]);
      const output = await capacityStep.update!(harness.context, want(), live, changes);

      expect(mutatingCalls()).toEqual(['UpdateContainerInstancesState', 'DeregisterContainerInstance', 'TerminateInstances']);
      expect(world.events).toEqual([`draining ${second}`, `drained ${second}`, `deregister ${second}`, `terminate ${second}`]);
      expect(output.instanceIds).toEqual([first]);
      expect(harness.state.get<CapacityOutput>('capacity')!.data.instanceIds).toEqual([first]);
    });

    it('a roll killed half-way: re-read shows what is left to do, and update finishes it without a duplicate launch', async () => {
      // The killed run made version 2 (not yet the default), launched slot 0's replacement and set the old one DRAINING.
      world.addLaunchTemplate({ versions: [templateData(), templateData({ InstanceType: 't3.medium' })], defaultVersion: 1 });
      world.autoRegister = true;
      const old0 = world.addInstance(0);
      const old1 = world.addInstance(1);
      const new0 = world.addInstance(0, { version: 2, clientToken: 'authecs-ecsauth-capacity-aaaaaaaaaaaaaaaa' });
      world.register(old0.InstanceId!, { runningTasks: 1, status: 'DRAINING' });
      world.register(old1.InstanceId!, { runningTasks: 1 });
      world.register(new0.InstanceId!);
      harness = stepHarness(capacityStep, {
        config: { instanceType: 't3.medium' },
        record: recorded([old0.InstanceId!, old1.InstanceId!], {
          clientToken: 'authecs-ecsauth-capacity-aaaaaaaaaaaaaaaa',
          pendingLaunch: { clientToken: 'authecs-ecsauth-capacity-aaaaaaaaaaaaaaaa', index: 0, launchTemplateId: LT_ID, version: 2, subnetId: PRIVATE_SUBNETS[0]! },
        }),
      });

      const live = await readLive();
      const changes = diffFields(want(), live.observed, capacityStep.effects);
      // The template already says t3.medium: what remains is the roll.
      expect(changes).toEqual([{ field: 'outdatedInstances', from: 2, to: 0, effect: 'update' }]);

      const output = await capacityStep.update!(harness.context, want(), live, changes);

      expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
      const runs = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ SubnetId: PRIVATE_SUBNETS[1], LaunchTemplate: { Version: '2' } });
      expect(runs[0]!.ClientToken).not.toBe('authecs-ecsauth-capacity-aaaaaaaaaaaaaaaa');
      const new1 = world.instances[3]!.InstanceId!;
      expect(world.events).toEqual([
        'default 2',
        `drained ${old0.InstanceId}`,
        `deregister ${old0.InstanceId}`,
        `terminate ${old0.InstanceId}`,
        `run ${new1}`,
        `registered ${new1}`,
        `draining ${old1.InstanceId}`,
        `drained ${old1.InstanceId}`,
        `deregister ${old1.InstanceId}`,
        `terminate ${old1.InstanceId}`,
      ]);
      expect(output.instanceIds).toEqual([new0.InstanceId, new1]);
      expect(harness.state.get<CapacityOutput>('capacity')!.data.pendingLaunch).toBeUndefined();
    });

    it('a roll killed after the token was recorded but before RunInstances: the same launch reuses its token', async () => {
      world.addLaunchTemplate({ versions: [templateData(), templateData({ InstanceType: 't3.medium' })] });
      const [old0, old1] = twoOnVersionOne();
      harness = stepHarness(capacityStep, {
        config: { instanceType: 't3.medium' },
        record: recorded([old0!, old1!], {
          pendingLaunch: { clientToken: 'authecs-ecsauth-capacity-bbbbbbbbbbbbbbbb', index: 0, launchTemplateId: LT_ID, version: 2, subnetId: PRIVATE_SUBNETS[0]! },
        }),
      });

      const live = await readLive();
      await capacityStep.update!(harness.context, want(), live, diffFields(want(), live.observed, capacityStep.effects));

      const tokens = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input.ClientToken);
      expect(tokens).toHaveLength(2);
      expect(tokens[0]).toBe('authecs-ecsauth-capacity-bbbbbbbbbbbbbbbb');
      expect(tokens[1]).not.toBe(tokens[0]);
    });

    it('never reuses a token whose instance is gone (EC2 would return that terminated instance)', async () => {
      world.addLaunchTemplate({ versions: [templateData(), templateData({ InstanceType: 't3.medium' })] });
      const [old0, old1] = twoOnVersionOne();
      world.addInstance(0, { version: 2, state: 'terminated', clientToken: 'authecs-ecsauth-capacity-cccccccccccccccc' });
      harness = stepHarness(capacityStep, {
        config: { instanceType: 't3.medium' },
        record: recorded([old0!, old1!], {
          pendingLaunch: { clientToken: 'authecs-ecsauth-capacity-cccccccccccccccc', index: 0, launchTemplateId: LT_ID, version: 2, subnetId: PRIVATE_SUBNETS[0]! },
        }),
      });

      const live = await readLive();
      await capacityStep.update!(harness.context, want(), live, diffFields(want(), live.observed, capacityStep.effects));

      const tokens = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input.ClientToken);
      expect(tokens).toHaveLength(2);
      expect(tokens).not.toContain('authecs-ecsauth-capacity-cccccccccccccccc');
    });

    it('a recorded token that EC2 answers with a terminated instance is replaced by a fresh one', async () => {
      world.addLaunchTemplate({ versions: [templateData(), templateData({ InstanceType: 't3.medium' })] });
      const [old0, old1] = twoOnVersionOne();
      const stale = 'authecs-ecsauth-capacity-dddddddddddddddd';
      harness = stepHarness(capacityStep, {
        config: { instanceType: 't3.medium' },
        record: recorded([old0!, old1!], { pendingLaunch: { clientToken: stale, index: 0, launchTemplateId: LT_ID, version: 2, subnetId: PRIVATE_SUBNETS[0]! } }),
      });
      // Its instance ended long ago (no longer listed), but EC2 still knows the token.
      ec2.on(RunInstancesCommand).callsFake((input: RunInput) =>
        input.ClientToken === stale ? { Instances: [{ InstanceId: 'i-0ended0000000000', State: { Name: 'terminated' } }] } : world.runInstances(input),
      );

      const live = await readLive();
      const output = await capacityStep.update!(harness.context, want(), live, diffFields(want(), live.observed, capacityStep.effects));

      const tokens = ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input.ClientToken);
      expect(tokens).toHaveLength(3);
      expect(tokens[0]).toBe(stale);
      expect(new Set(tokens).size).toBe(3);
      expect(output.instanceIds).not.toContain('i-0ended0000000000');
      expect(harness.state.get<CapacityOutput>('capacity')!.data.instanceIds).toEqual(output.instanceIds);
    });

    it('leaving --ami for the default picks the newest ECS-optimized AMI and rolls onto it', async () => {
      world.addLaunchTemplate({ versions: [templateData({ ImageId: 'ami-0123456789abcdef0' })], description: 'authecs: ami=setting' });
      const ids = twoOnVersionOne();
      harness = stepHarness(capacityStep, { record: recorded(ids, { amiId: 'ami-0123456789abcdef0', amiSource: 'setting' }) });

      const live = await readLive();
      const changes = diffFields(want(), live.observed, capacityStep.effects);
      expect(changes.map((change) => change.field)).toEqual(['launchTemplate']);
      const output = await capacityStep.update!(harness.context, want(), live, changes);

      expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0]!.args[0].input).toMatchObject({ VersionDescription: 'authecs: ami=default', LaunchTemplateData: { ImageId: 'ami-0new0000000000000' } });
      expect(output).toMatchObject({ amiId: 'ami-0new0000000000000', amiSource: 'default', launchTemplateVersion: 2 });
      expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(2);
    });

    it('times out with CAPACITY_NOT_DRAINED (and a hint) when ECS cannot move the tasks, leaving the old instance running', async () => {
      world.addLaunchTemplate();
      const [old0, old1] = twoOnVersionOne();
      world.drainAfterPolls = Number.POSITIVE_INFINITY;
      harness = stepHarness(capacityStep, { record: recorded([old0!, old1!]), config: { instanceType: 't3.medium', waitTimeoutMinutes: 1 } });

      const live = await readLive();
      await expect(capacityStep.update!(harness.context, want(), live, diffFields(want(), live.observed, capacityStep.effects))).rejects.toMatchObject({
        code: 'CAPACITY_NOT_DRAINED',
        exit: 'timeout',
        hint: expect.stringContaining('minimumHealthyPercent'),
      });
      expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
      expect(ecs.commandCalls(DeregisterContainerInstanceCommand)).toHaveLength(0);
      expect(world.instance(old0!).State?.Name).toBe('running');
    });
  });

  describe('delete', () => {
    it('deregisters our container instances once each, terminates and waits, then deletes the launch template', async () => {
      world.addLaunchTemplate();
      const first = world.addInstance(0);
      const second = world.addInstance(1);
      world.autoRegister = false;
      world.register(first.InstanceId!);
      world.register(second.InstanceId!);
      const foreign = world.register('i-0someoneelse0000');
      harness = stepHarness(capacityStep, { record: recorded([first.InstanceId!, second.InstanceId!]) });

      await capacityStep.delete(harness.context);

      const deregistered = ecs.commandCalls(DeregisterContainerInstanceCommand).map((call) => call.args[0].input);
      expect(deregistered).toHaveLength(2);
      for (const input of deregistered) expect(input).toMatchObject({ cluster: 'ecsauth', force: true });
      expect(world.containerInstances).toEqual([foreign]);
      expect(ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input.InstanceIds).toEqual([first.InstanceId, second.InstanceId]);
      expect(world.instances.every((instance) => instance.State?.Name === 'terminated')).toBe(true);
      expect(ec2.commandCalls(DeleteLaunchTemplateCommand)[0]!.args[0].input).toEqual({ LaunchTemplateId: LT_ID });
      expect(mutatingCalls()).toEqual(['DeregisterContainerInstance', 'DeregisterContainerInstance', 'TerminateInstances', 'DeleteLaunchTemplate']);
      expect(harness.state.get('capacity')).toMatchObject({ data: { instanceIds: [] } });
    });

    it('also terminates tagged instances a killed run never recorded', async () => {
      world.addLaunchTemplate();
      const kept = world.addInstance(0);
      const unrecorded = world.addInstance(1, { state: 'pending' });
      harness = stepHarness(capacityStep, { record: { created: true, complete: false, data: { clientToken: '', instanceIds: [kept.InstanceId!] } } });

      await capacityStep.delete(harness.context);

      expect(ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input.InstanceIds).toEqual([kept.InstanceId, unrecorded.InstanceId]);
      expect(world.templates).toEqual([]);
    });

    it('tolerates instances, container instances and a launch template that are already gone', async () => {
      world.autoRegister = false;
      const live = world.addInstance(0);
      const ghost = world.register(live.InstanceId!);
      harness = stepHarness(capacityStep, { record: recorded(['i-0gone00000000000', live.InstanceId!]) });
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

    it('rethrows a deregister error when the container instance is still there', async () => {
      world.autoRegister = false;
      const live = world.addInstance(0);
      world.register(live.InstanceId!);
      harness = stepHarness(capacityStep, { record: recorded([live.InstanceId!]) });
      ecs.on(DeregisterContainerInstanceCommand).rejects(codeError('AccessDeniedException'));

      await expect(capacityStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDeniedException' });
      expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
    });

    it('leaves a same-named launch template that is not ours', async () => {
      world.addLaunchTemplate({ tags: [{ Key: 'team', Value: 'other' }] });
      harness = stepHarness(capacityStep, { record: recorded([], { launchTemplateId: 'lt-0ffffffffffffffff' }) });

      await capacityStep.delete(harness.context);

      expect(ec2.commandCalls(DeleteLaunchTemplateCommand)).toHaveLength(0);
    });
  });

  // EC2 Developer Guide, "Eventual consistency in the Amazon EC2 API": InvalidGroup.NotFound right after CreateSecurityGroup.
  describe('eventual consistency (EC2 API Reference, "Eventual consistency")', () => {
    it('retries CreateLaunchTemplate while a security group or key pair made a moment ago is not visible yet', async () => {
      harness = stepHarness(capacityStep, { config: { instanceCount: 1 } });
      world.createTemplateFailures.push(codeError('InvalidGroup.NotFound', `The security group '${SG}' does not exist`), codeError('InvalidKeyPair.NotFound', "The key pair 'ecsauth' does not exist"));

      await capacityStep.create(harness.context, want());

      expect(ec2.commandCalls(CreateLaunchTemplateCommand)).toHaveLength(3);
      expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(1);
    });

    it('gives up after the bound with the AWS error itself (a group that really is missing)', async () => {
      harness = stepHarness(capacityStep, { config: { instanceCount: 1 } });
      world.createTemplateFailures.push(...Array.from({ length: 100 }, () => codeError('InvalidGroup.NotFound', `The security group '${SG}' does not exist`)));

      await expect(capacityStep.create(harness.context, want())).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });
      expect(ec2.commandCalls(CreateLaunchTemplateCommand).length).toBeLessThan(40);
    });
  });

  describe('preflight (issue 8 section 3)', () => {
    const arm64 = { InstanceTypes: [{ InstanceType: 't4g.small' as const, ProcessorInfo: { SupportedArchitectures: ['arm64' as const] } }] };
    const x86 = { InstanceTypes: [{ InstanceType: 't3.small' as const, ProcessorInfo: { SupportedArchitectures: ['i386' as const, 'x86_64' as const] } }] };
    beforeEach(() => {
      iam.reset();
      iam.on(GetInstanceProfileCommand).resolves({ InstanceProfile: { InstanceProfileName: 'ecsInstanceRole', Path: '/', InstanceProfileId: 'AIPAEXAMPLE', Arn: 'arn:aws:iam::123456789012:instance-profile/ecsInstanceRole', CreateDate: new Date(), Roles: [] } });
      ec2.on(DescribeInstanceTypesCommand).resolves(x86);
    });

    it('refuses a missing instance profile (IAM GetInstanceProfile: NoSuchEntity) before anything is created', async () => {
      harness = stepHarness(capacityStep, { config: { instanceProfile: 'missingProfile' } });
      iam.on(GetInstanceProfileCommand).rejects(codeError('NoSuchEntityException', 'Instance Profile missingProfile cannot be found.'));

      await expect(capacityStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'INSTANCE_PROFILE_MISSING', exit: 'notFound', hint: expect.stringContaining('--instance-profile') });
      expect(iam.commandCalls(GetInstanceProfileCommand)[0]!.args[0].input).toEqual({ InstanceProfileName: 'missingProfile' });
      expect(mutatingCalls()).toEqual([]);
    });

    it('passes with the profile and an x86_64 type', async () => {
      harness = stepHarness(capacityStep);
      await expect(capacityStep.preflight!(harness.readContext)).resolves.toBeUndefined();
      expect(ec2.commandCalls(DescribeInstanceTypesCommand)[0]!.args[0].input).toEqual({ InstanceTypes: ['t3.small'] });
    });

    it('refuses an explicit --ami whose architecture the instance type cannot run (x86_64 AMI on t4g)', async () => {
      harness = stepHarness(capacityStep, { config: { instanceType: 't4g.small', amiId: 'ami-0123456789abcdef0' } });
      ec2.on(DescribeInstanceTypesCommand).resolves(arm64);
      ec2.on(DescribeImagesCommand, { ImageIds: ['ami-0123456789abcdef0'] }).resolves({ Images: [{ ImageId: 'ami-0123456789abcdef0', Architecture: 'x86_64' }] });

      await expect(capacityStep.preflight!(harness.readContext)).rejects.toMatchObject({
        code: 'AMI_ARCHITECTURE_MISMATCH',
        exit: 'usage',
        message: expect.stringContaining('t4g.small runs arm64'),
        hint: expect.stringContaining('al2023-ami-ecs-hvm-*-arm64'),
      });
      expect(mutatingCalls()).toEqual([]);
    });

    it('refuses an --ami EC2 does not know (InvalidAMIID.NotFound)', async () => {
      harness = stepHarness(capacityStep, { config: { amiId: 'ami-0123456789abcdef0' } });
      ec2.on(DescribeImagesCommand, { ImageIds: ['ami-0123456789abcdef0'] }).rejects(codeError('InvalidAMIID.NotFound', "The image id '[ami-0123456789abcdef0]' does not exist"));

      await expect(capacityStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'AMI_NOT_FOUND', exit: 'notFound' });
    });

    it('refuses an instance type EC2 does not know', async () => {
      harness = stepHarness(capacityStep, { config: { instanceType: 't9.small' } });
      ec2.on(DescribeInstanceTypesCommand).rejects(codeError('InvalidInstanceType', "The following supplied instance types do not exist: [t9.small]"));

      await expect(capacityStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'INSTANCE_TYPE_UNKNOWN', exit: 'usage' });
    });

    // EC2 API Reference, DescribeInstanceTypes: ProcessorInfo.SupportedArchitectures.
    it('an arm64 type (t4g) gets the newest arm64 ECS-optimized AMI, chosen automatically (DescribeInstanceTypes SupportedArchitectures)', async () => {
      harness = stepHarness(capacityStep, { config: { instanceType: 't4g.small', instanceCount: 1 } });
      ec2.on(DescribeInstanceTypesCommand).resolves(arm64);
      ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0arm000000000000', Name: 'al2023-ami-ecs-hvm-2023.0.20250812-kernel-6.1-arm64', CreationDate: '2025-08-12T00:00:00.000Z' }] });

      await capacityStep.create(harness.context, want());

      expect(ec2.commandCalls(DescribeImagesCommand)[0]!.args[0].input).toEqual({
        Owners: ['amazon'],
        Filters: [
          { Name: 'name', Values: ['al2023-ami-ecs-hvm-*-arm64'] },
          { Name: 'state', Values: ['available'] },
          { Name: 'architecture', Values: ['arm64'] },
        ],
      });
      expect(ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input.LaunchTemplateData).toMatchObject({ ImageId: 'ami-0arm000000000000', InstanceType: 't4g.small' });
    });
  });
});
