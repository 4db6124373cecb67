import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  waitUntilStackCreateComplete,
  waitUntilStackDeleteComplete,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  paginateDescribeNetworkInterfaces,
} from '@aws-sdk/client-ec2';
import { awsErrorCode, hasErrorCode } from '../aws/errors.js';
import type { Config } from '../config/schema.js';
import { pollUntil } from './shared/poll.js';
import { AuthecsError } from '../errors.js';
import type { NetworkOutput } from './outputs.js';
import { defineResource, type Health } from './resource.js';
import { FARGATE_UNSUPPORTED_ZONE_IDS } from './shared/fargate.js';
import { hasStackTag, stackTags } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'network'>;

// CloudFormation's own waiters poll every 30 s; a VPC with two NAT gateways takes 2-5 minutes.
const STACK_POLL_SECONDS = 15;
const STACK_MAX_POLL_SECONDS = 30;

/** The article's stack outputs, read exactly as its `describe-stacks --query` lines do. */
export const NETWORK_OUTPUT_KEYS = ['VPC', 'PublicSubnet1', 'PublicSubnet2', 'PrivateSubnet1', 'PrivateSubnet2', 'NoIngressSecurityGroup'] as const;

const READY_STATUSES = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE', 'IMPORT_ROLLBACK_COMPLETE']);

/**
 * templates/ sits at the package root, beside package.json: two folders above both
 * src/steps/network.ts and dist/steps/network.js. Walk up rather than count, so either works.
 */
