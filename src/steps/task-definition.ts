import {
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type Tag,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { hasErrorCode } from '../aws/errors.js';
import type { Config } from '../config/schema.js';
import { ecsStackTags } from './shared/tags.js';
import type { TaskDefinitionOutput } from './outputs.js';
import { defineStep, hasStackTag, type StepContext } from './step.js';

type Context = StepContext<'task-definition'>;

/** The compose file's only service; the target group forwards to it. */
export const CONTAINER_NAME = 'web';

interface Described {
  taskDefinition: TaskDefinition;
  tags: Tag[];
}

/** What `ecs-cli compose` registers for the article's compose file (web, the sample image, 80:80). */
export function taskDefinitionInput(config: Config, stack: string): RegisterTaskDefinitionCommandInput {
  const portMappings = [{ containerPort: config.containerPort, hostPort: config.containerPort, protocol: 'tcp' as const }];
  if (config.launchType === 'FARGATE') {
    return {
      family: config.serviceName,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: String(config.taskCpu),
      memory: String(config.taskMemory),
      containerDefinitions: [{ name: CONTAINER_NAME, image: config.image, essential: true, portMappings }],
      tags: ecsStackTags(stack),
    };
  }
  return {
    family: config.serviceName,
    networkMode: 'bridge',
    requiresCompatibilities: ['EC2'],
    // ecs-cli's default container memory (512 MiB) is the taskMemory default.
    containerDefinitions: [{ name: CONTAINER_NAME, image: config.image, essential: true, memory: config.taskMemory, portMappings }],
    tags: ecsStackTags(stack),
  };
}

/** How a registered revision differs from what `up` would register; empty when it matches. */
export function taskDefinitionDrift(taskDefinition: TaskDefinition, config: Config): string[] {
  const drift: string[] = [];
  const fargate = config.launchType === 'FARGATE';
  const networkMode = fargate ? 'awsvpc' : 'bridge';
  if (taskDefinition.networkMode !== networkMode) drift.push(`network mode is ${taskDefinition.networkMode}, not ${networkMode}`);
  if (!(taskDefinition.requiresCompatibilities ?? []).includes(config.launchType)) drift.push(`does not require ${config.launchType} compatibility`);
  const containers = taskDefinition.containerDefinitions ?? [];
  const container = containers[0];
  if (containers.length !== 1 || container?.name !== CONTAINER_NAME) {
    drift.push(`containers are ${containers.map((each) => each.name).join(', ') || 'none'}, not ${CONTAINER_NAME}`);
    return drift;
  }
  if (container.image !== config.image) drift.push(`image is ${container.image}, not ${config.image}`);
  const ports = container.portMappings ?? [];
  const port = ports[0];
  const portMatches =
    ports.length === 1 && port?.containerPort === config.containerPort && port.hostPort === config.containerPort && (port.protocol ?? 'tcp') === 'tcp';
  if (!portMatches) {
    const actual = ports.map((mapping) => `${mapping.hostPort ?? ''}:${mapping.containerPort}/${mapping.protocol ?? 'tcp'}`).join(', ') || 'none';
    drift.push(`port mappings are ${actual}, not ${config.containerPort}:${config.containerPort}/tcp`);
  }
  if (fargate) {
    if (taskDefinition.cpu !== String(config.taskCpu)) drift.push(`task cpu is ${taskDefinition.cpu}, not ${config.taskCpu}`);
    if (taskDefinition.memory !== String(config.taskMemory)) drift.push(`task memory is ${taskDefinition.memory}, not ${config.taskMemory}`);
  } else if (container.memory !== config.taskMemory) {
    drift.push(`container memory is ${container.memory}, not ${config.taskMemory}`);
  }
  return drift;
}

function isMissing(error: unknown): boolean {
  // ECS reports an unknown family or revision as a ClientException.
  if (!hasErrorCode(error, 'ClientException')) return false;
  return /unable to describe|not found|does not exist|revision is missing|inactive/i.test((error as Error).message);
}

/** moto answers calls it does not implement with an HTML 500; AWS with UnknownOperation. */
function isUnimplemented(error: unknown): boolean {
  if (hasErrorCode(error, 'UnknownOperationException', 'UnknownOperation', 'InvalidAction')) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return (status === 500 || status === 501) && hasErrorCode(error, 'SyntaxError', 'UnknownError', '500', 'InternalFailure');
}

function revisionOf(arn: string): number {
  return Number(/:(\d+)$/.exec(arn)?.[1] ?? 0);
}

async function describe(context: Context, reference: string): Promise<Described | undefined> {
  try {
    const response = await context.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: reference, include: ['TAGS'] }));
    return response.taskDefinition ? { taskDefinition: response.taskDefinition, tags: response.tags ?? [] } : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

