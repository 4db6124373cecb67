import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  UpdateServiceCommand,
  type Deployment,
  type Service,
} from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../../src/errors.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { rollOutRevision, serviceClientToken, serviceStep } from '../../../src/steps/service.js';
import { RolloutFailedError } from '../../../src/steps/shared/rollout.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ecs = mockClient(ECSClient);
// watchRollout reads target health and, to explain a failure, the app's log lines.
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const logs = mockClient(CloudWatchLogsClient);
const SERVICE_ARN = SAMPLE_OUTPUTS.service.serviceArn;
const TASK_DEFINITION = SAMPLE_OUTPUTS['task-definition'].taskDefinitionArn;
const NEXT_TASK_DEFINITION = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/ecsauthservice:2';
const TARGET_GROUP = SAMPLE_OUTPUTS['target-group'].targetGroupArn;
const ourTags = [
  { key: 'authecs:stack', value: 'ecsauth' },
  { key: 'managed-by', value: 'authecs' },
];
const missing = { services: [], failures: [{ arn: SERVICE_ARN, reason: 'MISSING' }] };
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });
const output = { serviceName: 'ecsauthservice', serviceArn: SERVICE_ARN, clusterName: 'ecsauth' };
const DEPLOYMENT_CONFIGURATION = { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } };
const LOG_GROUP = SAMPLE_OUTPUTS['log-group'].logGroupName;
const TASK_ID = '3f2a9c1e5b7d4e0f8a6b2c4d6e8f0a1b';
const TASK_ARN = `arn:aws:ecs:eu-west-1:123456789012:task/ecsauth/${TASK_ID}`;

/** A service as DescribeServices returns it; one deployment of its task definition unless given. */
function service(overrides: Partial<Service> = {}): Service {
  const taskDefinition = overrides.taskDefinition ?? TASK_DEFINITION;
  const desiredCount = overrides.desiredCount ?? 2;
  const runningCount = overrides.runningCount ?? 2;
  return {
    serviceName: 'ecsauthservice',
    serviceArn: SERVICE_ARN,
    clusterArn: SAMPLE_OUTPUTS.cluster.clusterArn,
    status: 'ACTIVE',
    desiredCount,
    runningCount,
    pendingCount: 0,
    launchType: 'EC2',
    taskDefinition,
    loadBalancers: [{ targetGroupArn: TARGET_GROUP, containerName: 'web', containerPort: 80 }],
    healthCheckGracePeriodSeconds: 60,
    deploymentConfiguration: DEPLOYMENT_CONFIGURATION,
    deployments: [
      { id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition, desiredCount, runningCount, rolloutState: runningCount === desiredCount ? 'COMPLETED' : 'IN_PROGRESS' },
    ],
    tags: ourTags,
    events: [],
    ...overrides,
  };
}

/** A rollout of `taskDefinition` (default: the same revision, as a forced deployment) half done. */
const rollingOut = (overrides: Partial<Service> = {}) =>
  service({
    runningCount: 2,
    deployments: [
      { id: 'ecs-svc/2', status: 'PRIMARY', taskDefinition: overrides.taskDefinition ?? TASK_DEFINITION, desiredCount: 2, runningCount: 1, rolloutState: 'IN_PROGRESS' },
      { id: 'ecs-svc/1', status: 'ACTIVE', taskDefinition: TASK_DEFINITION, desiredCount: 2, runningCount: 1, rolloutState: 'COMPLETED' },
    ],
    ...overrides,
  });

const recorded = { created: true, complete: true, data: SAMPLE_OUTPUTS.service };

