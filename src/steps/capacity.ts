import { createHash, randomBytes } from 'node:crypto';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  ModifyLaunchTemplateCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  type Filter,
  type Image,
  type Instance,
  type InstanceStateName,
  type LaunchTemplate,
  type RequestLaunchTemplateData,
  type ResponseLaunchTemplateData,
  type Tag,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import {
  DeregisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  UpdateContainerInstancesStateCommand,
  paginateListContainerInstances,
  type ContainerInstance,
} from '@aws-sdk/client-ecs';
import { GetInstanceProfileCommand } from '@aws-sdk/client-iam';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError, interruptedError } from '../errors.js';
import type { CapacityOutput } from './outputs.js';
import { canonical, defineResource, isUnknown, known, UNKNOWN, type Inputs, type Live, type Maybe, type ReadContext } from './resource.js';
import { ECS_SCHEDULE, pollUntil, progressGate } from './shared/poll.js';
import { retryWhileNotVisible } from './shared/visibility.js';
import { hasStackTag, stackTags, STACK_TAG_KEY } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'capacity'>;
type AmiSource = NonNullable<CapacityOutput['amiSource']>;

/** Which of the instanceCount slots an instance fills; lets a resumed run find it again. */
export const CAPACITY_INDEX_TAG_KEY = 'authecs:capacity-index';
/** The launch template and version an instance was launched from: an older one is rolled. */
export const LAUNCH_TEMPLATE_ID_TAG_KEY = 'authecs:launch-template-id';
export const LAUNCH_TEMPLATE_VERSION_TAG_KEY = 'authecs:launch-template-version';
/** The ECS-optimized Amazon Linux 2023 family (x86_64, no GPU or Neuron variants); arm64 types use ecsAmiNamePattern('arm64'). */
export const ECS_AMI_NAME_PATTERN = 'al2023-ami-ecs-hvm-*-x86_64';
type Architecture = 'x86_64' | 'arm64';
/**
 * desired imageId for "the ECS-optimized AL2023 AMI chosen when the template version was made":
 * desired() cannot look AMIs up, and a newly published AMI must not roll every instance.
 */
export const DEFAULT_AMI = 'ecs-optimized-al2023';

// The EC2 InstanceRunning and InstanceTerminated waiters; registration and draining poll ECS on ECS_SCHEDULE.
const INSTANCE_POLL_SECONDS = 15;
const LIVE_STATES: InstanceStateName[] = ['pending', 'running'];
const NOT_TERMINATED_STATES: InstanceStateName[] = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
const LAUNCH_TEMPLATE_NOT_FOUND = ['InvalidLaunchTemplateName.NotFoundException', 'InvalidLaunchTemplateId.NotFound', 'InvalidLaunchTemplateId.NotFoundException'];

/**
 * AL2023 ECS AMIs declare IMDSv2 support, which makes EC2 set the hop limit to 2 (EC2 API Reference,
 * Image.ImdsSupport); 2 lets bridge-mode containers reach the instance role's credentials, 1 keeps
 * the token on the host (LaunchTemplateInstanceMetadataOptionsRequest.HttpPutResponseHopLimit).
 */
