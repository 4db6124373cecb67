import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  type IpPermission,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { LoadBalancerSecurityGroupOutput } from './outputs.js';
import { defineResource, isUnknown, known, UNKNOWN, type Live, type Maybe, type ReadContext } from './resource.js';
import { retryWhileInUse } from './shared/poll.js';
import { retryWhileNotVisible } from './shared/visibility.js';
import { ANYWHERE, IN_USE_POLL_SECONDS, isTcp, revokeIngress, tcpPermission } from './shared/security-groups.js';
import { hasStackTag, stackTags } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'load-balancer-security-group'>;

export interface DesiredLoadBalancerSecurityGroup {
  groupName: string;
  vpcId: Maybe<string>;
  /** TCP ports open to 0.0.0.0/0, ascending. */
  ingressPorts: number[];
}

/** The ports this step manages on its group; other rules someone adds there are left alone. */
const MANAGED_PORTS: readonly number[] = [80, 443];

/** HTTPS from anywhere, and HTTP only when the redirect listener is there to answer it. */
function loadBalancerPorts(httpRedirect: boolean): number[] {
  return httpRedirect ? [80, 443] : [443];
}

/**
 * `<cluster>-alb`. A group name is at most 255 characters and must not start with "sg-", so
 * a cluster named sg-… gets an "authecs-" prefix, and a very long name is cut.
 */
export function loadBalancerGroupName(cluster: string): string {
  const name = `${cluster}-alb`;
  return (name.toLowerCase().startsWith('sg-') ? `authecs-${name}` : name).slice(0, 255);
}

// Fixed at creation, so it names no ports: --no-http-redirect may change them later.
function groupDescription(cluster: string): string {
  return `authecs: load balancer of ${cluster}`.slice(0, 255);
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

/** Our group of this name in this VPC; a same-named group without our tag is someone else's. */
async function ourGroupByName(context: Context, name: string, vpcId: string): Promise<SecurityGroup | undefined> {
  const named = await describeByName(context, name, vpcId);
  if (!named) return undefined;
  if (!hasStackTag(named.Tags, context.stack)) throw nameTaken(named, name, vpcId);
  return named;
}

/**
 * The recorded group wherever it is (a group in another VPC than the network's shows as a
 * vpcId change), else our same-named group in the network's VPC.
 */
async function locate(context: Context): Promise<SecurityGroup | undefined> {
  const recordedId = context.record?.data.groupId;
  if (recordedId) {
    const recorded = await describeById(context, recordedId);
    if (recorded) return recorded;
  }
  // Without the network's output (not made yet) and no recorded VPC, there is nowhere to look.
  const vpcId = context.hasOutput('network') ? context.output('network').vpcId : context.record?.data.vpcId;
  if (!vpcId) return undefined;
  return ourGroupByName(context, loadBalancerGroupName(context.config.cluster), vpcId);
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
    (permission) => isTcp(permission.IpProtocol) && permission.FromPort === port && permission.ToPort === port && (permission.IpRanges ?? []).some((range) => range.CidrIp === ANYWHERE),
  );
}

function openPorts(group: SecurityGroup): number[] {
  return MANAGED_PORTS.filter((port) => opensToAnywhere(group.IpPermissions ?? [], port));
}

function live(context: ReadContext<'load-balancer-security-group'>, group: SecurityGroup): Live<'load-balancer-security-group', DesiredLoadBalancerSecurityGroup> {
  const ports = openPorts(group);
  const missing = loadBalancerPorts(context.config.httpRedirect).filter((port) => !ports.includes(port));
  return {
    output: toOutput(group, group.VpcId ?? ''),
    observed: { groupName: group.GroupName!, vpcId: group.VpcId!, ingressPorts: ports },
    // Found by its recorded ID or by our tag: authecs made it.
    created: true,
    health: {
      healthy: missing.length === 0,
      summary: `${group.GroupName ?? group.GroupId} (${group.GroupId})${missing.length > 0 ? `, ${missing.join(' and ')} not open` : ''}`,
      details: { groupId: group.GroupId, vpcId: group.VpcId, openPorts: ports },
    },
  };
}

function knownVpc(want: DesiredLoadBalancerSecurityGroup): string {
  if (isUnknown(want.vpcId)) {
    throw new AuthecsError('The ALB security group was asked to apply before the network was known', { code: 'STEP_INPUT_UNKNOWN', exit: 'internal' });
  }
  return want.vpcId;
}

