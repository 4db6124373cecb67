import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient, ListTasksCommand, type Deployment, type Service, type Task } from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, type TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { PassThrough } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { Reporter } from '../../src/report/reporter.js';
import {
  explainRollout,
  LOG_STREAM_PREFIX,
  RolloutFailedError,
  taskLogStreamName,
  watchRollout,
  type ExplainRolloutOptions,
  type RolloutContext,
  type RolloutExplanation,
} from '../../src/steps/shared/rollout.js';
import type { WaitReport } from '../../src/steps/shared/poll.js';
import { taskDefinitionStep } from '../../src/steps/task-definition.js';
import { articleConfig, SAMPLE_OUTPUTS } from '../support/step-harness.js';
import { stepHarness } from '../support/step-harness.js';

const ecs = mockClient(ECSClient);
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const logs = mockClient(CloudWatchLogsClient);

const CLUSTER = 'ecsauth';
const SERVICE = 'ecsauthservice';
const SERVICE_ARN = 'arn:aws:ecs:eu-west-1:123456789012:service/ecsauth/ecsauthservice';
const OLD_TD = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/ecsauthservice:1';
const NEW_TD = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/ecsauthservice:2';
const TARGET_GROUP = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ecsauth-tg/73e2d6bc24d8a067';
const LOG_GROUP = '/authecs/ecsauth';
const NEW_DEPLOYMENT = 'ecs-svc/2222222222222222222';
const OLD_DEPLOYMENT = 'ecs-svc/1111111111111111111';
const STARTED = new Date('2025-01-01T12:00:00Z');
const TASK_A = '3f2a9c1e5b7d4e0f8a6b2c4d6e8f0a1b';
const TASK_B = '7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f';
const TASK_OLD = '0000aaaa1111bbbb2222cccc3333dddd';
const taskArn = (id: string) => `arn:aws:ecs:eu-west-1:123456789012:task/ecsauth/${id}`;
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });

function deployment(overrides: Partial<Deployment> = {}): Deployment {
  return { id: NEW_DEPLOYMENT, status: 'PRIMARY', taskDefinition: NEW_TD, desiredCount: 2, runningCount: 2, rolloutState: 'COMPLETED', createdAt: STARTED, ...overrides };
}

function service(deployments: Deployment[], overrides: Partial<Service> = {}): Service {
  return {
    serviceName: SERVICE,
    serviceArn: SERVICE_ARN,
    status: 'ACTIVE',
    desiredCount: 2,
    runningCount: deployments.reduce((sum, each) => sum + (each.runningCount ?? 0), 0),
    taskDefinition: deployments.find((each) => each.status === 'PRIMARY')?.taskDefinition ?? NEW_TD,
    deployments,
    events: [],
    ...overrides,
  };
}

const rollingOut = (newRunning: number, oldRunning: number) =>
  service([
    deployment({ runningCount: newRunning, rolloutState: 'IN_PROGRESS' }),
    deployment({ id: OLD_DEPLOYMENT, status: 'ACTIVE', taskDefinition: OLD_TD, runningCount: oldRunning, createdAt: new Date('2024-12-31T09:00:00Z') }),
  ]);
const settled = () => service([deployment()]);

function stoppedTask(id: string, overrides: Partial<Task> = {}): Task {
  return {
    taskArn: taskArn(id),
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    startedBy: NEW_DEPLOYMENT,
    taskDefinitionArn: NEW_TD,
    stoppedAt: new Date('2025-01-01T12:02:00Z'),
    containers: [{ name: 'web', lastStatus: 'STOPPED' }],
    ...overrides,
  };
}

const target = (id: string, state: string, reason?: string, description?: string): TargetHealthDescription => ({
  Target: { Id: id, Port: 80 },
  TargetHealth: { State: state as never, ...(reason ? { Reason: reason as never } : {}), ...(description ? { Description: description } : {}) },
});

function fakeContext(): { context: RolloutContext; progress: string[]; sleeps: number[]; waits: WaitReport[] } {
  let clock = STARTED.getTime();
  const progress: string[] = [];
  const sleeps: number[] = [];
  const waits: WaitReport[] = [];
  const region = 'eu-west-1';
  return {
    progress,
    sleeps,
    waits,
    context: {
      clients: { ecs: new ECSClient({ region }), elbv2: new ElasticLoadBalancingV2Client({ region }), logs: new CloudWatchLogsClient({ region }) },
      // A fake clock: every sleep advances it at once.
      sleep: async (seconds) => {
        sleeps.push(seconds);
        clock += seconds * 1000;
      },
      now: () => clock,
      pollSeconds: (seconds) => seconds,
      progress: (message) => progress.push(message),
      waits: (wait) => waits.push(wait),
    },
  };
}