const METADATA_OPTIONS = { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' } as const;

export interface InstanceMetadata {
  httpTokens?: string;
  httpPutResponseHopLimit?: number;
  httpEndpoint?: string;
}

export interface DesiredLaunchTemplate {
  /** An AMI ID from --ami, or DEFAULT_AMI. */
  imageId: string;
  instanceType: string;
  instanceProfile: string;
  keyName: Maybe<string>;
  securityGroupIds: Maybe<string[]>;
  /** Base64, as the launch template stores it. */
  userData: Maybe<string>;
  metadata: InstanceMetadata;
}

export interface DesiredCapacity {
  launchTemplate: DesiredLaunchTemplate;
  instanceCount: number;
  subnets: Maybe<string[]>;
  /** Instances still to replace or remove (a roll that was interrupted): 0 once converged. */
  outdatedInstances: number;
}

/** The launch template with every value known, as update() and create() apply it. */
interface LaunchSpec {
  imageId: string;
  instanceType: string;
  instanceProfile: string;
  keyName: string;
  securityGroupIds: string[];
  userData: string;
  metadata: InstanceMetadata;
}

/** What the instances should be: every slot below instanceCount runs this version, in these subnets. */
interface Target {
  launchTemplateId: string;
  version: number;
  subnets: string[];
  instanceCount: number;
}

export function launchTemplateNameFor(stack: string): string {
  return `authecs-${stack}`.replace(/[^A-Za-z0-9().\-/_]/g, '-').slice(0, 128);
}

/** The line the ECS agent reads to join the cluster (ecs-cli writes the same). */
export function userDataFor(cluster: string): string {
  return Buffer.from(`#!/bin/bash\necho ECS_CLUSTER=${cluster} >> /etc/ecs/ecs.config\n`, 'utf8').toString('base64');
}

/**
 * A fresh RunInstances token for each new launch (at most 64 ASCII characters). EC2 keeps a token
 * for at least 24 hours after its instance terminates: the same token later returns that
 * terminated instance, and with other parameters fails with IdempotentParameterMismatch (EC2
 * Developer Guide, "Ensuring idempotency in Amazon EC2 API requests", RunInstances idempotency).
 */
export function newClientToken(stack: string): string {
  const readable = `authecs-${stack}`.replace(/[^A-Za-z0-9-]/g, '-');
  const prefix = readable.length <= 32 ? readable : `authecs-${createHash('sha256').update(stack).digest('hex').slice(0, 16)}`;
  return `${prefix}-capacity-${randomBytes(8).toString('hex')}`;
}

/** A dependency's field, UNKNOWN until that dependency is made. */
function fromInput<Output, Field>(output: Maybe<Output> | undefined, pick: (output: Output) => Field): Maybe<Field> {
  return known(output, pick) ?? UNKNOWN;
}

function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

function tagValue(tags: readonly Tag[] | undefined, key: string): string | undefined {
  return tags?.find((tag) => tag.Key === key)?.Value;
}

function slotOf(instance: Instance): number | undefined {
  const index = Number(tagValue(instance.Tags, CAPACITY_INDEX_TAG_KEY));
  return Number.isInteger(index) && index >= 0 ? index : undefined;
}

function clusterNameOf(context: Context): string {
  return context.hasOutput('cluster') ? context.output('cluster').clusterName : context.config.cluster;
}

function networkSubnets(context: Context): string[] | undefined {
  if (!context.hasOutput('network')) return undefined;
  const subnets = context.output('network').privateSubnets;
  return Array.isArray(subnets) ? sorted(subnets) : undefined;
}

/** want with every value known; UNKNOWN here means the engine applied before a dependency was made. */
function resolve(want: DesiredCapacity): { spec: LaunchSpec; subnets: string[] } {
  const { keyName, securityGroupIds, userData } = want.launchTemplate;
  if (isUnknown(keyName) || isUnknown(securityGroupIds) || isUnknown(userData) || isUnknown(want.subnets)) {
    throw new AuthecsError('Capacity was applied before the key pair, network or cluster it needs', { code: 'STEP_INPUT_UNKNOWN', exit: 'internal' });
  }
  return { spec: { ...want.launchTemplate, keyName, securityGroupIds, userData }, subnets: want.subnets };
}

function requestData(stack: string, spec: LaunchSpec): RequestLaunchTemplateData {
  const tags = stackTags(stack);
  return {
    ImageId: spec.imageId,
    // The config schema checks the family.size shape; EC2 rejects types it does not know.
    InstanceType: spec.instanceType as _InstanceType,
    KeyName: spec.keyName,
    IamInstanceProfile: { Name: spec.instanceProfile },
    SecurityGroupIds: spec.securityGroupIds,
    UserData: spec.userData,
    // IMDSv2 only, one hop: the instance role's credentials stay out of reach of the containers.
    MetadataOptions: { ...METADATA_OPTIONS },
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
  };
}

/** A template version's data in the desired form, with the AMI ID as it is. */
function observeTemplate(data: ResponseLaunchTemplateData | undefined): LaunchSpec {
  const metadata = data?.MetadataOptions;
  return {
    imageId: data?.ImageId ?? '',
    instanceType: data?.InstanceType ?? '',
    instanceProfile: data?.IamInstanceProfile?.Name ?? data?.IamInstanceProfile?.Arn ?? '',
    keyName: data?.KeyName ?? '',
    securityGroupIds: sorted(data?.SecurityGroupIds ?? []),
    userData: data?.UserData ?? '',
    metadata: { httpTokens: metadata?.HttpTokens, httpPutResponseHopLimit: metadata?.HttpPutResponseHopLimit, httpEndpoint: metadata?.HttpEndpoint },
  };
}

/** The AMI's origin rides in the version description too, so it survives a lost state file. */
function versionDescription(source: AmiSource): string {
  return `authecs: ami=${source}`;
}

function amiSourceOf(description: string | undefined): AmiSource | undefined {
  const match = /ami=(default|setting)/.exec(description ?? '');
  return match ? (match[1] as AmiSource) : undefined;
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

async function describeVersion(context: Context, launchTemplateId: string, version: number): Promise<{ data?: ResponseLaunchTemplateData; description?: string }> {
  const response = await context.clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId, Versions: [String(version)] }));
  const found = response.LaunchTemplateVersions?.[0];
  return { ...(found?.LaunchTemplateData ? { data: found.LaunchTemplateData } : {}), ...(found?.VersionDescription ? { description: found.VersionDescription } : {}) };
}

/** This stack's capacity instances (all states when none are given), found by tag so a killed run's count. */
async function stackInstances(context: Context, states?: InstanceStateName[]): Promise<Instance[]> {
  const filters: Filter[] = [{ Name: `tag:${STACK_TAG_KEY}`, Values: [context.stack] }];
  if (states) filters.push({ Name: 'instance-state-name', Values: states });
  const instances: Instance[] = [];
  for await (const page of paginateDescribeInstances({ client: context.clients.ec2 }, { Filters: filters })) {
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (slotOf(instance) !== undefined) instances.push(instance);
      }
    }
  }
  return instances;
}

/** What an instance must match to stay: subnets undefined when they cannot be known (no record, no network). */
type CurrentTarget = Pick<Target, 'launchTemplateId' | 'version'> & { subnets?: readonly string[] };

function isCurrent(instance: Instance, target: CurrentTarget): boolean {
  return (
    tagValue(instance.Tags, LAUNCH_TEMPLATE_ID_TAG_KEY) === target.launchTemplateId &&
    tagValue(instance.Tags, LAUNCH_TEMPLATE_VERSION_TAG_KEY) === String(target.version) &&
    (target.subnets === undefined || target.subnets.includes(instance.SubnetId ?? ''))
  );
}