export function networkTemplatePath(fromUrl: string = import.meta.url): string {
  let folder = dirname(fileURLToPath(fromUrl));
  for (;;) {
    const candidate = join(folder, 'templates', 'network.yaml');
    if (existsSync(join(folder, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(folder);
    if (parent === folder) {
      throw new AuthecsError('The network template templates/network.yaml was not found beside package.json', {
        code: 'NETWORK_TEMPLATE_MISSING',
        exit: 'internal',
        hint: 'Reinstall authecs: its package ships templates/network.yaml.',
      });
    }
    folder = parent;
  }
}

/** CreateStack's ClientRequestToken: [a-zA-Z][-a-zA-Z0-9]*, at most 128 characters. */
export function stackRequestToken(stack: string): string {
  return `authecs-${stack}-network`.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 128);
}

/**
 * The settings that pick the network. Each ID is the setting, or null for the stack's output;
 * networkStack is null when the four settings give every ID. Subnets sorted: they are sets.
 */
export interface DesiredNetwork {
  networkStack: string | null;
  /** Create the stack when it is missing (authecs then owns it, and `down` deletes it). */
  createNetwork: boolean;
  vpcId: string | null;
  publicSubnets: string[] | null;
  privateSubnets: string[] | null;
  securityGroupId: string | null;
}

type CompleteSettings = DesiredNetwork & { vpcId: string; publicSubnets: string[]; privateSubnets: string[]; securityGroupId: string };

interface Resolved {
  output: NetworkOutput;
  created: boolean;
  /** The stack the IDs came from, as described just now. */
  stack?: Stack;
}

function networkSelection(config: Config): DesiredNetwork {
  const sorted = (list: readonly string[] | undefined) => (list ? [...list].sort() : null);
  const complete = Boolean(config.vpcId && config.publicSubnets && config.privateSubnets && config.securityGroupId);
  return {
    networkStack: complete ? null : config.networkStack,
    createNetwork: config.createNetwork,
    vpcId: config.vpcId ?? null,
    publicSubnets: sorted(config.publicSubnets),
    privateSubnets: sorted(config.privateSubnets),
    securityGroupId: config.securityGroupId ?? null,
  };
}

function settingsComplete(want: DesiredNetwork): want is CompleteSettings {
  return want.vpcId !== null && want.publicSubnets !== null && want.privateSubnets !== null && want.securityGroupId !== null;
}

function fromSettings(want: CompleteSettings): NetworkOutput {
  return {
    vpcId: want.vpcId,
    publicSubnets: [...want.publicSubnets],
    privateSubnets: [...want.privateSubnets],
    securityGroupId: want.securityGroupId,
    source: 'settings',
  };
}

function isComplete(data: Partial<NetworkOutput> | undefined): data is NetworkOutput {
  return Boolean(data?.vpcId && data.publicSubnets && data.privateSubnets && data.securityGroupId && data.source);
}

/** save() merges into the record: name every key, so nothing of a previous network lingers. */
function wholeRecord(data: Partial<NetworkOutput>): Partial<NetworkOutput> {
  return { vpcId: undefined, publicSubnets: undefined, privateSubnets: undefined, securityGroupId: undefined, source: undefined, stackName: undefined, stackId: undefined, ...data };
}

async function describeStack(context: Context, stackName: string): Promise<Stack | undefined> {
  try {
    const response = await context.clients.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = response.Stacks?.[0];
    // Described by ID, a deleted stack still answers, as DELETE_COMPLETE.
    return stack && stack.StackStatus !== 'DELETE_COMPLETE' ? stack : undefined;
  } catch (error) {
    if (hasErrorCode(error, 'ValidationError') && /does not exist/i.test((error as Error).message)) return undefined;
    throw error;
  }
}

function sameStack(recorded: Partial<NetworkOutput>, stack: { StackId?: string; StackName?: string }): boolean {
  return recorded.stackId && stack.StackId ? recorded.stackId === stack.StackId : recorded.stackName !== undefined && recorded.stackName === stack.StackName;
}

/** Tagged as this stack's, or recorded as created (this very stack: the record may be of another network). */
function isOurStack(context: Context, stack: Stack): boolean {
  const record = context.record;
  return (record?.created === true && sameStack(record.data, stack)) || hasStackTag(stack.Tags, context.stack);
}

function stackOutputs(stack: Stack | undefined): Map<string, string> {
  return new Map((stack?.Outputs ?? []).flatMap((output) => (output.OutputKey && output.OutputValue ? [[output.OutputKey, output.OutputValue] as const] : [])));
}

/** Stack outputs, with any individual setting (flag or env) taking the place of its output. */
function fromStack(want: DesiredNetwork, stack: Stack, created: boolean): NetworkOutput {
  const outputs = stackOutputs(stack);
  const read = (key: (typeof NETWORK_OUTPUT_KEYS)[number]): string => {
    const value = outputs.get(key);
    if (!value) {
      throw new AuthecsError(`CloudFormation stack ${stack.StackName} has no output ${key}`, {
        code: 'NETWORK_STACK_OUTPUT_MISSING',
        exit: 'notFound',
        resource: stack.StackId,
        hint: `Use a stack made from the article's codebuild-vpc-cfn.yaml (outputs ${NETWORK_OUTPUT_KEYS.join(', ')}), or pass --vpc, --public-subnets, --private-subnets and --security-group.`,
      });
    }
    return value;
  };
  return {
    vpcId: want.vpcId ?? read('VPC'),
    publicSubnets: want.publicSubnets ? [...want.publicSubnets] : [read('PublicSubnet1'), read('PublicSubnet2')],
    privateSubnets: want.privateSubnets ? [...want.privateSubnets] : [read('PrivateSubnet1'), read('PrivateSubnet2')],
    securityGroupId: want.securityGroupId ?? read('NoIngressSecurityGroup'),
    source: created ? 'created-stack' : 'stack',
    stackName: stack.StackName!,
    ...(created && stack.StackId ? { stackId: stack.StackId } : {}),
  };
}

/** The first resource failure, which says far more than the stack's own status reason. */
async function failureReason(context: Context, stack: Stack): Promise<string> {
  try {
    const events = await context.clients.cloudformation.send(new DescribeStackEventsCommand({ StackName: stack.StackId ?? stack.StackName }));
    const failed = (events.StackEvents ?? [])
      .filter((event) => event.ResourceStatus?.endsWith('_FAILED') && event.ResourceStatusReason && event.LogicalResourceId !== stack.StackName)
      .at(-1);
    if (failed) return `${failed.LogicalResourceId}: ${failed.ResourceStatusReason}`;
  } catch {
    // The status reason below is still worth reporting.
  }
  return stack.StackStatusReason ?? 'no reason given';
}

async function stackFailed(context: Context, stack: Stack): Promise<AuthecsError> {
  const ours = isOurStack(context, stack);
  return new AuthecsError(`Network stack ${stack.StackName} is ${stack.StackStatus} (${await failureReason(context, stack)})`, {
    code: 'NETWORK_STACK_FAILED',
    exit: 'aws',
    resource: stack.StackId,
    hint: ours
      ? 'Fix the cause above, delete the failed stack (`authecs down` deletes it, as authecs created it), then run `authecs up` again.'
      : 'Repair or delete that stack in the CloudFormation console, or pass --network-stack, or --vpc/--public-subnets/--private-subnets/--security-group.',
  });
}

/**
 * Two zones for the network, chosen by zone ID (the same physical zone in every account; names
 * are mapped per account: "AWS Availability Zones" in the AWS Regions guide). Under EC2 only zones
 * that offer the instance type (EC2 DescribeInstanceTypeOfferings, location type
 * availability-zone-id); under Fargate none of the zones its Region table leaves out.
 */
async function availabilityZones(context: Context): Promise<[string, string]> {
  const { launchType, instanceType, region } = context.config;
  const response = await context.clients.ec2.send(new DescribeAvailabilityZonesCommand({}));
  const zones = (response.AvailabilityZones ?? [])
    .filter((zone) => (zone.State ?? 'available') === 'available' && (zone.ZoneType ?? 'availability-zone') === 'availability-zone' && zone.ZoneName)
    .map((zone) => ({ name: zone.ZoneName!, id: zone.ZoneId ?? zone.ZoneName! }))
    .sort((left, right) => left.id.localeCompare(right.id));
  let usable = zones;
  let why: string;
  if (launchType === 'FARGATE') {
    usable = zones.filter((zone) => !FARGATE_UNSUPPORTED_ZONE_IDS.has(zone.id));
    why = 'that run Fargate';
  } else {
    const offerings = await context.clients.ec2.send(
      new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone-id', Filters: [{ Name: 'instance-type', Values: [instanceType] }] }),
    );
    const offered = new Set((offerings?.InstanceTypeOfferings ?? []).flatMap((offering) => (offering.Location ? [offering.Location] : [])));
    usable = zones.filter((zone) => offered.has(zone.id));
    why = `that offer ${instanceType}`;
  }
  const [first, second] = usable;
  if (!first || !second) {
    throw new AuthecsError(`Region ${region} has fewer than two available Availability Zones ${why} (found: ${usable.map((zone) => `${zone.name} (${zone.id})`).join(', ') || 'none'})`, {
      code: 'NETWORK_TOO_FEW_ZONES',
      exit: 'usage',
      hint:
        launchType === 'FARGATE'
          ? 'Choose another --region, or pass --vpc/--public-subnets/--private-subnets/--security-group for an existing network in zones with Fargate.'
          : 'Pass another --instance-type (t3.small is offered almost everywhere), choose another --region, or pass --vpc/--public-subnets/--private-subnets/--security-group for an existing network.',
    });
  }
  return [first.name, second.name];
}

// ENIs left by what used the VPC: an ALB ("ELB app/...") or an awsvpc task ("arn:aws:ecs:...:attachment/...").
const LINGERING_ENI = /^(ELB app\/|arn:aws[a-z-]*:ecs:)/;
const ENI_POLL_SECONDS = 15;

/**
 * An ALB's and Fargate tasks' network interfaces outlive them by minutes (ECS API Reference,
 * DeleteService: tasks stop after the service is DRAINING; aws-behaviour.md: Terraform waits up
 * to 35 minutes for ALB ENIs). DeleteStack meanwhile fails DELETE_FAILED on the subnets and group.
 */
async function waitForLingeringInterfaces(context: Context, vpcId: string): Promise<void> {
  let remaining: string[] = [];
  await pollUntil(context, {
    description: `the load balancer's and tasks' network interfaces in ${vpcId} to be released`,
    intervalSeconds: ENI_POLL_SECONDS,
    check: async () => {
      const interfaces: string[] = [];
      for await (const page of paginateDescribeNetworkInterfaces({ client: context.clients.ec2 }, { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })) {
        for (const eni of page.NetworkInterfaces ?? []) {
          if (LINGERING_ENI.test(eni.Description ?? '')) interfaces.push(`${eni.NetworkInterfaceId} (${eni.Description})`);
        }
      }
      remaining = interfaces;
      return interfaces.length === 0 ? true : undefined;
    },
    onWaiting: (attempt, elapsed) => (attempt % 4 === 1 ? `waiting for ${remaining.length} network interface(s) of the load balancer or tasks to be released (${elapsed}s): ${remaining.slice(0, 3).join(', ')}` : undefined),
    timeoutCode: 'NETWORK_INTERFACES_LINGER',
    timeoutHint: 'AWS releases them on its own, usually within minutes: run `authecs down` again, or raise --wait-timeout.',
  });
}

function waiterOptions(context: Context) {
  return {
    client: context.clients.cloudformation,
    maxWaitTime: context.waitTimeoutSeconds,
    minDelay: context.pollSeconds(STACK_POLL_SECONDS),
    maxDelay: context.pollSeconds(STACK_MAX_POLL_SECONDS),
  };
}

/** Waits for CREATE_COMPLETE; a failed or timed-out wait becomes an error that says why. */
async function waitForCreate(context: Context, stackName: string, stackRef: string): Promise<Stack> {
  context.progress(`waiting for CloudFormation stack ${stackName} to reach CREATE_COMPLETE`);
  let waitError: unknown;
  try {
    await context.waiting(() => waitUntilStackCreateComplete(waiterOptions(context), { StackName: stackRef }));
  } catch (error) {
    waitError = error;
  }
  const stack = await describeStack(context, stackRef);
  if (stack && READY_STATUSES.has(stack.StackStatus!)) return stack;
  if (stack?.StackStatus?.endsWith('_IN_PROGRESS')) {
    throw new AuthecsError(`Network stack ${stack.StackName} is still ${stack.StackStatus} after ${context.config.waitTimeoutMinutes} minutes`, {
      code: 'NETWORK_STACK_TIMEOUT',
      exit: 'timeout',
      resource: stack.StackId,
      hint: 'Run `authecs up` again to keep waiting, or raise --wait-timeout.',
    });
  }
  if (stack) throw await stackFailed(context, stack);
  throw new AuthecsError(`Network stack ${stackName} disappeared while it was being created${waitError ? ` (${awsErrorCode(waitError)})` : ''}`, {
    code: 'NETWORK_STACK_FAILED',
    exit: 'aws',
    hint: 'It was probably rolled back and deleted; check its events in the CloudFormation console, then run `authecs up` again.',
  });
}

/** Another operation (an update, a delete) is running on the stack: let it finish first. */
async function waitWhileBusy(context: Context, stack: Stack): Promise<Stack | undefined> {
  return pollUntil(context, {
    description: `CloudFormation stack ${stack.StackName} to finish ${stack.StackStatus}`,
    intervalSeconds: STACK_POLL_SECONDS,
    check: async () => {
      const current = await describeStack(context, stack.StackId ?? stack.StackName!);
      if (!current) return { stack: undefined };
      return current.StackStatus?.endsWith('_IN_PROGRESS') ? undefined : { stack: current };
    },
    onWaiting: (attempt) => (attempt % 4 === 1 ? `waiting for stack ${stack.StackName} to finish ${stack.StackStatus}` : undefined),
  }).then((result) => result.stack);
}

async function createStack(context: Context, stackName: string): Promise<Stack> {
  const [az1, az2] = await availabilityZones(context);
  const template = readFileSync(networkTemplatePath(), 'utf8');
  // Intent first: a run killed during CreateStack still knows the stack is authecs's to delete.
  context.save({ created: true, data: wholeRecord({ stackName, source: 'created-stack' }) });
  context.progress(`creating CloudFormation stack ${stackName} from templates/network.yaml in ${az1} and ${az2}`);
  let stackId: string | undefined;
  try {
    const response = await context.clients.cloudformation.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: template,
        Parameters: [
          { ParameterKey: 'EnvironmentName', ParameterValue: stackName },
          { ParameterKey: 'AZ1', ParameterValue: az1 },
          { ParameterKey: 'AZ2', ParameterValue: az2 },
        ],
        Tags: stackTags(context.stack),
        ClientRequestToken: stackRequestToken(context.stack),
      }),
    );
    stackId = response.StackId;
  } catch (error) {
    // Someone (or a killed run whose token has expired) made it in the meantime: wait for that one.
    if (!hasErrorCode(error, 'AlreadyExistsException')) throw error;
  }
  if (stackId) context.save({ data: { stackId } });
  return waitForCreate(context, stackName, stackId ?? stackName);
}

