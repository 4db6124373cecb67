import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
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
  dependsOn: ['network'],

  async preflight(context) {
    await locate(context);
  },

  async find(context) {
    const loadBalancer = await locate(context);
    if (!loadBalancer || loadBalancer.State?.Code !== 'active') return undefined;
    return { output: toOutput(loadBalancer), created: true };
  },

  async create(context) {
    const network = context.output('network');
    let loadBalancer = await locate(context);
    if (!loadBalancer) {
      // Tags ride on the create call itself, so a run killed mid-request can adopt the ALB.
      const response = await context.clients.elbv2.send(
        new CreateLoadBalancerCommand({
          Name: context.config.loadBalancerName,
          Subnets: network.publicSubnets,
          SecurityGroups: [network.securityGroupId],
          Scheme: 'internet-facing',
          Type: 'application',
          IpAddressType: 'ipv4',
          Tags: stackTags(context.stack),
        }),
      );
      loadBalancer = response.LoadBalancers![0]!;
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
    return {
      present: true,
      healthy: state === 'active',
      summary: state,
      details: { dnsName: loadBalancer.DNSName, scheme: loadBalancer.Scheme },
    };
  },
});
