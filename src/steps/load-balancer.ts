import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  SetSecurityGroupsCommand,
  waitUntilLoadBalancerAvailable,
  waitUntilLoadBalancersDeleted,
  type LoadBalancer,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { LoadBalancerOutput } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type StepContext } from './step.js';

type Context = StepContext<'load-balancer'>;

// LoadBalancerAvailable waiter: every 15 s (aws-behaviour.md); ALBs take 1-3 minutes.
const POLL_SECONDS = 15;

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

/** The ALB's own group (isolated ingress), or the network's group that the article shares with the instances. */
function wantedSecurityGroups(context: Context): string[] {
  if (context.config.ingressMode === 'isolated') return [context.output('load-balancer-security-group').groupId];
  return [context.output('network').securityGroupId];
}

function sameGroups(loadBalancer: LoadBalancer, wanted: readonly string[]): boolean {
  const actual = [...(loadBalancer.SecurityGroups ?? [])].sort();
  return actual.length === wanted.length && [...wanted].sort().every((groupId, index) => groupId === actual[index]);
}

async function waitUntilActive(context: Context, arn: string): Promise<void> {
  context.progress('waiting for the load balancer to become active');
  await waitUntilLoadBalancerAvailable(
    { client: context.clients.elbv2, maxWaitTime: context.waitTimeoutSeconds, minDelay: context.pollSeconds(POLL_SECONDS), maxDelay: context.pollSeconds(POLL_SECONDS) },
    { LoadBalancerArns: [arn] },
  ).catch((error: unknown) => {
    throw new AuthecsError(`Load balancer ${arn} did not become active: ${(error as Error).message}`, {
      code: 'LOAD_BALANCER_NOT_ACTIVE',
      exit: 'timeout',
      resource: arn,
      hint: 'Check the load balancer in the EC2 console, then run `authecs up` again.',
    });
  });
}

export const loadBalancerStep = defineStep({
  name: 'load-balancer',
  title: 'Application Load Balancer',
  articleSection: 'Create a public Application Load Balancer',
  dependsOn: ['network', 'load-balancer-security-group'],

  async preflight(context) {
    await locate(context);
  },

  async find(context) {
    const loadBalancer = await locate(context);
    if (!loadBalancer || loadBalancer.State?.Code !== 'active') return undefined;
    // Other groups than the --ingress mode wants (the mode changed, or someone edited them): create() repairs.
    if (!sameGroups(loadBalancer, wantedSecurityGroups(context))) return undefined;
    return { output: toOutput(loadBalancer), created: true };
  },

  async create(context) {
    const network = context.output('network');
    const securityGroups = wantedSecurityGroups(context);
    let loadBalancer = await locate(context);
    if (!loadBalancer) {
      // Tags ride on the create call itself, so a run killed mid-request can adopt the ALB.
      const response = await context.clients.elbv2.send(
        new CreateLoadBalancerCommand({
          Name: context.config.loadBalancerName,
          Subnets: network.publicSubnets,
          SecurityGroups: securityGroups,
          Scheme: 'internet-facing',
          Type: 'application',
          IpAddressType: 'ipv4',
          Tags: stackTags(context.stack),
        }),
      );
      loadBalancer = response.LoadBalancers![0]!;
      context.save({ created: true, data: toOutput(loadBalancer) });
    } else if (!sameGroups(loadBalancer, securityGroups)) {
      await context.clients.elbv2.send(new SetSecurityGroupsCommand({ LoadBalancerArn: loadBalancer.LoadBalancerArn!, SecurityGroups: securityGroups }));
      loadBalancer = { ...loadBalancer, SecurityGroups: securityGroups };
      // locate() returns only an ALB that is ours (recorded or tagged).
      context.save({ created: true, data: toOutput(loadBalancer) });
    }
    if (loadBalancer.State?.Code !== 'active') await waitUntilActive(context, loadBalancer.LoadBalancerArn!);
    return toOutput(loadBalancer);
  },

  async delete(context) {
    const arn = context.record?.data.loadBalancerArn;
    const loadBalancer = arn ? await describeByArn(context, arn) : await describeByName(context, context.config.loadBalancerName).then(async (found) => (found && (await isOurs(context, found.LoadBalancerArn!)) ? found : undefined));
    if (!loadBalancer) return;
    await context.clients.elbv2.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: loadBalancer.LoadBalancerArn! }));
    context.progress('waiting for the load balancer to be deleted');
    await waitUntilLoadBalancersDeleted(
      { client: context.clients.elbv2, maxWaitTime: context.waitTimeoutSeconds, minDelay: context.pollSeconds(POLL_SECONDS), maxDelay: context.pollSeconds(POLL_SECONDS) },
      { LoadBalancerArns: [loadBalancer.LoadBalancerArn!] },
    );
  },

  async inspect(context) {
    const arn = context.record?.data.loadBalancerArn;
    const loadBalancer = arn ? await describeByArn(context, arn) : undefined;
    if (!loadBalancer) return { present: false, healthy: false, summary: 'missing' };
    const state = loadBalancer.State?.Code ?? 'unknown';
    const drift: string[] = [];
    // Without the ALB group's record (an unfinished run), there is nothing to compare with.
    const comparable = context.config.ingressMode !== 'isolated' || context.hasOutput('load-balancer-security-group');
    if (comparable) {
      const wanted = wantedSecurityGroups(context);
      if (!sameGroups(loadBalancer, wanted)) drift.push(`security groups are ${(loadBalancer.SecurityGroups ?? []).join(', ') || 'none'}, not ${wanted.join(', ')}`);
    }
    return {
      present: true,
      healthy: state === 'active',
      summary: state,
      ...(drift.length > 0 ? { drift } : {}),
      details: { dnsName: loadBalancer.DNSName, scheme: loadBalancer.Scheme, securityGroups: loadBalancer.SecurityGroups ?? [] },
    };
  },
});