function stackMissing(context: Context, stackName: string): AuthecsError {
  return new AuthecsError(`CloudFormation stack ${stackName} does not exist in ${context.config.region}`, {
    code: 'NETWORK_STACK_MISSING',
    exit: 'notFound',
    hint: `Create it as the article does (codebuild-vpc-cfn.yaml), pass --create-network to have authecs create it from templates/network.yaml, pass --network-stack with another stack's name, or give an existing network with --vpc, --public-subnets, --private-subnets and --security-group.`,
  });
}

/**
 * The live network: the recorded one first (what dependents use), else what the settings pick
 * (a record-less or intent-only run). Undefined while there is nothing ready to use: create()
 * then waits for, makes or refuses the stack.
 */
async function readNetwork(context: Context): Promise<Resolved | undefined> {
  const data = context.record?.data;
  if (isComplete(data)) {
    if (data.source === 'settings') return { output: { ...data }, created: false };
    const stack = await describeStack(context, data.stackId ?? data.stackName ?? context.config.networkStack);
    // The recorded stack is gone, and its network with it.
    if (!stack) return undefined;
    return { output: { ...data }, created: data.source === 'created-stack', stack };
  }
  const selection = networkSelection(context.config);
  if (!data && settingsComplete(selection)) return { output: fromSettings(selection), created: false };
  const stack = await describeStack(context, data?.stackId ?? data?.stackName ?? context.config.networkStack);
  if (!stack || !READY_STATUSES.has(stack.StackStatus!)) return undefined;
  const created = isOurStack(context, stack);
  return { output: fromStack(selection, stack, created), created, stack };
}

