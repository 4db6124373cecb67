import { createHash } from 'node:crypto';
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  UpdateServiceCommand,
  type AssignPublicIp,
  type CreateServiceCommandInput,
  type LaunchType,
  type NetworkConfiguration,
  type Service,
  type UpdateServiceCommandInput,
} from '@aws-sdk/client-ecs';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { NetworkOutput, ServiceOutput, StepName } from './outputs.js';
import { defineResource, isUnknown, known, UNKNOWN, type Effect, type Live, type Maybe } from './resource.js';
import { CONTAINER_NAME } from './shared/ecs.js';
import { ECS_SCHEDULE, pollUntil, retryWhileInUse } from './shared/poll.js';
import { watchRollout } from './shared/rollout.js';
import { SERVICE_LINKED_ROLE_NOT_READY } from './shared/service-linked-role.js';
import { ecsStackTags, hasStackTag } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'service'>;

// The rule that attaches the target group to the ALB (parking or host rule) may have been created a moment ago.
const LOAD_BALANCER_RETRY_SECONDS = 5;
const LOAD_BALANCER_RETRY_TIMEOUT_SECONDS = 120;
const NO_LOAD_BALANCER = /does not have an associated load balancer/i;
const GONE_CODES = ['ServiceNotFoundException', 'ServiceNotActiveException', 'ClusterNotFoundException'];
// The article's rollout bounds: half the tasks may stop, so 2 tasks on 2 instances can roll. The
// circuit breaker stops a rollout whose tasks keep failing and rolls back to the last completed
// deployment (ECS guide, "How the Amazon ECS deployment circuit breaker detects failures").
const DEPLOYMENT_CONFIGURATION: DeploymentSettings = {
  minimumHealthyPercent: 50,
  maximumPercent: 200,
  deploymentCircuitBreaker: { enable: true, rollback: true },
};

export interface DeploymentSettings {
  minimumHealthyPercent: number;
  maximumPercent: number;
  deploymentCircuitBreaker: { enable: boolean; rollback: boolean };
}

export interface DesiredLoadBalancer {
  targetGroupArn: Maybe<string>;
  containerName: string;
  containerPort: number;
}

export interface DesiredNetworkConfiguration {
  subnets: string[];
  securityGroups: string[];
  assignPublicIp: AssignPublicIp;
}

export interface DesiredService {
  serviceName: string;
  cluster: Maybe<string>;
  /** UNKNOWN while a new task definition revision is still to be registered. */
  taskDefinitionArn: Maybe<string>;
  desiredCount: number;
  launchType: LaunchType;
  loadBalancer: DesiredLoadBalancer;
  /** Fargate only (awsvpc); undefined under EC2, whose bridge-mode tasks use the instance's network. */
  networkConfiguration: Maybe<DesiredNetworkConfiguration> | undefined;
  healthCheckGracePeriodSeconds: number;
  deploymentConfiguration: DeploymentSettings;
}

/** `want` with every dependency's value known: what create and update send. */
interface ResolvedService extends DesiredService {
  cluster: string;
  taskDefinitionArn: string;
  loadBalancer: DesiredLoadBalancer & { targetGroupArn: string };
  networkConfiguration: DesiredNetworkConfiguration | undefined;
}

/**
 * ECS keeps a clientToken for a while; deriving it from the task definition revision keeps it
 * stable across a resumed run yet new after `down` (the next `up` registers a new revision).
 */
export function serviceClientToken(stack: string, serviceName: string, taskDefinitionArn: string): string {
  return `authecs-${createHash('sha256').update(`${stack}\n${serviceName}\n${taskDefinitionArn}`).digest('hex').slice(0, 28)}`;
}

/** A dependency that is never disabled: absent from the inputs only until its output is known. */
function required<Output, Field>(output: Maybe<Output> | undefined, pick: (output: Output) => Field): Maybe<Field> {
  return known(output, pick) ?? UNKNOWN;
}

function networkConfigurationOf(network: NetworkOutput): DesiredNetworkConfiguration {
  // Private subnets only, and no public IP: the ALB is the only way in.
  return { subnets: [...network.privateSubnets].sort(), securityGroups: [network.securityGroupId], assignPublicIp: 'DISABLED' };
}