async function activeRevisionArns(context: Context, family: string): Promise<string[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const response = await context.clients.ecs.send(
      new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE', sort: 'DESC', ...(nextToken ? { nextToken } : {}) }),
    );
    arns.push(...(response.taskDefinitionArns ?? []));
    nextToken = response.nextToken;
  } while (nextToken);
  // Newest first, whatever order the endpoint honours; only this exact family.
  return arns.filter((arn) => arn.split('/').pop()?.replace(/:\d+$/, '') === family).sort((left, right) => revisionOf(right) - revisionOf(left));
}

/** The family's newest ACTIVE revision (describing by family alone may return an INACTIVE one on emulators). */
async function latestActive(context: Context, family: string): Promise<Described | undefined> {
  const latest = await describe(context, family);
  if (!latest || latest.taskDefinition.status === 'ACTIVE') return latest;
  const newest = (await activeRevisionArns(context, family))[0];
  return newest ? describe(context, newest) : undefined;
}

/**
 * A revision `up` can use as is: the recorded one, else the newest ACTIVE revision of the family
 * when it is ours and matches. RegisterTaskDefinition adds a revision on every call, so look first.
 */
async function locate(context: Context): Promise<TaskDefinition | undefined> {
  const usable = (described: Described | undefined, recorded: boolean): TaskDefinition | undefined =>
    described &&
    described.taskDefinition.status === 'ACTIVE' &&
    (recorded || hasStackTag(described.tags, context.stack)) &&
    taskDefinitionDrift(described.taskDefinition, context.config).length === 0
      ? described.taskDefinition
      : undefined;
  const recordedArn = context.record?.data.taskDefinitionArn;
  if (recordedArn) {
    const recorded = usable(await describe(context, recordedArn), true);
    if (recorded) return recorded;
  }
  return usable(await latestActive(context, context.config.serviceName), false);
}

function toOutput(taskDefinition: TaskDefinition): TaskDefinitionOutput {
  return { taskDefinitionArn: taskDefinition.taskDefinitionArn!, family: taskDefinition.family!, revision: taskDefinition.revision! };
}

async function deregister(context: Context, arn: string): Promise<void> {
  try {
    await context.clients.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn }));
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  try {
    // Deregistered revisions linger as INACTIVE; deleting them leaves nothing behind.
    await context.clients.ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: [arn] }));
  } catch (error) {
    if (!isUnimplemented(error) && !isMissing(error)) throw error;
  }
}

export const taskDefinitionStep = defineStep({
  name: 'task-definition',
  title: 'ECS task definition',
  articleSection: 'Configuring the ECS service',
  dependsOn: [],

  async find(context) {
    const taskDefinition = await locate(context);
    return taskDefinition ? { output: toOutput(taskDefinition), created: true } : undefined;
  },

  async create(context) {
    const existing = await locate(context);
    if (existing) {
      const output = toOutput(existing);
      context.save({ created: true, data: output });
      return output;
    }
    const response = await context.clients.ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput(context.config, context.stack)));
    const output = toOutput(response.taskDefinition!);
    context.save({ created: true, data: output });
    return output;
  },

  async delete(context) {
    const family = context.record?.data.family ?? context.config.serviceName;
    const targets = new Set<string>();
    const recordedArn = context.record?.data.taskDefinitionArn;
    if (recordedArn) targets.add(recordedArn);
    // Earlier revisions this stack registered (a changed image or port) go too.
    for (const arn of await activeRevisionArns(context, family)) {
      if (targets.has(arn)) continue;
      const described = await describe(context, arn);
      if (described && hasStackTag(described.tags, context.stack)) targets.add(arn);
    }
    for (const arn of targets) await deregister(context, arn);
  },

  async inspect(context) {
    const arn = context.record?.data.taskDefinitionArn;
    const described = arn ? await describe(context, arn) : undefined;
    if (!described) return { present: false, healthy: false, summary: 'missing' };
    const status = described.taskDefinition.status ?? 'unknown';
    if (status !== 'ACTIVE') return { present: false, healthy: false, summary: status };
    const drift = taskDefinitionDrift(described.taskDefinition, context.config);
    return {
      present: true,
      healthy: true,
      summary: `${described.taskDefinition.family}:${described.taskDefinition.revision} ACTIVE`,
      drift,
      details: { taskDefinitionArn: described.taskDefinition.taskDefinitionArn, image: described.taskDefinition.containerDefinitions?.[0]?.image },
    };
  },
});