const THIS_ROLLOUT = { cluster: CLUSTER, service: SERVICE, targetGroupArn: TARGET_GROUP, logGroupName: LOG_GROUP };

function explain(context: RolloutContext, overrides: Partial<ExplainRolloutOptions> = {}): Promise<RolloutExplanation> {
  return explainRollout(context, { ...THIS_ROLLOUT, outcome: 'failed', deploymentId: NEW_DEPLOYMENT, taskDefinitionArn: NEW_TD, described: rollingOut(0, 2), ...overrides });
}

/** What --json prints for the error, and what people read. */
function asReported(explanation: RolloutExplanation) {
  const error = new RolloutFailedError(explanation);
  return { error, json: JSON.parse(JSON.stringify(error.details)) as RolloutExplanation, text: [error.message, ...error.detailLines(), error.hint].join('\n') };
}

beforeEach(() => {
  ecs.reset();
  elbv2.reset();
  logs.reset();
  elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });
  ecs.on(ListTasksCommand).resolves({ taskArns: [] });
  logs.on(GetLogEventsCommand).rejects(codeError('ResourceNotFoundException', 'The specified log stream does not exist.'));
});

describe('explainRollout: why a rollout did not settle', () => {
  it('the stream name matches the task definition\'s awslogs-stream-prefix: authecs/web/<task id>', () => {
    const want = taskDefinitionStep.desired(articleConfig(), { 'log-group': SAMPLE_OUTPUTS['log-group'] });
    expect(want.container.logConfiguration.options['awslogs-stream-prefix']).toBe(LOG_STREAM_PREFIX);
    expect(`${LOG_STREAM_PREFIX}/${want.container.name}/${TASK_A}`).toBe(taskLogStreamName(TASK_A));
    expect(taskLogStreamName(TASK_A)).toBe(`authecs/web/${TASK_A}`);
  });

  it('image pull failure: CannotPullContainerError, the image name first in the hint, no log lines for a container that never started', async () => {
    const { context } = fakeContext();
    const reason = 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/ngnix:1.27: docker.io/library/ngnix:1.27: not found';
    ecs.on(ListTasksCommand).resolves({ taskArns: [taskArn(TASK_OLD), taskArn(TASK_A)] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        stoppedTask(TASK_OLD, { startedBy: OLD_DEPLOYMENT, taskDefinitionArn: OLD_TD, stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/1111111111111111111)', stopCode: 'ServiceSchedulerInitiated' }),
        stoppedTask(TASK_A, { stopCode: 'TaskFailedToStart', stoppedReason: reason, containers: [{ name: 'web', lastStatus: 'STOPPED', reason }] }),
      ],
    });

    const explanation = await explain(context);

    expect(ecs.commandCalls(ListTasksCommand)[0]!.args[0].input).toEqual({ cluster: CLUSTER, serviceName: SERVICE, desiredStatus: 'STOPPED', maxResults: 100 });
    expect(ecs.commandCalls(DescribeTasksCommand)[0]!.args[0].input).toEqual({ cluster: CLUSTER, tasks: [taskArn(TASK_OLD), taskArn(TASK_A)] });
    expect(explanation).toMatchObject({
      cause: 'image-pull',
      summary: 'the container image could not be pulled: the image or its tag does not exist (CannotPullContainerError)',
      hint: expect.stringMatching(/^Check that the image name and tag exist exactly as given to --image;.*ecr:BatchGetImage.*NAT gateway/),
    });
    // Only the tasks of this rollout.
    expect(explanation.stoppedTasks.map((task) => task.taskId)).toEqual([TASK_A]);
    expect(explanation.stoppedTasks[0]).toMatchObject({ stopCode: 'TaskFailedToStart', stoppedReason: reason });
    expect(logs.commandCalls(GetLogEventsCommand)[0]!.args[0].input).toEqual({ logGroupName: LOG_GROUP, logStreamName: `authecs/web/${TASK_A}`, startFromHead: false, limit: 20 });
    expect(explanation.logs).toMatchObject({ taskId: TASK_A, lines: [], note: expect.stringContaining('no log lines') });

    const { error, json, text } = asReported(explanation);
    expect(error).toMatchObject({ code: 'ROLLOUT_FAILED', exit: 'rolloutFailed', exitCode: 14 });
    expect(json).toEqual(explanation);
    expect(json.stoppedTasks[0]!.stoppedReason).toBe(reason);
    expect(text).toContain(`The rollout of service ecsauthservice failed: the container image could not be pulled`);
    expect(text).toContain(`    ${TASK_A} STOPPED (TaskFailedToStart): ${reason}`);
    expect(text).toContain(`last log lines of task ${TASK_A}: no log lines: The specified log stream does not exist.`);
  });

  it('image pull failure through ECR registry auth that times out: the network advice comes first', async () => {
    const { context } = fakeContext();
    const reason =
      'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post "https://api.ecr.eu-west-1.amazonaws.com/": dial tcp 52.95.1.1:443: i/o timeout';
    ecs.on(ListTasksCommand).resolves({ taskArns: [taskArn(TASK_A)] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(TASK_A, { stopCode: 'TaskFailedToStart', stoppedReason: reason })] });

    const explanation = await explain(context);

    expect(explanation.cause).toBe('image-pull');
    expect(explanation.summary).toBe('the container image could not be pulled: the registry could not be reached (ResourceInitializationError)');
    expect(explanation.hint).toMatch(/^Check that tasks in private subnets reach the registry: a NAT gateway/);
  });

  it('failing health check: the target reason code, the health-check flags with their values, and exactly the last 20 log lines', async () => {
    const { context } = fakeContext();
    const reason = `Task failed ELB health checks in (target-group ${TARGET_GROUP})`;
    ecs.on(ListTasksCommand).resolves({ taskArns: [taskArn(TASK_A), taskArn(TASK_B)] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        stoppedTask(TASK_B, { stoppedAt: new Date('2025-01-01T12:01:00Z'), stopCode: 'ServiceSchedulerInitiated', stoppedReason: reason, containers: [{ name: 'web', exitCode: 143 }] }),
        stoppedTask(TASK_A, { stoppedAt: new Date('2025-01-01T12:03:00Z'), stopCode: 'ServiceSchedulerInitiated', stoppedReason: reason, containers: [{ name: 'web', exitCode: 143 }] }),
      ],
    });
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        target('i-0123456789abcdef0', 'unhealthy', 'Target.ResponseCodeMismatch', 'Health checks failed with these codes: [404]'),
        target('i-0123456789abcdef1', 'draining', 'Target.DeregistrationInProgress', 'Target deregistration is in progress'),
      ],
    });
    const logLines = Array.from({ length: 25 }, (_, index) => `GET /healthz 404 line ${index + 1}`);
    logs.on(GetLogEventsCommand).resolves({ events: logLines.map((message, index) => ({ timestamp: STARTED.getTime() + index, message: `${message}\n` })) });
    const described = rollingOut(0, 2);
    described.events = [
      { id: 'e3', createdAt: new Date('2025-01-01T12:03:05Z'), message: `(service ecsauthservice) (task ${TASK_A}) (port 80) is unhealthy in (target-group ${TARGET_GROUP}) due to (reason Health checks failed with these codes: [404]).` },
      { id: 'e2', createdAt: new Date('2025-01-01T12:01:02Z'), message: `(service ecsauthservice) has started 1 tasks: (task ${TASK_A}).` },
      { id: 'e1', createdAt: new Date('2024-12-31T09:00:00Z'), message: '(service ecsauthservice) has reached a steady state.' },
    ];

    const explanation = await explain(context, { described, healthCheck: { path: '/healthz', matcher: '200', gracePeriodSeconds: 60, containerPort: 8080 } });

    expect(explanation.cause).toBe('health-check');
    expect(explanation.summary).toBe("the app fails the load balancer's health checks (Target.ResponseCodeMismatch: Health checks failed with these codes: [404])");
    expect(explanation.hint).toContain('GET /healthz on container port 8080 must answer 200');
    for (const flag of ['--health-check-path', '--health-check-matcher', '--health-check-grace-period (now 60s)', '--container-port']) expect(explanation.hint).toContain(flag);
    expect(explanation.targets).toEqual([
      { id: 'i-0123456789abcdef0', port: 80, state: 'unhealthy', reason: 'Target.ResponseCodeMismatch', description: 'Health checks failed with these codes: [404]' },
      { id: 'i-0123456789abcdef1', port: 80, state: 'draining', reason: 'Target.DeregistrationInProgress', description: 'Target deregistration is in progress' },
    ]);
    expect(elbv2.commandCalls(DescribeTargetHealthCommand)[0]!.args[0].input).toEqual({ TargetGroupArn: TARGET_GROUP });
    // Newest task first; its log stream; the last 20 lines, without their newlines.
    expect(explanation.stoppedTasks.map((task) => task.taskId)).toEqual([TASK_A, TASK_B]);
    expect(explanation.stoppedTasks[0]!.stoppedReason).toBe(reason);
    expect(logs.commandCalls(GetLogEventsCommand)).toHaveLength(1);
    expect(logs.commandCalls(GetLogEventsCommand)[0]!.args[0].input).toEqual({ logGroupName: LOG_GROUP, logStreamName: `authecs/web/${TASK_A}`, startFromHead: false, limit: 20 });
    expect(explanation.logs!.lines).toEqual(logLines.slice(5));
    // Events of this rollout only, newest first.
    expect(explanation.events.map((event) => event.at)).toEqual(['2025-01-01T12:03:05.000Z', '2025-01-01T12:01:02.000Z']);

    const { json, text } = asReported(explanation);
    expect(json.targets![0]!.reason).toBe('Target.ResponseCodeMismatch');
    expect(json.logs!.lines).toHaveLength(20);
    expect(text).toContain('    i-0123456789abcdef0:80 unhealthy Target.ResponseCodeMismatch — Health checks failed with these codes: [404]');
    expect(text).toContain(`  last log lines of task ${TASK_A} (${LOG_GROUP} authecs/web/${TASK_A}):\n    GET /healthz 404 line 6\n`);
    expect(text).not.toContain('line 5\n');
    expect(text).toContain(`    12:01:02 (service ecsauthservice) has started 1 tasks: (task ${TASK_A}).`);
  });

  it('essential container exiting: the exit code, the log lines, `authecs logs --task`, and never the environment values of the task', async () => {
    const { context } = fakeContext();
    ecs.on(ListTasksCommand).resolves({ taskArns: [taskArn(TASK_A)] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        stoppedTask(TASK_A, {
          stopCode: 'EssentialContainerExited',
          stoppedReason: 'Essential container in task exited',
          containers: [{ name: 'web', lastStatus: 'STOPPED', exitCode: 1 }],
          overrides: { containerOverrides: [{ name: 'web', environment: [{ name: 'DB_PASSWORD', value: 'hunter2-secret-value' }] }] },
        }),
      ],
    });
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: 'starting app' }, { message: 'Error: DATABASE_URL is not set' }, { message: 'exiting with status 1' }] });

    const explanation = await explain(context);

    expect(explanation).toMatchObject({
      cause: 'container-exit',
      summary: 'the app exited with code 1 (Essential container in task exited)',
      hint: expect.stringContaining(`\`authecs logs --task ${TASK_A}\``),
    });
    expect(explanation.stoppedTasks[0]).toMatchObject({ stoppedReason: 'Essential container in task exited', stopCode: 'EssentialContainerExited', containers: [{ name: 'web', exitCode: 1 }] });
    expect(explanation.logs!.lines).toEqual(['starting app', 'Error: DATABASE_URL is not set', 'exiting with status 1']);
    expect(logs.commandCalls(GetLogEventsCommand)[0]!.args[0].input.logStreamName).toBe(`authecs/web/${TASK_A}`);

    const { json, text } = asReported(explanation);
    expect(json.stoppedTasks[0]!.containers).toEqual([{ name: 'web', exitCode: 1 }]);
    expect(text).toContain('      container web: exit code 1');
    expect(text).toContain('    Error: DATABASE_URL is not set');
    expect(JSON.stringify(json)).not.toContain('hunter2');
    expect(text).not.toContain('hunter2');
  });

  it('secrets that could not be read: ResourceInitializationError with AccessDeniedException on ssm', async () => {
    const { context } = fakeContext();
    const reason =
      'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ecsauth-eu-west-1-ecs-execution/abc is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:eu-west-1:123456789012:parameter/db-password';
    ecs.on(ListTasksCommand).resolves({ taskArns: [taskArn(TASK_A)] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(TASK_A, { stopCode: 'TaskFailedToStart', stoppedReason: reason })] });
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });

    const explanation = await explain(context);

    expect(explanation).toMatchObject({
      cause: 'secrets',
      summary: "ECS could not read the app's secrets before starting it (ResourceInitializationError)",
      hint: expect.stringMatching(/--secret ARN.*ssm:GetParameters.*secretsmanager:GetSecretValue.*kms:Decrypt/),
      targets: [],
    });
    expect(explanation.stoppedTasks[0]!.stoppedReason).toBe(reason);
    expect(explanation.logs).toMatchObject({ lines: [], logStreamName: `authecs/web/${TASK_A}` });
    const { json, text } = asReported(explanation);
    expect(json.cause).toBe('secrets');
    expect(text).toContain('  targets: none registered');
  });

  it('a fact it cannot read is named, not thrown: access denied on the log lines', async () => {
    const { context } = fakeContext();
    ecs.on(ListTasksCommand).resolves({ taskArns: [taskArn(TASK_A)] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(TASK_A, { stoppedReason: 'Essential container in task exited', containers: [{ name: 'web', exitCode: 2 }] })] });
    logs.on(GetLogEventsCommand).rejects(codeError('AccessDeniedException', 'not authorized to perform: logs:GetLogEvents'));

    const explanation = await explain(context);

    expect(explanation.cause).toBe('container-exit');
    expect(explanation.logs).toBeUndefined();
    expect(explanation.unavailable).toEqual(['log lines: AccessDeniedException: not authorized to perform: logs:GetLogEvents']);
    expect(asReported(explanation).text).toContain('  not read: log lines: AccessDeniedException');
  });

  it('tasks that cannot be placed (service events) under EC2', async () => {
    const { context } = fakeContext();
    const described = rollingOut(0, 2);
    described.events = [{ id: 'e1', createdAt: new Date('2025-01-01T12:00:30Z'), message: '(service ecsauthservice) was unable to place a task because no container instance met all of its requirements.' }];

    const explanation = await explain(context, { described, outcome: 'timed-out', timeoutSeconds: 600 });

    expect(explanation).toMatchObject({ cause: 'placement', hint: expect.stringContaining('--instance-count') });
    expect(asReported(explanation).error.code).toBe('ROLLOUT_TIMED_OUT');
  });
});

