import {
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/schema.js';
import { executionRoleStep } from '../../../src/steps/execution-role.js';
import { diffFields, type Inputs } from '../../../src/steps/resource.js';
import { isValidFargateSize } from '../../../src/steps/shared/fargate.js';
import { taskDefinitionStep } from '../../../src/steps/task-definition.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ecs = mockClient(ECSClient);
const FAMILY = 'ecsauthservice';
const arnOf = (revision: number) => `arn:aws:ecs:eu-west-1:123456789012:task-definition/${FAMILY}:${revision}`;
const outputOf = (revision: number) => ({ taskDefinitionArn: arnOf(revision), family: FAMILY, revision });
const ourTags = [
  { key: 'authecs:stack', value: 'ecsauth' },
  { key: 'managed-by', value: 'authecs' },
];
const notFound = Object.assign(new Error('Unable to describe task definition.'), { name: 'ClientException' });
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });
const ROLE_ARN = SAMPLE_OUTPUTS['execution-role'].roleArn;
// awslogs to the stack's log group, streams authecs/web/<task id>.
const LOGS = { logDriver: 'awslogs' as const, options: { 'awslogs-group': '/authecs/ecsauth', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'authecs' } };
const sampleContainer = { name: 'web', image: 'amazon/amazon-ecs-sample', essential: true, memory: 512, portMappings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' as const }] };
/** The registered container as read back: no --env or --secret. */
const observedContainer = { ...sampleContainer, environment: [], secrets: [], logConfiguration: LOGS };
const DB_PASSWORD = 'arn:aws:ssm:eu-west-1:123456789012:parameter/ecsauth/db-password';
const API_KEY = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecsauth/api-key-AbCdEf';

/** desired() as the engine calls it: no execution-role input when that step is disabled (EC2 without secrets). */
function desiredOf(config: Config, inputs: Inputs) {
  const { 'execution-role': _role, ...withoutRole } = inputs;
  return taskDefinitionStep.desired(config, executionRoleStep.enabled!(config) ? inputs : withoutRole);
}

function ec2Revision(revision: number, overrides: Partial<TaskDefinition> = {}): TaskDefinition {
  return {
    taskDefinitionArn: arnOf(revision),
    family: FAMILY,
    revision,
    status: 'ACTIVE',
    networkMode: 'bridge',
    requiresCompatibilities: ['EC2'],
    compatibilities: ['EC2'],
    // AWS fills in defaults authecs never sets; they must not count as a difference.
    containerDefinitions: [{ ...sampleContainer, cpu: 0, environment: [], mountPoints: [], volumesFrom: [], logConfiguration: { ...LOGS, secretOptions: [] } }],
    ...overrides,
  };
}

const recordedRevision = (revision = 1) => ({ record: { created: true, complete: true, data: outputOf(revision) } });

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

    expect(await taskDefinitionStep.read(harness.readContext)).toBeUndefined();
    const output = await taskDefinitionStep.create(harness.context, desiredOf(harness.config, harness.inputs));

    expect(ecs.commandCalls(DescribeTaskDefinitionCommand)[0]!.args[0].input).toEqual({ taskDefinition: FAMILY, include: ['TAGS'] });
    // No execution role under EC2 without secrets; no environment or secrets when none are set.
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input).toEqual({
      family: 'ecsauthservice',
      networkMode: 'bridge',
      requiresCompatibilities: ['EC2'],
      containerDefinitions: [{ ...sampleContainer, logConfiguration: LOGS }],
      tags: ourTags,
    });
    expect(output).toEqual(outputOf(1));
    expect(harness.state.get('task-definition')).toMatchObject({ created: true, data: output });
  });

  it('registers an awsvpc task definition with task-level cpu and memory for Fargate', async () => {
    harness = stepHarness(taskDefinitionStep, { config: { launchType: 'FARGATE', taskCpu: 512, taskMemory: 1024 } });
    ecs.on(DescribeTaskDefinitionCommand).rejects(notFound);
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1, { networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'] }) });

    const want = desiredOf(harness.config, harness.inputs);
    await taskDefinitionStep.create(harness.context, want);

    expect(want).toEqual({
      family: 'ecsauthservice',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '512',
      memory: '1024',
      executionRoleArn: ROLE_ARN,
      container: {
        name: 'web',
        image: 'amazon/amazon-ecs-sample',
        essential: true,
        portMappings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }],
        environment: [],
        secrets: [],
        logConfiguration: LOGS,
      },
    });
    // Fargate's awslogs needs the execution role.
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input).toEqual({
      family: 'ecsauthservice',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '512',
      memory: '1024',
      executionRoleArn: ROLE_ARN,
      containerDefinitions: [{ name: 'web', image: 'amazon/amazon-ecs-sample', essential: true, portMappings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }], logConfiguration: LOGS }],
      tags: ourTags,
    });
  });

  it('desired takes the image from the settings alone', () => {
    harness = stepHarness(taskDefinitionStep, recordedRevision());
    expect(taskDefinitionStep.desired(articleConfig({ image: 'nginx:1.27' }), harness.inputs).container.image).toBe('nginx:1.27');
    expect(taskDefinitionStep.desired(articleConfig(), harness.inputs).container.image).toBe('amazon/amazon-ecs-sample');
  });

  it('reads the latest ACTIVE revision a killed run registered when it is ours, and it matches the settings', async () => {
    harness = stepHarness(taskDefinitionStep);
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(3), tags: ourTags });

    const found = await taskDefinitionStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: outputOf(3) });
    expect(found?.settled).not.toBe(false);
    expect(diffFields(desiredOf(harness.config, harness.inputs), found!.observed, taskDefinitionStep.effects)).toEqual([]);
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
  });

  it('reads the recorded revision first, and never writes the state file', async () => {
    harness = stepHarness(taskDefinitionStep, recordedRevision());
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(1) }).resolves({ taskDefinition: ec2Revision(1), tags: [] });
    const before = readFileSync(harness.state.path, 'utf8');

    expect(await taskDefinitionStep.read(harness.readContext)).toMatchObject({ created: true, output: { revision: 1 } });
    expect(ecs.commandCalls(DescribeTaskDefinitionCommand)).toHaveLength(1);
    expect(readFileSync(harness.state.path, 'utf8')).toBe(before);
  });

  it('looks for the family when the recorded revision was deregistered, and finds nothing that is not ours', async () => {
    harness = stepHarness(taskDefinitionStep, recordedRevision());
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(1) }).resolves({ taskDefinition: ec2Revision(1, { status: 'INACTIVE' }), tags: ourTags });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: FAMILY }).resolvesOnce({ taskDefinition: ec2Revision(2), tags: ourTags }).resolves({ taskDefinition: ec2Revision(2), tags: [] });

    expect(await taskDefinitionStep.read(harness.readContext)).toMatchObject({ output: { revision: 2 } });
    expect(await taskDefinitionStep.read(harness.readContext)).toBeUndefined();
  });

  it('falls back to the newest ACTIVE revision when describing the family returns an INACTIVE one (moto)', async () => {
    harness = stepHarness(taskDefinitionStep);
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: FAMILY }).resolves({ taskDefinition: ec2Revision(4, { status: 'INACTIVE' }), tags: ourTags });
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [arnOf(1), arnOf(2), 'arn:aws:ecs:eu-west-1:123456789012:task-definition/ecsauthservice2:9'] });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(2) }).resolves({ taskDefinition: ec2Revision(2), tags: ourTags });

    expect(await taskDefinitionStep.read(harness.readContext)).toMatchObject({ output: { revision: 2 } });
    expect(ecs.commandCalls(ListTaskDefinitionsCommand)[0]!.args[0].input).toMatchObject({ familyPrefix: FAMILY, status: 'ACTIVE' });
  });

  it('a changed image, port or launch type is a replace diff', async () => {
    harness = stepHarness(taskDefinitionStep, recordedRevision());
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1), tags: ourTags });
    const live = (await taskDefinitionStep.read(harness.readContext))!;
    const diff = (overrides: Parameters<typeof articleConfig>[0]) => diffFields(desiredOf(articleConfig(overrides), harness.inputs), live.observed, taskDefinitionStep.effects);

    expect(diff({ image: 'nginx:1.27' })).toEqual([{ field: 'container', from: observedContainer, to: { ...observedContainer, image: 'nginx:1.27' }, effect: 'replace' }]);
    expect(diff({ containerPort: 8080 })).toEqual([
      { field: 'container', from: observedContainer, to: { ...observedContainer, portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }] }, effect: 'replace' },
    ]);
    expect(diff({ launchType: 'FARGATE' }).map((change) => [change.field, change.effect])).toEqual([
      ['networkMode', 'replace'],
      ['requiresCompatibilities', 'replace'],
      ['cpu', 'replace'],
      ['memory', 'replace'],
      ['executionRoleArn', 'replace'],
      ['container', 'replace'],
    ]);
    expect(diff({})).toEqual([]);
  });

  it('replace registers a new revision with the new image, records it and retires the old one, deleting nothing itself', async () => {
    harness = stepHarness(taskDefinitionStep, { ...recordedRevision(), config: { image: 'nginx:1.27' } });
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1), tags: ourTags });
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(2, { containerDefinitions: [{ ...sampleContainer, image: 'nginx:1.27', logConfiguration: LOGS }] }) });
    const live = (await taskDefinitionStep.read(harness.readContext))!;
    const want = desiredOf(harness.config, harness.inputs);

    const output = await taskDefinitionStep.replace!(harness.context, want, live, diffFields(want, live.observed, taskDefinitionStep.effects));

    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(1);
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input.containerDefinitions).toEqual([{ ...sampleContainer, image: 'nginx:1.27', logConfiguration: LOGS }]);
    expect(output).toEqual(outputOf(2));
    expect(harness.state.get('task-definition')).toMatchObject({ created: true, data: outputOf(2), retired: [outputOf(1)] });
    expect(ecs.commandCalls(DeregisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecs.commandCalls(DeleteTaskDefinitionsCommand)).toHaveLength(0);
  });

  it('create and replace reuse a matching revision a killed run registered instead of adding another', async () => {
    harness = stepHarness(taskDefinitionStep, { ...recordedRevision(), config: { image: 'nginx:1.27' } });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(1) }).resolves({ taskDefinition: ec2Revision(1), tags: ourTags });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: FAMILY }).resolves({ taskDefinition: ec2Revision(2, { containerDefinitions: [{ ...sampleContainer, image: 'nginx:1.27', logConfiguration: LOGS }] }), tags: ourTags });
    const live = (await taskDefinitionStep.read(harness.readContext))!;
    const want = desiredOf(harness.config, harness.inputs);

    expect(await taskDefinitionStep.replace!(harness.context, want, live, [])).toEqual(outputOf(2));
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(harness.state.get('task-definition')).toMatchObject({ data: outputOf(2), retired: [outputOf(1)] });
  });

  it('create registers a new revision when the latest one is ours but differs, or is not ours', async () => {
    harness = stepHarness(taskDefinitionStep, { config: { image: 'nginx:1.27' } });
    ecs.on(DescribeTaskDefinitionCommand).resolvesOnce({ taskDefinition: ec2Revision(2), tags: ourTags }).resolves({ taskDefinition: ec2Revision(2, { containerDefinitions: [{ ...sampleContainer, image: 'nginx:1.27', logConfiguration: LOGS }] }), tags: [] });
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(3, { containerDefinitions: [{ name: 'web', image: 'nginx:1.27' }] }) });
    const want = desiredOf(harness.config, harness.inputs);

    expect((await taskDefinitionStep.create(harness.context, want)).revision).toBe(3);
    await taskDefinitionStep.create(harness.context, want);

    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(2);
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input.containerDefinitions![0]!.image).toBe('nginx:1.27');
  });

  it('sends --env and --secret sorted by name: values in environment, only ARNs in secrets, with the execution role and awslogs', async () => {
    harness = stepHarness(taskDefinitionStep, { config: { environment: { LOG_LEVEL: 'debug', APP_MODE: 'a=b c' }, secrets: { DB_PASSWORD, API_KEY } } });
    ecs.on(DescribeTaskDefinitionCommand).rejects(notFound);
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1) });

    await taskDefinitionStep.create(harness.context, desiredOf(harness.config, harness.inputs));

    const input = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input;
    expect(input.executionRoleArn).toBe(ROLE_ARN);
    expect(input.containerDefinitions).toEqual([
      {
        ...sampleContainer,
        environment: [
          { name: 'APP_MODE', value: 'a=b c' },
          { name: 'LOG_LEVEL', value: 'debug' },
        ],
        // ECS reads each secret at task start; the request names only where it lives.
        secrets: [
          { name: 'API_KEY', valueFrom: API_KEY },
          { name: 'DB_PASSWORD', valueFrom: DB_PASSWORD },
        ],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/authecs/ecsauth', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'authecs' } },
      },
    ]);
  });

  it('--allowed-groups reaches the container as AUTHECS_ALLOWED_GROUPS (comma-joined), beside --env; none set, no variable', async () => {
    harness = stepHarness(taskDefinitionStep, { config: { environment: { LOG_LEVEL: 'debug' }, allowedGroups: ['admins', 'staff'] } });
    ecs.on(DescribeTaskDefinitionCommand).rejects(notFound);
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1) });

    await taskDefinitionStep.create(harness.context, desiredOf(harness.config, harness.inputs));

    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input.containerDefinitions![0]!.environment).toEqual([
      { name: 'AUTHECS_ALLOWED_GROUPS', value: 'admins,staff' },
      { name: 'LOG_LEVEL', value: 'debug' },
    ]);
    expect(desiredOf(articleConfig({ allowedGroups: [] }), harness.inputs).container.environment).toEqual([]);
    // A new group set is a new revision, as any environment change.
    const before = desiredOf(articleConfig({ allowedGroups: ['admins'] }), harness.inputs);
    expect(diffFields(desiredOf(articleConfig({ allowedGroups: ['admins', 'ops'] }), harness.inputs), before, taskDefinitionStep.effects).map((change) => [change.field, change.effect])).toEqual([['container', 'replace']]);
  });

  it.each([
    ['Fargate without secrets', { launchType: 'FARGATE' as const }, true],
    ['EC2 with a secret', { secrets: { DB_PASSWORD } }, true],
    ['EC2 without secrets', {}, false],
  ])('executionRoleArn under %s: %s', async (_label, config, withRole) => {
    harness = stepHarness(taskDefinitionStep, { config });
    ecs.on(DescribeTaskDefinitionCommand).rejects(notFound);
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1) });

    expect(executionRoleStep.enabled!(harness.config)).toBe(withRole);
    await taskDefinitionStep.create(harness.context, desiredOf(harness.config, harness.inputs));

    const input = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input;
    if (withRole) expect(input.executionRoleArn).toBe(ROLE_ARN);
    else expect(input).not.toHaveProperty('executionRoleArn');
  });

  it('a changed --env value, --secret ARN, or clearing both is a replace, and the new revision carries the new set', async () => {
    const live = ec2Revision(1, {
      executionRoleArn: ROLE_ARN,
      containerDefinitions: [{ ...sampleContainer, environment: [{ name: 'LOG_LEVEL', value: 'info' }], secrets: [{ name: 'DB_PASSWORD', valueFrom: DB_PASSWORD }], logConfiguration: LOGS }],
    });
    const was = { ...observedContainer, environment: [{ name: 'LOG_LEVEL', value: 'info' }], secrets: [{ name: 'DB_PASSWORD', valueFrom: DB_PASSWORD }] };
    const rotated = `${DB_PASSWORD}-v2`;
    harness = stepHarness(taskDefinitionStep, { ...recordedRevision(), config: { environment: { LOG_LEVEL: 'debug' }, secrets: { DB_PASSWORD: rotated } } });
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: live, tags: ourTags });
    const found = (await taskDefinitionStep.read(harness.readContext))!;
    const diff = (settings: Partial<Config>) => diffFields(desiredOf(articleConfig(settings), harness.inputs), found.observed, taskDefinitionStep.effects);

    expect(diff({ environment: { LOG_LEVEL: 'info' }, secrets: { DB_PASSWORD } })).toEqual([]);
    expect(diff({ environment: { LOG_LEVEL: 'debug' }, secrets: { DB_PASSWORD } })).toEqual([
      { field: 'container', from: was, to: { ...was, environment: [{ name: 'LOG_LEVEL', value: 'debug' }] }, effect: 'replace' },
    ]);
    expect(diff({ environment: { LOG_LEVEL: 'info' }, secrets: { DB_PASSWORD: rotated } })).toEqual([
      { field: 'container', from: was, to: { ...was, secrets: [{ name: 'DB_PASSWORD', valueFrom: rotated }] }, effect: 'replace' },
    ]);
    // No secret left under EC2: the role goes too.
    expect(diff({})).toEqual([
      { field: 'executionRoleArn', from: ROLE_ARN, to: undefined, effect: 'replace' },
      { field: 'container', from: was, to: observedContainer, effect: 'replace' },
    ]);

    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(2) });
    const want = desiredOf(harness.config, harness.inputs);
    await taskDefinitionStep.replace!(harness.context, want, found, diffFields(want, found.observed, taskDefinitionStep.effects));

    const input = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input;
    expect(input.containerDefinitions![0]).toMatchObject({ environment: [{ name: 'LOG_LEVEL', value: 'debug' }], secrets: [{ name: 'DB_PASSWORD', valueFrom: rotated }] });
    expect(input.executionRoleArn).toBe(ROLE_ARN);
    expect(harness.state.get('task-definition')).toMatchObject({ data: outputOf(2), retired: [outputOf(1)] });
  });

  it('a revision registered before the stack had logs differs (replace), so the service moves to one that logs', async () => {
    harness = stepHarness(taskDefinitionStep, recordedRevision());
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1, { containerDefinitions: [{ ...sampleContainer, environment: [] }] }), tags: ourTags });
    const found = (await taskDefinitionStep.read(harness.readContext))!;

    expect(diffFields(desiredOf(harness.config, harness.inputs), found.observed, taskDefinitionStep.effects)).toEqual([
      { field: 'container', from: { ...observedContainer, logConfiguration: { logDriver: 'none', options: {} } }, to: observedContainer, effect: 'replace' },
    ]);
  });

  // What ECS returns for a registration: defaults filled in, lists in any order, environment left out when empty.
  function asDescribed(input: RegisterTaskDefinitionCommandInput, revision: number): TaskDefinition {
    const { tags: _tags, containerDefinitions, ...task } = input;
    return {
      ...task,
      taskDefinitionArn: arnOf(revision),
      revision,
      status: 'ACTIVE',
      compatibilities: input.requiresCompatibilities,
      containerDefinitions: containerDefinitions!.map(({ environment, secrets, logConfiguration, ...container }) => ({
        cpu: 0,
        mountPoints: [],
        volumesFrom: [],
        systemControls: [],
        ...container,
        // An empty value comes back without one.
        ...(environment?.length ? { environment: [...environment].reverse().map((variable) => (variable.value ? variable : { name: variable.name })) } : {}),
        ...(secrets ? { secrets: [...secrets].reverse() } : {}),
        logConfiguration: { ...logConfiguration!, secretOptions: [] },
      })),
    };
  }

  it.each([
    ['EC2, no --env or --secret', {}],
    ['EC2 with --env and --secret', { environment: { B_VAR: '2', A_VAR: '1', EMPTY: '' }, secrets: { DB_PASSWORD, API_KEY } }],
    ['Fargate with --env', { launchType: 'FARGATE' as const, environment: { B_VAR: '2', A_VAR: '1' } }],
  ])('what it registers reads back equal (%s): no perpetual diff, and the next up registers nothing', async (_label, config) => {
    harness = stepHarness(taskDefinitionStep, { config });
    ecs.on(DescribeTaskDefinitionCommand).rejects(notFound);
    ecs.on(RegisterTaskDefinitionCommand).callsFake((input: RegisterTaskDefinitionCommandInput) => ({ taskDefinition: asDescribed(input, 1), tags: ourTags }));
    const want = desiredOf(harness.config, harness.inputs);

    await taskDefinitionStep.create(harness.context, want);
    const registered = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input;
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: asDescribed(registered, 1), tags: ourTags });
    const found = (await taskDefinitionStep.read(harness.readContext))!;

    expect(diffFields(want, found.observed, taskDefinitionStep.effects)).toEqual([]);
    expect(found.observed.container!.environment).toEqual(want.container.environment);
    // Registering again finds the same revision instead of adding another.
    expect(await taskDefinitionStep.create(harness.context, want)).toEqual(outputOf(1));
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(1);
  });

  it('delete deregisters the recorded revision and deletes it', async () => {
    harness = stepHarness(taskDefinitionStep, recordedRevision());
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [arnOf(1)] });
    ecs.on(DeregisterTaskDefinitionCommand).resolves({ taskDefinition: ec2Revision(1, { status: 'INACTIVE' }) });
    ecs.on(DeleteTaskDefinitionsCommand).resolves({ taskDefinitions: [], failures: [] });

    await taskDefinitionStep.delete(harness.context);

    expect(ecs.commandCalls(DeregisterTaskDefinitionCommand).map((call) => call.args[0].input)).toEqual([{ taskDefinition: arnOf(1) }]);
    expect(ecs.commandCalls(DeleteTaskDefinitionsCommand).map((call) => call.args[0].input)).toEqual([{ taskDefinitions: [arnOf(1)] }]);
  });

  it('delete also deregisters earlier revisions this stack registered, and leaves others and later ones', async () => {
    // The record of a retired revision 3 while revision 4 is live: works from record.data alone.
    harness = stepHarness(taskDefinitionStep, recordedRevision(3));
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [arnOf(1), arnOf(2), arnOf(3), arnOf(4)] });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(1) }).resolves({ taskDefinition: ec2Revision(1), tags: [] });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(2) }).resolves({ taskDefinition: ec2Revision(2), tags: ourTags });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: arnOf(4) }).resolves({ taskDefinition: ec2Revision(4), tags: ourTags });
    ecs.on(DeregisterTaskDefinitionCommand).resolves({});
    ecs.on(DeleteTaskDefinitionsCommand).resolves({});

    await taskDefinitionStep.delete(harness.context);

    expect(ecs.commandCalls(DeregisterTaskDefinitionCommand).map((call) => call.args[0].input.taskDefinition)).toEqual([arnOf(3), arnOf(2)]);
    expect(ecs.commandCalls(DescribeTaskDefinitionCommand).map((call) => call.args[0].input.taskDefinition)).not.toContain(arnOf(4));
  });

  it('delete tolerates a revision that is already gone, and an emulator without DeleteTaskDefinitions', async () => {
    harness = stepHarness(taskDefinitionStep, recordedRevision());
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [] });
    ecs.on(DeregisterTaskDefinitionCommand).rejects(notFound);
    ecs.on(DeleteTaskDefinitionsCommand).rejects(Object.assign(new SyntaxError('Unexpected token <'), { $metadata: { httpStatusCode: 500 } }));

    await expect(taskDefinitionStep.delete(harness.context)).resolves.toBeUndefined();
  });

  it('delete does not swallow other errors', async () => {
    harness = stepHarness(taskDefinitionStep, recordedRevision());
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [] });
    ecs.on(DeregisterTaskDefinitionCommand).rejects(codeError('AccessDeniedException'));

    await expect(taskDefinitionStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDeniedException' });

    ecs.on(DeregisterTaskDefinitionCommand).resolves({});
    ecs.on(DeleteTaskDefinitionsCommand).rejects(codeError('ServerException', 'internal error'));
    await expect(taskDefinitionStep.delete(harness.context)).rejects.toMatchObject({ name: 'ServerException' });
  });

  it('read reports an ACTIVE revision with its image as health, and a missing one as undefined', async () => {
    harness = stepHarness(taskDefinitionStep, recordedRevision());
    ecs.on(DescribeTaskDefinitionCommand).resolvesOnce({ taskDefinition: ec2Revision(1), tags: ourTags }).rejects(notFound);

    expect((await taskDefinitionStep.read(harness.readContext))?.health).toEqual({
      healthy: true,
      summary: 'ecsauthservice:1 ACTIVE',
      details: { taskDefinitionArn: arnOf(1), image: 'amazon/amazon-ecs-sample' },
    });
    expect(await taskDefinitionStep.read(harness.readContext)).toBeUndefined();
  });
});

