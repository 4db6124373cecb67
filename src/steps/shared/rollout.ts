/**
 * Watches an ECS rollout, and explains one that fails, is rolled back or runs out of time: the
 * stopped tasks, target health, the app's last log lines and the service events, with a diagnosed
 * cause and a hint. Steps and commands import this; it imports no step.
 */
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, DescribeTasksCommand, ListTasksCommand, type Deployment, type Service, type Task } from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsClients } from '../../aws/clients.js';
import { awsErrorCode, hasErrorCode } from '../../aws/errors.js';
import { AuthecsError } from '../../errors.js';
import { CONTAINER_NAME } from './ecs.js';
import { ECS_SCHEDULE, WaitClock, type PollSchedule, type WaitContext, type WaitOutcome } from './poll.js';

// Must equal the task definition's awslogs-stream-prefix (task-definition.ts LOG_STREAM_PREFIX).
export const LOG_STREAM_PREFIX = 'authecs';
const STOPPED_TASKS_SHOWN = 5;
const LOG_LINES_SHOWN = 20;
const EVENTS_SHOWN = 5;
// A progress line at least this often while nothing changes, so a slow rollout still shows life.
const PROGRESS_EVERY_SECONDS = 60;
// The unhealthy reason codes of a target (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html).
const FAILING_TARGET_REASONS = ['Target.ResponseCodeMismatch', 'Target.Timeout', 'Target.FailedHealthChecks'];

export type RolloutOutcome = 'failed' | 'rolled-back' | 'timed-out';
export type RolloutCause = 'image-pull' | 'secrets' | 'container-exit' | 'health-check' | 'placement' | 'unknown';

export const ROLLOUT_ERROR_CODES: Record<RolloutOutcome, 'ROLLOUT_FAILED' | 'ROLLOUT_ROLLED_BACK' | 'ROLLOUT_TIMED_OUT'> = {
  failed: 'ROLLOUT_FAILED',
  'rolled-back': 'ROLLOUT_ROLLED_BACK',
  'timed-out': 'ROLLOUT_TIMED_OUT',
};

/** What a rollout watch needs: a StepContext fits, and so does a command's own. */
export interface RolloutContext extends WaitContext {
  clients: Pick<AwsClients, 'ecs' | 'elbv2' | 'logs'>;
  progress(message: string): void;
}

/** The health-check settings, so a hint can name their current values. */
export interface HealthCheckSettings {
  path: string;
  matcher: string;
  gracePeriodSeconds: number;
  containerPort: number;
}

/** Which rollout: the service, and the deployment by ID or by the task definition it rolls out. */
export interface RolloutTarget {
  cluster: string;
  service: string;
  targetGroupArn?: string;
  /** The stack's log group; streams are authecs/web/<task id>. Without it, no log lines are read. */
  logGroupName?: string;
  deploymentId?: string;
  /** The task definition being rolled out; when neither this nor deploymentId is given, the service's current one. */
  taskDefinitionArn?: string;
  healthCheck?: HealthCheckSettings;
}

export interface WatchRolloutOptions extends RolloutTarget {
  desiredCount: number;
  timeoutSeconds: number;
  /** When to check, before context.pollSeconds() scales it; ECS_SCHEDULE by default. */
  schedule?: PollSchedule;
  /** Receives each progress line; context.progress() when absent. */
  onProgress?: (line: string, progress: RolloutProgress) => void;
}

export interface RolloutProgress {
  running: number;
  desired: number;
  /** Target counts; absent without a target group. */
  healthy?: number;
  draining?: number;
  rolloutState?: string;
}

export interface RolloutResult {
  deploymentId: string | undefined;
  taskDefinitionArn: string | undefined;
  runningCount: number;
  elapsedSeconds: number;
}

export type StoppedTaskFact = {
  taskId: string;
  taskArn: string;
  lastStatus?: string;
  stopCode?: string;
  stoppedReason?: string;
  stoppedAt?: string;
  taskDefinitionArn?: string;
  containers: { name: string; exitCode?: number; reason?: string }[];
};