describe('service step', () => {
  let harness: StepHarness<'service'>;
  beforeEach(() => {
    ecs.reset();
    elbv2.reset();
    logs.reset();
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    logs.on(GetLogEventsCommand).rejects(codeError('ResourceNotFoundException', 'The specified log stream does not exist.'));
  });
  afterEach(() => harness?.cleanup());

  it("creates the article's service: the target group, container web port 80, 2 tasks, no ecsServiceRole; then waits until stable", async () => {
    harness = stepHarness(serviceStep);
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce(missing)
      .resolvesOnce(missing)
      .resolvesOnce({ services: [service({ runningCount: 0, pendingCount: 2 })] })
      .resolvesOnce({ services: [service({ runningCount: 1, pendingCount: 1 })] })
      .resolves({ services: [service()] });
    ecs.on(CreateServiceCommand).resolves({ service: service({ runningCount: 0 }) });

    expect(await serviceStep.read(harness.readContext)).toBeUndefined();
    const created = await serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs));

    expect(ecs.commandCalls(DescribeServicesCommand)[0]!.args[0].input).toEqual({ cluster: 'ecsauth', services: ['ecsauthservice'], include: ['TAGS'] });
    const create = ecs.commandCalls(CreateServiceCommand)[0]!.args[0].input;
    expect(create).toEqual({
      cluster: 'ecsauth',
      serviceName: 'ecsauthservice',
      taskDefinition: TASK_DEFINITION,
      desiredCount: 2,
      launchType: 'EC2',
      loadBalancers: [{ targetGroupArn: TARGET_GROUP, containerName: 'web', containerPort: 80 }],
      clientToken: serviceClientToken('ecsauth', 'ecsauthservice', TASK_DEFINITION),
      tags: ourTags,
      healthCheckGracePeriodSeconds: 60,
      deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } },
    });
    expect(create).not.toHaveProperty('role');
    expect(create).not.toHaveProperty('networkConfiguration');
    expect(create.clientToken!.length).toBeLessThanOrEqual(36);
    expect(created).toEqual(output);
    expect(harness.state.get('service')).toMatchObject({ created: true, data: output });
    expect(harness.progress).toEqual(expect.arrayContaining(['rollout: 0/2 running, 0 healthy, 0 draining', 'rollout: 1/2 running, 0 healthy, 0 draining', 'rollout: 2/2 running, 0 healthy, 0 draining']));
    // The wait reads the recorded target group's health.
    expect(elbv2.commandCalls(DescribeTargetHealthCommand)[0]!.args[0].input).toEqual({ TargetGroupArn: TARGET_GROUP });
  });

  it('client tokens are stable for one task definition revision and change with it', () => {
    expect(serviceClientToken('ecsauth', 'ecsauthservice', TASK_DEFINITION)).toBe(serviceClientToken('ecsauth', 'ecsauthservice', TASK_DEFINITION));
    expect(serviceClientToken('ecsauth', 'ecsauthservice', TASK_DEFINITION)).not.toBe(serviceClientToken('ecsauth', 'ecsauthservice', NEXT_TASK_DEFINITION));
  });

  it('desired: the article service under EC2, with no network configuration', () => {
    harness = stepHarness(serviceStep);
    expect(serviceStep.desired(harness.config, harness.inputs)).toEqual({
      serviceName: 'ecsauthservice',
      cluster: 'ecsauth',
      taskDefinitionArn: TASK_DEFINITION,
      desiredCount: 2,
      launchType: 'EC2',
      loadBalancer: { targetGroupArn: TARGET_GROUP, containerName: 'web', containerPort: 80 },
      networkConfiguration: undefined,
      healthCheckGracePeriodSeconds: 60,
      deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } },
    });
  });

  it('desired: a task definition (or network, target group) still to be made is UNKNOWN', () => {
    harness = stepHarness(serviceStep, { config: { launchType: 'FARGATE' } });
    const want = serviceStep.desired(harness.config, { ...harness.inputs, 'task-definition': UNKNOWN });
    expect(want.taskDefinitionArn).toBe(UNKNOWN);
    expect(want.cluster).toBe('ecsauth');
    expect(want.networkConfiguration).toEqual({ subnets: SAMPLE_OUTPUTS.network.privateSubnets, securityGroups: [SAMPLE_OUTPUTS.network.securityGroupId], assignPublicIp: 'DISABLED' });

    const later = serviceStep.desired(harness.config, { ...harness.inputs, network: UNKNOWN, 'target-group': UNKNOWN });
    expect(later.networkConfiguration).toBe(UNKNOWN);
    expect(later.loadBalancer.targetGroupArn).toBe(UNKNOWN);
    expect(later.taskDefinitionArn).toBe(TASK_DEFINITION);
  });

  it('under Fargate, places tasks in the private subnets (sorted) with the security group and no public IP', async () => {
    const network = { ...SAMPLE_OUTPUTS.network, privateSubnets: ['subnet-0bbbbbbbbbbbbbbb2', 'subnet-0bbbbbbbbbbbbbbb1'] };
    harness = stepHarness(serviceStep, { config: { launchType: 'FARGATE', desiredCount: 3 }, outputs: { network } });
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolves({ services: [service({ desiredCount: 3, runningCount: 3, launchType: 'FARGATE' })] });
    ecs.on(CreateServiceCommand).resolves({ service: service() });

    await serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs));

    expect(ecs.commandCalls(CreateServiceCommand)[0]!.args[0].input).toMatchObject({
      launchType: 'FARGATE',
      desiredCount: 3,
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-0bbbbbbbbbbbbbbb1', 'subnet-0bbbbbbbbbbbbbbb2'], securityGroups: [SAMPLE_OUTPUTS.network.securityGroupId], assignPublicIp: 'DISABLED' },
      },
    });
  });

  it('reads our ACTIVE stable service as matching the settings, with no write and no create', async () => {
    harness = stepHarness(serviceStep);
    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    const before = readFileSync(harness.state.path, 'utf8');

    const live = await serviceStep.read(harness.readContext);

    expect(live).toMatchObject({ created: true, settled: true, output });
    expect(diffFields(serviceStep.desired(harness.config, harness.inputs), live!.observed, serviceStep.effects)).toEqual([]);
    expect(readFileSync(harness.state.path, 'utf8')).toBe(before);
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('read finds nothing before the cluster exists, without calling AWS', async () => {
    harness = stepHarness(serviceStep);
    harness.state.remove('cluster');

    expect(await serviceStep.read(harness.readContext)).toBeUndefined();
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(0);
  });

  it('refuses an ACTIVE service of that name that authecs did not create', async () => {
    harness = stepHarness(serviceStep);
    ecs.on(DescribeServicesCommand).resolves({ services: [service({ tags: [] })] });

    await expect(serviceStep.read(harness.readContext)).rejects.toMatchObject({ code: 'SERVICE_NAME_TAKEN', exit: 'conflict', hint: expect.stringContaining('--service-name') });
    await expect(serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'SERVICE_NAME_TAKEN' });
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
  });

  it('recreates a service that is INACTIVE, and waits for a DRAINING one to finish first', async () => {
    harness = stepHarness(serviceStep);
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [service({ status: 'DRAINING', tags: [] })] })
      .resolvesOnce({ services: [service({ status: 'DRAINING', tags: [] })] })
      .resolvesOnce({ services: [service({ status: 'DRAINING' })] })
      .resolvesOnce({ services: [service({ status: 'INACTIVE' })] })
      .resolves({ services: [service()] });
    ecs.on(CreateServiceCommand).resolves({ service: service() });

    expect(await serviceStep.read(harness.readContext)).toBeUndefined();
    await serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs));

    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(1);
    expect(ecs.commandCalls(DescribeServicesCommand).length).toBeGreaterThanOrEqual(5);
    expect(harness.progress).toContain('waiting for service ecsauthservice to drain');
  });

  it('retries while the target group is not yet attached to the load balancer', async () => {
    harness = stepHarness(serviceStep);
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolves({ services: [service()] });
    const notAttached = codeError(
      'InvalidParameterException',
      `The target group with targetGroupArn ${TARGET_GROUP} does not have an associated load balancer.`,
    );
    ecs.on(CreateServiceCommand).rejectsOnce(notAttached).rejectsOnce(notAttached).resolves({ service: service() });

    await serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs));

    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(3);
  });

  // A role made a moment ago (or by CreateCluster) can take seconds to be usable: openemr/openemr-on-ecs#8, awslabs/fargatecli#35.
  it('retries "Unable to assume the service linked role" for a bounded time (openemr/openemr-on-ecs#8, awslabs/fargatecli#35)', async () => {
    harness = stepHarness(serviceStep);
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolves({ services: [service()] });
    const noRole = codeError('InvalidParameterException', 'Unable to assume the service linked role. Please verify that the ECS service linked role exists.');
    ecs.on(CreateServiceCommand).rejectsOnce(noRole).rejectsOnce(noRole).resolves({ service: service() });

    await serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs));

    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(3);
    // The same clientToken each time, so a retry never makes a second service.
    expect(new Set(ecs.commandCalls(CreateServiceCommand).map((call) => call.args[0].input.clientToken)).size).toBe(1);
  });

  it('gives up on the service-linked role after about two minutes, naming the last error', async () => {
    harness = stepHarness(serviceStep);
    ecs.on(DescribeServicesCommand).resolves(missing);
    ecs.on(CreateServiceCommand).rejects(codeError('InvalidParameterException', 'Unable to assume the service linked role. Please verify that the ECS service linked role exists.'));

    await expect(serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({
      exit: 'timeout',
      message: expect.stringContaining('Unable to assume the service linked role'),
    });
    expect(ecs.commandCalls(CreateServiceCommand).length).toBeLessThanOrEqual(25);
  });

  describe('preflight: placement (ECS guide, "Use Docker\'s virtual network": one static host port per instance)', () => {
    it('refuses more tasks than instances under EC2 (bridge mode, hostPort = containerPort), with a hint, before any call', async () => {
      harness = stepHarness(serviceStep, { config: { desiredCount: 3, instanceCount: 2 } });

      await expect(serviceStep.preflight!(harness.readContext)).rejects.toMatchObject({
        code: 'DESIRED_COUNT_UNPLACEABLE',
        exit: 'usage',
        message: expect.stringContaining('host port 80'),
        hint: expect.stringContaining('--instance-count 3'),
      });
      expect(ecs.calls()).toHaveLength(0);
    });

    it('accepts as many tasks as instances, and any count under Fargate', async () => {
      harness = stepHarness(serviceStep, { config: { desiredCount: 2, instanceCount: 2 } });
      await expect(serviceStep.preflight!(harness.readContext)).resolves.toBeUndefined();
      harness.cleanup();
      harness = stepHarness(serviceStep, { config: { desiredCount: 5, instanceCount: 2, launchType: 'FARGATE' } });
      await expect(serviceStep.preflight!(harness.readContext)).resolves.toBeUndefined();
    });
  });

  it('does not retry other InvalidParameterExceptions', async () => {
    harness = stepHarness(serviceStep);
    ecs.on(DescribeServicesCommand).resolves(missing);
    ecs.on(CreateServiceCommand).rejects(codeError('InvalidParameterException', 'Creation of service was not idempotent.'));

    await expect(serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(1);
  });

  it('desired count 2 -> 1 is an update: UpdateService with the count alone, then it waits until stable', async () => {
    harness = stepHarness(serviceStep, { record: recorded, config: { desiredCount: 1 } });
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [service()] })
      .resolvesOnce({ services: [service({ desiredCount: 1, runningCount: 2 })] })
      .resolves({ services: [service({ desiredCount: 1, runningCount: 1 })] });
    ecs.on(UpdateServiceCommand).resolves({ service: service({ desiredCount: 1 }) });
    const live = (await serviceStep.read(harness.readContext))!;
    const want = serviceStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, live.observed, serviceStep.effects);

    expect(changes).toEqual([{ field: 'desiredCount', from: 2, to: 1, effect: 'update' }]);
    expect(await serviceStep.update!(harness.context, want, live, changes)).toEqual(output);

    expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toEqual([{ cluster: 'ecsauth', service: 'ecsauthservice', desiredCount: 1 }]);
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(3);
    expect(harness.progress).toContain('rollout: 2/1 running, 0 healthy, 0 draining');
  });

  it('a new task definition revision is an update: UpdateService with the task definition alone', async () => {
    const next = { ...SAMPLE_OUTPUTS['task-definition'], taskDefinitionArn: NEXT_TASK_DEFINITION, revision: 2 };
    harness = stepHarness(serviceStep, { record: recorded, outputs: { 'task-definition': next } });
    ecs.on(DescribeServicesCommand).resolvesOnce({ services: [service()] }).resolves({ services: [service({ taskDefinition: NEXT_TASK_DEFINITION })] });
    ecs.on(UpdateServiceCommand).resolves({ service: rollingOut({ taskDefinition: NEXT_TASK_DEFINITION }) });
    const live = (await serviceStep.read(harness.readContext))!;

    // At plan time the new revision is not registered yet; by apply time its output is recorded.
    const planned = serviceStep.desired(harness.config, { ...harness.inputs, 'task-definition': UNKNOWN });
    const changes = diffFields(planned, live.observed, serviceStep.effects);
    expect(changes).toEqual([{ field: 'taskDefinitionArn', from: TASK_DEFINITION, to: UNKNOWN, effect: 'update' }]);
    expect(diffFields(serviceStep.desired(harness.config, harness.inputs), live.observed, serviceStep.effects)).toEqual([
      { field: 'taskDefinitionArn', from: TASK_DEFINITION, to: NEXT_TASK_DEFINITION, effect: 'update' },
    ]);

    await serviceStep.update!(harness.context, planned, live, changes);

    expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toEqual([{ cluster: 'ecsauth', service: 'ecsauthservice', taskDefinition: NEXT_TASK_DEFINITION }]);
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
    expect(harness.state.get('service')).toMatchObject({ data: output });
  });

  it('reattaches the target group when the service lost it, and moves Fargate tasks to the wanted subnets, in place', async () => {
    harness = stepHarness(serviceStep, { record: recorded, config: { launchType: 'FARGATE' } });
    const elsewhere = { awsvpcConfiguration: { subnets: ['subnet-0aaaaaaaaaaaaaaa1'], securityGroups: [SAMPLE_OUTPUTS.network.securityGroupId], assignPublicIp: 'ENABLED' as const } };
    ecs.on(DescribeServicesCommand).resolves({ services: [service({ launchType: 'FARGATE', loadBalancers: [], networkConfiguration: elsewhere })] });
    ecs.on(UpdateServiceCommand).resolves({ service: service() });
    const live = (await serviceStep.read(harness.readContext))!;
    const want = serviceStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, live.observed, serviceStep.effects);

    expect(changes.map((change) => [change.field, change.effect])).toEqual([
      ['loadBalancer', 'update'],
      ['networkConfiguration', 'update'],
    ]);
    await serviceStep.update!(harness.context, want, live, changes);

    expect(ecs.commandCalls(UpdateServiceCommand)[0]!.args[0].input).toEqual({
      cluster: 'ecsauth',
      service: 'ecsauthservice',
      loadBalancers: [{ targetGroupArn: TARGET_GROUP, containerName: 'web', containerPort: 80 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: SAMPLE_OUTPUTS.network.privateSubnets, securityGroups: [SAMPLE_OUTPUTS.network.securityGroupId], assignPublicIp: 'DISABLED' } },
    });
  });

  it('a launch type change is a replace, and loss says the running tasks stop', async () => {
    harness = stepHarness(serviceStep, { record: recorded, config: { launchType: 'FARGATE' } });
    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    const live = (await serviceStep.read(harness.readContext))!;
    const changes = diffFields(serviceStep.desired(harness.config, harness.inputs), live.observed, serviceStep.effects);

    expect(changes.filter((change) => change.effect === 'replace')).toEqual([{ field: 'launchType', from: 'EC2', to: 'FARGATE', effect: 'replace' }]);
    expect(await serviceStep.loss!(harness.readContext, live)).toBe('the running service (2 tasks) is stopped while it is replaced');

    const idle = (await serviceStep.read(harness.readContext))!;
    idle.health.details = { ...idle.health.details, runningCount: 0 };
    expect(await serviceStep.loss!(harness.readContext, idle)).toBeUndefined();
  });

  it('a new service name is a replace', async () => {
    harness = stepHarness(serviceStep, { record: recorded, config: { serviceName: 'otherservice' } });
    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    const live = (await serviceStep.read(harness.readContext))!;

    expect(ecs.commandCalls(DescribeServicesCommand)[0]!.args[0].input.services).toEqual(['ecsauthservice']);
    expect(diffFields(serviceStep.desired(harness.config, harness.inputs), live.observed, serviceStep.effects)).toEqual([
      { field: 'serviceName', from: 'ecsauthservice', to: 'otherservice', effect: 'replace' },
    ]);
  });

  it('read reports an unsettled service while it rolls out, and settle waits until it is stable', async () => {
    harness = stepHarness(serviceStep, { record: recorded });
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [rollingOut()] })
      .resolvesOnce({ services: [service({ runningCount: 1 })] })
      .resolvesOnce({ services: [rollingOut()] })
      .resolvesOnce({ services: [service({ runningCount: 1, pendingCount: 1 })] })
      .resolves({ services: [service()] });

    expect(await serviceStep.read(harness.readContext)).toMatchObject({ settled: false });
    const live = (await serviceStep.read(harness.readContext))!;
    expect(live.settled).toBe(false);

    expect(await serviceStep.settle!(harness.context, live)).toEqual(output);
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(5);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
  });

  it('times out with ROLLOUT_TIMED_OUT (exit 14), explaining with the target health reason, the stopped task, its log lines and the service events', async () => {
    harness = stepHarness(serviceStep, { config: { waitTimeoutMinutes: 1, healthCheckPath: '/healthz', healthCheckMatcher: '200-299', healthCheckGracePeriodSeconds: 120 } });
    const unhealthyEvent = `(service ecsauthservice) (task ${TASK_ID}) (port 80) is unhealthy in (target-group ${TARGET_GROUP}) due to (reason Health checks failed with these codes: [404]).`;
    const events = [
      { id: 'e2', createdAt: new Date('2025-01-01T12:03:05Z'), message: unhealthyEvent },
      { id: 'e1', createdAt: new Date('2025-01-01T12:01:02Z'), message: `(service ecsauthservice) has started 2 tasks: (task ${TASK_ID}).` },
    ];
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolves({ services: [service({ runningCount: 0, pendingCount: 2, events })] });
    ecs.on(CreateServiceCommand).resolves({ service: service() });
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [{ Target: { Id: 'i-0123456789abcdef0', Port: 80 }, TargetHealth: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: 'Health checks failed with these codes: [404]' } }],
    });
    ecs.on(ListTasksCommand).resolves({ taskArns: [TASK_ARN] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn: TASK_ARN,
          lastStatus: 'STOPPED',
          startedBy: 'ecs-svc/1',
          taskDefinitionArn: TASK_DEFINITION,
          stopCode: 'ServiceSchedulerInitiated',
          stoppedReason: `Task failed ELB health checks in (target-group ${TARGET_GROUP})`,
          stoppedAt: new Date('2025-01-01T12:03:00Z'),
          containers: [{ name: 'web', exitCode: 143 }],
        },
      ],
    });
    logs.on(GetLogEventsCommand).resolves({ events: [{ timestamp: 1, message: 'GET /healthz 404\n' }] });

    const error = (await serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs)).catch((caught: unknown) => caught)) as RolloutFailedError;

    expect(error).toBeInstanceOf(RolloutFailedError);
    expect(error).toMatchObject({ code: 'ROLLOUT_TIMED_OUT', exit: 'rolloutFailed', exitCode: 14 });
    expect(error.message).toBe(
      "The rollout of service ecsauthservice did not finish within 1 min: the app fails the load balancer's health checks (Target.ResponseCodeMismatch: Health checks failed with these codes: [404])",
    );
    // The hint names the settings this run used.
    expect(error.hint).toContain('GET /healthz on container port 80 must answer 200-299');
    expect(error.hint).toContain('--health-check-grace-period (now 120s)');
    expect(error.explanation).toMatchObject({ outcome: 'timed-out', timeoutSeconds: 60, cause: 'health-check', taskDefinitionArn: TASK_DEFINITION });
    expect(error.explanation.targets).toEqual([
      { id: 'i-0123456789abcdef0', port: 80, state: 'unhealthy', reason: 'Target.ResponseCodeMismatch', description: 'Health checks failed with these codes: [404]' },
    ]);
    expect(error.explanation.events.map((event) => event.message)).toEqual([unhealthyEvent, `(service ecsauthservice) has started 2 tasks: (task ${TASK_ID}).`]);
    // Its logs come from the stack's log group, stream authecs/web/<task id>.
    expect(logs.commandCalls(GetLogEventsCommand)[0]!.args[0].input).toEqual({ logGroupName: LOG_GROUP, logStreamName: `authecs/web/${TASK_ID}`, startFromHead: false, limit: 20 });
    expect(error.detailLines()).toEqual(
      expect.arrayContaining([
        `    ${TASK_ID} STOPPED (ServiceSchedulerInitiated): Task failed ELB health checks in (target-group ${TARGET_GROUP})`,
        '    i-0123456789abcdef0:80 unhealthy Target.ResponseCodeMismatch — Health checks failed with these codes: [404]',
        `  last log lines of task ${TASK_ID} (${LOG_GROUP} authecs/web/${TASK_ID}):`,
        '    GET /healthz 404',
        `    12:03:05 ${unhealthyEvent}`,
      ]),
    );
    // 1 minute of 5 s polls (ECS schedule): at 0, 5, ... 60 s, after create's own look-up.
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(14);
  });

  it('creates the service with the circuit breaker (rollback on) and the grace period from --health-check-grace-period', async () => {
    harness = stepHarness(serviceStep, { config: { healthCheckGracePeriodSeconds: 300 } });
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolves({ services: [service({ healthCheckGracePeriodSeconds: 300 })] });
    ecs.on(CreateServiceCommand).resolves({ service: service({ healthCheckGracePeriodSeconds: 300 }) });

    await serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs));

    const create = ecs.commandCalls(CreateServiceCommand)[0]!.args[0].input;
    expect(create.healthCheckGracePeriodSeconds).toBe(300);
    expect(create.deploymentConfiguration).toEqual({ minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } });
  });

  // An older authecs made it: AWS reports the breaker off; an emulator may leave it out.
  it.each([
    ['off', { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: false, rollback: false } }],
    ['absent', { minimumHealthyPercent: 50, maximumPercent: 200 }],
  ])('a live service with the circuit breaker %s is an update, and UpdateService sends the whole deployment configuration', async (_label, deploymentConfiguration) => {
    harness = stepHarness(serviceStep, { record: recorded });
    ecs.on(DescribeServicesCommand).resolvesOnce({ services: [service({ deploymentConfiguration })] }).resolves({ services: [service()] });
    ecs.on(UpdateServiceCommand).resolves({ service: service() });
    const live = (await serviceStep.read(harness.readContext))!;
    const want = serviceStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, live.observed, serviceStep.effects);

    expect(changes).toEqual([
      {
        field: 'deploymentConfiguration',
        from: { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: false, rollback: false } },
        to: DEPLOYMENT_CONFIGURATION,
        effect: 'update',
      },
    ]);
    await serviceStep.update!(harness.context, want, live, changes);

    expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toEqual([
      { cluster: 'ecsauth', service: 'ecsauthservice', deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } } },
    ]);
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
  });

  it('a new --health-check-grace-period is an update: UpdateService with the grace period alone', async () => {
    harness = stepHarness(serviceStep, { record: recorded, config: { healthCheckGracePeriodSeconds: 180 } });
    ecs.on(DescribeServicesCommand).resolvesOnce({ services: [service()] }).resolves({ services: [service({ healthCheckGracePeriodSeconds: 180 })] });
    ecs.on(UpdateServiceCommand).resolves({ service: service({ healthCheckGracePeriodSeconds: 180 }) });
    const live = (await serviceStep.read(harness.readContext))!;
    const want = serviceStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, live.observed, serviceStep.effects);

    expect(changes).toEqual([{ field: 'healthCheckGracePeriodSeconds', from: 60, to: 180, effect: 'update' }]);
    await serviceStep.update!(harness.context, want, live, changes);

    expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toEqual([{ cluster: 'ecsauth', service: 'ecsauthservice', healthCheckGracePeriodSeconds: 180 }]);
  });

  it('delete scales to zero, deletes with force, then waits for INACTIVE', async () => {
    harness = stepHarness(serviceStep, { record: recorded });
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [service()] })
      .resolvesOnce({ services: [service({ status: 'DRAINING', desiredCount: 0 })] })
      .resolves({ services: [service({ status: 'INACTIVE', desiredCount: 0 })] });
    ecs.on(UpdateServiceCommand).resolves({ service: service({ desiredCount: 0 }) });
    ecs.on(DeleteServiceCommand).resolves({ service: service({ status: 'DRAINING' }) });

    await serviceStep.delete(harness.context);

    expect(ecs.commandCalls(UpdateServiceCommand)[0]!.args[0].input).toEqual({ cluster: 'ecsauth', service: 'ecsauthservice', desiredCount: 0 });
    expect(ecs.commandCalls(DeleteServiceCommand)[0]!.args[0].input).toEqual({ cluster: 'ecsauth', service: 'ecsauthservice', force: true });
    expect(ecs.commandCalls(UpdateServiceCommand)[0]!.calledBefore(ecs.commandCalls(DeleteServiceCommand)[0]!)).toBe(true);
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(3);
    // DRAINING, then INACTIVE 5 s later (ECS schedule).
    expect(harness.reporter.events.filter((event) => event.type === 'wait')).toEqual([
      { type: 'wait', step: 'service', description: 'service ecsauthservice to drain and become INACTIVE', calls: 2, elapsedMs: 5_000, outcome: 'done' },
    ]);
  });

  it('delete treats a missing, INACTIVE or vanishing service (or cluster) as deleted', async () => {
    harness = stepHarness(serviceStep, { record: recorded });
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolvesOnce({ services: [service({ status: 'INACTIVE' })] });
    await serviceStep.delete(harness.context);
    await serviceStep.delete(harness.context);
    expect(ecs.commandCalls(DeleteServiceCommand)).toHaveLength(0);

    ecs.on(DescribeServicesCommand).resolvesOnce({ services: [service()] }).resolves(missing);
    ecs.on(UpdateServiceCommand).rejects(codeError('ServiceNotActiveException', 'Service was not ACTIVE.'));
    await expect(serviceStep.delete(harness.context)).resolves.toBeUndefined();

    ecs.on(DescribeServicesCommand).rejects(codeError('ClusterNotFoundException', 'Cluster not found.'));
    await expect(serviceStep.delete(harness.context)).resolves.toBeUndefined();
  });

  it('delete does not swallow other errors', async () => {
    harness = stepHarness(serviceStep, { record: recorded });
    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecs.on(UpdateServiceCommand).resolves({});
    ecs.on(DeleteServiceCommand).rejects(codeError('AccessDeniedException'));

    await expect(serviceStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('read reports running/desired and the latest events as health', async () => {
    harness = stepHarness(serviceStep, { record: recorded, config: { desiredCount: 3 } });
    const events = ['e1', 'e2', 'e3', 'e4'].map((message, index) => ({ id: String(index), message }));
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [service({ events })] })
      .resolvesOnce({ services: [service({ desiredCount: 3, runningCount: 1, pendingCount: 2 })] })
      .resolves(missing);

    expect((await serviceStep.read(harness.readContext))?.health).toEqual({
      healthy: true,
      summary: 'running 2/2',
      details: { runningCount: 2, desiredCount: 2, pendingCount: 0, events: ['e1', 'e2', 'e3'] },
    });
    expect((await serviceStep.read(harness.readContext))?.health).toMatchObject({ healthy: false, summary: 'running 1/3' });
    expect(await serviceStep.read(harness.readContext)).toBeUndefined();
  });

  it('desired follows --service-name and --container-port', () => {
    harness = stepHarness(serviceStep);
    expect(serviceStep.desired(articleConfig({ serviceName: 'shop', containerPort: 8080 }), harness.inputs)).toMatchObject({
      serviceName: 'shop',
      loadBalancer: { containerName: 'web', containerPort: 8080 },
    });
  });

  describe('rollOutRevision (authecs deploy)', () => {
    const breaker = 'ECS deployment circuit breaker: tasks failed to start.';
    const deploymentOf = (overrides: Deployment): Deployment => ({ desiredCount: 2, runningCount: 0, ...overrides });

    it('sends UpdateService with exactly the cluster, service and revision; without wait it returns without polling', async () => {
      harness = stepHarness(serviceStep, { record: recorded });
      ecs.on(UpdateServiceCommand).resolves({ service: rollingOut({ taskDefinition: NEXT_TASK_DEFINITION }) });

      await rollOutRevision(harness.context, SAMPLE_OUTPUTS.service, NEXT_TASK_DEFINITION, { force: false, wait: false });

      expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toEqual([{ cluster: 'ecsauth', service: 'ecsauthservice', taskDefinition: NEXT_TASK_DEFINITION }]);
      expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(0);
      expect(elbv2.commandCalls(DescribeTargetHealthCommand)).toHaveLength(0);
      expect(harness.progress).toEqual(['deploying ecsauthservice:2 to service ecsauthservice']);
    });

    it('with force, adds forceNewDeployment: true (a new deployment of the same revision)', async () => {
      harness = stepHarness(serviceStep, { record: recorded });
      ecs.on(UpdateServiceCommand).resolves({ service: rollingOut() });

      await rollOutRevision(harness.context, SAMPLE_OUTPUTS.service, TASK_DEFINITION, { force: true, wait: false });

      expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toEqual([
        { cluster: 'ecsauth', service: 'ecsauthservice', taskDefinition: TASK_DEFINITION, forceNewDeployment: true },
      ]);
      expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(0);
      expect(harness.progress).toEqual(['deploying ecsauthservice:1 to service ecsauthservice (new deployment)']);
    });

    it('with wait, follows the rollout of the new revision until it completes', async () => {
      harness = stepHarness(serviceStep, { record: recorded });
      ecs.on(UpdateServiceCommand).resolves({ service: rollingOut({ taskDefinition: NEXT_TASK_DEFINITION }) });
      ecs
        .on(DescribeServicesCommand)
        .resolvesOnce({ services: [rollingOut({ taskDefinition: NEXT_TASK_DEFINITION })] })
        .resolves({ services: [service({ taskDefinition: NEXT_TASK_DEFINITION })] });

      await expect(rollOutRevision(harness.context, SAMPLE_OUTPUTS.service, NEXT_TASK_DEFINITION, { force: false, wait: true })).resolves.toBeUndefined();

      expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(1);
      expect(ecs.commandCalls(UpdateServiceCommand)[0]!.calledBefore(ecs.commandCalls(DescribeServicesCommand)[0]!)).toBe(true);
      expect(ecs.commandCalls(DescribeServicesCommand).map((call) => call.args[0].input)).toEqual([
        { cluster: 'ecsauth', services: ['ecsauthservice'] },
        { cluster: 'ecsauth', services: ['ecsauthservice'] },
      ]);
      expect(harness.progress).toEqual([
        'deploying ecsauthservice:2 to service ecsauthservice',
        'rollout: 1/2 running, 0 healthy, 0 draining',
        'rollout: 2/2 running, 0 healthy, 0 draining',
      ]);
    });

    it('a rollout the circuit breaker rolled back throws ROLLOUT_ROLLED_BACK (exit 14), explaining with the stopped task and its log lines', async () => {
      harness = stepHarness(serviceStep, { record: recorded });
      ecs.on(UpdateServiceCommand).resolves({ service: rollingOut({ taskDefinition: NEXT_TASK_DEFINITION }) });
      // The failed deployment of :2, and a new PRIMARY one going back to :1.
      const rolledBack = service({
        taskDefinition: TASK_DEFINITION,
        runningCount: 1,
        deployments: [
          deploymentOf({ id: 'ecs-svc/3', status: 'PRIMARY', taskDefinition: TASK_DEFINITION, runningCount: 1, rolloutState: 'IN_PROGRESS' }),
          deploymentOf({ id: 'ecs-svc/2', status: 'ACTIVE', taskDefinition: NEXT_TASK_DEFINITION, rolloutState: 'FAILED', rolloutStateReason: breaker }),
        ],
      });
      ecs.on(DescribeServicesCommand).resolvesOnce({ services: [rollingOut({ taskDefinition: NEXT_TASK_DEFINITION })] }).resolves({ services: [rolledBack] });
      ecs.on(ListTasksCommand).resolves({ taskArns: [TASK_ARN] });
      ecs.on(DescribeTasksCommand).resolves({
        tasks: [
          {
            taskArn: TASK_ARN,
            lastStatus: 'STOPPED',
            startedBy: 'ecs-svc/2',
            taskDefinitionArn: NEXT_TASK_DEFINITION,
            stopCode: 'EssentialContainerExited',
            stoppedReason: 'Essential container in task exited',
            containers: [{ name: 'web', exitCode: 1 }],
          },
        ],
      });
      logs.on(GetLogEventsCommand).resolves({ events: [{ timestamp: 1, message: 'Error: DATABASE_URL is not set\n' }] });

      const error = (await rollOutRevision(harness.context, SAMPLE_OUTPUTS.service, NEXT_TASK_DEFINITION, { force: false, wait: true }).catch((caught: unknown) => caught)) as RolloutFailedError;

      expect(error).toBeInstanceOf(RolloutFailedError);
      expect(error).toMatchObject({ code: 'ROLLOUT_ROLLED_BACK', exit: 'rolloutFailed', exitCode: EXIT_CODES.rolloutFailed });
      expect(error.exitCode).toBe(14);
      expect(error.message).toBe('The rollout of service ecsauthservice was rolled back to ecsauthservice:1: the app exited with code 1 (Essential container in task exited)');
      expect(error.explanation).toMatchObject({ outcome: 'rolled-back', rolledBackTo: TASK_DEFINITION, taskDefinitionArn: NEXT_TASK_DEFINITION, deploymentId: 'ecs-svc/2', rolloutState: 'FAILED' });
      expect(error.explanation.logs).toMatchObject({ logGroupName: LOG_GROUP, logStreamName: `authecs/web/${TASK_ID}`, lines: ['Error: DATABASE_URL is not set'] });
      expect(error.detailLines()[0]).toBe(`  rollout: FAILED — ${breaker}`);
      // No second UpdateService: ECS itself went back to :1.
      expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(1);
    });

    it('a deployment the circuit breaker marked FAILED before any rollback throws ROLLOUT_FAILED (exit 14)', async () => {
      harness = stepHarness(serviceStep, { record: recorded });
      ecs.on(UpdateServiceCommand).resolves({ service: rollingOut({ taskDefinition: NEXT_TASK_DEFINITION }) });
      ecs.on(DescribeServicesCommand).resolves({
        services: [
          service({
            taskDefinition: NEXT_TASK_DEFINITION,
            deployments: [
              deploymentOf({ id: 'ecs-svc/2', status: 'PRIMARY', taskDefinition: NEXT_TASK_DEFINITION, rolloutState: 'FAILED', rolloutStateReason: breaker }),
              deploymentOf({ id: 'ecs-svc/1', status: 'ACTIVE', taskDefinition: TASK_DEFINITION, runningCount: 2, rolloutState: 'COMPLETED' }),
            ],
          }),
        ],
      });
      ecs.on(ListTasksCommand).resolves({ taskArns: [TASK_ARN] });
      const reason = 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/ngnix:1.27: not found';
      ecs.on(DescribeTasksCommand).resolves({
        tasks: [{ taskArn: TASK_ARN, lastStatus: 'STOPPED', startedBy: 'ecs-svc/2', taskDefinitionArn: NEXT_TASK_DEFINITION, stopCode: 'TaskFailedToStart', stoppedReason: reason, containers: [{ name: 'web' }] }],
      });

      const error = (await rollOutRevision(harness.context, SAMPLE_OUTPUTS.service, NEXT_TASK_DEFINITION, { force: false, wait: true }).catch((caught: unknown) => caught)) as RolloutFailedError;

      expect(error).toBeInstanceOf(RolloutFailedError);
      expect(error).toMatchObject({ code: 'ROLLOUT_FAILED', exitCode: 14 });
      expect(error.message).toMatch(/^The rollout of service ecsauthservice failed: the container image could not be pulled: the image or its tag does not exist/);
      expect(error.explanation).toMatchObject({ outcome: 'failed', deploymentId: 'ecs-svc/2', rolloutState: 'FAILED', rolloutStateReason: breaker });
      expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(1);
    });
  });
});

describe('service step ordering (issue 12)', () => {
  it('waits for the parking rule, not the host rule, when the HTTP listener exists; for the host rule without it', () => {
    expect(serviceStep.dependsOn).toEqual(expect.arrayContaining(['host-rule', 'parking-rule', 'target-group']));
    const withRedirect = serviceStep.waitsFor!(articleConfig());
    expect(withRedirect).toContain('parking-rule');
    expect(withRedirect).not.toContain('host-rule');
    const withoutRedirect = serviceStep.waitsFor!(articleConfig({ httpRedirect: false }));
    expect(withoutRedirect).toContain('host-rule');
    expect(withoutRedirect).not.toContain('parking-rule');
    // Everything else it reads is still waited for either way.
    for (const waits of [withRedirect, withoutRedirect]) expect(waits).toEqual(expect.arrayContaining(['cluster', 'task-definition', 'capacity', 'target-group', 'network', 'log-group']));
  });
});
