import { createHash } from 'node:crypto';
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  UpdateServiceCommand,
  waitUntilServicesInactive,
  type CreateServiceCommandInput,
  type Service,
} from '@aws-sdk/client-ecs';
import { hasErrorCode } from '../aws/errors.js';
import { pollUntil, retryWhileInUse } from './shared/poll.js';
import { AuthecsError } from '../errors.js';
import { ecsStackTags } from './shared/tags.js';
import type { ServiceOutput } from './outputs.js';
import { defineStep, hasStackTag, type StepContext } from './step.js';
import { CONTAINER_NAME } from './task-definition.js';

type Context = StepContext<'service'>;

// ServicesStable waiter: every 15 s (aws-behaviour.md); a rollout takes 2-5 minutes.
const STABLE_POLL_SECONDS = 15;
// The rule that attaches the target group to the ALB may have been created a moment ago.
const LOAD_BALANCER_RETRY_SECONDS = 5;
const LOAD_BALANCER_RETRY_TIMEOUT_SECONDS = 120;
const NO_LOAD_BALANCER = /does not have an associated load balancer/i;
const GONE_CODES = ['ServiceNotFoundException', 'ServiceNotActiveException', 'ClusterNotFoundException'];

/**
 * ECS keeps a clientToken for a while; deriving it from the task definition revision keeps it
 * stable across a resumed run yet new after `down` (the next `up` registers a new revision).
 */
export function serviceClientToken(stack: string, serviceName: string, taskDefinitionArn: string): string {
  return `authecs-${createHash('sha256').update(`${stack}\n${serviceName}\n${taskDefinitionArn}`).digest('hex').slice(0, 28)}`;
}

function clusterNameOf(context: Context): string {
  return context.record?.data.clusterName ?? (context.hasOutput('cluster') ? context.output('cluster').clusterName : context.config.cluster);
}

function serviceNameOf(context: Context): string {
  return context.record?.data.serviceName ?? context.config.serviceName;
}

async function describeService(context: Context, cluster: string, name: string): Promise<Service | undefined> {
  try {
    const response = await context.clients.ecs.send(new DescribeServicesCommand({ cluster, services: [name], include: ['TAGS'] }));
    return response.services?.find((service) => service.serviceName === name);
  } catch (error) {
    if (hasErrorCode(error, 'ClusterNotFoundException')) return undefined;
    throw error;
  }
}

function isOurs(context: Context, service: Service): boolean {
  const recordedArn = context.record?.data.serviceArn;
  return hasStackTag(service.tags, context.stack) || (recordedArn !== undefined && recordedArn === service.serviceArn);
}

function conflict(context: Context, service: Service): AuthecsError {
  return new AuthecsError(`An ECS service named "${service.serviceName}" already runs in cluster ${clusterNameOf(context)} and was not created by authecs`, {
    code: 'SERVICE_NAME_TAKEN',
    exit: 'conflict',
    resource: service.serviceArn,
    hint: 'Pass --service-name (or AUTH_ECS_SERVICE_NAME) with another name.',
  });
}

function toOutput(service: Service, cluster: string): ServiceOutput {
  return { serviceName: service.serviceName!, serviceArn: service.serviceArn!, clusterName: cluster };
}

/** What `up` would change on a live service: the task definition revision and the desired count. */
function driftOf(context: Context, service: Service): string[] {
  const drift: string[] = [];
  if (service.desiredCount !== context.config.desiredCount) drift.push(`desired count is ${service.desiredCount}, not ${context.config.desiredCount}`);
  if (context.hasOutput('task-definition')) {
    const wanted = context.output('task-definition').taskDefinitionArn;
    if (service.taskDefinition !== wanted) drift.push(`runs task definition ${service.taskDefinition}, not ${wanted}`);
  }
  if (context.hasOutput('target-group')) {
    const targetGroupArn = context.output('target-group').targetGroupArn;
    const attached = (service.loadBalancers ?? []).some((loadBalancer) => loadBalancer.targetGroupArn === targetGroupArn);
    if (!attached) drift.push(`is not attached to target group ${targetGroupArn}`);
  }
  return drift;
}

