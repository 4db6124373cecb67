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
import { DescribeAvailabilityZonesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { awsErrorCode, hasErrorCode } from '../aws/errors.js';
import type { Config } from '../config/schema.js';
import { pollUntil } from './shared/poll.js';
import { AuthecsError } from '../errors.js';
import type { NetworkOutput } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type Inspection, type StepContext } from './step.js';

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

function settingsComplete(config: Config): boolean {
  return Boolean(config.vpcId && config.publicSubnets && config.privateSubnets && config.securityGroupId);
}

function fromSettings(config: Config): NetworkOutput {
  return {
    vpcId: config.vpcId!,
    publicSubnets: [...config.publicSubnets!],
    privateSubnets: [...config.privateSubnets!],
    securityGroupId: config.securityGroupId!,
    source: 'settings',
  };
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

function isOurStack(context: Context, stack: Stack): boolean {
  return context.record?.created === true || hasStackTag(stack.Tags, context.stack);
}

/** Stack outputs, with any individual setting (flag or env) taking the place of its output. */
function fromStack(context: Context, stack: Stack, created: boolean): NetworkOutput {
  const { config } = context;
  const outputs = new Map((stack.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
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
    vpcId: config.vpcId ?? read('VPC'),
    publicSubnets: config.publicSubnets ? [...config.publicSubnets] : [read('PublicSubnet1'), read('PublicSubnet2')],
    privateSubnets: config.privateSubnets ? [...config.privateSubnets] : [read('PrivateSubnet1'), read('PrivateSubnet2')],
    securityGroupId: config.securityGroupId ?? read('NoIngressSecurityGroup'),
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

async function availabilityZones(context: Context): Promise<[string, string]> {
  const response = await context.clients.ec2.send(new DescribeAvailabilityZonesCommand({}));
  const names = (response.AvailabilityZones ?? [])
    .filter((zone) => (zone.State ?? 'available') === 'available' && (zone.ZoneType ?? 'availability-zone') === 'availability-zone')
    .map((zone) => zone.ZoneName)
    .filter((name): name is string => Boolean(name))
    .sort();
  const [first, second] = names;
  if (!first || !second) {
    throw new AuthecsError(`Region ${context.config.region} has fewer than two available Availability Zones`, {
      code: 'NETWORK_TOO_FEW_ZONES',
      exit: 'aws',
      hint: 'Choose another --region, or pass --vpc/--public-subnets/--private-subnets/--security-group for an existing network.',
    });
  }
  return [first, second];
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
async function waitForCreate(context: Context, stackRef: string): Promise<Stack> {
  context.progress(`waiting for CloudFormation stack ${context.config.networkStack} to reach CREATE_COMPLETE`);
  let waitError: unknown;
  try {
    await waitUntilStackCreateComplete(waiterOptions(context), { StackName: stackRef });
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
  throw new AuthecsError(`Network stack ${context.config.networkStack} disappeared while it was being created${waitError ? ` (${awsErrorCode(waitError)})` : ''}`, {
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

async function createStack(context: Context): Promise<Stack> {
  const { config } = context;
  const [az1, az2] = await availabilityZones(context);
  const template = readFileSync(networkTemplatePath(), 'utf8');
  // Intent first: a run killed during CreateStack still knows the stack is authecs's to delete.
  context.save({ created: true, data: { stackName: config.networkStack, source: 'created-stack' } });
  context.progress(`creating CloudFormation stack ${config.networkStack} from templates/network.yaml in ${az1} and ${az2}`);
  let stackId: string | undefined;
  try {
    const response = await context.clients.cloudformation.send(
      new CreateStackCommand({
        StackName: config.networkStack,
        TemplateBody: template,
        Parameters: [
          { ParameterKey: 'EnvironmentName', ParameterValue: config.networkStack },
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
  return waitForCreate(context, stackId ?? config.networkStack);
}

function stackMissing(context: Context): AuthecsError {
  const { config } = context;
  return new AuthecsError(`CloudFormation stack ${config.networkStack} does not exist in ${config.region}`, {
    code: 'NETWORK_STACK_MISSING',
    exit: 'notFound',
    hint: `Create it as the article does (codebuild-vpc-cfn.yaml), pass --create-network to have authecs create it from templates/network.yaml, pass --network-stack with another stack's name, or give an existing network with --vpc, --public-subnets, --private-subnets and --security-group.`,
  });
}

/** The network from settings or a ready stack; undefined when create() has work to do. */
async function readyNetwork(context: Context): Promise<{ output: NetworkOutput; created: boolean } | undefined> {
  if (settingsComplete(context.config)) return { output: fromSettings(context.config), created: false };
  const stack = await describeStack(context, context.config.networkStack);
  if (!stack || !READY_STATUSES.has(stack.StackStatus!)) return undefined;
  const created = isOurStack(context, stack);
  return { output: fromStack(context, stack, created), created };
}

export const networkStep = defineStep({
  name: 'network',
  title: 'Network (VPC, subnets, security group)',
  articleSection: 'Launch the base infrastructure platform that the resources reside in',
  dependsOn: [],

  async preflight(context) {
    if (settingsComplete(context.config) || context.config.createNetwork) return;
    if (!(await describeStack(context, context.config.networkStack))) throw stackMissing(context);
  },

  async find(context) {
    return readyNetwork(context);
  },

  async create(context) {
    const { config } = context;
    if (settingsComplete(config)) {
      const output = fromSettings(config);
      context.save({ created: false, data: output });
      return output;
    }
    let stack = await describeStack(context, config.networkStack);
    if (stack?.StackStatus?.endsWith('_IN_PROGRESS') && stack.StackStatus !== 'CREATE_IN_PROGRESS') stack = await waitWhileBusy(context, stack);
    if (!stack) {
      if (!config.createNetwork) throw stackMissing(context);
      stack = await createStack(context);
    } else if (stack.StackStatus === 'CREATE_IN_PROGRESS') {
      // Ours from a killed run, or someone else's still being built: either way, wait for it.
      stack = await waitForCreate(context, stack.StackId ?? config.networkStack);
    } else if (!READY_STATUSES.has(stack.StackStatus!)) {
      throw await stackFailed(context, stack);
    }
    const created = isOurStack(context, stack);
    const output = fromStack(context, stack, created);
    context.save({ created, data: output });
    return output;
  },

  async delete(context) {
    const record = context.record;
    if (!record?.created || (record.data.source !== undefined && record.data.source !== 'created-stack')) return;
    const stackRef = record.data.stackId ?? record.data.stackName ?? context.config.networkStack;
    const stack = await describeStack(context, stackRef);
    if (!stack) return;
    if (stack.StackStatus !== 'DELETE_IN_PROGRESS') {
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
      await waitUntilStackDeleteComplete(waiterOptions(context), { StackName: stack.StackId ?? stackRef });
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

  async inspect(context): Promise<Inspection> {
    const data = context.record?.data;
    if (!data?.vpcId) return { present: false, healthy: false, summary: 'missing' };
    const vpcs = await context.clients.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [data.vpcId] }] }));
    const vpc = vpcs.Vpcs?.[0];
    if (!vpc) return { present: false, healthy: false, summary: `${data.vpcId} missing`, drift: [`VPC ${data.vpcId} no longer exists`] };

    const drift: string[] = [];
    const subnetIds = [...(data.publicSubnets ?? []), ...(data.privateSubnets ?? [])];
    if (subnetIds.length > 0) {
      const subnets = await context.clients.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: subnetIds }] }));
      const live = new Set((subnets.Subnets ?? []).map((subnet) => subnet.SubnetId));
      for (const id of subnetIds) if (!live.has(id)) drift.push(`subnet ${id} no longer exists`);
    }
    if (data.securityGroupId) {
      const groups = await context.clients.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [data.securityGroupId] }] }));
      if (!groups.SecurityGroups?.length) drift.push(`security group ${data.securityGroupId} no longer exists`);
    }
    let stackStatus: string | undefined;
    if (data.source !== 'settings' && data.stackName) {
      const stack = await describeStack(context, data.stackId ?? data.stackName);
      stackStatus = stack?.StackStatus;
      if (!stack) drift.push(`CloudFormation stack ${data.stackName} no longer exists`);
      else if (!READY_STATUSES.has(stack.StackStatus!)) drift.push(`CloudFormation stack ${data.stackName} is ${stack.StackStatus}`);
    }
    const origin = data.source === 'settings' ? 'from settings' : data.source === 'created-stack' ? `stack ${data.stackName}, created by authecs` : `from stack ${data.stackName}`;
    return {
      present: true,
      healthy: (vpc.State ?? 'available') === 'available' && drift.length === 0,
      summary: `${data.vpcId} (${origin})`,
      ...(drift.length > 0 ? { drift } : {}),
      details: { vpcId: data.vpcId, source: data.source, ...(data.stackName ? { stackName: data.stackName } : {}), ...(stackStatus ? { stackStatus } : {}) },
    };
  },
});