/** One rule per call (moto reports only the last of several), tagged; an existing rule is fine. */
async function authorizePort(context: Context, groupId: string, port: number): Promise<void> {
  const command = new AuthorizeSecurityGroupIngressCommand({
    GroupId: groupId,
    IpPermissions: [tcpPermission({ port, cidr: ANYWHERE })],
    TagSpecifications: [{ ResourceType: 'security-group-rule', Tags: stackTags(context.stack) }],
  });
  try {
    // The group was made a moment ago (EC2 API Reference, "Eventual consistency").
    await retryWhileNotVisible(context, { description: `security group ${groupId} to accept tcp/${port}`, codes: ['InvalidGroup.NotFound'], call: () => context.clients.ec2.send(command) });
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidPermission.Duplicate')) throw error;
  }
}

async function revokePort(context: Context, groupId: string, port: number): Promise<void> {
  await revokeIngress(context, { GroupId: groupId, IpPermissions: [tcpPermission({ port, cidr: ANYWHERE })] }, `tcp/${port} from ${ANYWHERE}`);
}

/** Our group with this name in this VPC if one exists (the recorded one first), else undefined. */
async function adoptable(context: Context, groupName: string, vpcId: string): Promise<SecurityGroup | undefined> {
  const recordedId = context.record?.data.groupId;
  if (recordedId) {
    const recorded = await describeById(context, recordedId);
    if (recorded && recorded.VpcId === vpcId && recorded.GroupName === groupName) return recorded;
  }
  return ourGroupByName(context, groupName, vpcId);
}

async function createGroup(context: Context, want: DesiredLoadBalancerSecurityGroup): Promise<LoadBalancerSecurityGroupOutput> {
  const vpcId = knownVpc(want);
  const { groupName } = want;
  let group = await adoptable(context, groupName, vpcId);
  if (!group) {
    // Intent first: `down` after a run killed mid-call still finds the tagged group by name.
    context.save({ created: true, data: { groupName, vpcId } });
    try {
      const response = await context.clients.ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: groupName,
          Description: groupDescription(context.config.cluster),
          VpcId: vpcId,
          TagSpecifications: [{ ResourceType: 'security-group', Tags: stackTags(context.stack) }],
        }),
      );
      group = { GroupId: response.GroupId!, GroupName: groupName, VpcId: vpcId, IpPermissions: [] };
    } catch (error) {
      if (!hasErrorCode(error, 'InvalidGroup.Duplicate')) throw error;
      // Made since we looked: ours if it carries our tag (ourGroupByName throws the conflict otherwise).
      group = await ourGroupByName(context, groupName, vpcId);
      if (!group) throw error;
    }
  }
  const output: LoadBalancerSecurityGroupOutput = { groupName, vpcId, groupId: group.GroupId! };
  context.save({ created: true, data: output });
  const open = openPorts(group);
  for (const port of want.ingressPorts) if (!open.includes(port)) await authorizePort(context, output.groupId, port);
  return output;
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

export const loadBalancerSecurityGroupStep = defineResource<'load-balancer-security-group', DesiredLoadBalancerSecurityGroup>({
  name: 'load-balancer-security-group',
  title: 'ALB security group',
  articleSection: 'Configure the security group rules needed for web traffic access',
  dependsOn: ['network'],
  enabled: (config) => config.ingressMode === 'isolated',

  desired: (config, inputs) => ({
    groupName: loadBalancerGroupName(config.cluster),
    vpcId: known(inputs.network, (network) => network.vpcId) ?? UNKNOWN,
    ingressPorts: loadBalancerPorts(config.httpRedirect),
  }),
  // No EC2 call renames a group or moves it to another VPC; Authorize/RevokeSecurityGroupIngress change its rules in place.
  effects: { groupName: 'replace', vpcId: 'replace', ingressPorts: 'update' },

  async preflight(context) {
    const vpcId = await plannedVpcId(context);
    if (!vpcId) return;
    const name = loadBalancerGroupName(context.config.cluster);
    const named = await describeByName(context, name, vpcId);
    if (named && !hasStackTag(named.Tags, context.stack)) throw nameTaken(named, name, vpcId);
  },

  async read(context) {
    const group = await locate(context);
    return group ? live(context, group) : undefined;
  },

  create: createGroup,

  async update(context, want, current) {
    const { groupId } = current.output;
    const open = current.observed.ingressPorts ?? [];
    // Open the new way in before closing the old one.
    for (const port of want.ingressPorts) if (!open.includes(port)) await authorizePort(context, groupId, port);
    for (const port of open) if (!want.ingressPorts.includes(port)) await revokePort(context, groupId, port);
    context.save({ created: true, data: current.output });
    return current.output;
  },

  // Create-before-delete: the ALB moves to the new group before the old one, still in use, is deleted.
  async replace(context, want, current) {
    // Recorded before the create, so a run killed in between still deletes the old group later.
    context.retire(current.output);
    return createGroup(context, want);
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
});
