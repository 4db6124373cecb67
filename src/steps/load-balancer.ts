import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  SetSecurityGroupsCommand,
  SetSubnetsCommand,
  type LoadBalancer,
  type LoadBalancerSchemeEnum,
  type LoadBalancerTypeEnum,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { hasErrorCode } from '../aws/errors.js';
import type { Config } from '../config/schema.js';
import { AuthecsError } from '../errors.js';
import type { LoadBalancerOutput } from './outputs.js';
import { defineResource, isUnknown, known, UNKNOWN, type Inputs, type Live, type Maybe } from './resource.js';
import { LOAD_BALANCER_SCHEDULE, pollUntil } from './shared/poll.js';
import { hasStackTag, stackTags } from './shared/tags.js';
import { retryWhileNotVisible } from './shared/visibility.js';
import type { StepContext } from './step.js';

type Context = StepContext<'load-balancer'>;

export interface DesiredLoadBalancer {
  name: string;
  scheme: LoadBalancerSchemeEnum;
  type: LoadBalancerTypeEnum;
  /** The network's VPC: an ALB lives in one VPC, and takes subnets and groups only from it. */
  vpcId: Maybe<string>;
  /** The public subnets, sorted. */
  subnets: Maybe<string[]>;
  /** Sorted; an entry is UNKNOWN while its group is still to be made. */
  securityGroups: Maybe<string>[];
}

async function describeByName(context: Context, name: string): Promise<LoadBalancer | undefined> {
  try {
    const response = await context.clients.elbv2.send(new DescribeLoadBalancersCommand({ Names: [name] }));
    return response.LoadBalancers?.[0];
  } catch (error) {
    if (hasErrorCode(error, 'LoadBalancerNotFound', 'LoadBalancerNotFoundException')) return undefined;
    throw error;
  }
}

async function describeByArn(context: Context, arn: string): Promise<LoadBalancer | undefined> {
  try {
    const response = await context.clients.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }));
    return response.LoadBalancers?.[0];
  } catch (error) {
    if (hasErrorCode(error, 'LoadBalancerNotFound', 'LoadBalancerNotFoundException')) return undefined;
    throw error;
  }
}

async function isOurs(context: Context, arn: string): Promise<boolean> {
  const response = await context.clients.elbv2.send(new DescribeTagsCommand({ ResourceArns: [arn] }));
  return hasStackTag(response.TagDescriptions?.[0]?.Tags, context.stack);
}

function toOutput(loadBalancer: LoadBalancer): LoadBalancerOutput {
  return {
    name: loadBalancer.LoadBalancerName!,
    loadBalancerArn: loadBalancer.LoadBalancerArn!,
    dnsName: loadBalancer.DNSName!,
    ...(loadBalancer.CanonicalHostedZoneId ? { canonicalHostedZoneId: loadBalancer.CanonicalHostedZoneId } : {}),
  };
}

/** The recorded ALB, else one with our name; a same-named ALB without our tag is someone else's. */
async function locate(context: Context): Promise<LoadBalancer | undefined> {
  const recordedArn = context.record?.data.loadBalancerArn;
  if (recordedArn) {
    const recorded = await describeByArn(context, recordedArn);
    if (recorded) return recorded;
  }
  const name = context.config.loadBalancerName;
  const named = await describeByName(context, name);
  if (!named) return undefined;
  if (!(await isOurs(context, named.LoadBalancerArn!))) {
    throw new AuthecsError(`A load balancer named "${name}" already exists and was not created by authecs`, {
      code: 'LOAD_BALANCER_NAME_TAKEN',
      exit: 'conflict',
      resource: named.LoadBalancerArn,
      hint: 'Pass --load-balancer-name (or AUTH_ECS_ALB_NAME) with another name, or --cluster to name the whole stack differently.',
    });
  }
  return named;
}

function sortMaybe(values: Maybe<string>[]): Maybe<string>[] {
  const text = (value: Maybe<string>) => (isUnknown(value) ? '' : value);
  return [...values].sort((left, right) => text(left).localeCompare(text(right)));
}