describe('watchRollout', () => {
  it('polls every 5 s (ECS schedule) until the new deployment is COMPLETED and the service stable, reporting running, healthy and draining', async () => {
    const { context, sleeps, waits } = fakeContext();
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [rollingOut(0, 2)] })
      .resolvesOnce({ services: [rollingOut(1, 1)] })
      .resolvesOnce({ services: [service([deployment({ rolloutState: 'IN_PROGRESS' })])] })
      .resolves({ services: [settled()] });
    elbv2
      .on(DescribeTargetHealthCommand)
      .resolvesOnce({ TargetHealthDescriptions: [target('i-1', 'healthy'), target('i-2', 'healthy'), target('i-3', 'initial', 'Elb.RegistrationInProgress')] })
      .resolvesOnce({ TargetHealthDescriptions: [target('i-1', 'healthy'), target('i-3', 'healthy'), target('i-2', 'draining', 'Target.DeregistrationInProgress')] })
      .resolves({ TargetHealthDescriptions: [target('i-3', 'healthy'), target('i-4', 'healthy')] });
    const lines: string[] = [];

    const result = await watchRollout(context, { ...THIS_ROLLOUT, taskDefinitionArn: NEW_TD, desiredCount: 2, timeoutSeconds: 600, onProgress: (line) => lines.push(line) });

    expect(result).toEqual({ deploymentId: NEW_DEPLOYMENT, taskDefinitionArn: NEW_TD, runningCount: 2, elapsedSeconds: 15 });
    expect(lines).toEqual(['rollout: 0/2 running, 2 healthy, 0 draining', 'rollout: 1/2 running, 2 healthy, 1 draining', 'rollout: 2/2 running, 2 healthy, 0 draining']);
    expect(sleeps).toEqual([5, 5, 5]);
    // One wait report: 4 checks (DescribeServices, each with DescribeTargetHealth) in 15 s.
    expect(waits).toEqual([{ description: 'service ecsauthservice to finish its rollout', calls: 4, elapsedMs: 15_000, outcome: 'done' }]);
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(4);
    expect(ecs.commandCalls(DescribeServicesCommand)[0]!.args[0].input).toEqual({ cluster: CLUSTER, services: [SERVICE] });
    expect(ecs.commandCalls(ListTasksCommand)).toHaveLength(0);
  });

  it('takes the service\'s task definition when none is given, and counts a deployment without rolloutState as done once stable (moto)', async () => {
    const { context, progress } = fakeContext();
    // moto keeps the first deployment's taskDefinition after UpdateService and may leave rolloutState out.
    const motoService = (running: number) =>
      service([deployment({ rolloutState: undefined, taskDefinition: OLD_TD, runningCount: running })], { taskDefinition: NEW_TD, runningCount: running });
    ecs.on(DescribeServicesCommand).resolvesOnce({ services: [motoService(1)] }).resolves({ services: [motoService(2)] });

    const result = await watchRollout(context, { cluster: CLUSTER, service: SERVICE, desiredCount: 2, timeoutSeconds: 600 });

    expect(result).toMatchObject({ taskDefinitionArn: NEW_TD, runningCount: 2 });
    expect(progress).toEqual(['rollout: 1/2 running', 'rollout: 2/2 running']);
    expect(elbv2.commandCalls(DescribeTargetHealthCommand)).toHaveLength(0);
  });

  it('fails with ROLLOUT_FAILED when the circuit breaker marks the deployment FAILED, explaining why', async () => {
    const { context } = fakeContext();
    const breaker = 'ECS deployment circuit breaker: tasks failed to start.';
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [rollingOut(0, 2)] })
      .resolves({ services: [service([deployment({ rolloutState: 'FAILED', rolloutStateReason: breaker, runningCount: 0 }), deployment({ id: OLD_DEPLOYMENT, status: 'ACTIVE', taskDefinition: OLD_TD })])] });
    ecs.on(ListTasksCommand).resolves({ taskArns: [taskArn(TASK_A)] });
    const reason = 'CannotPullContainerError: pull access denied for private/app, repository does not exist or may require \'docker login\'';
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(TASK_A, { stopCode: 'TaskFailedToStart', stoppedReason: reason })] });

    const failure = await watchRollout(context, { ...THIS_ROLLOUT, taskDefinitionArn: NEW_TD, desiredCount: 2, timeoutSeconds: 600 }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(RolloutFailedError);
    const error = failure as RolloutFailedError;
    expect(error).toMatchObject({ code: 'ROLLOUT_FAILED', exitCode: EXIT_CODES.rolloutFailed, hint: error.explanation.hint });
    expect(error.message).toMatch(/^The rollout of service ecsauthservice failed: the container image could not be pulled/);
    expect(error.details).toMatchObject({ outcome: 'failed', rolloutState: 'FAILED', rolloutStateReason: breaker, deploymentId: NEW_DEPLOYMENT, cause: 'image-pull' });
    expect(error.detailLines()[0]).toBe(`  rollout: FAILED — ${breaker}`);
  });

  it('detects a rollback to the older task definition: ROLLOUT_ROLLED_BACK, with the failed deployment\'s tasks only', async () => {
    const { context } = fakeContext();
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [rollingOut(1, 1)] })
      .resolves({
        services: [
          service(
            [
              deployment({ id: 'ecs-svc/3333333333333333333', taskDefinition: OLD_TD, rolloutState: 'IN_PROGRESS', runningCount: 1 }),
              deployment({ status: 'ACTIVE', rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', runningCount: 0 }),
            ],
            { taskDefinition: OLD_TD },
          ),
        ],
      });
    ecs.on(ListTasksCommand).resolves({ taskArns: [taskArn(TASK_A), taskArn(TASK_OLD)] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        stoppedTask(TASK_A, { stoppedReason: 'Essential container in task exited', stopCode: 'EssentialContainerExited', containers: [{ name: 'web', exitCode: 3 }] }),
        stoppedTask(TASK_OLD, { startedBy: OLD_DEPLOYMENT, taskDefinitionArn: OLD_TD, stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/3333333333333333333)' }),
      ],
    });
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: 'panic: port already in use' }] });

    const error = (await watchRollout(context, { ...THIS_ROLLOUT, taskDefinitionArn: NEW_TD, desiredCount: 2, timeoutSeconds: 600 }).catch((caught: unknown) => caught)) as RolloutFailedError;

    expect(error).toBeInstanceOf(RolloutFailedError);
    expect(error.code).toBe('ROLLOUT_ROLLED_BACK');
    expect(error.message).toBe('The rollout of service ecsauthservice was rolled back to ecsauthservice:1: the app exited with code 3 (Essential container in task exited)');
    expect(error.explanation).toMatchObject({ outcome: 'rolled-back', rolledBackTo: OLD_TD, taskDefinitionArn: NEW_TD, rolloutState: 'FAILED' });
    expect(error.explanation.stoppedTasks.map((task) => task.taskId)).toEqual([TASK_A]);
    expect(error.explanation.logs!.lines).toEqual(['panic: port already in use']);
  });

  it('also calls it a rollback when the PRIMARY deployment and the service run another task definition and ours is gone', async () => {
    const { context } = fakeContext();
    ecs.on(DescribeServicesCommand).resolves({ services: [service([deployment({ id: OLD_DEPLOYMENT, taskDefinition: OLD_TD })])] });

    const error = (await watchRollout(context, { cluster: CLUSTER, service: SERVICE, taskDefinitionArn: NEW_TD, desiredCount: 2, timeoutSeconds: 600 }).catch((caught: unknown) => caught)) as RolloutFailedError;

    expect(error.code).toBe('ROLLOUT_ROLLED_BACK');
    expect(error.explanation.rolledBackTo).toBe(OLD_TD);
  });

  it('a FAILED deployment whose PRIMARY went back is a rollback even before the service shows the old task definition', async () => {
    const { context } = fakeContext();
    ecs.on(DescribeServicesCommand).resolves({
      services: [
        service(
          [
            deployment({ id: 'ecs-svc/3333333333333333333', taskDefinition: OLD_TD, rolloutState: 'IN_PROGRESS', runningCount: 0 }),
            deployment({ status: 'ACTIVE', rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', runningCount: 0 }),
          ],
          { taskDefinition: NEW_TD },
        ),
      ],
    });

    const error = (await watchRollout(context, { cluster: CLUSTER, service: SERVICE, taskDefinitionArn: NEW_TD, desiredCount: 2, timeoutSeconds: 600 }).catch((caught: unknown) => caught)) as RolloutFailedError;

    expect(error.code).toBe('ROLLOUT_ROLLED_BACK');
    expect(error.explanation).toMatchObject({ deploymentId: NEW_DEPLOYMENT, rolloutState: 'FAILED', cause: 'unknown' });
  });

  it('times out with ROLLOUT_TIMED_OUT (exit 14) and an unknown cause, after polling every 5 s for 2 minutes, then every 15 s, on the fake clock', async () => {
    const { context, sleeps, waits } = fakeContext();
    ecs.on(DescribeServicesCommand).resolves({ services: [rollingOut(1, 1)] });
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [target('i-1', 'healthy'), target('i-3', 'initial', 'Elb.InitialHealthChecking', 'Initial health checks in progress')] });
    const lines: string[] = [];

    const error = (await watchRollout(context, { ...THIS_ROLLOUT, taskDefinitionArn: NEW_TD, desiredCount: 2, timeoutSeconds: 180, onProgress: (line) => lines.push(line) }).catch(
      (caught: unknown) => caught,
    )) as RolloutFailedError;

    expect(error).toBeInstanceOf(RolloutFailedError);
    expect(error).toMatchObject({ code: 'ROLLOUT_TIMED_OUT', exit: 'rolloutFailed', exitCode: 14 });
    expect(error.message).toBe('The rollout of service ecsauthservice did not finish within 3 min: no task failed and no target reported a failure');
    expect(error.explanation).toMatchObject({ outcome: 'timed-out', cause: 'unknown', timeoutSeconds: 180, stoppedTasks: [], hint: expect.stringContaining('--wait-timeout') });
    expect(error.explanation.targets).toContainEqual({ id: 'i-3', port: 80, state: 'initial', reason: 'Elb.InitialHealthChecking', description: 'Initial health checks in progress' });
    // Polls at 0, 5, ... 115 s, then 120, 135, 150, 165, 180 s; the wait ends when the next would pass the timeout.
    expect(sleeps).toEqual([...Array(24).fill(5), ...Array(4).fill(15)]);
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(29);
    expect(waits).toEqual([{ description: 'service ecsauthservice to finish its rollout', calls: 29, elapsedMs: 180_000, outcome: 'timed-out' }]);
    // The same line is repeated once a minute while nothing changes: at 0, 60, 120 and 180 s.
    expect(lines).toEqual(Array(4).fill('rollout: 1/2 running, 1 healthy, 0 draining'));
    expect(logs.commandCalls(GetLogEventsCommand)).toHaveLength(0);
    expect(error.detailLines()).toContain('  stopped tasks: none');
  });

  it('runs on a StepContext: the service step can pass its own', async () => {
    const harness = stepHarness({ name: 'service', dependsOn: [] });
    try {
      ecs.on(DescribeServicesCommand).resolvesOnce({ services: [rollingOut(1, 1)] }).resolves({ services: [settled()] });

      const result = await watchRollout(harness.context, { cluster: CLUSTER, service: SERVICE, taskDefinitionArn: NEW_TD, desiredCount: 2, timeoutSeconds: 600 });

      expect(result.runningCount).toBe(2);
      expect(harness.progress).toEqual(['rollout: 1/2 running', 'rollout: 2/2 running']);
      // The engine's sink turns the wait into a `wait` event for --json.
      expect(harness.reporter.events.filter((event) => event.type === 'wait')).toEqual([
        { type: 'wait', step: 'service', description: 'service ecsauthservice to finish its rollout', calls: 2, elapsedMs: 5_000, outcome: 'done' },
      ]);
    } finally {
      harness.cleanup();
    }
  });

  it('stops at once when the service is gone', async () => {
    const { context } = fakeContext();
    ecs.on(DescribeServicesCommand).resolves({ services: [], failures: [{ arn: SERVICE_ARN, reason: 'MISSING' }] });

    await expect(watchRollout(context, { cluster: CLUSTER, service: SERVICE, desiredCount: 2, timeoutSeconds: 600 })).rejects.toMatchObject({ code: 'SERVICE_GONE' });
  });
});