// ECS Developer Guide, "Troubleshoot Amazon ECS task definition invalid CPU or memory errors": the valid Fargate pairs.
describe('task-definition preflight: Fargate CPU/memory (ECS guide, "task definition invalid CPU or memory errors")', () => {
  let harness: StepHarness<'task-definition'>;
  beforeEach(() => {
    ecs.reset();
  });
  afterEach(() => harness?.cleanup());

  it('refuses a pair Fargate does not offer (RegisterTaskDefinition would fail "Invalid \'cpu\' setting for task"), naming the valid memory values', async () => {
    harness = stepHarness(taskDefinitionStep, { config: { launchType: 'FARGATE', taskCpu: 256, taskMemory: 4096 } });

    await expect(taskDefinitionStep.preflight!(harness.readContext)).rejects.toMatchObject({
      code: 'FARGATE_SIZE_INVALID',
      exit: 'usage',
      message: expect.stringContaining('256 CPU units with 4096 MiB'),
      hint: expect.stringContaining('512, 1024 or 2048'),
    });
    expect(ecs.calls()).toHaveLength(0);
  });

  it('refuses a CPU value that is not in the table', async () => {
    harness = stepHarness(taskDefinitionStep, { config: { launchType: 'FARGATE', taskCpu: 300, taskMemory: 512 } });
    await expect(taskDefinitionStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'FARGATE_SIZE_INVALID', hint: expect.stringContaining('256, 512, 1024, 2048, 4096, 8192, 16384') });
  });

  it('accepts the defaults (256/512) and leaves EC2 tasks alone', async () => {
    harness = stepHarness(taskDefinitionStep, { config: { launchType: 'FARGATE' } });
    await expect(taskDefinitionStep.preflight!(harness.readContext)).resolves.toBeUndefined();
    harness.cleanup();
    harness = stepHarness(taskDefinitionStep, { config: { taskCpu: 256, taskMemory: 4096 } });
    await expect(taskDefinitionStep.preflight!(harness.readContext)).resolves.toBeUndefined();
  });

  it('follows the documented table at its edges', () => {
    expect([512, 1024, 2048].every((memory) => isValidFargateSize(256, memory))).toBe(true);
    expect(isValidFargateSize(256, 3072)).toBe(false);
    expect(isValidFargateSize(512, 4096)).toBe(true);
    expect(isValidFargateSize(512, 5120)).toBe(false);
    expect(isValidFargateSize(1024, 8192)).toBe(true);
    expect(isValidFargateSize(2048, 16384)).toBe(true);
    expect(isValidFargateSize(2048, 4500)).toBe(false);
    expect(isValidFargateSize(4096, 30720)).toBe(true);
    expect(isValidFargateSize(4096, 31744)).toBe(false);
    expect(isValidFargateSize(8192, 61440)).toBe(true);
    expect(isValidFargateSize(8192, 17408)).toBe(false);
    expect(isValidFargateSize(16384, 122880)).toBe(true);
    expect(isValidFargateSize(16384, 36864)).toBe(false);
  });
});
