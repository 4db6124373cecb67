import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  UpdateServiceCommand,
  type Service,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceClientToken, serviceStep } from '../../../src/steps/service.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ecs = mockClient(ECSClient);
const SERVICE_ARN = SAMPLE_OUTPUTS.service.serviceArn;
const TASK_DEFINITION = SAMPLE_OUTPUTS['task-definition'].taskDefinitionArn;
const TARGET_GROUP = SAMPLE_OUTPUTS['target-group'].targetGroupArn;
const ourTags = [
  { key: 'authecs:stack', value: 'ecsauth' },
  { key: 'managed-by', value: 'authecs' },
];
const missing = { services: [], failures: [{ arn: SERVICE_ARN, reason: 'MISSING' }] };
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });

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
    deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', desiredCount: 2, runningCount: 2 }],
    tags: ourTags,
    events: [],
    ...overrides,
  };
}

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
      .resolvesOnce({ services: [service({ runningCount: 0, pendingCount: 2 })] })
      .resolvesOnce({ services: [service({ runningCount: 1, pendingCount: 1 })] })
      .resolves({ services: [service()] });
    ecs.on(CreateServiceCommand).resolves({ service: service({ runningCount: 0 }) });

    const output = await serviceStep.create(harness.context);

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
    expect(output).toEqual({ serviceName: 'ecsauthservice', serviceArn: SERVICE_ARN, clusterName: 'ecsauth' });
    expect(harness.state.get('service')).toMatchObject({ created: true, data: output });
    expect(harness.progress).toEqual(expect.arrayContaining(['running 0/2', 'running 1/2']));
  });

  it('client tokens are stable for one task definition revision and change with it', () => {
    expect(serviceClientToken('ecsauth', 'ecsauthservice', TASK_DEFINITION)).toBe(serviceClientToken('ecsauth', 'ecsauthservice', TASK_DEFINITION));
    expect(serviceClientToken('ecsauth', 'ecsauthservice', TASK_DEFINITION)).not.toBe(serviceClientToken('ecsauth', 'ecsauthservice', `${TASK_DEFINITION.slice(0, -1)}2`));
  });

  it('under Fargate, places tasks in the private subnets with the security group and no public IP', async () => {
    harness = stepHarness(serviceStep, { config: { launchType: 'FARGATE', desiredCount: 3 } });
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolves({ services: [service({ desiredCount: 3, runningCount: 3, launchType: 'FARGATE' })] });
    ecs.on(CreateServiceCommand).resolves({ service: service() });

    await serviceStep.create(harness.context);

    expect(ecs.commandCalls(CreateServiceCommand)[0]!.args[0].input).toMatchObject({
      launchType: 'FARGATE',
      desiredCount: 3,
      networkConfiguration: {
        awsvpcConfiguration: { subnets: SAMPLE_OUTPUTS.network.privateSubnets, securityGroups: [SAMPLE_OUTPUTS.network.securityGroupId], assignPublicIp: 'DISABLED' },
      },
    });
  });

  it('adopts our ACTIVE service (moto would silently replace it on a second create)', async () => {
    harness = stepHarness(serviceStep);
    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });

    expect(await serviceStep.find(harness.context)).toEqual({ created: true, output: { serviceName: 'ecsauthservice', serviceArn: SERVICE_ARN, clusterName: 'ecsauth' } });
    await serviceStep.create(harness.context);
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    expect(harness.state.get('service')).toMatchObject({ created: true });
  });

  it('refuses an ACTIVE service of that name that authecs did not create', async () => {
    harness = stepHarness(serviceStep);
    ecs.on(DescribeServicesCommand).resolves({ services: [service({ tags: [] })] });

    await expect(serviceStep.find(harness.context)).rejects.toMatchObject({ code: 'SERVICE_NAME_TAKEN', exit: 'conflict', hint: expect.stringContaining('--service-name') });
    await expect(serviceStep.create(harness.context)).rejects.toMatchObject({ code: 'SERVICE_NAME_TAKEN' });
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
  });

  it('recreates a service that is INACTIVE, and waits for a DRAINING one to finish first', async () => {
    harness = stepHarness(serviceStep);
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [service({ status: 'DRAINING', tags: [] })] })
      .resolvesOnce({ services: [service({ status: 'DRAINING' })] })
      .resolvesOnce({ services: [service({ status: 'INACTIVE' })] })
      .resolves({ services: [service()] });
    ecs.on(CreateServiceCommand).resolves({ service: service() });

    await serviceStep.create(harness.context);

    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(1);
    expect(ecs.commandCalls(DescribeServicesCommand).length).toBeGreaterThanOrEqual(4);
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

    await serviceStep.create(harness.context);

    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(3);
  });

  it('does not retry other InvalidParameterExceptions', async () => {
    harness = stepHarness(serviceStep);
    ecs.on(DescribeServicesCommand).resolves(missing);
    ecs.on(CreateServiceCommand).rejects(codeError('InvalidParameterException', 'Creation of service was not idempotent.'));

    await expect(serviceStep.create(harness.context)).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(1);
  });

  it('repairs a drifted desired count and task definition with UpdateService, never CreateService', async () => {
    harness = stepHarness(serviceStep, { record: recorded });
    const old = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/ecsauthservice:0';
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [service({ desiredCount: 1, runningCount: 1, taskDefinition: old })] })
      .resolvesOnce({ services: [service({ desiredCount: 1, runningCount: 1, taskDefinition: old })] })
      .resolves({ services: [service()] });
    ecs.on(UpdateServiceCommand).resolves({ service: service() });

    expect(await serviceStep.find(harness.context)).toBeUndefined();
    await serviceStep.create(harness.context);

    expect(ecs.commandCalls(UpdateServiceCommand)[0]!.args[0].input).toEqual({ cluster: 'ecsauth', service: 'ecsauthservice', taskDefinition: TASK_DEFINITION, desiredCount: 2 });
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
  });

  it('reattaches the target group when the service lost it', async () => {
    harness = stepHarness(serviceStep, { record: recorded });
    ecs.on(DescribeServicesCommand).resolvesOnce({ services: [service({ loadBalancers: [] })] }).resolves({ services: [service()] });
    ecs.on(UpdateServiceCommand).resolves({ service: service() });

    await serviceStep.create(harness.context);

    expect(ecs.commandCalls(UpdateServiceCommand)[0]!.args[0].input.loadBalancers).toEqual([{ targetGroupArn: TARGET_GROUP, containerName: 'web', containerPort: 80 }]);
  });

  it('find returns undefined while the service is still rolling out, and create then only waits', async () => {
    harness = stepHarness(serviceStep, { record: recorded });
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [service({ runningCount: 1 })] })
      .resolvesOnce({ services: [service({ runningCount: 1 })] })
      .resolves({ services: [service()] });

    expect(await serviceStep.find(harness.context)).toBeUndefined();
    await serviceStep.create(harness.context);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
  });

  it('times out with SERVICE_NOT_STABLE and a hint about target health and events', async () => {
    harness = stepHarness(serviceStep, { config: { waitTimeoutMinutes: 1 } });
    ecs.on(DescribeServicesCommand).resolvesOnce(missing).resolves({ services: [service({ runningCount: 0, pendingCount: 2 })] });
    ecs.on(CreateServiceCommand).resolves({ service: service() });

    await expect(serviceStep.create(harness.context)).rejects.toMatchObject({
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

  it('inspect reports running/desired, drift and the latest events', async () => {
    harness = stepHarness(serviceStep, { record: recorded });
    const events = ['e1', 'e2', 'e3', 'e4'].map((message, index) => ({ id: String(index), message }));
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [service({ events })] })
      .resolvesOnce({ services: [service({ desiredCount: 3, runningCount: 1, pendingCount: 2, taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/other:7' })] })
      .resolves(missing);

    expect(await serviceStep.inspect(harness.context)).toEqual({
      present: true,
      healthy: true,
      summary: 'running 2/2',
      drift: [],
      details: { runningCount: 2, desiredCount: 2, pendingCount: 0, events: ['e1', 'e2', 'e3'] },
    });
    const drifted = await serviceStep.inspect(harness.context);
    expect(drifted).toMatchObject({ present: true, healthy: false, summary: 'running 1/3' });
    expect(drifted.drift).toEqual(['desired count is 3, not 2', `runs task definition arn:aws:ecs:eu-west-1:123456789012:task-definition/other:7, not ${TASK_DEFINITION}`]);
    expect(await serviceStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false, summary: 'missing' });
  });
});