describe('the reporter shows a failed rollout', () => {
  const explanation: RolloutExplanation = {
    outcome: 'failed',
    cluster: CLUSTER,
    service: SERVICE,
    deploymentId: NEW_DEPLOYMENT,
    taskDefinitionArn: NEW_TD,
    rolloutState: 'FAILED',
    rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
    cause: 'image-pull',
    summary: 'the container image could not be pulled: the image or its tag does not exist (CannotPullContainerError)',
    hint: 'Check that the image name and tag exist exactly as given to --image.',
    stoppedTasks: [
      {
        taskId: TASK_A,
        taskArn: taskArn(TASK_A),
        lastStatus: 'STOPPED',
        stopCode: 'TaskFailedToStart',
        stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s): not found',
        containers: [{ name: 'web' }],
      },
    ],
    targets: [{ id: '10.0.1.23', port: 80, state: 'unhealthy', reason: 'Target.FailedHealthChecks', description: 'Health checks failed' }],
    logs: { taskId: TASK_A, logGroupName: LOG_GROUP, logStreamName: `authecs/web/${TASK_A}`, lines: [], note: 'no log lines: The specified log stream does not exist.' },
    events: [{ at: '2025-01-01T12:01:02.000Z', message: `(service ecsauthservice) has started 1 tasks: (task ${TASK_A}).` }],
    unavailable: [],
  };

  function capture(json: boolean) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const err: string[] = [];
    stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
    return { reporter: new Reporter({ json, verbosity: 'normal', stdout, stderr }), err: () => err.join('') };
  }

  it('for people: one block between the error and its hint', () => {
    const { reporter, err } = capture(false);
    reporter.error(new RolloutFailedError(explanation));
    expect(err()).toBe(
      [
        'error: The rollout of service ecsauthservice failed: the container image could not be pulled: the image or its tag does not exist (CannotPullContainerError)',
        '  rollout: FAILED — ECS deployment circuit breaker: tasks failed to start.',
        '  stopped tasks:',
        `    ${TASK_A} STOPPED (TaskFailedToStart): CannotPullContainerError: pull image manifest has been retried 5 time(s): not found`,
        '  targets:',
        '    10.0.1.23:80 unhealthy Target.FailedHealthChecks — Health checks failed',
        `  last log lines of task ${TASK_A}: no log lines: The specified log stream does not exist. (${LOG_GROUP} authecs/web/${TASK_A})`,
        '  service events:',
        `    12:01:02 (service ecsauthservice) has started 1 tasks: (task ${TASK_A}).`,
        '  hint: Check that the image name and tag exist exactly as given to --image.',
        '',
      ].join('\n'),
    );
  });

  it('--json: the error event carries the same facts as details, and no text for people', () => {
    const { reporter, err } = capture(true);
    reporter.error(new RolloutFailedError(explanation));
    const event = JSON.parse(err().trim()) as Record<string, unknown>;
    expect(event).toMatchObject({ type: 'error', code: 'ROLLOUT_FAILED', exitCode: 14, hint: explanation.hint, resource: 'service ecsauth/ecsauthservice' });
    expect(event.details).toEqual(explanation);
    expect(event).not.toHaveProperty('detailLines');
  });
});