export type TargetFact = { id: string; port?: number; state: string; reason?: string; description?: string };

export type LogFact = {
  taskId: string;
  logGroupName: string;
  logStreamName: string;
  lines: string[];
  /** Why there are no lines: the stream or group does not exist (the container never started). */
  note?: string;
};

export type EventFact = { at?: string; message: string };

/** The facts of why a rollout did not settle, and what they point to. JSON-safe: `--json` prints it. */
export type RolloutExplanation = {
  outcome: RolloutOutcome;
  cluster: string;
  service: string;
  deploymentId?: string;
  taskDefinitionArn?: string;
  /** The task definition ECS went back to. */
  rolledBackTo?: string;
  rolloutState?: string;
  rolloutStateReason?: string;
  timeoutSeconds?: number;
  cause: RolloutCause;
  summary: string;
  hint: string;
  stoppedTasks: StoppedTaskFact[];
  /** Absent without a target group. */
  targets?: TargetFact[];
  /** Absent when no task of the rollout stopped, or without a log group. */
  logs?: LogFact;
  events: EventFact[];
  /** Facts that could not be read, with the AWS error (e.g. a missing permission). */
  unavailable: string[];
};

export interface ExplainRolloutOptions extends RolloutTarget {
  outcome: RolloutOutcome;
  /** The service as last described; read again when absent. */
  described?: Service;
  rolledBackTo?: string;
  timeoutSeconds?: number;
}

/** A rollout that failed, was rolled back or timed out, carrying why as `details`. */
export class RolloutFailedError extends AuthecsError {
  readonly explanation: RolloutExplanation;

  constructor(explanation: RolloutExplanation) {
    super(rolloutMessage(explanation), {
      code: ROLLOUT_ERROR_CODES[explanation.outcome],
      exit: 'rolloutFailed',
      hint: explanation.hint,
      resource: `service ${explanation.cluster}/${explanation.service}`,
      details: explanation,
    });
    this.name = 'RolloutFailedError';
    this.explanation = explanation;
  }

  override detailLines(): string[] {
    return formatExplanation(this.explanation);
  }
}

/** The awslogs stream of a task's container: prefix-name/container-name/ecs-task-id (awslogs-stream-prefix, ECS guide "Using the awslogs log driver"). */
export function taskLogStreamName(taskId: string): string {
  return `${LOG_STREAM_PREFIX}/${CONTAINER_NAME}/${taskId}`;
}

function taskIdOf(taskArn: string): string {
  return taskArn.split('/').pop() ?? taskArn;
}

function shortTaskDefinition(arn: string | undefined): string {
  return arn?.split('/').pop() ?? 'an earlier task definition';
}

async function describeService(context: Pick<RolloutContext, 'clients'>, cluster: string, name: string): Promise<Service | undefined> {
  try {
    const response = await context.clients.ecs.send(new DescribeServicesCommand({ cluster, services: [name] }));
    return response.services?.find((service) => service.serviceName === name);
  } catch (error) {
    if (hasErrorCode(error, 'ClusterNotFoundException')) return undefined;
    throw error;
  }
}

async function targetHealth(context: Pick<RolloutContext, 'clients'>, targetGroupArn: string): Promise<TargetFact[]> {
  const response = await context.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return (response.TargetHealthDescriptions ?? []).map((description) => ({
    id: description.Target?.Id ?? '?',
    ...(description.Target?.Port === undefined ? {} : { port: description.Target.Port }),
    state: description.TargetHealth?.State ?? 'unknown',
    ...(description.TargetHealth?.Reason ? { reason: description.TargetHealth.Reason } : {}),
    ...(description.TargetHealth?.Description ? { description: description.TargetHealth.Description } : {}),
  }));
}

function isCompleted(deployment: Deployment): boolean {
  // moto leaves rolloutState out or stale (moto/ecs/models.py, Service.__init__): a stable service decides.
  return deployment.rolloutState === undefined || deployment.rolloutState === 'COMPLETED';
}