/**
 * Live instances by slot, the keeper first: a current one, the recorded one before others, then
 * the oldest. Everything after the keeper in a slot is to be replaced or removed.
 */
function bySlot(context: Context, instances: Instance[], target: CurrentTarget): Map<number, Instance[]> {
  const recorded = new Set(context.record?.data.instanceIds ?? []);
  const rank = (instance: Instance) => (isCurrent(instance, target) ? 0 : 2) + (recorded.has(instance.InstanceId!) ? 0 : 1);
  const slots = new Map<number, Instance[]>();
  for (const instance of instances) {
    const index = slotOf(instance)!;
    slots.set(index, [...(slots.get(index) ?? []), instance]);
  }
  for (const list of slots.values()) {
    list.sort((left, right) => rank(left) - rank(right) || (left.LaunchTime?.getTime() ?? 0) - (right.LaunchTime?.getTime() ?? 0));
  }
  return slots;
}

/** Container instances of the cluster (none if the cluster is gone). */
async function containerInstances(context: Context, cluster: string): Promise<ContainerInstance[]> {
  try {
    const arns: string[] = [];
    for await (const page of paginateListContainerInstances({ client: context.clients.ecs }, { cluster })) arns.push(...(page.containerInstanceArns ?? []));
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

/** The EC2 instances among these that have an ACTIVE container instance in the cluster. */
async function registeredIds(context: Context, cluster: string, instanceIds: readonly string[]): Promise<Set<string>> {
  if (instanceIds.length === 0) return new Set();
  const ours = new Set(instanceIds);
  return new Set(
    (await containerInstances(context, cluster)).filter((instance) => instance.status === 'ACTIVE' && ours.has(instance.ec2InstanceId ?? '')).map((instance) => instance.ec2InstanceId!),
  );
}

/** The ECS-optimized AL2023 AMI name pattern for an architecture (ECS guide, "Retrieving Amazon ECS-Optimized AMI metadata"). */
export function ecsAmiNamePattern(architecture: Architecture): string {
  return `al2023-ami-ecs-hvm-*-${architecture}`;
}

/**
 * The architecture an instance type runs: x86_64 where it can, else arm64 (Graviton types such as
 * t4g). EC2 API Reference, DescribeInstanceTypes: ProcessorInfo.SupportedArchitectures.
 */
async function instanceArchitecture(context: Context, instanceType: string): Promise<Architecture> {
  let supported: string[] = [];
  try {
    const response = await context.clients.ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: [instanceType as _InstanceType] }));
    supported = response?.InstanceTypes?.[0]?.ProcessorInfo?.SupportedArchitectures ?? [];
  } catch (error) {
    if (hasErrorCode(error, 'InvalidInstanceType')) {
      throw new AuthecsError(`EC2 does not offer instance type ${instanceType} in ${context.config.region}`, {
        code: 'INSTANCE_TYPE_UNKNOWN',
        exit: 'usage',
        resource: instanceType,
        hint: 'Pass --instance-type with a type this region offers, such as t3.small (x86_64) or t4g.small (arm64).',
        cause: error,
      });
    }
    throw error;
  }
  return !supported.includes('x86_64') && supported.includes('arm64') ? 'arm64' : 'x86_64';
}

async function newestEcsAmi(context: Context, architecture: Architecture): Promise<string> {
  const pattern = ecsAmiNamePattern(architecture);
  const response = await context.clients.ec2.send(
    new DescribeImagesCommand({
      Owners: ['amazon'],
      Filters: [
        { Name: 'name', Values: [pattern] },
        { Name: 'state', Values: ['available'] },
        { Name: 'architecture', Values: [architecture] },
      ],
    }),
  );
  // Newest first; the name carries the build date, which breaks ties between equal CreationDates.
  const images = (response.Images ?? [])
    .filter((image) => image.ImageId)
    .sort((left, right) => (right.CreationDate ?? '').localeCompare(left.CreationDate ?? '') || (right.Name ?? '').localeCompare(left.Name ?? ''));
  const newest = images[0];
  if (!newest) {
    throw new AuthecsError(`No ECS-optimized Amazon Linux 2023 AMI (${pattern}) found in ${context.config.region}`, {
      code: 'AMI_NOT_FOUND',
      exit: 'notFound',
      hint: 'Pass --ami (or AUTH_ECS_AMI) with an ECS-optimized AMI ID for this region.',
    });
  }
  return newest.ImageId!;
}

/** The newest ECS-optimized AMI for the instance type's architecture (arm64 for t4g and other Graviton types). */
async function newestEcsAmiFor(context: Context, instanceType: string): Promise<string> {
  return newestEcsAmi(context, await instanceArchitecture(context, instanceType));
}

/** Preflight: the instance profile exists (IAM API Reference, GetInstanceProfile: NoSuchEntity). */
async function checkInstanceProfile(context: Context): Promise<void> {
  const profile = context.config.instanceProfile;
  try {
    await context.clients.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profile }));
  } catch (error) {
    throw instanceProfileMissing(context, error) ?? error;
  }
}