/** The ALB's own group (isolated ingress), or the network's group that the article shares with the instances. */
function wantedSecurityGroups(config: Config, inputs: Inputs): Maybe<string>[] {
  if (config.ingressMode === 'isolated') return [known(inputs['load-balancer-security-group'], (group) => group.groupId) ?? UNKNOWN];
  return [known(inputs.network, (network) => network.securityGroupId) ?? UNKNOWN];
}

function live(loadBalancer: LoadBalancer): Live<'load-balancer', DesiredLoadBalancer> {
  const state = loadBalancer.State?.Code ?? 'unknown';
  const securityGroups = [...(loadBalancer.SecurityGroups ?? [])].sort();
  return {
    output: toOutput(loadBalancer),
    observed: {
      name: loadBalancer.LoadBalancerName!,
      ...(loadBalancer.Scheme ? { scheme: loadBalancer.Scheme } : {}),
      ...(loadBalancer.Type ? { type: loadBalancer.Type } : {}),
      ...(loadBalancer.VpcId ? { vpcId: loadBalancer.VpcId } : {}),
      subnets: (loadBalancer.AvailabilityZones ?? []).flatMap((zone) => (zone.SubnetId ? [zone.SubnetId] : [])).sort(),
      securityGroups,
    },
    // locate() returns only an ALB that is ours (recorded or tagged).
    created: true,
    settled: state !== 'provisioning',
    health: {
      healthy: state === 'active',
      summary: state,
      details: { dnsName: loadBalancer.DNSName, scheme: loadBalancer.Scheme, securityGroups },
    },
  };
}

function knownList(values: Maybe<string[]> | Maybe<string>[], what: string): string[] {
  const unknown = () => new AuthecsError(`The load balancer was asked to apply before its ${what} were known`, { code: 'STEP_INPUT_UNKNOWN', exit: 'internal' });
  if (isUnknown(values)) throw unknown();
  return values.map((value) => {
    if (isUnknown(value)) throw unknown();
    return value;
  });
}

/** As the LoadBalancerAvailable waiter: active ends it, provisioning or not found yet waits; failed stops at once. */
async function waitUntilActive(context: Context, arn: string): Promise<void> {
  context.progress('waiting for the load balancer to become active');
  await pollUntil(context, {
    description: `load balancer ${arn} to become active`,
    schedule: LOAD_BALANCER_SCHEDULE,
    timeoutCode: 'LOAD_BALANCER_NOT_ACTIVE',
    timeoutHint: 'Check the load balancer in the EC2 console, then run `authecs up` again.',
    timeoutResource: arn,
    check: async () => {
      const state = (await describeByArn(context, arn))?.State;
      if (state?.Code === 'active') return true;
      if (state?.Code === 'failed') {
        throw new AuthecsError(`Load balancer ${arn} failed to provision${state.Reason ? `: ${state.Reason}` : ''}`, {
          code: 'LOAD_BALANCER_NOT_ACTIVE',
          exit: 'aws',
          resource: arn,
          hint: 'Check the load balancer in the EC2 console (subnets, quotas), delete it, then run `authecs up` again.',
        });
      }
      return undefined;
    },
  });
}

/** As the LoadBalancersDeleted waiter: done once DescribeLoadBalancers no longer finds it. */
async function waitUntilDeleted(context: Context, arn: string): Promise<void> {
  context.progress('waiting for the load balancer to be deleted');
  await pollUntil(context, {
    description: `load balancer ${arn} to be deleted`,
    schedule: LOAD_BALANCER_SCHEDULE,
    timeoutCode: 'LOAD_BALANCER_NOT_DELETED',
    timeoutHint: 'Check the load balancer in the EC2 console, then run `authecs down` again.',
    timeoutResource: arn,
    check: async () => ((await describeByArn(context, arn)) ? undefined : true),
  });
}