function sameList(left: readonly string[], right: readonly string[]): boolean {
  return left.length === right.length && left.every((value, index) => value === right[index]);
}

/** A recorded ID as the settings would name it: the setting itself, null when it is the stack's output, else the ID. */
function asSetting(recorded: string, setting: string | null, stackValue: string | undefined): string | null {
  if (setting !== null && recorded === setting) return setting;
  if (stackValue !== undefined && recorded === stackValue) return null;
  return recorded;
}

function listAsSetting(recorded: readonly string[], setting: string[] | null, stackValue: (string | undefined)[]): string[] | null {
  const sorted = [...recorded].sort();
  if (setting !== null && sameList(sorted, setting)) return setting;
  const fromStackOutputs = stackValue.filter((value): value is string => value !== undefined);
  if (fromStackOutputs.length === stackValue.length && sameList(sorted, fromStackOutputs.sort())) return null;
  return sorted;
}

/**
 * The live network in the terms of the current settings: an ID equal to its setting observes as
 * that setting, one equal to the stack's output as null, so only a switch to another network
 * (or a stack whose outputs changed) shows as a change. createNetwork is not compared: it only
 * decides what happens when the stack is missing, and a stack that exists is used either way.
 */
function observe(config: Config, { output, stack }: Resolved): Partial<DesiredNetwork> {
  const want = networkSelection(config);
  const outputs = stackOutputs(stack);
  const observed = {
    vpcId: asSetting(output.vpcId, want.vpcId, outputs.get('VPC')),
    publicSubnets: listAsSetting(output.publicSubnets, want.publicSubnets, [outputs.get('PublicSubnet1'), outputs.get('PublicSubnet2')]),
    privateSubnets: listAsSetting(output.privateSubnets, want.privateSubnets, [outputs.get('PrivateSubnet1'), outputs.get('PrivateSubnet2')]),
    securityGroupId: asSetting(output.securityGroupId, want.securityGroupId, outputs.get('NoIngressSecurityGroup')),
  };
  // The settings now name every ID of the recorded network: the same network, whatever stack it came from.
  const namedBySettings =
    settingsComplete(want) &&
    observed.vpcId === want.vpcId &&
    sameList(observed.publicSubnets ?? [], want.publicSubnets) &&
    sameList(observed.privateSubnets ?? [], want.privateSubnets) &&
    observed.securityGroupId === want.securityGroupId;
  const networkStack = namedBySettings || output.source === 'settings' ? null : (output.stackName ?? null);
  return { networkStack, ...observed };
}