function isStable(service: Service): boolean {
  return (service.deployments ?? []).length === 1 && service.runningCount === service.desiredCount;
}

async function waitUntilInactive(context: Context, cluster: string, name: string): Promise<void> {
  context.progress(`waiting for service ${name} to drain`);
  const seconds = context.pollSeconds(STABLE_POLL_SECONDS);
  try {
    await waitUntilServicesInactive({ client: context.clients.ecs, maxWaitTime: context.waitTimeoutSeconds, minDelay: seconds, maxDelay: seconds }, { cluster, services: [name] });
  } catch (error) {
    // The waiter gives up on MISSING, which is as good as INACTIVE here.
    const service = await describeService(context, cluster, name);
    if (!service || service.status === 'INACTIVE') return;
    throw new AuthecsError(`Service ${name} did not become INACTIVE: ${(error as Error).message}`, {
      code: 'SERVICE_NOT_INACTIVE',
      exit: 'timeout',
      resource: service.serviceArn,
      hint: 'Check the service events in the ECS console, then run the command again.',
    });
  }
}

async function waitUntilStable(context: Context, cluster: string, name: string): Promise<void> {
  let latest: Service | undefined;
  await pollUntil(context, {
    description: `service ${name} to be stable (${context.config.desiredCount} tasks running)`,
    intervalSeconds: STABLE_POLL_SECONDS,
    check: async () => {
      latest = await describeService(context, cluster, name);
      if (!latest || latest.status !== 'ACTIVE') {
        throw new AuthecsError(`Service ${name} is ${latest?.status ?? 'missing'} while waiting for it to be stable`, {
          code: 'SERVICE_GONE',
          exit: 'aws',
          hint: 'Something deleted the service; run `authecs up` again to recreate it.',
        });
      }
      return isStable(latest) ? latest : undefined;
    },
    onWaiting: () => `running ${latest?.runningCount ?? 0}/${latest?.desiredCount ?? context.config.desiredCount}`,
    timeoutCode: 'SERVICE_NOT_STABLE',
    timeoutHint:
      `Check the target health of ${context.hasOutput('target-group') ? context.output('target-group').name : 'the target group'} ` +
      `(aws elbv2 describe-target-health) and the service events (aws ecs describe-services --cluster ${cluster} --services ${name}); ` +
      'then run `authecs up` again to keep waiting.',
  });
}

function createInput(context: Context, cluster: string, taskDefinitionArn: string): CreateServiceCommandInput {
  const { config } = context;
  const input: CreateServiceCommandInput = {
    cluster,
    serviceName: config.serviceName,
    taskDefinition: taskDefinitionArn,
    desiredCount: config.desiredCount,
    launchType: config.launchType,
    loadBalancers: [{ targetGroupArn: context.output('target-group').targetGroupArn, containerName: CONTAINER_NAME, containerPort: config.containerPort }],
    clientToken: serviceClientToken(context.stack, config.serviceName, taskDefinitionArn),
    tags: ecsStackTags(context.stack),
    healthCheckGracePeriodSeconds: 60,
    // Half the tasks may stop during a rollout, so 2 tasks on 2 instances can roll.
    deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200 },
  };
  if (config.launchType === 'FARGATE') {
    const network = context.output('network');
    input.networkConfiguration = { awsvpcConfiguration: { subnets: network.privateSubnets, securityGroups: [network.securityGroupId], assignPublicIp: 'DISABLED' } };
  }
  return input;
}

async function createService(context: Context, cluster: string, taskDefinitionArn: string): Promise<Service> {
  const input = createInput(context, cluster, taskDefinitionArn);
  const onlyMissingLoadBalancer = (error: unknown, ...codes: string[]) => hasErrorCode(error, ...codes) && NO_LOAD_BALANCER.test((error as Error).message);
  const response = await retryWhileInUse(
    context,
    {
      description: `create service ${input.serviceName} once its target group is attached to the load balancer`,
      codes: ['InvalidParameterException'],
      intervalSeconds: LOAD_BALANCER_RETRY_SECONDS,
      timeoutSeconds: LOAD_BALANCER_RETRY_TIMEOUT_SECONDS,
      call: () => context.clients.ecs.send(new CreateServiceCommand(input)),
    },
    onlyMissingLoadBalancer,
  );
  return response.service!;
}