/** Preflight: an --ami must run on the instance type's architecture (an x86_64 AMI cannot boot a t4g). */
async function checkArchitecture(context: Context): Promise<void> {
  const { instanceType, amiId } = context.config;
  const architecture = await instanceArchitecture(context, instanceType);
  if (!amiId) return;
  let image: Image | undefined;
  try {
    image = (await context.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] })))?.Images?.[0];
  } catch (error) {
    // EC2 answers an unknown or unshared AMI ID with InvalidAMIID.NotFound (or .Unavailable).
    if (!hasErrorCode(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable', 'InvalidAMIID.Malformed')) throw error;
  }
  if (!image) {
    throw new AuthecsError(`AMI ${amiId} (--ami) does not exist in ${context.config.region} or is not shared with this account`, {
      code: 'AMI_NOT_FOUND',
      exit: 'notFound',
      resource: amiId,
      hint: 'Pass --ami with an ECS-optimized AMI ID of this region, or leave it out to use the newest one.',
    });
  }
  if (image.Architecture && image.Architecture !== architecture) {
    throw new AuthecsError(`AMI ${amiId} (--ami) is built for ${image.Architecture}, but instance type ${instanceType} runs ${architecture}`, {
      code: 'AMI_ARCHITECTURE_MISMATCH',
      exit: 'usage',
      resource: amiId,
      hint: `Pass --ami with an ${architecture} ECS-optimized AMI (${ecsAmiNamePattern(architecture)}), leave --ami out to have authecs choose it, or pick an ${image.Architecture} --instance-type.`,
    });
  }
}

/** Everything read() learns in one pass. */
interface Survey {
  template: LaunchTemplate;
  target: CurrentTarget;
  version: number;
  spec: LaunchSpec;
  amiSource: AmiSource | undefined;
  subnets: string[] | undefined;
  slots: Map<number, Instance[]>;
  registered: Set<string>;
}

async function survey(context: Context, template: LaunchTemplate): Promise<Survey> {
  const launchTemplateId = template.LaunchTemplateId!;
  // New launches use the latest version (made the default); older instances are what a roll replaces.
  const version = template.LatestVersionNumber ?? 1;
  const { data, description } = await describeVersion(context, launchTemplateId, version);
  const spec = observeTemplate(data);
  const record = context.record?.data;
  const amiSource = amiSourceOf(description) ?? (record?.amiId === spec.imageId ? record?.amiSource : undefined);
  const subnets = record?.subnets ?? networkSubnets(context);
  const instances = await stackInstances(context, LIVE_STATES);
  const target: CurrentTarget = { launchTemplateId, version, ...(subnets ? { subnets } : {}) };
  const slots = bySlot(context, instances, target);
  const registered = await registeredIds(context, clusterNameOf(context), instances.map((instance) => instance.InstanceId!));
  return { template, target, version, spec, amiSource, subnets, slots, registered };
}

/** --ami names what runs; otherwise an auto-chosen AMI reads as the selector desired() uses. */
function observedImage(context: Context, imageId: string, source: AmiSource | undefined): string {
  if (context.config.amiId === imageId) return imageId;
  return source === 'default' ? DEFAULT_AMI : imageId;
}

function outputOf(context: Context, template: LaunchTemplate, fields: Omit<CapacityOutput, 'launchTemplateId' | 'launchTemplateName' | 'clientToken'>): CapacityOutput {
  return {
    launchTemplateId: template.LaunchTemplateId!,
    launchTemplateName: template.LaunchTemplateName!,
    ...fields,
    clientToken: context.record?.data.clientToken ?? '',
  };
}

function liveOf(context: Context, view: Survey): Live<'capacity', DesiredCapacity> {
  const primaries = [...view.slots.entries()].sort(([left], [right]) => left - right).map(([, list]) => list[0]!);
  const all = [...view.slots.values()].flat();
  // Everything but each slot's current keeper: older versions, misplaced or duplicate instances.
  const outdated = [...view.slots.values()].reduce((count, list) => count + list.length - (isCurrent(list[0]!, view.target) ? 1 : 0), 0);
  const running = all.filter((instance) => instance.State?.Name === 'running');
  const registered = running.filter((instance) => view.registered.has(instance.InstanceId!));
  const wanted = context.config.instanceCount;
  const observedSubnets = view.subnets ?? sorted([...new Set(all.map((instance) => instance.SubnetId ?? ''))]);
  return {
    output: outputOf(context, view.template, {
      ...(view.spec.imageId ? { amiId: view.spec.imageId } : {}),
      ...(view.amiSource ? { amiSource: view.amiSource } : {}),
      launchTemplateVersion: view.version,
      subnets: observedSubnets,
      instanceIds: primaries.map((instance) => instance.InstanceId!),
    }),
    observed: {
      launchTemplate: { ...view.spec, imageId: observedImage(context, view.spec.imageId, view.amiSource) },
      instanceCount: view.slots.size,
      subnets: observedSubnets,
      outdatedInstances: outdated,
    },
    created: true,
    settled: primaries.every((instance) => instance.State?.Name === 'running' && view.registered.has(instance.InstanceId!)),
    health: {
      healthy: running.length === wanted && registered.length === wanted && outdated === 0,
      summary: `${running.length}/${wanted} running, ${registered.length}/${wanted} registered${outdated > 0 ? `, ${outdated} to replace` : ''}`,
      details: {
        launchTemplateId: view.template.LaunchTemplateId,
        launchTemplateVersion: view.version,
        instanceIds: running.map((instance) => instance.InstanceId),
        runningCount: running.length,
        registeredCount: registered.length,
        outdatedCount: outdated,
      },
    },
  };
}

function instanceProfileMissing(context: Context, error: unknown): AuthecsError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const missing = hasErrorCode(error, 'NoSuchEntity', 'NoSuchEntityException') || (hasErrorCode(error, 'InvalidParameterValue') && /IAM Instance Profile/i.test(message));
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

async function createLaunchTemplate(context: Context, spec: LaunchSpec, source: AmiSource): Promise<LaunchTemplate> {
  try {
    const command = new CreateLaunchTemplateCommand({
      LaunchTemplateName: launchTemplateNameFor(context.stack),
      // Covers the SDK's own retries of this one call; a second run finds the name taken instead.
      ClientToken: newClientToken(context.stack),
      VersionDescription: versionDescription(source),
      TagSpecifications: [{ ResourceType: 'launch-template', Tags: stackTags(context.stack) }],
      LaunchTemplateData: requestData(context.stack, spec),
    });
    // The key pair and group may have been made a moment ago (EC2 API Reference, "Eventual consistency").
    const response = await retryWhileNotVisible(context, {
      description: 'the key pair and security group to be visible to CreateLaunchTemplate',
      codes: ['InvalidGroup.NotFound', 'InvalidKeyPair.NotFound'],
      call: () => context.clients.ec2.send(command),
    });
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

/**
 * The launch template version for want: launch templates are immutable, so a change is a new
 * version (EC2 User Guide, "Modify a launch template (manage launch template versions)"). An
 * unchanged template keeps its version, so nothing rolls.
 */
async function templateVersionFor(context: Context, template: LaunchTemplate, spec: LaunchSpec, live: Live<'capacity', DesiredCapacity>): Promise<number> {
  const launchTemplateId = template.LaunchTemplateId!;
  const latest = template.LatestVersionNumber ?? 1;
  const current = observeTemplate((await describeVersion(context, launchTemplateId, latest)).data);
  let imageId = spec.imageId;
  let source: AmiSource = 'setting';
  if (spec.imageId === DEFAULT_AMI) {
    source = 'default';
    // Keep the AMI chosen before (a type change alone rolls onto the same AMI); pick anew only when leaving --ami.
    // Another instance type may need another architecture's AMI (t3 -> t4g): then choose anew.
    const sameArchitecture = spec.instanceType === current.instanceType || (await instanceArchitecture(context, spec.instanceType)) === (await instanceArchitecture(context, current.instanceType));
    imageId = live.observed.launchTemplate?.imageId === DEFAULT_AMI && current.imageId && sameArchitecture ? current.imageId : await newestEcsAmiFor(context, spec.instanceType);
  }
  const next: LaunchSpec = { ...spec, imageId };
  if (canonical(next) === canonical(current)) {
    context.save({ data: { amiId: imageId, amiSource: source } });
    return latest;
  }
  context.progress(`creating launch template version ${latest + 1}`);
  const command = new CreateLaunchTemplateVersionCommand({
    LaunchTemplateId: launchTemplateId,
    ClientToken: newClientToken(context.stack),
    VersionDescription: versionDescription(source),
    LaunchTemplateData: requestData(context.stack, next),
  });
  // A new key pair or group may be a moment old (EC2 API Reference, "Eventual consistency").
  const response = await retryWhileNotVisible(context, {
    description: 'the key pair and security group to be visible to CreateLaunchTemplateVersion',
    codes: ['InvalidGroup.NotFound', 'InvalidKeyPair.NotFound'],
    call: () => context.clients.ec2.send(command),
  });
  const version = response.LaunchTemplateVersion?.VersionNumber ?? latest + 1;
  context.save({ data: { amiId: imageId, amiSource: source, launchTemplateVersion: version } });
  return version;
}

/** The default version is what a launch without a version gets (EC2 API Reference, ModifyLaunchTemplate). */
async function makeDefault(context: Context, template: LaunchTemplate, version: number): Promise<void> {
  if (template.DefaultVersionNumber === version) return;
  await context.clients.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: template.LaunchTemplateId!, DefaultVersion: String(version) }));
}