/** A plan made while a dependency was still to be made holds UNKNOWN; by apply time its output is recorded. */
function resolve(context: Context, want: DesiredService): ResolvedService {
  const { networkConfiguration } = want;
  return {
    ...want,
    cluster: isUnknown(want.cluster) ? context.output('cluster').clusterName : want.cluster,
    taskDefinitionArn: isUnknown(want.taskDefinitionArn) ? context.output('task-definition').taskDefinitionArn : want.taskDefinitionArn,
    loadBalancer: {
      ...want.loadBalancer,
      targetGroupArn: isUnknown(want.loadBalancer.targetGroupArn) ? context.output('target-group').targetGroupArn : want.loadBalancer.targetGroupArn,
    },
    networkConfiguration: isUnknown(networkConfiguration) ? networkConfigurationOf(context.output('network')) : networkConfiguration,
  };
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

function conflict(service: Service, cluster: string): AuthecsError {
  return new AuthecsError(`An ECS service named "${service.serviceName}" already runs in cluster ${cluster} and was not created by authecs`, {
    code: 'SERVICE_NAME_TAKEN',
    exit: 'conflict',
    resource: service.serviceArn,
    hint: 'Pass --service-name (or AUTH_ECS_SERVICE_NAME) with another name.',
  });
}

function toOutput(service: Service, cluster: string): ServiceOutput {
  return { serviceName: service.serviceName!, serviceArn: service.serviceArn!, clusterName: cluster };
}

function isStable(service: Service): boolean {
  return (service.deployments ?? []).length === 1 && service.runningCount === service.desiredCount;
}

function observedNetwork(configuration: NetworkConfiguration | undefined): DesiredNetworkConfiguration | undefined {
  const awsvpc = configuration?.awsvpcConfiguration;
  if (!awsvpc) return undefined;
  return { subnets: [...(awsvpc.subnets ?? [])].sort(), securityGroups: [...(awsvpc.securityGroups ?? [])].sort(), assignPublicIp: awsvpc.assignPublicIp ?? 'DISABLED' };
}

function live(service: Service, cluster: string): Live<'service', DesiredService> {
  // authecs attaches one target group; the first stands for the service's load balancing.
  const loadBalancer = service.loadBalancers?.[0];
  const deployment = service.deploymentConfiguration;
  const running = service.runningCount ?? 0;
  const desired = service.desiredCount ?? 0;
  return {
    output: toOutput(service, cluster),
    observed: {
      serviceName: service.serviceName,
      cluster: service.clusterArn?.split('/').pop() ?? cluster,
      taskDefinitionArn: service.taskDefinition,
      desiredCount: service.desiredCount,
      launchType: service.launchType,
      loadBalancer: loadBalancer && { targetGroupArn: loadBalancer.targetGroupArn!, containerName: loadBalancer.containerName!, containerPort: loadBalancer.containerPort! },
      networkConfiguration: observedNetwork(service.networkConfiguration),
      // AWS always reports these; an emulator that leaves them out cannot be compared on them.
      ...(service.healthCheckGracePeriodSeconds === undefined ? {} : { healthCheckGracePeriodSeconds: service.healthCheckGracePeriodSeconds }),
      ...(deployment
        ? {
            deploymentConfiguration: {
              minimumHealthyPercent: deployment.minimumHealthyPercent!,
              maximumPercent: deployment.maximumPercent!,
              deploymentCircuitBreaker: {
                enable: deployment.deploymentCircuitBreaker?.enable ?? false,
                rollback: deployment.deploymentCircuitBreaker?.rollback ?? false,
              },
            },
          }
        : {}),
    },
    created: true,
    settled: isStable(service),
    health: {
      healthy: running === desired,
      summary: `running ${running}/${desired}`,
      details: {
        runningCount: running,
        desiredCount: desired,
        pendingCount: service.pendingCount,
        events: (service.events ?? []).slice(0, 3).map((event) => event.message),
      },
    },
  };
}

/** DRAINING until INACTIVE, as the ServicesInactive waiter; a service that is gone (MISSING) is as good. */
async function waitUntilInactive(context: Context, cluster: string, name: string): Promise<void> {
  context.progress(`waiting for service ${name} to drain`);
  await pollUntil(context, {
    description: `service ${name} to drain and become INACTIVE`,
    schedule: ECS_SCHEDULE,
    timeoutCode: 'SERVICE_NOT_INACTIVE',
    timeoutHint: 'Check the service events in the ECS console, then run the command again.',
    check: async () => {
      const service = await describeService(context, cluster, name);
      return !service || service.status === 'INACTIVE' ? true : undefined;
    },
  });
}

/**
 * Follows a rollout to its end: done when the deployment completed and the tasks run; a failed,
 * rolled-back or timed-out rollout throws RolloutFailedError with the facts that explain it.
 */
async function waitUntilStable(context: Context, cluster: string, name: string, desiredCount: number, taskDefinitionArn?: string): Promise<void> {
  const { config } = context;
  await watchRollout(context, {
    cluster,
    service: name,
    desiredCount,
    timeoutSeconds: context.waitTimeoutSeconds,
    schedule: ECS_SCHEDULE,
    ...(taskDefinitionArn ? { taskDefinitionArn } : {}),
    ...(context.hasOutput('target-group') ? { targetGroupArn: context.output('target-group').targetGroupArn } : {}),
    ...(context.hasOutput('log-group') ? { logGroupName: context.output('log-group').logGroupName } : {}),
    healthCheck: { path: config.healthCheckPath, matcher: config.healthCheckMatcher, gracePeriodSeconds: config.healthCheckGracePeriodSeconds, containerPort: config.containerPort },
  });
}

function createInput(want: ResolvedService, stack: string): CreateServiceCommandInput {
  return {
    cluster: want.cluster,
    serviceName: want.serviceName,
    taskDefinition: want.taskDefinitionArn,
    desiredCount: want.desiredCount,
    launchType: want.launchType,
    loadBalancers: [want.loadBalancer],
    clientToken: serviceClientToken(stack, want.serviceName, want.taskDefinitionArn),
    tags: ecsStackTags(stack),
    healthCheckGracePeriodSeconds: want.healthCheckGracePeriodSeconds,
    deploymentConfiguration: want.deploymentConfiguration,
    ...(want.networkConfiguration ? { networkConfiguration: { awsvpcConfiguration: want.networkConfiguration } } : {}),
  };
}

async function createService(context: Context, input: CreateServiceCommandInput): Promise<Service> {
  // Both clear on their own: the rule attaching the target group is a moment old, or the ECS
  // service-linked role was just created (openemr/openemr-on-ecs#8, awslabs/fargatecli#35).
  const notReadyYet = (error: unknown, ...codes: string[]) =>
    hasErrorCode(error, ...codes) && (NO_LOAD_BALANCER.test((error as Error).message) || SERVICE_LINKED_ROLE_NOT_READY.test((error as Error).message));
  const response = await retryWhileInUse(
    context,
    {
      description: `create service ${input.serviceName} once its target group is attached and the ECS service-linked role is usable`,
      codes: ['InvalidParameterException'],
      intervalSeconds: LOAD_BALANCER_RETRY_SECONDS,
      timeoutSeconds: LOAD_BALANCER_RETRY_TIMEOUT_SECONDS,
      call: () => context.clients.ecs.send(new CreateServiceCommand(input)),
    },
    notReadyYet,
  );
  return response.service!;
}

/** The UpdateService fields for the changed desired fields; the others are left as they are. */
function updateInput(want: ResolvedService, output: ServiceOutput, fields: ReadonlySet<string>): UpdateServiceCommandInput {
  const input: UpdateServiceCommandInput = { cluster: output.clusterName, service: output.serviceName };
  if (fields.has('desiredCount')) input.desiredCount = want.desiredCount;
  if (fields.has('taskDefinitionArn')) input.taskDefinition = want.taskDefinitionArn;
  if (fields.has('loadBalancer')) input.loadBalancers = [want.loadBalancer];
  if (fields.has('networkConfiguration') && want.networkConfiguration) input.networkConfiguration = { awsvpcConfiguration: want.networkConfiguration };
  if (fields.has('healthCheckGracePeriodSeconds')) input.healthCheckGracePeriodSeconds = want.healthCheckGracePeriodSeconds;
  if (fields.has('deploymentConfiguration')) input.deploymentConfiguration = want.deploymentConfiguration;
  return input;
}

// UpdateService (rolling update) changes the desired count, task definition, deployment
// configuration, network configuration, load balancers and grace period in place; it has no
// launchType or serviceName parameter, and a service never moves cluster (ECS API reference, UpdateService).
const serviceEffects: { readonly [Field in keyof DesiredService]-?: Effect } = {
  serviceName: 'replace',
  cluster: 'replace',
  taskDefinitionArn: 'update',
  desiredCount: 'update',
  launchType: 'replace',
  loadBalancer: 'update',
  networkConfiguration: 'update',
  healthCheckGracePeriodSeconds: 'update',
  deploymentConfiguration: 'update',
};

/**
 * `deploy`: points the service at a revision (or, with force, starts a new deployment of the same
 * one, for a moving tag such as latest), then with wait follows the rollout to its end.
 */
export async function rollOutRevision(
  context: Context,
  service: ServiceOutput,
  taskDefinitionArn: string,
  options: { force: boolean; wait: boolean; desiredCount?: number },
): Promise<void> {
  context.progress(`deploying ${taskDefinitionArn.split('/').pop()} to service ${service.serviceName}${options.force ? ' (new deployment)' : ''}`);
  await context.clients.ecs.send(
    new UpdateServiceCommand({ cluster: service.clusterName, service: service.serviceName, taskDefinition: taskDefinitionArn, ...(options.force ? { forceNewDeployment: true } : {}) }),
  );
  // The live count: something outside authecs (autoscaling) may have changed it.
  if (options.wait) await waitUntilStable(context, service.clusterName, service.serviceName, options.desiredCount ?? context.config.desiredCount, taskDefinitionArn);
}

const SERVICE_DEPENDS_ON: readonly StepName[] = ['cluster', 'task-definition', 'capacity', 'host-rule', 'parking-rule', 'target-group', 'network', 'log-group'];

export const serviceStep = defineResource<'service', DesiredService>({
  name: 'service',
  title: 'ECS service',
  articleSection: 'Create the ECS service',
  dependsOn: SERVICE_DEPENDS_ON,
  // ECS needs only the target group attached to the ALB: the parking rule does that on HTTP:80 minutes
  // before the certificate is issued and the host rule can exist. Without the HTTP listener, the host rule.
  waitsFor: (config) => SERVICE_DEPENDS_ON.filter((step) => step !== (config.httpRedirect ? 'host-rule' : 'parking-rule')),

  desired(config, inputs) {
    return {
      serviceName: config.serviceName,
      cluster: required(inputs.cluster, (cluster) => cluster.clusterName),
      taskDefinitionArn: required(inputs['task-definition'], (taskDefinition) => taskDefinition.taskDefinitionArn),
      desiredCount: config.desiredCount,
      launchType: config.launchType,
      loadBalancer: {
        targetGroupArn: required(inputs['target-group'], (targetGroup) => targetGroup.targetGroupArn),
        containerName: CONTAINER_NAME,
        containerPort: config.containerPort,
      },
      networkConfiguration: config.launchType === 'FARGATE' ? required(inputs.network, networkConfigurationOf) : undefined,
      healthCheckGracePeriodSeconds: config.healthCheckGracePeriodSeconds,
      deploymentConfiguration: { ...DEPLOYMENT_CONFIGURATION, deploymentCircuitBreaker: { ...DEPLOYMENT_CONFIGURATION.deploymentCircuitBreaker } },
    };
  },
  effects: serviceEffects,

  /**
   * Under EC2 the task maps hostPort = containerPort (bridge mode): "You can't run more than a single
   * instantiation of a task on each host" with a static port mapping (ECS Developer Guide, "Use
   * Docker's virtual network for Amazon ECS Linux tasks"); more tasks than instances never settle.
   */
  async preflight(context) {
    const { launchType, desiredCount, instanceCount, containerPort } = context.config;
    if (launchType !== 'EC2' || desiredCount <= instanceCount) return;
    throw new AuthecsError(`--desired-count ${desiredCount} cannot be placed on ${instanceCount} container instance${instanceCount === 1 ? '' : 's'}: each task holds host port ${containerPort}, so at most one task runs per instance`, {
      code: 'DESIRED_COUNT_UNPLACEABLE',
      exit: 'usage',
      hint: `Pass --instance-count ${desiredCount} (or more), lower --desired-count to ${instanceCount}, or use --launch-type FARGATE (each task gets its own address).`,
    });
  },

  async read(context) {
    const cluster = context.record?.data.clusterName ?? (context.hasOutput('cluster') ? context.output('cluster').clusterName : undefined);
    // No cluster yet: no service can run in it.
    if (!cluster) return undefined;
    const service = await describeService(context, cluster, serviceNameOf(context));
    // DRAINING is on its way out: create() waits for it, then makes a new one.
    if (!service || service.status !== 'ACTIVE') return undefined;
    if (!isOurs(context, service)) throw conflict(service, cluster);
    return live(service, cluster);
  },

  async create(context, desired) {
    const want = resolve(context, desired);
    let existing = await describeService(context, want.cluster, want.serviceName);
    // CreateService on a live name silently replaces it on moto, so never call it over one.
    if (existing?.status === 'ACTIVE' && !isOurs(context, existing)) throw conflict(existing, want.cluster);
    if (existing?.status === 'DRAINING') {
      await waitUntilInactive(context, want.cluster, want.serviceName);
      existing = undefined;
    }
    // An ACTIVE one of ours appeared since read (a parallel or killed run): the next plan diffs it.
    const adopted = existing?.status === 'ACTIVE';
    const service = adopted ? existing! : await createService(context, createInput(want, context.stack));
    const output = toOutput(service, want.cluster);
    context.save({ created: true, data: output });
    // An adopted service may still run another revision: the next plan moves it; here it only has to settle.
    await waitUntilStable(context, want.cluster, want.serviceName, adopted ? (existing!.desiredCount ?? want.desiredCount) : want.desiredCount, adopted ? undefined : want.taskDefinitionArn);
    return output;
  },

  async update(context, desired, current, changes) {
    const want = resolve(context, desired);
    const fields = new Set(changes.filter((change) => change.effect === 'update').map((change) => change.field));
    const input = updateInput(want, current.output, fields);
    let output = current.output;
    // Nothing left to change in place (only a rollout to finish): just wait.
    if (Object.keys(input).some((key) => key !== 'cluster' && key !== 'service')) {
      context.progress(`updating service ${output.serviceName}: ${[...fields].join(', ')}`);
      const response = await context.clients.ecs.send(new UpdateServiceCommand(input));
      if (response.service) output = toOutput(response.service, output.clusterName);
      context.save({ data: output });
    }
    await waitUntilStable(context, output.clusterName, output.serviceName, want.desiredCount, want.taskDefinitionArn);
    return output;
  },

  async settle(context, current) {
    await waitUntilStable(context, current.output.clusterName, current.output.serviceName, current.observed.desiredCount ?? context.config.desiredCount);
    return current.output;
  },

  async delete(context) {
    const cluster = clusterNameOf(context);
    const name = serviceNameOf(context);
    const service = await describeService(context, cluster, name);
    if (!service || service.status === 'INACTIVE') return;
    if (service.status === 'ACTIVE') {
      try {
        // As the article's cleanup: scale to zero, then delete with force.
        await context.clients.ecs.send(new UpdateServiceCommand({ cluster, service: name, desiredCount: 0 })).catch((error: unknown) => {
          // `down` deletes the ALB meanwhile, and ECS may refuse to update a service whose target group lost it. Force
          // needs no scale-down: it deletes "even if it wasn't scaled down to zero tasks" (ECS API Reference, DeleteService).
          if (!hasErrorCode(error, 'InvalidParameterException')) throw error;
        });
        await context.clients.ecs.send(new DeleteServiceCommand({ cluster, service: name, force: true }));
      } catch (error) {
        if (!hasErrorCode(error, ...GONE_CODES)) throw error;
      }
    }
    await waitUntilInactive(context, cluster, name);
  },

  // Replacing (launch type, name) or deleting stops every task before a new service runs: the site is down meanwhile.
  async loss(_context, current) {
    const running = current.health.details?.runningCount;
    if (typeof running !== 'number' || running === 0) return undefined;
    return `the running service (${running} task${running === 1 ? '' : 's'}) is stopped while it is replaced`;
  },
});