/**
 * Polls until the rollout's deployment is PRIMARY and COMPLETED and the service is stable (one
 * deployment, desiredCount running). Throws RolloutFailedError, with the explanation, when the
 * deployment FAILED (circuit breaker), the service went back to another task definition (rollback),
 * or timeoutSeconds pass.
 */
export async function watchRollout(context: RolloutContext, options: WatchRolloutOptions): Promise<RolloutResult> {
  const clock = new WaitClock(context, options.schedule ?? ECS_SCHEDULE);
  let outcome: WaitOutcome = 'failed';
  try {
    const result = await watch(context, options, clock);
    outcome = 'done';
    return result;
  } catch (error) {
    if (error instanceof RolloutFailedError && error.explanation.outcome === 'timed-out') outcome = 'timed-out';
    throw error;
  } finally {
    clock.finish(`service ${options.service} to finish its rollout`, outcome);
  }
}

async function watch(context: RolloutContext, options: WatchRolloutOptions, clock: WaitClock): Promise<RolloutResult> {
  const report = options.onProgress ?? ((line: string) => context.progress(line));
  let ours = options.taskDefinitionArn;
  let lastLine: string | undefined;
  let lastShownAt = 0;

  const fail = async (outcome: RolloutOutcome, service: Service, deployment: Deployment | undefined, rolledBackTo?: string): Promise<never> => {
    const deploymentId = deployment?.id ?? options.deploymentId;
    const taskDefinitionArn = ours ?? deployment?.taskDefinition;
    const explanation = await explainRollout(context, {
      cluster: options.cluster,
      service: options.service,
      outcome,
      described: service,
      ...(options.targetGroupArn ? { targetGroupArn: options.targetGroupArn } : {}),
      ...(options.logGroupName ? { logGroupName: options.logGroupName } : {}),
      ...(options.healthCheck ? { healthCheck: options.healthCheck } : {}),
      ...(deploymentId ? { deploymentId } : {}),
      ...(taskDefinitionArn ? { taskDefinitionArn } : {}),
      ...(rolledBackTo ? { rolledBackTo } : {}),
      ...(outcome === 'timed-out' ? { timeoutSeconds: options.timeoutSeconds } : {}),
    });
    throw new RolloutFailedError(explanation);
  };

  for (;;) {
    clock.checked();
    const service = await describeService(context, options.cluster, options.service);
    if (!service || service.status !== 'ACTIVE') {
      throw new AuthecsError(`Service ${options.service} is ${service?.status ?? 'missing'} while its rollout was watched`, {
        code: 'SERVICE_GONE',
        exit: 'aws',
        hint: 'Something deleted the service; run `authecs up` again to recreate it.',
      });
    }
    const deployments = service.deployments ?? [];
    const primary = deployments.find((deployment) => deployment.status === 'PRIMARY');
    // moto never updates a deployment's taskDefinition on UpdateService; the service's is current.
    ours ??= options.deploymentId ? deployments.find((deployment) => deployment.id === options.deploymentId)?.taskDefinition : (service.taskDefinition ?? primary?.taskDefinition);
    const matches = (deployment: Deployment) => (options.deploymentId ? deployment.id === options.deploymentId : ours !== undefined && deployment.taskDefinition === ours);
    const mine = deployments.filter(matches);
    const tracked = mine.find((deployment) => deployment.status === 'PRIMARY') ?? mine[0];
    const failed = mine.find((deployment) => deployment.rolloutState === 'FAILED');

    // A rollback makes a new PRIMARY deployment of the last completed task definition, and the service follows it;
    // a PRIMARY of another task definition alone is moto's stale deployment (the service's is ours there).
    const wentBack = primary !== undefined && ours !== undefined && primary.taskDefinition !== ours && (service.taskDefinition !== ours || failed !== undefined);
    const vanished = options.deploymentId !== undefined && tracked === undefined && primary !== undefined;
    if (wentBack || vanished) return fail('rolled-back', service, failed ?? tracked, primary?.taskDefinition);
    if (failed) return fail('failed', service, failed);

    const current = tracked ?? (ours !== undefined && service.taskDefinition === ours ? primary : undefined);
    // Target counts only decorate the progress line: a failed read must not end the watch.
    const targets = options.targetGroupArn ? await targetHealth(context, options.targetGroupArn).catch(() => undefined) : undefined;
    const progress: RolloutProgress = {
      running: current?.runningCount ?? service.runningCount ?? 0,
      desired: options.desiredCount,
      ...(targets ? { healthy: targets.filter((target) => target.state === 'healthy').length, draining: targets.filter((target) => target.state === 'draining').length } : {}),
      ...(current?.rolloutState ? { rolloutState: current.rolloutState } : {}),
    };
    const stable = deployments.length === 1 && service.runningCount === options.desiredCount;
    const done = current !== undefined && current.status === 'PRIMARY' && isCompleted(current) && stable;
    const line = `rollout: ${progress.running}/${progress.desired} running${targets ? `, ${progress.healthy} healthy, ${progress.draining} draining` : ''}`;
    const elapsedSeconds = clock.elapsedSeconds;
    if (line !== lastLine || (!done && elapsedSeconds - lastShownAt >= PROGRESS_EVERY_SECONDS)) {
      report(line, progress);
      lastShownAt = elapsedSeconds;
    }
    lastLine = line;

    if (done && current) {
      return { deploymentId: current.id, taskDefinitionArn: ours, runningCount: service.runningCount ?? 0, elapsedSeconds: Math.round(elapsedSeconds) };
    }
    if (elapsedSeconds + clock.nextPauseSeconds > options.timeoutSeconds) return fail('timed-out', service, current);
    await clock.pause();
  }
}

