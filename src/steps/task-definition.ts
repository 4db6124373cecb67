import {
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  paginateListTaskDefinitions,
  RegisterTaskDefinitionCommand,
  type Compatibility,
  type ContainerDefinition,
  type LogConfiguration,
  type NetworkMode,
  type RegisterTaskDefinitionCommandInput,
  type Tag,
  type TaskDefinition,
  type TransportProtocol,
} from '@aws-sdk/client-ecs';
import { hasErrorCode } from '../aws/errors.js';
import { ALLOWED_GROUPS_VARIABLE, type Config } from '../config/schema.js';
import type { TaskDefinitionOutput } from './outputs.js';
import { defineResource, diffFields, known, UNKNOWN, type Effect, type Live, type Maybe } from './resource.js';
import { CONTAINER_NAME } from './shared/ecs.js';
import { checkFargateSize } from './shared/fargate.js';
import { LOG_STREAM_PREFIX } from './shared/rollout.js';

export { LOG_STREAM_PREFIX };
import { ecsStackTags, hasStackTag } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'task-definition'>;

export interface DesiredPortMapping {
  containerPort: number;
  hostPort: number;
  protocol: TransportProtocol;
}

export interface DesiredContainer {
  name: string;
  image: string;
  essential: boolean;
  /** Container memory (MiB): EC2 only, where the task has no task-level size. */
  memory?: number;
  portMappings: DesiredPortMapping[];
  /** --env, sorted by name. Plain values: they are visible in the task definition. */
  environment: { name: string; value: string }[];
  /** --secret, sorted by name: ECS reads each valueFrom at task start; the value is never here. */
  secrets: { name: string; valueFrom: string }[];
  /** awslogs to the stack's log group, one stream per task: authecs/web/<task id>. */
  logConfiguration: { logDriver: 'awslogs'; options: Record<string, string> };
}

/** The registration input authecs wants, normalised so one wish always compares equal. */
export interface DesiredTaskDefinition {
  family: string;
  networkMode: NetworkMode;
  requiresCompatibilities: Compatibility[];
  /** Task-level size: Fargate requires it; the article's EC2 task has none. */
  cpu?: string;
  memory?: string;
  /** The task execution role: Fargate's awslogs and any --secret need it; EC2 without secrets has none. */
  executionRoleArn: Maybe<string> | undefined;
  container: DesiredContainer;
}



// A revision cannot be edited: to change it, register a new revision and point the service at it
// (ECS guide, "Updating a task definition"; RegisterTaskDefinition numbers each one in the family).
const taskDefinitionEffects: { readonly [Field in keyof DesiredTaskDefinition]-?: Effect } = {
  family: 'replace',
  networkMode: 'replace',
  requiresCompatibilities: 'replace',
  cpu: 'replace',
  memory: 'replace',
  executionRoleArn: 'replace',
  container: 'replace',
};