export const loadBalancerStep = defineResource<'load-balancer', DesiredLoadBalancer>({
  name: 'load-balancer',
  title: 'Application Load Balancer',
  articleSection: 'Create a public Application Load Balancer',
  dependsOn: ['network', 'load-balancer-security-group'],

  desired: (config, inputs) => ({
    name: config.loadBalancerName,
    scheme: 'internet-facing',
    type: 'application',
    vpcId: known(inputs.network, (network) => network.vpcId) ?? UNKNOWN,
    subnets: known(inputs.network, (network) => [...network.publicSubnets].sort()) ?? UNKNOWN,
    securityGroups: sortMaybe(wantedSecurityGroups(config, inputs)),
  }),
  effects: {
    // No ELBv2 call renames an ALB or changes its scheme or type; names are unique, so the engine deletes, then creates.
    name: 'replace',
    scheme: 'replace',
    type: 'replace',
    // SetSubnets accepts only subnets of the ALB's own VPC: another network needs a new ALB.
    vpcId: 'replace',
    // SetSubnets: "The specified subnets replace the previously enabled subnets" (ELBv2 API reference, SetSubnets).
    subnets: 'update',
    // SetSecurityGroups: "The specified security groups override the previously associated security groups" (ELBv2 API reference).
    securityGroups: 'update',
  },

  async preflight(context) {
    await locate(context);
  },

  async read(context) {
    const loadBalancer = await locate(context);
    return loadBalancer ? live(loadBalancer) : undefined;
  },

  async create(context, want) {
    // Tags ride on the create call itself, so a run killed mid-request can adopt the ALB.
    const command = new CreateLoadBalancerCommand({
      Name: want.name,
      Subnets: knownList(want.subnets, 'subnets'),
      SecurityGroups: knownList(want.securityGroups, 'security groups'),
      Scheme: want.scheme,
      Type: want.type,
      IpAddressType: 'ipv4',
      Tags: stackTags(context.stack),
    });
    // The ALB's group may have been made a moment ago (EC2 API Reference, "Eventual consistency").
    const response = await retryWhileNotVisible(context, { description: 'the security group to be visible to CreateLoadBalancer', call: () => context.clients.elbv2.send(command) });
    const loadBalancer = response.LoadBalancers![0]!;
    context.save({ created: true, data: toOutput(loadBalancer) });
    // Listeners need an active ALB (Terraform and CloudFormation wait too).
    if (loadBalancer.State?.Code !== 'active') await waitUntilActive(context, loadBalancer.LoadBalancerArn!);
    return toOutput(loadBalancer);
  },

  async update(context, want, current, changes) {
    const arn = current.output.loadBalancerArn;
    const fields = new Set(changes.map((change) => change.field));
    if (fields.has('subnets')) {
      await context.clients.elbv2.send(new SetSubnetsCommand({ LoadBalancerArn: arn, Subnets: knownList(want.subnets, 'subnets') }));
    }
    if (fields.has('securityGroups')) {
      const command = new SetSecurityGroupsCommand({ LoadBalancerArn: arn, SecurityGroups: knownList(want.securityGroups, 'security groups') });
      // A new ALB group (an --ingress switch) may not be visible yet (EC2 API Reference, "Eventual consistency").
      await retryWhileNotVisible(context, { description: 'the security group to be visible to SetSecurityGroups', call: () => context.clients.elbv2.send(command) });
    }
    context.save({ created: true, data: current.output });
    return current.output;
  },

  async settle(context, current) {
    const arn = current.output.loadBalancerArn;
    await waitUntilActive(context, arn);
    const loadBalancer = await describeByArn(context, arn);
    return loadBalancer ? toOutput(loadBalancer) : current.output;
  },

  // ALB names are unique, so a replacement deletes the old one first: the site is down until the new one serves.
  async loss() {
    return 'the site is offline from the old load balancer\'s deletion until the new one is active and DNS points at it';
  },

  async delete(context) {
    const arn = context.record?.data.loadBalancerArn;
    const loadBalancer = arn ? await describeByArn(context, arn) : await describeByName(context, context.config.loadBalancerName).then(async (found) => (found && (await isOurs(context, found.LoadBalancerArn!)) ? found : undefined));
    if (!loadBalancer) return;
    await context.clients.elbv2.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: loadBalancer.LoadBalancerArn! }));
    await waitUntilDeleted(context, loadBalancer.LoadBalancerArn!);
  },
});