function newestFirst(left: Task, right: Task): number {
  const time = (task: Task) => (task.stoppedAt ?? task.stoppingAt ?? task.createdAt)?.getTime() ?? 0;
  return time(right) - time(left);
}

function stoppedTaskFact(task: Task): StoppedTaskFact {
  // Only what ECS says about why the task stopped: never its overrides (environment values).
  return {
    taskId: taskIdOf(task.taskArn ?? '?'),
    taskArn: task.taskArn ?? '?',
    ...(task.lastStatus ? { lastStatus: task.lastStatus } : {}),
    ...(task.stopCode ? { stopCode: task.stopCode } : {}),
    ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
    ...(task.stoppedAt ? { stoppedAt: task.stoppedAt.toISOString() } : {}),
    ...(task.taskDefinitionArn ? { taskDefinitionArn: task.taskDefinitionArn } : {}),
    containers: (task.containers ?? []).map((container) => ({
      name: container.name ?? '?',
      ...(container.exitCode === undefined || container.exitCode === null ? {} : { exitCode: container.exitCode }),
      ...(container.reason ? { reason: container.reason } : {}),
    })),
  };
}

async function stoppedTasks(context: Pick<RolloutContext, 'clients'>, options: ExplainRolloutOptions): Promise<StoppedTaskFact[]> {
  // startedBy "must be the only filter" (ECS API, ListTasks), so the deployment's tasks are picked after describing.
  // Stopped tasks stay listed for at least an hour.
  const listed = await context.clients.ecs.send(new ListTasksCommand({ cluster: options.cluster, serviceName: options.service, desiredStatus: 'STOPPED', maxResults: 100 }));
  const taskArns = listed.taskArns ?? [];
  if (taskArns.length === 0) return [];
  const described = await context.clients.ecs.send(new DescribeTasksCommand({ cluster: options.cluster, tasks: taskArns }));
  const filtered = options.deploymentId !== undefined || options.taskDefinitionArn !== undefined;
  const ofRollout = (task: Task) =>
    !filtered || (options.deploymentId !== undefined && task.startedBy === options.deploymentId) || (options.taskDefinitionArn !== undefined && task.taskDefinitionArn === options.taskDefinitionArn);
  return (described.tasks ?? []).filter(ofRollout).sort(newestFirst).slice(0, STOPPED_TASKS_SHOWN).map(stoppedTaskFact);
}