async function runInstance(context: Context, target: Target, index: number, subnetId: string, clientToken: string): Promise<Instance> {
  const tags = [
    ...stackTags(context.stack),
    { Key: CAPACITY_INDEX_TAG_KEY, Value: String(index) },
    { Key: LAUNCH_TEMPLATE_ID_TAG_KEY, Value: target.launchTemplateId },
    { Key: LAUNCH_TEMPLATE_VERSION_TAG_KEY, Value: String(target.version) },
    { Key: 'Name', Value: `${clusterNameOf(context)} ECS instance` },
  ];
  const command = new RunInstancesCommand({
    // The explicit version, not $Default: a resumed launch must not pick up a later version.
    LaunchTemplate: { LaunchTemplateId: target.launchTemplateId, Version: String(target.version) },
    MinCount: 1,
    MaxCount: 1,
    SubnetId: subnetId,
    ClientToken: clientToken,
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: stackTags(context.stack) },
    ],
  });
  try {
    // The template, key pair and group were made moments ago (EC2 "Eventual consistency"): retry briefly, same token.
    const response = await retryWhileNotVisible(context, {
      description: 'the launch template, key pair and security group to be visible to RunInstances',
      call: () => context.clients.ec2.send(command),
    });
    return response.Instances![0]!;
  } catch (error) {
    throw instanceProfileMissing(context, error) ?? error;
  }
}

function withInstance(context: Context, instanceId: string): string[] {
  return [...(context.record?.data.instanceIds ?? []).filter((id) => id !== instanceId), instanceId];
}