async function health(context: Context, { output, stack }: Resolved): Promise<Health> {
  const origin = output.source === 'settings' ? 'from settings' : output.source === 'created-stack' ? `stack ${output.stackName}, created by authecs` : `from stack ${output.stackName}`;
  const details = { vpcId: output.vpcId, source: output.source, ...(output.stackName ? { stackName: output.stackName } : {}), ...(stack?.StackStatus ? { stackStatus: stack.StackStatus } : {}) };
  const subnetIds = [...output.publicSubnets, ...output.privateSubnets];
  // Three independent reads, side by side: the network's read is on the plan's path.
  const [vpcs, subnets, groups] = await Promise.all([
    context.clients.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [output.vpcId] }] })),
    context.clients.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: subnetIds }] })),
    context.clients.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [output.securityGroupId] }] })),
  ]);
  const vpc = vpcs.Vpcs?.[0];
  if (!vpc) return { healthy: false, summary: `${output.vpcId} missing`, details: { ...details, problems: [`VPC ${output.vpcId} no longer exists`] } };

  const problems: string[] = [];
  const liveSubnets = new Set((subnets.Subnets ?? []).map((subnet) => subnet.SubnetId));
  for (const id of subnetIds) if (!liveSubnets.has(id)) problems.push(`subnet ${id} no longer exists`);
  if (!groups.SecurityGroups?.length) problems.push(`security group ${output.securityGroupId} no longer exists`);
  if (stack && !READY_STATUSES.has(stack.StackStatus!)) problems.push(`CloudFormation stack ${output.stackName} is ${stack.StackStatus}`);
  return {
    healthy: (vpc.State ?? 'available') === 'available' && problems.length === 0,
    summary: `${output.vpcId} (${origin})`,
    details: { ...details, ...(problems.length > 0 ? { problems } : {}) },
  };
}