interface Described {
  taskDefinition: TaskDefinition;
  tags: Tag[];
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

function sortedPortMappings(mappings: DesiredPortMapping[]): DesiredPortMapping[] {
  return [...mappings].sort((left, right) => left.containerPort - right.containerPort || left.hostPort - right.hostPort || left.protocol.localeCompare(right.protocol));
}

/** The live values of the desired fields, in the same normalised form. */
function observe(taskDefinition: TaskDefinition): Partial<DesiredTaskDefinition> {
  const containers = taskDefinition.containerDefinitions ?? [];
  const container: ContainerDefinition | undefined = containers.find((each) => each.name === CONTAINER_NAME) ?? containers[0];
  return {
    family: taskDefinition.family,
    networkMode: taskDefinition.networkMode,
    requiresCompatibilities: [...(taskDefinition.requiresCompatibilities ?? [])].sort(),
    // Present even when absent on AWS (EC2 without a task size), so a change to or from one is seen.
    cpu: taskDefinition.cpu,
    memory: taskDefinition.memory,
    executionRoleArn: taskDefinition.executionRoleArn,
    container: container && {
      // More than one container never matches the compose file's single one: say which are there.
      name: containers.length === 1 ? container.name! : containers.map((each) => each.name).join(', '),
      image: container.image!,
      essential: container.essential ?? true,
      ...(container.memory === undefined ? {} : { memory: container.memory }),
      portMappings: sortedPortMappings(
        (container.portMappings ?? []).map((mapping) => ({
          containerPort: mapping.containerPort!,
          // awsvpc maps the host port to the container port; bridge without one picks a dynamic port (0).
          hostPort: mapping.hostPort ?? (taskDefinition.networkMode === 'awsvpc' ? mapping.containerPort! : 0),
          protocol: mapping.protocol ?? 'tcp',
        })),
      ),
      environment: byName((container.environment ?? []).map((variable) => ({ name: variable.name!, value: variable.value ?? '' }))),
      secrets: byName((container.secrets ?? []).map((secret) => ({ name: secret.name!, valueFrom: secret.valueFrom! }))),
      logConfiguration: observedLogConfiguration(container.logConfiguration),
    },
  };
}

function byName<Entry extends { name: string }>(entries: Entry[]): Entry[] {
  return [...entries].sort((left, right) => left.name.localeCompare(right.name));
}

function observedLogConfiguration(configuration: LogConfiguration | undefined): DesiredContainer['logConfiguration'] {
  // A revision from before the stack had logs has none: it then differs, and is replaced.
  return { logDriver: (configuration?.logDriver ?? 'none') as 'awslogs', options: { ...(configuration?.options ?? {}) } };
}

function registrationInput(want: DesiredTaskDefinition, stack: string): RegisterTaskDefinitionCommandInput {
  const { container } = want;
  return {
    family: want.family,
    networkMode: want.networkMode,
    requiresCompatibilities: want.requiresCompatibilities,
    ...(want.cpu === undefined ? {} : { cpu: want.cpu }),
    ...(want.memory === undefined ? {} : { memory: want.memory }),
    ...(want.executionRoleArn === undefined ? {} : { executionRoleArn: want.executionRoleArn as string }),
    containerDefinitions: [
      {
        name: container.name,
        image: container.image,
        essential: container.essential,
        ...(container.memory === undefined ? {} : { memory: container.memory }),
        portMappings: container.portMappings,
        ...(container.environment.length ? { environment: container.environment } : {}),
        ...(container.secrets.length ? { secrets: container.secrets } : {}),
        logConfiguration: container.logConfiguration,
      },
    ],
    tags: ecsStackTags(stack),
  };
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
  for await (const page of paginateListTaskDefinitions({ client: context.clients.ecs }, { familyPrefix: family, status: 'ACTIVE', sort: 'DESC' })) {
    arns.push(...(page.taskDefinitionArns ?? []));
  }
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

function isOurActive(described: Described | undefined, context: Context): described is Described {
  return described !== undefined && described.taskDefinition.status === 'ACTIVE' && hasStackTag(described.tags, context.stack);
}

function toOutput(taskDefinition: TaskDefinition): TaskDefinitionOutput {
  return { taskDefinitionArn: taskDefinition.taskDefinitionArn!, family: taskDefinition.family!, revision: taskDefinition.revision! };
}

function live(taskDefinition: TaskDefinition): Live<'task-definition', DesiredTaskDefinition> {
  return {
    output: toOutput(taskDefinition),
    observed: observe(taskDefinition),
    created: true,
    health: {
      healthy: true,
      summary: `${taskDefinition.family}:${taskDefinition.revision} ACTIVE`,
      details: { taskDefinitionArn: taskDefinition.taskDefinitionArn, image: taskDefinition.containerDefinitions?.[0]?.image },
    },
  };
}

/**
 * Registers `want`, unless the family's newest ACTIVE revision is ours and already matches it:
 * RegisterTaskDefinition has no idempotency token and adds a revision on every call, so a run
 * killed after registering must not leave a second, identical revision behind.
 */
async function register(context: Context, want: DesiredTaskDefinition): Promise<TaskDefinitionOutput> {
  const latest = await latestActive(context, want.family);
  const reusable = isOurActive(latest, context) && diffFields(want, observe(latest.taskDefinition), taskDefinitionEffects).length === 0;
  const taskDefinition = reusable
    ? latest.taskDefinition
    : (await context.clients.ecs.send(new RegisterTaskDefinitionCommand(registrationInput(want, context.stack)))).taskDefinition!;
  const output = toOutput(taskDefinition);
  context.save({ created: true, data: output });
  return output;
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

/**
 * --env, plus what authecs tells the app: --allowed-groups as AUTHECS_ALLOWED_GROUPS, since the ALB
 * rule cannot filter by group and the app must check cognito:groups itself. Only when set, so a
 * stack without groups keeps its revision. The loader refuses an --env of that name.
 */
function containerEnvironment(config: Config): Record<string, string> {
  return config.allowedGroups.length > 0 ? { ...config.environment, [ALLOWED_GROUPS_VARIABLE]: config.allowedGroups.join(',') } : config.environment;
}

export const taskDefinitionStep = defineResource<'task-definition', DesiredTaskDefinition>({
  name: 'task-definition',
  title: 'ECS task definition',
  articleSection: 'Configuring the ECS service',
  // The log group exists before a task can write to it; the execution role before ECS assumes it.
  dependsOn: ['log-group', 'execution-role'],

  /** What `ecs-cli compose` registers for the article's compose file (web, the image, port:port). */
  desired(config, inputs) {
    const fargate = config.launchType === 'FARGATE';
    const portMappings: DesiredPortMapping[] = [{ containerPort: config.containerPort, hostPort: config.containerPort, protocol: 'tcp' }];
    return {
      family: config.serviceName,
      networkMode: fargate ? 'awsvpc' : 'bridge',
      requiresCompatibilities: [config.launchType],
      ...(fargate ? { cpu: String(config.taskCpu), memory: String(config.taskMemory) } : {}),
      executionRoleArn: known(inputs['execution-role'], (role) => role.roleArn),
      container: {
        name: CONTAINER_NAME,
        image: config.image,
        essential: true,
        // ecs-cli's default container memory (512 MiB) is the taskMemory default.
        ...(fargate ? {} : { memory: config.taskMemory }),
        portMappings,
        environment: byName(Object.entries(containerEnvironment(config)).map(([name, value]) => ({ name, value }))),
        secrets: byName(Object.entries(config.secrets).map(([name, valueFrom]) => ({ name, valueFrom }))),
        logConfiguration: {
          logDriver: 'awslogs',
          options: {
            'awslogs-group': known(inputs['log-group'], (group) => group.logGroupName) ?? UNKNOWN,
            'awslogs-region': config.region,
            'awslogs-stream-prefix': LOG_STREAM_PREFIX,
          } as Record<string, string>,
        },
      },
    };
  },
  effects: taskDefinitionEffects,

  // Fargate takes only the documented CPU/memory pairs; refuse others before anything is created.
  async preflight(context) {
    if (context.config.launchType === 'FARGATE') checkFargateSize(context.config.taskCpu, context.config.taskMemory);
  },

  async read(context) {
    const recordedArn = context.record?.data.taskDefinitionArn;
    if (recordedArn) {
      const recorded = await describe(context, recordedArn);
      // An INACTIVE revision cannot be given to a service (DeregisterTaskDefinition), so it is gone for us.
      if (recorded?.taskDefinition.status === 'ACTIVE') return live(recorded.taskDefinition);
    }
    // A revision a killed run registered before it could record it.
    const latest = await latestActive(context, context.record?.data.family ?? context.config.serviceName);
    return isOurActive(latest, context) ? live(latest.taskDefinition) : undefined;
  },

  create: register,

  // Create-before-delete: the service still runs the old revision until it is updated; the
  // engine deletes the retired one after the run (a deregistered revision keeps running anyway).
  async replace(context, want, current) {
    // Recorded before the new revision, so a run killed in between still deregisters the old one later.
    context.retire(current.output);
    return register(context, want);
  },

  async delete(context) {
    const data = context.record?.data;
    const family = data?.family ?? context.config.serviceName;
    const recordedArn = data?.taskDefinitionArn;
    const recordedRevision = data?.revision ?? (recordedArn ? revisionOf(recordedArn) : undefined);
    const targets = new Set<string>();
    if (recordedArn) targets.add(recordedArn);
    // Earlier revisions this stack registered go too; later ones may be the live revision when
    // this record is a retired one, so they stay.
    for (const arn of await activeRevisionArns(context, family)) {
      if (targets.has(arn) || (recordedRevision !== undefined && revisionOf(arn) >= recordedRevision)) continue;
      const described = await describe(context, arn);
      if (described && hasStackTag(described.tags, context.stack)) targets.add(arn);
    }
    for (const arn of targets) await deregister(context, arn);
  },
});