/**
 * Launches into a slot. The token is recorded before the call and reused only to resume that exact
 * launch (same slot, template version and subnet): EC2 then returns the instance a lost answer made.
 */
async function launch(context: Context, target: Target, index: number): Promise<string> {
  const subnetId = target.subnets[index % target.subnets.length]!;
  const intent = context.record?.data.pendingLaunch;
  const resuming =
    intent !== undefined && intent.index === index && intent.launchTemplateId === target.launchTemplateId && intent.version === target.version && intent.subnetId === subnetId;
  const record = (clientToken: string) =>
    context.save({ data: { pendingLaunch: { clientToken, index, launchTemplateId: target.launchTemplateId, version: target.version, subnetId }, clientToken } });
  let clientToken = resuming ? intent.clientToken : newClientToken(context.stack);
  if (!resuming) record(clientToken);
  let instance = await runInstance(context, target, index, subnetId, clientToken);
  if (resuming && !LIVE_STATES.includes(instance.State?.Name ?? 'terminated')) {
    // That launch happened long ago and its instance is gone: EC2 handed it back instead of launching.
    clientToken = newClientToken(context.stack);
    record(clientToken);
    instance = await runInstance(context, target, index, subnetId, clientToken);
  }
  context.save({ data: { instanceIds: withInstance(context, instance.InstanceId!), pendingLaunch: undefined } });
  return instance.InstanceId!;
}

/**
 * A launch recorded but unconfirmed: adopt its instance, or drop a token whose instance is gone
 * (reusing it would hand that terminated instance back).
 */
async function settlePendingLaunch(context: Context): Promise<void> {
  const intent = context.record?.data.pendingLaunch;
  if (!intent) return;
  const launched = (await stackInstances(context)).find((instance) => instance.ClientToken === intent.clientToken);
  if (!launched) return;
  const alive = LIVE_STATES.includes(launched.State?.Name ?? 'terminated');
  context.save({ data: { pendingLaunch: undefined, ...(alive ? { instanceIds: withInstance(context, launched.InstanceId!) } : {}) } });
}

async function waitUntilRunning(context: Context, instanceIds: string[]): Promise<void> {
  context.progress(`waiting for ${instanceIds.length} instance(s) to be running`);
  const seconds = context.pollSeconds(INSTANCE_POLL_SECONDS);
  await waitUntilInstanceRunning(
    { client: context.clients.ec2, maxWaitTime: context.waitTimeoutSeconds, minDelay: seconds, maxDelay: seconds, ...(context.stopSignal ? { abortSignal: context.stopSignal } : {}) },
    { InstanceIds: instanceIds },
  ).catch(
    (error: unknown) => {
      if (context.stopSignal?.aborted) throw interruptedError();
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
  const show = progressGate();
  await pollUntil(context, {
    description: `${wanted} container instances to register with cluster ${cluster}`,
    schedule: ECS_SCHEDULE,
    check: async () => {
      latest = (await registeredIds(context, cluster, instanceIds)).size;
      return latest >= wanted ? true : undefined;
    },
    onWaiting: (_attempt, elapsedSeconds) => (show(String(latest), elapsedSeconds) ? `${latest}/${wanted} container instances registered` : undefined),
    timeoutCode: 'CAPACITY_NOT_REGISTERED',
    timeoutHint:
      `Check that the instance profile ${context.config.instanceProfile} has AmazonEC2ContainerServiceforEC2Role, that the AMI is ECS-optimized, ` +
      'and that the private subnets have a route to a NAT gateway (the ECS agent must reach the ECS endpoint).',
  });
}

async function describeContainerInstance(context: Context, cluster: string, arn: string): Promise<ContainerInstance | undefined> {
  try {
    const response = await context.clients.ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: [arn] }));
    return response.containerInstances?.find((instance) => instance.containerInstanceArn === arn);
  } catch (error) {
    if (hasErrorCode(error, 'ClusterNotFoundException')) return undefined;
    throw error;
  }
}

/**
 * DRAINING stops new placements and has ECS start the service's tasks elsewhere before stopping
 * these, within minimumHealthyPercent/maximumPercent; only an ACTIVE instance can be set DRAINING
 * (ECS API Reference, UpdateContainerInstancesState).
 */
async function drain(context: Context, cluster: string, containerInstance: ContainerInstance): Promise<void> {
  const arn = containerInstance.containerInstanceArn!;
  const instanceId = containerInstance.ec2InstanceId;
  if (containerInstance.status === 'ACTIVE') {
    context.progress(`draining container instance of ${instanceId}`);
    await context.clients.ecs.send(new UpdateContainerInstancesStateCommand({ cluster, containerInstances: [arn], status: 'DRAINING' }));
  }
  let running = containerInstance.runningTasksCount ?? 0;
  const show = progressGate();
  await pollUntil(context, {
    description: `the tasks on ${instanceId} to move to other container instances`,
    schedule: ECS_SCHEDULE,
    check: async () => {
      const now = await describeContainerInstance(context, cluster, arn);
      running = now?.runningTasksCount ?? 0;
      return running === 0 ? true : undefined;
    },
    onWaiting: (_attempt, elapsedSeconds) => (show(String(running), elapsedSeconds) ? `${running} task(s) still running on ${instanceId}` : undefined),
    timeoutCode: 'CAPACITY_NOT_DRAINED',
    timeoutHint:
      "ECS could not move the tasks: check the service's events, its minimumHealthyPercent/maximumPercent and that the other instances have room " +
      '(CPU, memory, host ports). Run `authecs up` again to carry on with the roll.',
  });
}