/** Finds (or, with createNetwork, makes) the network the settings pick, waiting for a stack still being built. */
async function resolveNetwork(context: Context, want: DesiredNetwork): Promise<NetworkOutput> {
  if (settingsComplete(want)) {
    const output = fromSettings(want);
    context.save({ created: false, data: wholeRecord(output) });
    return output;
  }
  const stackName = want.networkStack ?? context.config.networkStack;
  let stack = await describeStack(context, stackName);
  if (stack?.StackStatus?.endsWith('_IN_PROGRESS') && stack.StackStatus !== 'CREATE_IN_PROGRESS') stack = await waitWhileBusy(context, stack);
  if (!stack) {
    if (!want.createNetwork) throw stackMissing(context, stackName);
    stack = await createStack(context, stackName);
  } else if (stack.StackStatus === 'CREATE_IN_PROGRESS') {
    // Ours from a killed run, or someone else's still being built: either way, wait for it.
    stack = await waitForCreate(context, stackName, stack.StackId ?? stackName);
  } else if (!READY_STATUSES.has(stack.StackStatus!)) {
    throw await stackFailed(context, stack);
  }
  const created = isOurStack(context, stack);
  const output = fromStack(want, stack, created);
  context.save({ created, data: wholeRecord(output) });
  return output;
}

