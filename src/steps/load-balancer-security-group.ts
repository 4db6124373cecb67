import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  type IpPermission,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { hasErrorCode } from '../aws/errors.js';
import { retryWhileInUse } from './shared/poll.js';
import { AuthecsError } from '../errors.js';
import type { LoadBalancerSecurityGroupOutput } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type StepContext } from './step.js';

type Context = StepContext<'load-balancer-security-group'>;

/** What the ALB group must admit from anywhere: HTTPS, and HTTP only for the redirect listener. */
export const LOAD_BALANCER_PORTS: readonly number[] = [443, 80];
export const ANYWHERE = '0.0.0.0/0';

// ENIs of a deleted ALB keep its group "in use" for minutes; Terraform waits up to 35 (aws-behaviour.md).
const IN_USE_POLL_SECONDS = 15;

/**
 * `<cluster>-alb`. A group name is at most 255 characters and must not start with "sg-", so
 * a cluster named sg-… gets an "authecs-" prefix, and a very long name is cut.
 */
export function loadBalancerGroupName(cluster: string): string {
  const name = `${cluster}-alb`;
  return (name.toLowerCase().startsWith('sg-') ? `authecs-${name}` : name).slice(0, 255);
}

function groupDescription(cluster: string): string {
  return `authecs: load balancer of ${cluster} (443 and 80 from anywhere)`.slice(0, 255);
}

async function describeById(context: Context, groupId: string): Promise<SecurityGroup | undefined> {
  try {
    const response = await context.clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    return response.SecurityGroups?.[0];
  } catch (error) {
    if (hasErrorCode(error, 'InvalidGroup.NotFound')) return undefined;
    throw error;
  }
}

/** Groups with this name in one VPC (names are unique per VPC, so at most one). */
async function describeByName(context: Context, name: string, vpcId: string): Promise<SecurityGroup | undefined> {
  const response = await context.clients.ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: [name] },
        { Name: 'vpc-id', Values: [vpcId] },
      ],
    }),
  );
  return response.SecurityGroups?.find((group) => group.GroupName === name);
}

function nameTaken(group: SecurityGroup, name: string, vpcId: string): AuthecsError {
  return new AuthecsError(`A security group named "${name}" already exists in ${vpcId} (${group.GroupId}) and was not created by authecs`, {
    code: 'ALB_SECURITY_GROUP_NAME_TAKEN',
    exit: 'conflict',
    ...(group.GroupId ? { resource: group.GroupId } : {}),
    hint: `Pass --cluster (or AUTH_ECS_CLUSTER) to name the stack and its ALB group differently, or --ingress article (AUTH_ECS_INGRESS=article) to keep the article's single security group.`,
  });
}

function toOutput(group: SecurityGroup, vpcId: string): LoadBalancerSecurityGroupOutput {
  // Same key order as the intent saved before CreateSecurityGroup, so a rerun's record compares equal.
  return { groupName: group.GroupName!, vpcId: group.VpcId ?? vpcId, groupId: group.GroupId! };
}

/** The recorded group if it still exists in this VPC, else our same-named group; someone else's is a conflict. */
async function locate(context: Context, vpcId: string): Promise<SecurityGroup | undefined> {
  const recordedId = context.record?.data.groupId;
  if (recordedId) {
    const recorded = await describeById(context, recordedId);
    if (recorded && recorded.VpcId === vpcId) return recorded;
  }
  const name = loadBalancerGroupName(context.config.cluster);
  const named = await describeByName(context, name, vpcId);
  if (!named) return undefined;
  if (!hasStackTag(named.Tags, context.stack)) throw nameTaken(named, name, vpcId);
  return named;
}

/**
 * The VPC the network step will use, read-only: --vpc, else the network stack's VPC output.
 * Undefined when the stack does not exist yet (--create-network): a VPC that does not exist yet
 * cannot hold anyone else's group, so there is nothing to check.
 */
async function plannedVpcId(context: Context): Promise<string | undefined> {
  if (context.config.vpcId) return context.config.vpcId;
  try {
    const response = await context.clients.cloudformation.send(new DescribeStacksCommand({ StackName: context.config.networkStack }));
    const stack = response.Stacks?.[0];
    if (!stack || stack.StackStatus === 'DELETE_COMPLETE') return undefined;
    return stack.Outputs?.find((output) => output.OutputKey === 'VPC')?.OutputValue;
  } catch (error) {
    if (hasErrorCode(error, 'ValidationError')) return undefined;
    throw error;
  }
}