/** Deregisters one container instance; one that is gone already (a killed run, the cluster went) counts as done. */
async function deregister(context: Context, cluster: string, containerInstance: ContainerInstance, force: boolean): Promise<void> {
  const arn = containerInstance.containerInstanceArn!;
  context.progress(`deregistering container instance of ${containerInstance.ec2InstanceId}`);
  try {
    await context.clients.ecs.send(new DeregisterContainerInstanceCommand({ cluster, containerInstance: arn, force }));
  } catch (error) {
    // moto answers a second deregister with an HTML 500: look before deciding.
    const still = (await containerInstances(context, cluster)).some((current) => current.containerInstanceArn === arn);
    if (still) throw error;
  }
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

/**
 * Takes one instance out: drain, wait for 0 running tasks, deregister, terminate. Deregistering
 * with force would orphan running tasks and does not stop the instance (ECS API Reference,
 * DeregisterContainerInstance), hence the drain first and the terminate after.
 */
async function drainAndTerminate(context: Context, cluster: string, instanceId: string): Promise<void> {
  const containerInstance = (await containerInstances(context, cluster)).find((instance) => instance.ec2InstanceId === instanceId);
  // Other states (registering, failed, deregistering) run no tasks; terminating deregisters them.
  if (containerInstance && (containerInstance.status === 'ACTIVE' || containerInstance.status === 'DRAINING')) {
    await drain(context, cluster, containerInstance);
    await deregister(context, cluster, containerInstance, false);
  }
  context.progress(`terminating ${instanceId}`);
  await terminate(context, [instanceId]);
  context.save({ data: { instanceIds: (context.record?.data.instanceIds ?? []).filter((id) => id !== instanceId) } });
}

/**
 * Brings the instances to the target from whatever is live, so a run killed at any point carries
 * on: fill empty slots, drain and remove extra slots (highest first), then replace outdated
 * instances one slot at a time (launch, wait until registered, drain the old one, deregister,
 * terminate), so the service keeps somewhere to run throughout.
 */
async function converge(context: Context, target: Target): Promise<string[]> {
  const cluster = clusterNameOf(context);
  await settlePendingLaunch(context);
  const slots = bySlot(context, await stackInstances(context, LIVE_STATES), target);
  const keepers = new Map<number, string>();

  const filled: string[] = [];
  for (let index = 0; index < target.instanceCount; index += 1) {
    if ((slots.get(index) ?? []).length > 0) continue;
    context.progress(`launching container instance ${index + 1}/${target.instanceCount}`);
    const instanceId = await launch(context, target, index);
    filled.push(instanceId);
    keepers.set(index, instanceId);
  }
  if (filled.length > 0) {
    await waitUntilRunning(context, filled);
    await waitUntilRegistered(context, cluster, filled);
  }

  const extraSlots = [...slots.keys()].filter((index) => index >= target.instanceCount).sort((left, right) => right - left);
  for (const index of extraSlots) {
    for (const instance of slots.get(index)!) await drainAndTerminate(context, cluster, instance.InstanceId!);
  }

  for (let index = 0; index < target.instanceCount; index += 1) {
    const here = slots.get(index) ?? [];
    if (here.length === 0) continue;
    const keeper = isCurrent(here[0]!, target) ? here[0]! : undefined;
    const stale = here.filter((instance) => instance !== keeper);
    let keeperId = keeper?.InstanceId;
    if (stale.length > 0) {
      if (!keeperId) {
        context.progress(`replacing container instance ${index + 1}/${target.instanceCount}`);
        keeperId = await launch(context, target, index);
      }
      await waitUntilRunning(context, [keeperId]);
      await waitUntilRegistered(context, cluster, [keeperId]);
      for (const instance of stale) await drainAndTerminate(context, cluster, instance.InstanceId!);
    }
    keepers.set(index, keeperId!);
  }

  const instanceIds = Array.from({ length: target.instanceCount }, (_, index) => keepers.get(index)!);
  await waitUntilRunning(context, instanceIds);
  await waitUntilRegistered(context, cluster, instanceIds);
  // An intent still here was for a launch no longer needed; its instance, if any, is tagged and found next time.
  context.save({ data: { instanceIds, pendingLaunch: undefined } });
  return instanceIds;
}

export const capacityStep = defineResource<'capacity', DesiredCapacity>({
  name: 'capacity',
  title: 'ECS container instances',
  articleSection: 'Configure the Amazon EC2 key pair and bring up the ECS cluster',
  dependsOn: ['cluster', 'network', 'key-pair'],
  enabled: (config) => config.launchType === 'EC2',

  desired: (config, inputs: Inputs) => ({
    launchTemplate: {
      imageId: config.amiId ?? DEFAULT_AMI,
      instanceType: config.instanceType,
      instanceProfile: config.instanceProfile,
      keyName: fromInput(inputs['key-pair'], (pair) => pair.keyName),
      securityGroupIds: fromInput(inputs.network, (network) => sorted([network.securityGroupId])),
      userData: fromInput(inputs.cluster, (cluster) => userDataFor(cluster.clusterName)),
      metadata: { httpTokens: METADATA_OPTIONS.HttpTokens, httpPutResponseHopLimit: METADATA_OPTIONS.HttpPutResponseHopLimit, httpEndpoint: METADATA_OPTIONS.HttpEndpoint },
    },
    instanceCount: config.instanceCount,
    subnets: fromInput(inputs.network, (network) => sorted(network.privateSubnets)),
    outdatedInstances: 0,
  }),

  // Every change happens with the instances serving: a new template version then a rolling
  // replacement (a running instance keeps the parameters it was launched with), more or fewer
  // instances, or instances moved into the wanted subnets (fixed at launch) by the same roll.
  effects: { launchTemplate: 'update', instanceCount: 'update', subnets: 'update', outdatedInstances: 'update' },

  async preflight(context: ReadContext<'capacity'>) {
    // Independent reads, side by side (they are on up's critical path); the first failure in this order is reported.
    const checks = await Promise.allSettled([locateLaunchTemplate(context), checkInstanceProfile(context), checkArchitecture(context)]);
    const failed = checks.find((check): check is PromiseRejectedResult => check.status === 'rejected');
    if (failed) throw failed.reason;
  },

  async read(context) {
    const template = await locateLaunchTemplate(context);
    if (!template) return undefined;
    return liveOf(context, await survey(context, template));
  },

  async create(context, want) {
    const { spec, subnets } = resolve(want);
    context.save({ created: true, data: { launchTemplateName: launchTemplateNameFor(context.stack), subnets } });
    const record = context.record;
    const source: AmiSource = spec.imageId === DEFAULT_AMI ? 'default' : 'setting';
    // A resumed create keeps the AMI it chose before the kill; a template made anew gets the newest.
    const resumedAmi = record?.complete === false && record.data.amiSource === 'default' ? record.data.amiId : undefined;
    const imageId = source === 'setting' ? spec.imageId : (resumedAmi ?? (await newestEcsAmiFor(context, spec.instanceType)));
    context.save({ data: { amiId: imageId, amiSource: source } });
    const template = await createLaunchTemplate(context, { ...spec, imageId }, source);
    const version = template.LatestVersionNumber ?? 1;
    context.save({ data: { launchTemplateId: template.LaunchTemplateId!, launchTemplateName: template.LaunchTemplateName!, launchTemplateVersion: version } });
    const instanceIds = await converge(context, { launchTemplateId: template.LaunchTemplateId!, version, subnets, instanceCount: want.instanceCount });
    return outputOf(context, template, { amiId: imageId, amiSource: source, launchTemplateVersion: version, subnets, instanceIds });
  },

  async update(context, want, live, changes) {
    const { spec, subnets } = resolve(want);
    const template = await locateLaunchTemplate(context);
    if (!template) throw new AuthecsError('The launch template went away during the run', { code: 'LAUNCH_TEMPLATE_MISSING', exit: 'state', hint: 'Run `authecs up` again.' });
    // The roll's target goes to the state first, so a resumed run still sees what is misplaced.
    context.save({ data: { subnets } });
    const fields = new Set(changes.map((change) => change.field));
    const version = fields.has('launchTemplate') ? await templateVersionFor(context, template, spec, live) : (template.LatestVersionNumber ?? 1);
    await makeDefault(context, template, version);
    context.save({ data: { launchTemplateVersion: version } });
    const instanceIds = await converge(context, { launchTemplateId: template.LaunchTemplateId!, version, subnets, instanceCount: want.instanceCount });
    const record = context.record?.data;
    return outputOf(context, template, {
      ...(record?.amiId ? { amiId: record.amiId } : {}),
      ...(record?.amiSource ? { amiSource: record.amiSource } : {}),
      launchTemplateVersion: version,
      subnets,
      instanceIds,
    });
  },

  async settle(context, live) {
    await waitUntilRunning(context, live.output.instanceIds);
    await waitUntilRegistered(context, clusterNameOf(context), live.output.instanceIds);
    return live.output;
  },

  async delete(context) {
    const cluster = clusterNameOf(context);
    const recorded = context.record?.data.instanceIds ?? [];
    const tagged = (await stackInstances(context, NOT_TERMINATED_STATES)).map((instance) => instance.InstanceId!);
    const instanceIds = [...new Set([...recorded, ...tagged])];

    if (instanceIds.length > 0) {
      // As the article's cleanup does: force-deregister, so the cluster can be deleted at once.
      const ours = new Set(instanceIds);
      for (const containerInstance of (await containerInstances(context, cluster)).filter((instance) => ours.has(instance.ec2InstanceId ?? ''))) {
        await deregister(context, cluster, containerInstance, true);
      }
      const terminated = await terminate(context, instanceIds);
      if (terminated.length > 0) {
        context.progress(`waiting for ${terminated.length} instance(s) to terminate`);
        const seconds = context.pollSeconds(INSTANCE_POLL_SECONDS);
        await waitUntilInstanceTerminated(
          { client: context.clients.ec2, maxWaitTime: context.waitTimeoutSeconds, minDelay: seconds, maxDelay: seconds, ...(context.stopSignal ? { abortSignal: context.stopSignal } : {}) },
          { InstanceIds: terminated },
        ).catch((error: unknown) => {
          if (context.stopSignal?.aborted) throw interruptedError();
          throw new AuthecsError(`Container instances ${terminated.join(', ')} did not terminate: ${(error as Error).message}`, {
            code: 'INSTANCES_NOT_TERMINATED',
            exit: 'timeout',
            resource: terminated.join(','),
            hint: 'Check the instances in the EC2 console, then run `authecs down` again.',
          });
        });
      }
      context.save({ data: { instanceIds: [], pendingLaunch: undefined } });
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
});