async function lastLogLines(context: Pick<RolloutContext, 'clients'>, logGroupName: string, taskId: string): Promise<LogFact> {
  const logStreamName = taskLogStreamName(taskId);
  try {
    // startFromHead false: the newest events (CloudWatch Logs API, GetLogEvents).
    const response = await context.clients.logs.send(new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: false, limit: LOG_LINES_SHOWN }));
    const lines = (response.events ?? []).map((event) => (event.message ?? '').replace(/\r?\n$/, '')).slice(-LOG_LINES_SHOWN);
    return { taskId, logGroupName, logStreamName, lines, ...(lines.length === 0 ? { note: 'the stream is empty' } : {}) };
  } catch (error) {
    // A container that never started has no stream; the group may not exist yet either.
    if (hasErrorCode(error, 'ResourceNotFoundException')) return { taskId, logGroupName, logStreamName, lines: [], note: `no log lines: ${(error as Error).message}` };
    throw error;
  }
}

function rolloutEvents(service: Service | undefined, since: Date | undefined): EventFact[] {
  // ECS lists service events newest first.
  return (service?.events ?? [])
    .filter((event) => !since || !event.createdAt || event.createdAt.getTime() >= since.getTime())
    .slice(0, EVENTS_SHOWN)
    .map((event) => ({ ...(event.createdAt ? { at: event.createdAt.toISOString() } : {}), message: event.message ?? '' }));
}

