import {
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { taskDefinitionStep } from '../../../src/steps/task-definition.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ecs = mockClient(ECSClient);
const FAMILY = 'ecsauthservice';
const arnOf = (revision: number) => `arn:aws:ecs:eu-west-1:123456789012:task-definition/${FAMILY}:${revision}`;
const ourTags = [
  { key: 'authecs:stack', value: 'ecsauth' },
  { key: 'managed-by', value: 'authecs' },
];
const notFound = Object.assign(new Error('Unable to describe task definition.'), { name: 'ClientException' });
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });

function ec2Revision(revision: number, overrides: Partial<TaskDefinition> = {}): TaskDefinition {
  return {
    taskDefinitionArn: arnOf(revision),
    family: FAMILY,
    revision,
    status: 'ACTIVE',
    networkMode: 'bridge',
    requiresCompatibilities: ['EC2'],
    compatibilities: ['EC2'],
    containerDefinitions: [{ name: 'web', image: 'amazon/amazon-ecs-sample', essential: true, memory: 512, portMappings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }] }],
    ...overrides,
  };
}

describe('task-definition step', () => {
  let harness: StepHarness<'task-definition'>;
  beforeEach(() => {
    ecs.reset();
  });
  afterEach(() => harness?.cleanup());

  it("registers the compose file's task definition for EC2: family ecsauthservice, container web, the sample image, 80:80/tcp, bridge, 512 MiB", async () => {
    harness = stepHarness(taskDefinitionStep);
    ecs.on(DescribeTaskDefinitionCommand).rejects(notFound);
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1), tags: ourTags });

    const output = await taskDefinitionStep.create(harness.context);

    expect(ecs.commandCalls(DescribeTaskDefinitionCommand)[0]!.args[0].input).toEqual({ taskDefinition: FAMILY, include: ['TAGS'] });
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input).toEqual({
      family: 'ecsauthservice',
      networkMode: 'bridge',
      requiresCompatibilities: ['EC2'],
      containerDefinitions: [{ name: 'web', image: 'amazon/amazon-ecs-sample', essential: true, memory: 512, portMappings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }] }],
      tags: ourTags,
    });
    expect(output).toEqual({ taskDefinitionArn: arnOf(1), family: FAMILY, revision: 1 });
    expect(harness.state.get('task-definition')).toMatchObject({ created: true, data: output });
  });

  it('registers an awsvpc task definition with task-level cpu and memory for Fargate', async () => {
    harness = stepHarness(taskDefinitionStep, { config: { launchType: 'FARGATE', taskCpu: 512, taskMemory: 1024 } });
    ecs.on(DescribeTaskDefinitionCommand).rejects(notFound);
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1, { networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'] }) });

    await taskDefinitionStep.create(harness.context);

    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input).toEqual({
      family: 'ecsauthservice',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '512',
      memory: '1024',
      containerDefinitions: [{ name: 'web', image: 'amazon/amazon-ecs-sample', essential: true, portMappings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }] }],
      tags: ourTags,
    });
  });

  it('adopts the latest ACTIVE revision when it is ours and matches, so a rerun registers no new revision', async () => {
    harness = stepHarness(taskDefinitionStep);
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(3), tags: ourTags });

    expect(await taskDefinitionStep.find(harness.context)).toEqual({ created: true, output: { taskDefinitionArn: arnOf(3), family: FAMILY, revision: 3 } });
    await taskDefinitionStep.create(harness.context);
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
  });

  it('looks up the recorded revision first', async () => {
    harness = stepHarness(taskDefinitionStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['task-definition'] } });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(1) }).resolves({ taskDefinition: ec2Revision(1), tags: [] });

    expect(await taskDefinitionStep.find(harness.context)).toMatchObject({ output: { revision: 1 } });
    expect(ecs.commandCalls(DescribeTaskDefinitionCommand)).toHaveLength(1);
  });

  it('registers a new revision when the latest one is not ours or does not match the settings', async () => {
    harness = stepHarness(taskDefinitionStep, { config: { image: 'nginx:1.27' } });
    ecs.on(DescribeTaskDefinitionCommand).resolvesOnce({ taskDefinition: ec2Revision(2), tags: ourTags }).resolves({ taskDefinition: ec2Revision(2), tags: [] });
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(3, { containerDefinitions: [{ name: 'web', image: 'nginx:1.27' }] }) });

    // Ours, but the image changed.
    expect(await taskDefinitionStep.find(harness.context)).toBeUndefined();
    // Not ours.
    const output = await taskDefinitionStep.create(harness.context);
    expect(output.revision).toBe(3);
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input.containerDefinitions![0]!.image).toBe('nginx:1.27');
  });

  it('falls back to the newest ACTIVE revision when describing the family returns an INACTIVE one (moto)', async () => {
    harness = stepHarness(taskDefinitionStep);
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: FAMILY }).resolves({ taskDefinition: ec2Revision(4, { status: 'INACTIVE' }), tags: ourTags });
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [arnOf(1), arnOf(2), 'arn:aws:ecs:eu-west-1:123456789012:task-definition/ecsauthservice2:9'] });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(2) }).resolves({ taskDefinition: ec2Revision(2), tags: ourTags });

    expect(await taskDefinitionStep.find(harness.context)).toMatchObject({ output: { revision: 2 } });
    expect(ecs.commandCalls(ListTaskDefinitionsCommand)[0]!.args[0].input).toMatchObject({ familyPrefix: FAMILY, status: 'ACTIVE' });
  });

  it('delete deregisters the recorded revision and deletes it', async () => {
    harness = stepHarness(taskDefinitionStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['task-definition'] } });
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [arnOf(1)] });
    ecs.on(DeregisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1, { status: 'INACTIVE' }) });
    ecs.on(DeleteTaskDefinitionsCommand).resolves({ taskDefinitions: [], failures: [] });

    await taskDefinitionStep.delete(harness.context);

    expect(ecs.commandCalls(DeregisterTaskDefinitionCommand).map((call) => call.args[0].input)).toEqual([{ taskDefinition: arnOf(1) }]);
    expect(ecs.commandCalls(DeleteTaskDefinitionsCommand).map((call) => call.args[0].input)).toEqual([{ taskDefinitions: [arnOf(1)] }]);
  });

  it('delete also deregisters earlier revisions this stack registered, and leaves others', async () => {
    harness = stepHarness(taskDefinitionStep, { record: { created: true, complete: true, data: { ...SAMPLE_OUTPUTS['task-definition'], taskDefinitionArn: arnOf(3), revision: 3 } } });
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [arnOf(1), arnOf(2), arnOf(3)] });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(1) }).resolves({ taskDefinition: ec2Revision(1), tags: [] });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(2) }).resolves({ taskDefinition: ec2Revision(2), tags: ourTags });
    ecs.on(DeregisterTaskDefinitionCommand).resolves({});
    ecs.on(DeleteTaskDefinitionsCommand).resolves({});

    await taskDefinitionStep.delete(harness.context);

    expect(ecs.commandCalls(DeregisterTaskDefinitionCommand).map((call) => call.args[0].input.taskDefinition)).toEqual([arnOf(3), arnOf(2)]);
  });

  it('delete tolerates a revision that is already gone, and an emulator without DeleteTaskDefinitions', async () => {
    harness = stepHarness(taskDefinitionStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['task-definition'] } });
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [] });
    ecs.on(DeregisterTaskDefinitionCommand).rejects(notFound);
    ecs.on(DeleteTaskDefinitionsCommand).rejects(Object.assign(new SyntaxError('Unexpected token <'), { $metadata: { httpStatusCode: 500 } }));

    await expect(taskDefinitionStep.delete(harness.context)).resolves.toBeUndefined();
  });

  it('delete does not swallow other errors', async () => {
    harness = stepHarness(taskDefinitionStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['task-definition'] } });
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [] });
    ecs.on(DeregisterTaskDefinitionCommand).rejects(codeError('AccessDeniedException'));

    await expect(taskDefinitionStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDeniedException' });

    ecs.on(DeregisterTaskDefinitionCommand).resolves({});
    ecs.on(DeleteTaskDefinitionsCommand).rejects(codeError('ServerException', 'internal error'));
    await expect(taskDefinitionStep.delete(harness.context)).rejects.toMatchObject({ name: 'ServerException' });
  });

  it('inspect reports ACTIVE, drift from the settings, and a deregistered or missing revision', async () => {
    harness = stepHarness(taskDefinitionStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['task-definition'] }, config: { containerPort: 8080 } });
    ecs
      .on(DescribeTaskDefinitionCommand)
      .resolvesOnce({ taskDefinition: ec2Revision(1), tags: ourTags })
      .resolvesOnce({ taskDefinition: ec2Revision(1, { status: 'INACTIVE' }) })
      .rejects(notFound);

    const live = await taskDefinitionStep.inspect(harness.context);
    expect(live).toMatchObject({ present: true, healthy: true, summary: 'ecsauthservice:1 ACTIVE' });
    expect(live.drift).toEqual(['port mappings are 80:80/tcp, not 8080:8080/tcp']);
    expect(await taskDefinitionStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false, summary: 'INACTIVE' });
    expect(await taskDefinitionStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false, summary: 'missing' });
  });
});
