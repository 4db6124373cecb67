import { createHash, randomBytes } from 'node:crypto';
import {
  CreateLaunchTemplateCommand,
  DeleteLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  type Instance,
  type InstanceStateName,
  type LaunchTemplate,
  type Tag,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { DeregisterContainerInstanceCommand, DescribeContainerInstancesCommand, ListContainerInstancesCommand, type ContainerInstance } from '@aws-sdk/client-ecs';
import { hasErrorCode } from '../aws/errors.js';
import { pollUntil } from './shared/poll.js';
import { AuthecsError } from '../errors.js';
import type { CapacityOutput } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type StepContext } from './step.js';

type Context = StepContext<'capacity'>;

/** Which of the config.instanceCount slots an instance fills; lets a resumed run find it again. */
export const CAPACITY_INDEX_TAG_KEY = 'authecs:capacity-index';
/** The ECS-optimized Amazon Linux 2023 family (x86_64, no GPU or Neuron variants). */
export const ECS_AMI_NAME_PATTERN = 'al2023-ami-ecs-hvm-*-x86_64';

const REGISTRATION_POLL_SECONDS = 10;
const INSTANCE_POLL_SECONDS = 15;
const LIVE_STATES: InstanceStateName[] = ['pending', 'running'];
const NOT_TERMINATED_STATES: InstanceStateName[] = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
const LAUNCH_TEMPLATE_NOT_FOUND = ['InvalidLaunchTemplateName.NotFoundException', 'InvalidLaunchTemplateId.NotFound', 'InvalidLaunchTemplateId.NotFoundException'];

export function launchTemplateNameFor(stack: string): string {
  return `authecs-${stack}`.replace(/[^A-Za-z0-9().\-/_]/g, '-').slice(0, 128);
}

/** The line the ECS agent reads to join the cluster (ecs-cli writes the same). */
export function userDataFor(cluster: string): string {
  return Buffer.from(`#!/bin/bash\necho ECS_CLUSTER=${cluster} >> /etc/ecs/ecs.config\n`, 'utf8').toString('base64');
}

/**
 * A base idempotency token, recorded before the first create call and reused by a resumed run.
 * It carries a random part because EC2 remembers a RunInstances token: after `down`, a fixed
 * token would hand the next `up` its terminated instances back.
 */
function newClientToken(stack: string): string {
  const readable = `authecs-${stack}`.replace(/[^A-Za-z0-9-]/g, '-');
  const prefix = readable.length <= 32 ? readable : `authecs-${createHash('sha256').update(stack).digest('hex').slice(0, 16)}`;
  return `${prefix}-capacity-${randomBytes(4).toString('hex')}`;
}

export function instanceClientToken(base: string, index: number): string {
  return `${base}-${index}`;
}

function tagValue(tags: readonly Tag[] | undefined, key: string): string | undefined {
  return tags?.find((tag) => tag.Key === key)?.Value;
}

function clusterNameOf(context: Context): string {
  return context.hasOutput('cluster') ? context.output('cluster').clusterName : context.config.cluster;
}

async function describeLaunchTemplate(context: Context, name: string): Promise<LaunchTemplate | undefined> {
  try {
    const response = await context.clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [name] }));
    return response.LaunchTemplates?.[0];
  } catch (error) {
    if (hasErrorCode(error, ...LAUNCH_TEMPLATE_NOT_FOUND)) return undefined;
    throw error;
  }
}

function launchTemplateIsOurs(context: Context, template: LaunchTemplate): boolean {
  const recordedId = context.record?.data.launchTemplateId;
  return hasStackTag(template.Tags, context.stack) || (recordedId !== undefined && recordedId === template.LaunchTemplateId);
}

/** Our launch template; one with our name but without our tag is someone else's. */
async function locateLaunchTemplate(context: Context): Promise<LaunchTemplate | undefined> {
  const name = context.record?.data.launchTemplateName ?? launchTemplateNameFor(context.stack);
  const template = await describeLaunchTemplate(context, name);
  if (!template || launchTemplateIsOurs(context, template)) return template;
  throw new AuthecsError(`A launch template named "${name}" already exists and was not created by authecs`, {
    code: 'LAUNCH_TEMPLATE_NAME_TAKEN',
    exit: 'conflict',
    resource: template.LaunchTemplateId ?? name,
    hint: 'Delete that launch template, or pass --cluster with another stack name.',
  });
}