export const networkStep = defineResource<'network', DesiredNetwork>({
  name: 'network',
  title: 'Network (VPC, subnets, security group)',
  articleSection: 'Launch the base infrastructure platform that the resources reside in',
  dependsOn: [],

  desired: (config) => networkSelection(config),
  // Other IDs are another network: dependents then see the new VPC and subnets and reconcile themselves.
  effects: { networkStack: 'replace', createNetwork: 'update', vpcId: 'replace', publicSubnets: 'replace', privateSubnets: 'replace', securityGroupId: 'replace' },

  async preflight(context) {
    const selection = networkSelection(context.config);
    if (settingsComplete(selection)) return;
    const exists = context.record?.data.stackId !== undefined || (await describeStack(context, context.config.networkStack)) !== undefined;
    if (exists) return;
    if (!selection.createNetwork) throw stackMissing(context, context.config.networkStack);
    // The stack will be made: fewer than two usable zones must stop `up` before anything is created.
    await availabilityZones(context);
  },

  async read(context) {
    const resolved = await readNetwork(context);
    if (!resolved) return undefined;
    return { output: resolved.output, observed: observe(context.config, resolved), created: resolved.created, health: await health(context, resolved) };
  },

  create: resolveNetwork,

  // createNetwork alone changes nothing live (it is never observed); record the network as it is.
  async update(context, _want, current) {
    context.save({ created: current.created, data: wholeRecord(current.output) });
    return current.output;
  },

  async replace(context, want, current) {
    const output = await resolveNetwork(context, want);
    const old = current.output;
    if (current.created && old.source === 'created-stack' && !sameStack(old, { StackId: output.stackId, StackName: output.stackName })) {
      // A stack whose VPC the new network still uses must stay; otherwise it goes once dependents have moved.
      if (output.vpcId === old.vpcId) context.progress(`keeping CloudFormation stack ${old.stackName}: the new network still uses its VPC ${old.vpcId}`);
      else context.retire(old);
    }
    return output;
  },

  async delete(context) {
    const record = context.record;
    if (!record?.created || (record.data.source !== undefined && record.data.source !== 'created-stack')) return;
    const stackRef = record.data.stackId ?? record.data.stackName ?? context.config.networkStack;
    const stack = await describeStack(context, stackRef);
    if (!stack) return;
    if (stack.StackStatus !== 'DELETE_IN_PROGRESS') {
      const vpcId = record.data.vpcId ?? stackOutputs(stack).get('VPC');
      if (vpcId) await waitForLingeringInterfaces(context, vpcId);
      try {
        await context.clients.cloudformation.send(new DeleteStackCommand({ StackName: stack.StackId ?? stackRef }));
      } catch (error) {
        // Some emulators fail the call yet remove the stack; only a stack still there is a failure.
        if (await describeStack(context, stack.StackId ?? stackRef)) throw error;
        context.progress(`DeleteStack reported ${awsErrorCode(error)}, but stack ${stack.StackName} is gone`);
        return;
      }
    }
    context.progress(`waiting for CloudFormation stack ${stack.StackName} to be deleted`);
    try {
      await context.waiting(() => waitUntilStackDeleteComplete(waiterOptions(context), { StackName: stack.StackId ?? stackRef }));
    } catch (error) {
      const remaining = await describeStack(context, stack.StackId ?? stackRef);
      if (!remaining) return;
      const timedOut = remaining.StackStatus === 'DELETE_IN_PROGRESS';
      throw new AuthecsError(`Network stack ${stack.StackName} was not deleted: ${remaining.StackStatus} (${timedOut ? awsErrorCode(error) : await failureReason(context, remaining)})`, {
        code: timedOut ? 'NETWORK_STACK_DELETE_TIMEOUT' : 'NETWORK_STACK_DELETE_FAILED',
        exit: timedOut ? 'timeout' : 'aws',
        resource: remaining.StackId,
        hint: 'Network interfaces of a deleted load balancer or instances can linger for minutes; run `authecs down` again shortly, or delete the stack in the CloudFormation console.',
      });
    }
  },

  async loss(_context, current) {
    if (!current.created || current.output.source !== 'created-stack') return undefined;
    return `CloudFormation stack ${current.output.stackName}: VPC ${current.output.vpcId}, its subnets, NAT gateways and security group`;
  },
});