function opensToAnywhere(permissions: readonly IpPermission[], port: number): boolean {
  return permissions.some(
    (permission) =>
      (permission.IpProtocol === 'tcp' || permission.IpProtocol === '6') &&
      permission.FromPort === port &&
      permission.ToPort === port &&
      (permission.IpRanges ?? []).some((range) => range.CidrIp === ANYWHERE),
  );
}

async function deleteGroup(context: Context, groupId: string): Promise<void> {
  await retryWhileInUse(
    context,
    {
      description: `delete security group ${groupId}`,
      codes: ['DependencyViolation'],
      intervalSeconds: IN_USE_POLL_SECONDS,
      call: async () => {
        try {
          await context.clients.ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
        } catch (error) {
          if (!hasErrorCode(error, 'InvalidGroup.NotFound')) throw error;
        }
      },
    },
    hasErrorCode,
  );
}

export const loadBalancerSecurityGroupStep = defineStep({
  name: 'load-balancer-security-group',
  title: 'ALB security group',
  articleSection: 'Configure the security group rules needed for web traffic access',
  dependsOn: ['network'],
  enabled: (config) => config.ingressMode === 'isolated',

  async preflight(context) {
    const vpcId = await plannedVpcId(context);
    if (!vpcId) return;
    const name = loadBalancerGroupName(context.config.cluster);
    const named = await describeByName(context, name, vpcId);
    if (named && !hasStackTag(named.Tags, context.stack)) throw nameTaken(named, name, vpcId);
  },

  async find(context) {
    const { vpcId } = context.output('network');
    const group = await locate(context, vpcId);
    return group ? { output: toOutput(group, vpcId), created: true } : undefined;
  },

  async create(context) {
    const { vpcId } = context.output('network');
    const { cluster } = context.config;
    const groupName = loadBalancerGroupName(cluster);
    const existing = await locate(context, vpcId);
    if (existing) {
      const output = toOutput(existing, vpcId);
      context.save({ created: true, data: output });
      return output;
    }
    // Intent first: `down` after a run killed mid-call still finds the tagged group by name.
    context.save({ created: true, data: { groupName, vpcId } });
    let groupId: string;
    try {
      const response = await context.clients.ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: groupName,
          Description: groupDescription(cluster),
          VpcId: vpcId,
          TagSpecifications: [{ ResourceType: 'security-group', Tags: stackTags(context.stack) }],
        }),
      );
      groupId = response.GroupId!;
    } catch (error) {
      if (!hasErrorCode(error, 'InvalidGroup.Duplicate')) throw error;
      // Made since we looked: ours if it carries our tag (locate throws the conflict otherwise).
      const appeared = await locate(context, vpcId);
      if (!appeared) throw error;
      groupId = appeared.GroupId!;
    }
    const output: LoadBalancerSecurityGroupOutput = { groupName, vpcId, groupId };
    context.save({ data: output });
    return output;
  },

  async delete(context) {
    const data = context.record?.data;
    let groupId = data?.groupId;
    if (!groupId) {
      // Only the intent was recorded: delete the group only if it carries our tag.
      if (!data?.vpcId) return;
      const named = await describeByName(context, data.groupName ?? loadBalancerGroupName(context.config.cluster), data.vpcId);
      if (!named?.GroupId || !hasStackTag(named.Tags, context.stack)) return;
      groupId = named.GroupId;
    }
    context.progress(`deleting security group ${groupId} (waits while the ALB's network interfaces linger)`);
    await deleteGroup(context, groupId);
  },

  async inspect(context) {
    const groupId = context.record?.data.groupId;
    const group = groupId ? await describeById(context, groupId) : undefined;
    if (!groupId || !group) return { present: false, healthy: false, summary: 'missing', ...(groupId ? { details: { groupId } } : {}) };
    const drift = LOAD_BALANCER_PORTS.filter((port) => !opensToAnywhere(group.IpPermissions ?? [], port)).map(
      (port) => `ingress tcp/${port} from ${ANYWHERE} is missing on ${groupId}`,
    );
    return {
      present: true,
      healthy: drift.length === 0,
      summary: `${group.GroupName ?? groupId} (${groupId})`,
      ...(drift.length > 0 ? { drift } : {}),
      details: { groupId },
    };
  },
});