/** This stack's capacity instances in the given states (found by tag, so a killed run's instances count). */
async function stackInstances(context: Context, states: InstanceStateName[]): Promise<Instance[]> {
  const instances: Instance[] = [];
  let nextToken: string | undefined;
  do {
    const response = await context.clients.ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${stackTags(context.stack)[0]!.Key}`, Values: [context.stack] },
          { Name: 'instance-state-name', Values: states },
        ],
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
    );
    for (const reservation of response.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (tagValue(instance.Tags, CAPACITY_INDEX_TAG_KEY) !== undefined) instances.push(instance);
      }
    }
    nextToken = response.NextToken;
  } while (nextToken);
  return instances;
}

/** One live instance per slot: the recorded one if it is still there, else the oldest. */
function bySlot(context: Context, instances: Instance[]): Map<number, Instance> {
  const recorded = context.record?.data.instanceIds ?? [];
  const slots = new Map<number, Instance>();
  const sorted = [...instances].sort((left, right) => (left.LaunchTime?.getTime() ?? 0) - (right.LaunchTime?.getTime() ?? 0));
  for (const instance of sorted) {
    const index = Number(tagValue(instance.Tags, CAPACITY_INDEX_TAG_KEY));
    if (!Number.isInteger(index) || index < 0) continue;
    const current = slots.get(index);
    if (!current || (recorded.includes(instance.InstanceId!) && !recorded.includes(current.InstanceId!))) slots.set(index, instance);
  }
  return slots;
}

/** Container instances of the cluster (none if the cluster is gone). */
async function containerInstances(context: Context, cluster: string): Promise<ContainerInstance[]> {
  const arns: string[] = [];
  try {
    let nextToken: string | undefined;
    do {
      const response = await context.clients.ecs.send(new ListContainerInstancesCommand({ cluster, ...(nextToken ? { nextToken } : {}) }));
      arns.push(...(response.containerInstanceArns ?? []));
      nextToken = response.nextToken;
    } while (nextToken);
    const described: ContainerInstance[] = [];
    for (let start = 0; start < arns.length; start += 100) {
      const response = await context.clients.ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: arns.slice(start, start + 100) }));
      described.push(...(response.containerInstances ?? []));
    }
    return described;
  } catch (error) {
    if (hasErrorCode(error, 'ClusterNotFoundException')) return [];
    throw error;
  }
}

/** How many of these EC2 instances have an ACTIVE container instance in the cluster. */
async function registeredCount(context: Context, cluster: string, instanceIds: readonly string[]): Promise<number> {
  const ours = new Set(instanceIds);
  const registered = new Set(
    (await containerInstances(context, cluster)).filter((instance) => instance.status === 'ACTIVE' && ours.has(instance.ec2InstanceId ?? '')).map((instance) => instance.ec2InstanceId),
  );
  return registered.size;
}

async function newestEcsAmi(context: Context): Promise<string> {
  const response = await context.clients.ec2.send(
    new DescribeImagesCommand({
      Owners: ['amazon'],
      Filters: [
        { Name: 'name', Values: [ECS_AMI_NAME_PATTERN] },
        { Name: 'state', Values: ['available'] },
        { Name: 'architecture', Values: ['x86_64'] },
      ],
    }),
  );
  // Newest first; the name carries the build date, which breaks ties between equal CreationDates.
  const images = (response.Images ?? [])
    .filter((image) => image.ImageId)
    .sort((left, right) => (right.CreationDate ?? '').localeCompare(left.CreationDate ?? '') || (right.Name ?? '').localeCompare(left.Name ?? ''));
  const newest = images[0];
  if (!newest) {
    throw new AuthecsError(`No ECS-optimized Amazon Linux 2023 AMI (${ECS_AMI_NAME_PATTERN}) found in ${context.config.region}`, {
      code: 'AMI_NOT_FOUND',
      exit: 'notFound',
      hint: 'Pass --ami (or AUTH_ECS_AMI) with an ECS-optimized AMI ID for this region.',
    });
  }
  return newest.ImageId!;
}

async function launchTemplateImage(context: Context, launchTemplateId: string): Promise<string | undefined> {
  const response = await context.clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId, Versions: ['$Latest'] }));
  return response.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId;
}

function outputOf(template: LaunchTemplate, amiId: string | undefined, instanceIds: string[], clientToken: string): CapacityOutput {
  return {
    launchTemplateId: template.LaunchTemplateId!,
    launchTemplateName: template.LaunchTemplateName!,
    ...(amiId ? { amiId } : {}),
    instanceIds,
    clientToken,
  };
}

function instanceProfileMissing(context: Context, error: unknown): AuthecsError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const missing = hasErrorCode(error, 'NoSuchEntity') || (hasErrorCode(error, 'InvalidParameterValue') && /IAM Instance Profile/i.test(message));
  if (!missing) return undefined;
  const profile = context.config.instanceProfile;
  return new AuthecsError(`The IAM instance profile "${profile}" for the container instances does not exist (${message})`, {
    code: 'INSTANCE_PROFILE_MISSING',
    exit: 'notFound',
    resource: profile,
    cause: error,
    hint: "Create the ecsInstanceRole role and instance profile as AWS's ECS guide describes (AmazonEC2ContainerServiceforEC2Role), or pass --instance-profile with an existing profile.",
  });
}

async function createLaunchTemplate(context: Context, clientToken: string, amiId: string): Promise<LaunchTemplate> {
  const name = launchTemplateNameFor(context.stack);
  const keyPair = context.output('key-pair');
  const network = context.output('network');
  const tags = stackTags(context.stack);
  try {
    const response = await context.clients.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: name,
        ClientToken: `${clientToken}-lt`,
        TagSpecifications: [{ ResourceType: 'launch-template', Tags: tags }],
        LaunchTemplateData: {
          ImageId: amiId,
          // The config schema checks the family.size shape; EC2 rejects types it does not know.
          InstanceType: context.config.instanceType as _InstanceType,
          KeyName: keyPair.keyName,
          IamInstanceProfile: { Name: context.config.instanceProfile },
          SecurityGroupIds: [network.securityGroupId],
          UserData: userDataFor(clusterNameOf(context)),
          // IMDSv2 only: the instance role's credentials are not readable through a plain GET.
          MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
          TagSpecifications: [
            { ResourceType: 'instance', Tags: tags },
            { ResourceType: 'volume', Tags: tags },
          ],
        },
      }),
    );
    return response.LaunchTemplate!;
  } catch (error) {
    // A concurrent or killed run got there first (moto ignores ClientToken): adopt it.
    if (hasErrorCode(error, 'InvalidLaunchTemplateName.AlreadyExistsException')) {
      const existing = await locateLaunchTemplate(context);
      if (existing) return existing;
    }
    throw error;
  }
}

async function runInstance(context: Context, launchTemplateId: string, clientToken: string, index: number): Promise<string> {
  const subnets = context.output('network').privateSubnets;
  const tags = [...stackTags(context.stack), { Key: CAPACITY_INDEX_TAG_KEY, Value: String(index) }, { Key: 'Name', Value: `${clusterNameOf(context)} ECS instance` }];
  try {
    const response = await context.clients.ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: '$Latest' },
        MinCount: 1,
        MaxCount: 1,
        // Alternate the private subnets, as an Auto Scaling group spreads over its AZs.
        SubnetId: subnets[index % subnets.length],
        ClientToken: instanceClientToken(clientToken, index),
        TagSpecifications: [
          { ResourceType: 'instance', Tags: tags },
          { ResourceType: 'volume', Tags: stackTags(context.stack) },
        ],
      }),
    );
    return response.Instances![0]!.InstanceId!;
  } catch (error) {
    throw instanceProfileMissing(context, error) ?? error;
  }
}

async function waitUntilRunning(context: Context, instanceIds: string[]): Promise<void> {
  context.progress(`waiting for ${instanceIds.length} instance(s) to be running`);
  const seconds = context.pollSeconds(INSTANCE_POLL_SECONDS);
  await waitUntilInstanceRunning({ client: context.clients.ec2, maxWaitTime: context.waitTimeoutSeconds, minDelay: seconds, maxDelay: seconds }, { InstanceIds: instanceIds }).catch(
    (error: unknown) => {
      throw new AuthecsError(`Container instances ${instanceIds.join(', ')} did not reach running: ${(error as Error).message}`, {
        code: 'INSTANCES_NOT_RUNNING',
        exit: 'timeout',
        resource: instanceIds.join(','),
        hint: 'Check the instances in the EC2 console (state reason, capacity in the AZ, the AMI), then run `authecs up` again.',
      });
    },
  );
}

async function waitUntilRegistered(context: Context, cluster: string, instanceIds: string[]): Promise<void> {
  const wanted = instanceIds.length;
  let latest = 0;
  await pollUntil(context, {
    description: `${wanted} container instances to register with cluster ${cluster}`,
    intervalSeconds: REGISTRATION_POLL_SECONDS,
    check: async () => {
      latest = await registeredCount(context, cluster, instanceIds);
      return latest >= wanted ? true : undefined;
    },
    onWaiting: () => `${latest}/${wanted} container instances registered`,
    timeoutCode: 'CAPACITY_NOT_REGISTERED',
    timeoutHint:
      `Check that the instance profile ${context.config.instanceProfile} has AmazonEC2ContainerServiceforEC2Role, that the AMI is ECS-optimized, ` +
      'and that the private subnets have a route to a NAT gateway (the ECS agent must reach the ECS endpoint).',
  });
}

async function terminate(context: Context, instanceIds: string[]): Promise<string[]> {
  try {
    await context.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
    return instanceIds;
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidInstanceID.NotFound')) throw error;
  }
  // One unknown ID fails the whole call; retry one by one so the others still go.
  const terminated: string[] = [];
  for (const instanceId of instanceIds) {
    try {
      await context.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      terminated.push(instanceId);
    } catch (error) {
      if (!hasErrorCode(error, 'InvalidInstanceID.NotFound')) throw error;
    }
  }
  return terminated;
}

/** Deregisters each of our container instances exactly once (moto fails a second deregister). */
async function deregisterContainerInstances(context: Context, cluster: string, instanceIds: ReadonlySet<string>): Promise<void> {
  const ours = (await containerInstances(context, cluster)).filter((instance) => instanceIds.has(instance.ec2InstanceId ?? ''));
  for (const instance of ours) {
    context.progress(`deregistering container instance of ${instance.ec2InstanceId}`);
    try {
      await context.clients.ecs.send(new DeregisterContainerInstanceCommand({ cluster, containerInstance: instance.containerInstanceArn!, force: true }));
    } catch (error) {
      // Gone already (deregistered by a killed run, or the cluster went): that is the goal.
      const still = (await containerInstances(context, cluster)).some((current) => current.containerInstanceArn === instance.containerInstanceArn);
      if (still) throw error;
    }
  }
}

export const capacityStep = defineStep({
  name: 'capacity',
  title: 'ECS container instances',
  articleSection: 'Configure the Amazon EC2 key pair and bring up the ECS cluster',
  dependsOn: ['cluster', 'network', 'key-pair'],
  enabled: (config) => config.launchType === 'EC2',

  async find(context) {
    const template = await locateLaunchTemplate(context);
    if (!template) return undefined;
    const slots = bySlot(context, await stackInstances(context, LIVE_STATES));
    const instanceIds: string[] = [];
    for (let index = 0; index < context.config.instanceCount; index += 1) {
      const instance = slots.get(index);
      if (!instance || instance.State?.Name !== 'running') return undefined;
      instanceIds.push(instance.InstanceId!);
    }
    if ((await registeredCount(context, clusterNameOf(context), instanceIds)) < instanceIds.length) return undefined;
    const amiId = context.record?.data.amiId ?? (await launchTemplateImage(context, template.LaunchTemplateId!));
    const clientToken = context.record?.data.clientToken ?? slots.get(0)?.ClientToken?.replace(/-0$/, '') ?? '';
    return { output: outputOf(template, amiId, instanceIds, clientToken), created: true };
  },

  async create(context) {
    const clientToken = context.record?.data.clientToken ?? newClientToken(context.stack);
    const launchTemplateName = launchTemplateNameFor(context.stack);
    context.save({ created: true, data: { clientToken, launchTemplateName } });

    let template = await locateLaunchTemplate(context);
    let amiId = context.record?.data.amiId;
    if (!template) {
      amiId ??= context.config.amiId ?? (await newestEcsAmi(context));
      context.save({ data: { amiId } });
      template = await createLaunchTemplate(context, clientToken, amiId);
    } else {
      amiId ??= await launchTemplateImage(context, template.LaunchTemplateId!);
    }
    context.save({ data: { launchTemplateId: template.LaunchTemplateId!, launchTemplateName: template.LaunchTemplateName!, ...(amiId ? { amiId } : {}) } });

    // Look first: moto ignores ClientToken, and a killed run may have launched some already.
    const slots = bySlot(context, await stackInstances(context, LIVE_STATES));
    const instanceIds: string[] = [];
    for (let index = 0; index < context.config.instanceCount; index += 1) {
      const existing = slots.get(index)?.InstanceId;
      if (existing) {
        instanceIds.push(existing);
        continue;
      }
      context.progress(`launching container instance ${index + 1}/${context.config.instanceCount}`);
      instanceIds.push(await runInstance(context, template.LaunchTemplateId!, clientToken, index));
      context.save({ data: { instanceIds: [...instanceIds] } });
    }
    context.save({ data: { instanceIds: [...instanceIds] } });

    await waitUntilRunning(context, instanceIds);
    await waitUntilRegistered(context, clusterNameOf(context), instanceIds);
    return outputOf(template, amiId, instanceIds, clientToken);
  },

  async delete(context) {
    const cluster = clusterNameOf(context);
    const recorded = context.record?.data.instanceIds ?? [];
    const tagged = (await stackInstances(context, NOT_TERMINATED_STATES)).map((instance) => instance.InstanceId!);
    const instanceIds = [...new Set([...recorded, ...tagged])];

    if (instanceIds.length > 0) {
      // As the article's cleanup does: force-deregister, so the cluster can be deleted at once.
      await deregisterContainerInstances(context, cluster, new Set(instanceIds));
      const terminated = await terminate(context, instanceIds);
      if (terminated.length > 0) {
        context.progress(`waiting for ${terminated.length} instance(s) to terminate`);
        const seconds = context.pollSeconds(INSTANCE_POLL_SECONDS);
        await waitUntilInstanceTerminated(
          { client: context.clients.ec2, maxWaitTime: context.waitTimeoutSeconds, minDelay: seconds, maxDelay: seconds },
          { InstanceIds: terminated },
        ).catch((error: unknown) => {
          throw new AuthecsError(`Container instances ${terminated.join(', ')} did not terminate: ${(error as Error).message}`, {
            code: 'INSTANCES_NOT_TERMINATED',
            exit: 'timeout',
            resource: terminated.join(','),
            hint: 'Check the instances in the EC2 console, then run `authecs down` again.',
          });
        });
      }
      context.save({ data: { instanceIds: [] } });
    }

    const name = context.record?.data.launchTemplateName ?? launchTemplateNameFor(context.stack);
    const template = await describeLaunchTemplate(context, name);
    if (template && launchTemplateIsOurs(context, template)) {
      try {
        await context.clients.ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: template.LaunchTemplateId! }));
      } catch (error) {
        if (!hasErrorCode(error, ...LAUNCH_TEMPLATE_NOT_FOUND)) throw error;
      }
      context.save({ data: { launchTemplateId: undefined } });
    }
  },

  async inspect(context) {
    const wanted = context.config.instanceCount;
    const name = context.record?.data.launchTemplateName ?? launchTemplateNameFor(context.stack);
    const template = await describeLaunchTemplate(context, name);
    const running = (await stackInstances(context, ['running'])).map((instance) => instance.InstanceId!);
    const registered = await registeredCount(context, clusterNameOf(context), running);
    const drift: string[] = [];
    if (!template) drift.push(`launch template ${name} is missing`);
    if (!template && running.length === 0) return { present: false, healthy: false, summary: 'missing', drift };
    return {
      present: true,
      healthy: template !== undefined && running.length === wanted && registered === wanted,
      summary: `${running.length}/${wanted} running, ${registered}/${wanted} registered`,
      drift,
      details: { launchTemplateId: template?.LaunchTemplateId, instanceIds: running, runningCount: running.length, registeredCount: registered },
    };
  },
});