/** Gathers the facts of a rollout that did not settle and diagnoses its likely cause. Never throws for a fact it cannot read. */
export async function explainRollout(context: Pick<RolloutContext, 'clients'>, options: ExplainRolloutOptions): Promise<RolloutExplanation> {
  const unavailable: string[] = [];
  const gather = async <Result>(what: string, read: () => Promise<Result>): Promise<Result | undefined> => {
    try {
      return await read();
    } catch (error) {
      unavailable.push(`${what}: ${awsErrorCode(error)}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const service = options.described ?? (await gather('service', () => describeService(context, options.cluster, options.service)));
  const deployment = service?.deployments?.find((each) =>
    options.deploymentId ? each.id === options.deploymentId : options.taskDefinitionArn !== undefined && each.taskDefinition === options.taskDefinitionArn,
  );
  const tasks = (await gather('stopped tasks', () => stoppedTasks(context, options))) ?? [];
  const targets = options.targetGroupArn ? await gather('target health', () => targetHealth(context, options.targetGroupArn!)) : undefined;
  const newest = tasks[0];
  const logs = newest && options.logGroupName ? await gather('log lines', () => lastLogLines(context, options.logGroupName!, newest.taskId)) : undefined;
  const deploymentId = options.deploymentId ?? deployment?.id;
  const events = rolloutEvents(service, deployment?.createdAt);
  const facts = { outcome: options.outcome, stoppedTasks: tasks, targets: targets ?? [], events, healthCheck: options.healthCheck, cluster: options.cluster, service: options.service };
  const diagnosis = diagnose(facts);
  return {
    outcome: options.outcome,
    cluster: options.cluster,
    service: options.service,
    ...(deploymentId ? { deploymentId } : {}),
    ...(options.taskDefinitionArn ? { taskDefinitionArn: options.taskDefinitionArn } : {}),
    ...(options.rolledBackTo ? { rolledBackTo: options.rolledBackTo } : {}),
    ...(deployment?.rolloutState ? { rolloutState: deployment.rolloutState } : {}),
    ...(deployment?.rolloutStateReason ? { rolloutStateReason: deployment.rolloutStateReason } : {}),
    ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
    ...diagnosis,
    stoppedTasks: tasks,
    ...(targets ? { targets } : {}),
    ...(logs ? { logs } : {}),
    events,
    unavailable,
  };
}

/** What diagnose() reads. */
export interface RolloutFacts {
  outcome: RolloutOutcome;
  cluster: string;
  service: string;
  stoppedTasks: StoppedTaskFact[];
  targets: TargetFact[];
  events: EventFact[];
  healthCheck: HealthCheckSettings | undefined;
}

export interface RolloutDiagnosis {
  cause: RolloutCause;
  summary: string;
  hint: string;
}

function reasonsOf(task: StoppedTaskFact): string[] {
  return [task.stoppedReason, ...task.containers.map((container) => container.reason)].filter((reason): reason is string => Boolean(reason));
}

// Stopped reasons as ECS words them: "Stopped tasks error codes" (CannotPullContainerError,
// ResourceInitializationError, ...: https://docs.aws.amazon.com/AmazonECS/latest/userguide/stopped-task-error-codes.html),
// and re:Post's https://repost.aws/knowledge-center/ecs-fargate-pull-container-error. ResourceInitializationError
// names the failed fetch after "unable to pull secrets or registry auth: execution resource retrieval failed:",
// e.g. "unable to retrieve ecr registry auth" or "unable to retrieve secret from asm" (aws/amazon-ecs-agent#4181).
const PULL_FAILURE = /CannotPullContainerError|pull image manifest|pull access denied|manifest unknown|failed to resolve ref|unable to retrieve ecr registry auth/i;
const SECRET_FAILURE = /secret|\bssm\b|\basm\b|parameter store|ParameterNotFound/i;
const ESSENTIAL_EXIT = /Essential container in task exited/i;
// "Task failed ELB health checks in (target-group ...)"; service events: "... is unhealthy in (target-group ...) due to
// (reason ...)" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-unhealthy-event-messages.html).
const ELB_HEALTH = /failed ELB health checks|is unhealthy in \(target-group/i;
const PLACEMENT = /unable to place a task/i;

function secretReason(text: string): boolean {
  // The prefix "unable to pull secrets or registry auth" appears for registry failures too.
  const specific = text.replace(/unable to pull secrets or registry auth/gi, '');
  return /ResourceInitializationError|Fetching secret data/i.test(text) && SECRET_FAILURE.test(specific);
}

function pullSubCause(text: string): { what: string; first: 'name' | 'network' | 'access' } {
  if (/not found|manifest unknown|does not exist|repository .* not exist|no such image/i.test(text)) return { what: 'the image or its tag does not exist', first: 'name' };
  if (/i\/o timeout|dial tcp|context deadline exceeded|request canceled|timeout|connection refused/i.test(text)) return { what: 'the registry could not be reached', first: 'network' };
  if (/\b40[13]\b|denied|unauthori[sz]ed|no basic auth|authorization|toomanyrequests|registry auth/i.test(text)) return { what: 'the registry refused the pull', first: 'access' };
  return { what: 'see the stopped reason', first: 'name' };
}

function imagePullDiagnosis(text: string): RolloutDiagnosis {
  const { what, first } = pullSubCause(text);
  const advice = {
    name: 'check that the image name and tag exist exactly as given to --image',
    access: 'check that the registry lets this account pull the image (a private registry needs credentials; ECR needs ecr:GetAuthorizationToken and ecr:BatchGetImage on the task execution role)',
    network: 'check that tasks in private subnets reach the registry: a NAT gateway, or VPC endpoints (ecr.api, ecr.dkr and the S3 gateway endpoint)',
  };
  const order = [first, ...(['name', 'access', 'network'] as const).filter((each) => each !== first)];
  const [lead, ...rest] = order.map((each) => advice[each]);
  return {
    cause: 'image-pull',
    summary: `the container image could not be pulled: ${what} (${/ResourceInitializationError/i.test(text) && !/CannotPullContainerError/i.test(text) ? 'ResourceInitializationError' : 'CannotPullContainerError'})`,
    hint: `${lead!.charAt(0).toUpperCase()}${lead!.slice(1)}; then ${rest.join('; and ')}.`,
  };
}

function healthCheckDiagnosis(facts: RolloutFacts, reasonText: string): RolloutDiagnosis {
  const failing = facts.targets.find((target) => target.state === 'unhealthy' && target.reason && FAILING_TARGET_REASONS.includes(target.reason));
  const code = failing?.reason ?? FAILING_TARGET_REASONS.find((reason) => reasonText.includes(reason));
  const why =
    code === 'Target.ResponseCodeMismatch'
      ? 'the app answers with another HTTP code than the matcher expects'
      : code === 'Target.Timeout'
        ? 'the checks time out: the app answers too slowly, or does not listen on the container port'
        : code === 'Target.FailedHealthChecks'
          ? 'the load balancer could not connect or got a malformed answer: the app may not listen on the container port (on 0.0.0.0)'
          : 'the load balancer marked the tasks unhealthy';
  const settings = facts.healthCheck;
  const wants = settings
    ? `GET ${settings.path} on container port ${settings.containerPort} must answer ${settings.matcher}`
    : 'GET --health-check-path (default /) on --container-port must answer a code in --health-check-matcher (default 200)';
  const detail = failing?.description ? `${code}: ${failing.description}` : (code ?? 'Task failed ELB health checks');
  return {
    cause: 'health-check',
    summary: `the app fails the load balancer's health checks (${detail})`,
    hint:
      `${wants}; ${why}. Fix the app, or change --health-check-path / --health-check-matcher (and --container-port); ` +
      `give a slow start more time with --health-check-grace-period${settings ? ` (now ${settings.gracePeriodSeconds}s)` : ''}.`,
  };
}

function containerExitDiagnosis(task: StoppedTaskFact): RolloutDiagnosis {
  const container = task.containers.find((each) => each.name === CONTAINER_NAME) ?? task.containers.find((each) => each.exitCode !== undefined && each.exitCode !== 0) ?? task.containers[0];
  const outOfMemory = task.containers.some((each) => /OutOfMemory/i.test(each.reason ?? ''));
  const code = container?.exitCode;
  return {
    cause: 'container-exit',
    summary: outOfMemory
      ? `the app ran out of memory and was killed${code === undefined ? '' : ` (exit code ${code})`} (OutOfMemoryError)`
      : `the app exited${code === undefined ? '' : ` with code ${code}`} (Essential container in task exited)`,
    hint:
      `The app stopped by itself: read its last log lines above, or run \`authecs logs --task ${task.taskId}\`. ` +
      (outOfMemory
        ? 'Give the container more memory, or make the app use less.'
        : 'Common causes: a missing --env variable or --secret, a wrong command or port, a crash while starting; exit code 137 means it was killed (often for memory).'),
  };
}

/** Picks the likely cause from the facts, most specific first. */
export function diagnose(facts: RolloutFacts): RolloutDiagnosis {
  const { stoppedTasks: tasks } = facts;
  const textOf = (task: StoppedTaskFact) => reasonsOf(task).join('\n');
  const withSecrets = tasks.find((task) => secretReason(textOf(task)));
  if (withSecrets) {
    return {
      cause: 'secrets',
      summary: `ECS could not read the app's secrets before starting it (${/ResourceInitializationError/i.test(textOf(withSecrets)) ? 'ResourceInitializationError' : 'secret fetch failed'})`,
      hint:
        'Check that each --secret ARN exists in this account and region, that the task execution role may read it ' +
        '(ssm:GetParameters, secretsmanager:GetSecretValue, and kms:Decrypt for a customer managed key), and that tasks in ' +
        'private subnets reach SSM or Secrets Manager (a NAT gateway or VPC endpoints).',
    };
  }
  const pulling = tasks.find((task) => PULL_FAILURE.test(textOf(task)) || (/ResourceInitializationError/i.test(textOf(task)) && /registry auth/i.test(textOf(task))));
  if (pulling) return imagePullDiagnosis(textOf(pulling));
  const exited = tasks.find((task) => ESSENTIAL_EXIT.test(task.stoppedReason ?? '') || task.stopCode === 'EssentialContainerExited');
  if (exited) return containerExitDiagnosis(exited);
  const eventText = facts.events.map((event) => event.message).join('\n');
  const elbStopped = tasks.some((task) => ELB_HEALTH.test(task.stoppedReason ?? ''));
  const unhealthyTargets = facts.targets.some((target) => target.state === 'unhealthy' && target.reason && FAILING_TARGET_REASONS.includes(target.reason));
  if (elbStopped || unhealthyTargets || ELB_HEALTH.test(eventText)) return healthCheckDiagnosis(facts, `${tasks.map(textOf).join('\n')}\n${eventText}`);
  if (PLACEMENT.test(eventText)) {
    return {
      cause: 'placement',
      summary: 'ECS could not place the tasks: no container instance met their requirements',
      hint: 'Under EC2 each task needs an instance with a free host port and enough memory and CPU: raise --instance-count or the instance type, or lower --desired-count (the service events above say which requirement failed).',
    };
  }
  const stuck = facts.outcome === 'timed-out';
  return {
    cause: 'unknown',
    summary: stuck ? 'no task failed and no target reported a failure' : 'no known cause was found in the facts below',
    hint: stuck
      ? 'Read the facts above. If the rollout is only slow, run `authecs up` again to keep waiting, or raise --wait-timeout.'
      : `Read the stopped reasons and service events above; \`aws ecs describe-services --cluster ${facts.cluster} --services ${facts.service}\` shows more.`,
  };
}

export function rolloutMessage(explanation: RolloutExplanation): string {
  const subject = `The rollout of service ${explanation.service}`;
  switch (explanation.outcome) {
    case 'failed':
      return `${subject} failed: ${explanation.summary}`;
    case 'rolled-back':
      return `${subject} was rolled back to ${shortTaskDefinition(explanation.rolledBackTo)}: ${explanation.summary}`;
    case 'timed-out': {
      const minutes = explanation.timeoutSeconds === undefined ? undefined : Math.round((explanation.timeoutSeconds / 60) * 10) / 10;
      return `${subject} did not finish${minutes === undefined ? ' in time' : ` within ${minutes} min`}: ${explanation.summary}`;
    }
  }
}

function clock(at: string | undefined): string {
  return at ? at.slice(11, 19) : '--:--:--';
}

/** The explanation as indented lines for people: one block between the error and its hint. */
export function formatExplanation(explanation: RolloutExplanation): string[] {
  const lines: string[] = [];
  if (explanation.rolloutStateReason) lines.push(`  rollout: ${explanation.rolloutState ?? '?'} — ${explanation.rolloutStateReason}`);
  if (explanation.stoppedTasks.length === 0) lines.push('  stopped tasks: none');
  else {
    lines.push('  stopped tasks:');
    for (const task of explanation.stoppedTasks) {
      lines.push(`    ${task.taskId} ${task.lastStatus ?? 'STOPPED'}${task.stopCode ? ` (${task.stopCode})` : ''}: ${task.stoppedReason ?? 'no reason given'}`);
      for (const container of task.containers) {
        const parts = [container.exitCode === undefined ? undefined : `exit code ${container.exitCode}`, container.reason && container.reason !== task.stoppedReason ? container.reason : undefined].filter(Boolean);
        if (parts.length > 0) lines.push(`      container ${container.name}: ${parts.join(', ')}`);
      }
    }
  }
  if (explanation.targets) {
    if (explanation.targets.length === 0) lines.push('  targets: none registered');
    else {
      lines.push('  targets:');
      for (const target of explanation.targets) {
        const reason = [target.reason, target.description].filter(Boolean).join(' — ');
        lines.push(`    ${target.id}${target.port === undefined ? '' : `:${target.port}`} ${target.state}${reason ? ` ${reason}` : ''}`);
      }
    }
  }
  if (explanation.logs) {
    const { logs } = explanation;
    if (logs.lines.length === 0) lines.push(`  last log lines of task ${logs.taskId}: ${logs.note ?? 'no log lines'} (${logs.logGroupName} ${logs.logStreamName})`);
    else {
      lines.push(`  last log lines of task ${logs.taskId} (${logs.logGroupName} ${logs.logStreamName}):`);
      for (const line of logs.lines) lines.push(`    ${line}`);
    }
  }
  if (explanation.events.length > 0) {
    lines.push('  service events:');
    for (const event of explanation.events) lines.push(`    ${clock(event.at)} ${event.message}`);
  }
  for (const missing of explanation.unavailable) lines.push(`  not read: ${missing}`);
  return lines;
}