export const serviceStep = defineStep({
  name: 'service',
  title: 'ECS service',
  articleSection: 'Create the ECS service',
  dependsOn: ['cluster', 'task-definition', 'capacity', 'host-rule', 'target-group', 'network'],

  async find(context) {
    const cluster = context.output('cluster').clusterName;
    const service = await describeService(context, cluster, context.config.serviceName);
    if (!service || service.status !== 'ACTIVE') return undefined;
    if (!isOurs(context, service)) throw conflict(context, service);
    if (driftOf(context, service).length > 0 || !isStable(service)) return undefined;
    return { output: toOutput(service, cluster), created: true };
  },

  async create(context) {
    const cluster = context.output('cluster').clusterName;
    const name = context.config.serviceName;
    const taskDefinitionArn = context.output('task-definition').taskDefinitionArn;
    let service = await describeService(context, cluster, name);
    // CreateService on a live name silently replaces it on moto, so never call it over one.
    if (service?.status === 'ACTIVE' && !isOurs(context, service)) throw conflict(context, service);
    if (service?.status === 'DRAINING') {
      await waitUntilInactive(context, cluster, name);
      service = undefined;
    }

    if (service?.status === 'ACTIVE') {
      context.save({ created: true, data: toOutput(service, cluster) });
      const drift = driftOf(context, service);
      if (drift.length > 0) {
        // Repair what drifted; loadBalancers only when detached, as changing them starts a rollout.
        context.progress(`updating service ${name}: ${drift.join('; ')}`);
        const loadBalancers = createInput(context, cluster, taskDefinitionArn).loadBalancers!;
        const detached = !(service.loadBalancers ?? []).some((loadBalancer) => loadBalancer.targetGroupArn === loadBalancers[0]!.targetGroupArn);
        const response = await context.clients.ecs.send(
          new UpdateServiceCommand({
            cluster,
            service: name,
            taskDefinition: taskDefinitionArn,
            desiredCount: context.config.desiredCount,
            ...(detached ? { loadBalancers } : {}),
          }),
        );
        service = response.service ?? service;
        context.save({ data: toOutput(service, cluster) });
      }
    } else {
      service = await createService(context, cluster, taskDefinitionArn);
      context.save({ created: true, data: toOutput(service, cluster) });
    }

    await waitUntilStable(context, cluster, name);
    return toOutput(service, cluster);
  },

  async delete(context) {
    const cluster = clusterNameOf(context);
    const name = serviceNameOf(context);
    const service = await describeService(context, cluster, name);
    if (!service || service.status === 'INACTIVE') return;
    if (service.status === 'ACTIVE') {
      try {
        // As the article's cleanup: scale to zero, then delete with force.
        await context.clients.ecs.send(new UpdateServiceCommand({ cluster, service: name, desiredCount: 0 }));
        await context.clients.ecs.send(new DeleteServiceCommand({ cluster, service: name, force: true }));
      } catch (error) {
        if (!hasErrorCode(error, ...GONE_CODES)) throw error;
      }
    }
    await waitUntilInactive(context, cluster, name);
  },

  async inspect(context) {
    const service = await describeService(context, clusterNameOf(context), serviceNameOf(context));
    if (!service || service.status === 'INACTIVE') return { present: false, healthy: false, summary: 'missing' };
    const running = service.runningCount ?? 0;
    const desired = service.desiredCount ?? 0;
    return {
      present: true,
      healthy: service.status === 'ACTIVE' && running === desired,
      summary: service.status === 'ACTIVE' ? `running ${running}/${desired}` : `${service.status} (running ${running}/${desired})`,
      drift: driftOf(context, service),
      details: {
        runningCount: running,
        desiredCount: desired,
        pendingCount: service.pendingCount,
        events: (service.events ?? []).slice(0, 3).map((event) => event.message),
      },
    };
  },
});
