import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  UpdateServiceCommand,
  type Service,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { serviceClientToken, serviceStep } from '../../../src/steps/service.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ecs = mockClient(ECSClient);
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

function service(overrides: Partial<Service> = {}): Service {
  return {
    serviceName: 'ecsauthservice',
    serviceArn: SERVICE_ARN,
    clusterArn: SAMPLE_OUTPUTS.cluster.clusterArn,
    status: 'ACTIVE',
    desiredCount: 2,
    runningCount: 2,
    pendingCount: 0,
    launchType: 'EC2',
    taskDefinition: TASK_DEFINITION,
    loadBalancers: [{ targetGroupArn: TARGET_GROUP, containerName: 'web', containerPort: 80 }],
    healthCheckGracePeriodSeconds: 60,
    deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: false, rollback: false } },
    deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', desiredCount: 2, runningCount: 2 }],
    tags: ourTags,
    events: [],
    ...overrides,
  };
}

const rollingOut = (overrides: Partial<Service> = {}) =>
  service({
    deployments: [
      { id: 'ecs-svc/2', status: 'PRIMARY', desiredCount: 2, runningCount: 1 },
      { id: 'ecs-svc/1', status: 'ACTIVE', desiredCount: 2, runningCount: 1 },
    ],
    ...overrides,
  });

const recorded = { created: true, complete: true, data: SAMPLE_OUTPUTS.service };

describe('service step', () => {
  let harness: StepHarness<'service'>;
  beforeEach(() => {
    ecs.reset();
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
      deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200 },
    });
    expect(create).not.toHaveProperty('role');
    expect(create).not.toHaveProperty('networkConfiguration');
    expect(create.clientToken!.length).toBeLessThanOrEqual(36);
    expect(created).toEqual(output);
    expect(harness.state.get('service')).toMatchObject({ created: true, data: output });
    expect(harness.progress).toEqual(expect.arrayContaining(['running 0/2', 'running 1/2']));
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
      deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200 },
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
    expect(harness.progress).toContain('running 2/1');
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

  it('times out with SERVICE_NOT_STABLE and a hint about target health and events', async () => {
    harness = stepHarness(serviceStep, { config: { waitTimeoutMinutes: 1 } });
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolves({ services: [service({ runningCount: 0, pendingCount: 2 })] });
    ecs.on(CreateServiceCommand).resolves({ service: service() });

    await expect(serviceStep.create(harness.context, serviceStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({
      code: 'SERVICE_NOT_STABLE',
      exit: 'timeout',
      hint: expect.stringMatching(/describe-target-health[\s\S]*events/),
    });
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
});
