import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executionRoleNameFor, executionRoleStep } from '../../../src/steps/execution-role.js';
import { diffFields } from '../../../src/steps/resource.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const iam = mockClient(IAMClient);
const NAME = 'ecsauth-eu-west-1-ecs-execution';
const ROLE_ARN = SAMPLE_OUTPUTS['execution-role'].roleArn;
const MANAGED = 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy';
const OUR_TAGS = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];
const TRUST = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: ['ecs-tasks.amazonaws.com'] }, Action: ['sts:AssumeRole'] }] };
const PARAMETER = 'arn:aws:ssm:eu-west-1:123456789012:parameter/ecsauth/db-password';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecsauth/api-AbCdEf';
const SECRETS = { DB_PASSWORD: PARAMETER, API_USER: `${SECRET}:username::`, API_KEY: `${SECRET}:key:AWSCURRENT:` };
// Exactly the configured secrets and nothing else; kms:Decrypt only through the two services, for these ARNs.
const SECRETS_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'ReadParameters', Effect: 'Allow', Action: ['ssm:GetParameters'], Resource: [PARAMETER] },
    {
      Sid: 'DecryptParameters',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: ['arn:aws:kms:eu-west-1:123456789012:key/*'],
      Condition: { StringEquals: { 'kms:ViaService': ['ssm.eu-west-1.amazonaws.com'], 'kms:EncryptionContext:PARAMETER_ARN': [PARAMETER] } },
    },
    { Sid: 'ReadSecrets', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [SECRET] },
    {
      Sid: 'DecryptSecrets',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: ['arn:aws:kms:eu-west-1:123456789012:key/*'],
      Condition: { StringEquals: { 'kms:ViaService': ['secretsmanager.eu-west-1.amazonaws.com'], 'kms:EncryptionContext:SecretARN': [SECRET] } },
    },
  ],
};
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });
// IAM answers with URL-encoded JSON (IAM API Reference, GetRolePolicy).
const encoded = (document: object) => encodeURIComponent(JSON.stringify(document));
const role = (overrides: Partial<Role> = {}): Role => ({
  RoleName: NAME,
  RoleId: 'AROAEXAMPLE',
  Path: '/authecs/',
  Arn: ROLE_ARN,
  CreateDate: new Date(),
  AssumeRolePolicyDocument: encoded(TRUST),
  Tags: OUR_TAGS,
  ...overrides,
});
const callNames = () => iam.calls().map((call) => (call.args[0] as object).constructor.name.replace(/Command$/, ''));

describe('execution-role step', () => {
  let harness: StepHarness<'execution-role'>;
  beforeEach(() => {
    iam.reset();
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
  });
  afterEach(() => harness?.cleanup());

  it('is wanted under Fargate (awslogs) or with secrets (valueFrom), not for the article\'s plain EC2 task', () => {
    expect(executionRoleStep.enabled!(articleConfig())).toBe(false);
    expect(executionRoleStep.enabled!(articleConfig({ launchType: 'FARGATE' }))).toBe(true);
    expect(executionRoleStep.enabled!(articleConfig({ secrets: { DB_PASSWORD: PARAMETER } }))).toBe(true);
  });

  it('creates the role under /authecs/ with the ECS trust policy and stack tags, records it, then attaches AmazonECSTaskExecutionRolePolicy', async () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE' } });
    iam.on(GetRoleCommand).rejects(codeError('NoSuchEntityException', `The role with name ${NAME} cannot be found.`));
    iam.on(CreateRoleCommand).resolves({ Role: role() });
    let recordAtAttach: unknown;
    iam.on(AttachRolePolicyCommand).callsFake(() => {
      recordAtAttach = harness.state.get('execution-role');
      return {};
    });

    expect(await executionRoleStep.read(harness.readContext)).toBeUndefined();
    const output = await executionRoleStep.create(harness.context, executionRoleStep.desired(harness.config, harness.inputs));

    const create = iam.commandCalls(CreateRoleCommand)[0]!.args[0].input;
    expect(create).toMatchObject({ RoleName: NAME, Path: '/authecs/', Tags: OUR_TAGS });
    expect(JSON.parse(create.AssumeRolePolicyDocument!)).toEqual(TRUST);
    expect(iam.commandCalls(AttachRolePolicyCommand).map((call) => call.args[0].input)).toEqual([{ RoleName: NAME, PolicyArn: MANAGED }]);
    expect(recordAtAttach).toMatchObject({ created: true, data: { roleName: NAME, roleArn: ROLE_ARN } });
    // No secrets: no inline policy.
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0);
    expect(output).toEqual({ roleName: NAME, roleArn: ROLE_ARN });
  });

  it('with secrets, puts an inline policy that reads exactly those ARNs (json-key suffix stripped) and decrypts only through SSM and Secrets Manager for them', async () => {
    harness = stepHarness(executionRoleStep, { config: { secrets: SECRETS } });
    iam.on(CreateRoleCommand).resolves({ Role: role() });

    await executionRoleStep.create(harness.context, executionRoleStep.desired(harness.config, harness.inputs));

    const put = iam.commandCalls(PutRolePolicyCommand);
    expect(put).toHaveLength(1);
    expect(put[0]!.args[0].input).toMatchObject({ RoleName: NAME, PolicyName: 'authecs-secrets' });
    expect(JSON.parse(put[0]!.args[0].input.PolicyDocument!)).toEqual(SECRETS_POLICY);
    expect(callNames()).toEqual(['CreateRole', 'AttachRolePolicy', 'PutRolePolicy']);
  });

  it('uses the partition of the region for the managed policy and KMS keys', () => {
    const want = executionRoleStep.desired(articleConfig({ region: 'us-gov-west-1', secrets: { TOKEN: 'arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/token' } }), {});
    expect(want.managedPolicyArns).toEqual(['arn:aws-us-gov:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy']);
    expect(want.inlinePolicy!.Statement[1]!.Resource).toEqual(['arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/*']);
  });

  it('names the role <cluster>-<region>-ecs-execution, cut to 64 characters with a hash when longer', () => {
    expect(executionRoleNameFor('ecsauth', 'eu-west-1')).toBe(NAME);
    const long = executionRoleNameFor('a'.repeat(60), 'ap-southeast-2');
    expect(long).toHaveLength(64);
    expect(long).toMatch(/^a+-[0-9a-f]{8}$/);
    expect(executionRoleNameFor('a'.repeat(61), 'ap-southeast-2')).not.toBe(long);
  });

  it('adopts a role tagged for this stack, and sees no change when IAM returns the same documents URL-encoded', async () => {
    harness = stepHarness(executionRoleStep, { config: { secrets: SECRETS } });
    iam.on(GetRoleCommand).resolves({ Role: role() });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyName: 'AmazonECSTaskExecutionRolePolicy', PolicyArn: MANAGED }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['authecs-secrets'] });
    iam.on(GetRolePolicyCommand).resolves({ RoleName: NAME, PolicyName: 'authecs-secrets', PolicyDocument: encoded(SECRETS_POLICY) });

    const live = (await executionRoleStep.read(harness.readContext))!;

    expect(iam.commandCalls(GetRoleCommand)[0]!.args[0].input).toEqual({ RoleName: NAME });
    expect(live).toMatchObject({ created: true, output: { roleName: NAME, roleArn: ROLE_ARN }, health: { healthy: true, summary: `/authecs/${NAME}` } });
    expect(diffFields(executionRoleStep.desired(harness.config, harness.inputs), live.observed, executionRoleStep.effects)).toEqual([]);
    expect(iam.commandCalls(CreateRoleCommand)).toHaveLength(0);
  });

  it('reads the tags with ListRoleTags when GetRole leaves them out', async () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE' } });
    iam.on(GetRoleCommand).resolves({ Role: role({ Tags: undefined }) });
    iam.on(ListRoleTagsCommand).resolves({ Tags: OUR_TAGS, IsTruncated: false });

    await expect(executionRoleStep.read(harness.readContext)).resolves.toMatchObject({ created: true });
    expect(iam.commandCalls(ListRoleTagsCommand)[0]!.args[0].input).toEqual({ RoleName: NAME });
  });

  it('refuses a role of that name that is not this stack\'s, in read and preflight', async () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE' } });
    iam.on(GetRoleCommand).resolves({ Role: role({ Path: '/', Arn: `arn:aws:iam::123456789012:role/${NAME}`, Tags: [{ Key: 'team', Value: 'payments' }] }) });

    await expect(executionRoleStep.read(harness.readContext)).rejects.toMatchObject({ code: 'EXECUTION_ROLE_NAME_TAKEN', exit: 'conflict', hint: expect.stringContaining('--cluster') });
    await expect(executionRoleStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'EXECUTION_ROLE_NAME_TAKEN', exit: 'conflict' });
  });

  it('create: EntityAlreadyExists for a role tagged ours (a lost answer) is adopted and completed; someone else\'s is refused untouched', async () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE' } });
    iam.on(CreateRoleCommand).rejects(codeError('EntityAlreadyExistsException', `Role with name ${NAME} already exists.`));
    iam.on(GetRoleCommand).resolvesOnce({ Role: role() }).resolves({ Role: role({ Tags: [] }) });

    await expect(executionRoleStep.create(harness.context, executionRoleStep.desired(harness.config, harness.inputs))).resolves.toEqual({ roleName: NAME, roleArn: ROLE_ARN });
    expect(iam.commandCalls(AttachRolePolicyCommand).map((call) => call.args[0].input.PolicyArn)).toEqual([MANAGED]);

    harness.state.remove('execution-role');
    await expect(executionRoleStep.create(harness.context, executionRoleStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'EXECUTION_ROLE_NAME_TAKEN', exit: 'conflict' });
    expect(iam.commandCalls(AttachRolePolicyCommand)).toHaveLength(1);
    expect(harness.state.get('execution-role')).toBeUndefined();
  });

  it('retries a call on the new role while IAM does not see it yet, but not a missing policy', async () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE' } });
    iam.on(CreateRoleCommand).resolves({ Role: role() });
    iam.on(AttachRolePolicyCommand).rejectsOnce(codeError('NoSuchEntityException', `The role with name ${NAME} cannot be found.`)).resolves({});

    await executionRoleStep.create(harness.context, executionRoleStep.desired(harness.config, harness.inputs));
    expect(iam.commandCalls(AttachRolePolicyCommand)).toHaveLength(2);

    iam.on(AttachRolePolicyCommand).rejects(codeError('NoSuchEntityException', `Policy ${MANAGED} does not exist or is not attachable.`));
    harness.state.remove('execution-role');
    await expect(executionRoleStep.create(harness.context, executionRoleStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ message: expect.stringContaining('not attachable') });
    expect(iam.commandCalls(AttachRolePolicyCommand)).toHaveLength(3);
  });

  it('removing the last secret deletes the inline policy in place (DeleteRolePolicy only)', async () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE', secrets: {} }, record: { created: true, complete: true, data: SAMPLE_OUTPUTS['execution-role'] } });
    iam.on(GetRoleCommand).resolves({ Role: role() });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyName: 'AmazonECSTaskExecutionRolePolicy', PolicyArn: MANAGED }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['authecs-secrets'] });
    iam.on(GetRolePolicyCommand).resolves({ RoleName: NAME, PolicyName: 'authecs-secrets', PolicyDocument: encoded(SECRETS_POLICY) });

    const live = (await executionRoleStep.read(harness.readContext))!;
    const want = executionRoleStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, live.observed, executionRoleStep.effects);
    expect(changes).toEqual([{ field: 'inlinePolicy', from: SECRETS_POLICY, to: null, effect: 'update' }]);

    iam.resetHistory();
    await executionRoleStep.update!(harness.context, want, live, changes);
    expect(callNames()).toEqual(['DeleteRolePolicy']);
    expect(iam.commandCalls(DeleteRolePolicyCommand)[0]!.args[0].input).toEqual({ RoleName: NAME, PolicyName: 'authecs-secrets' });
  });

  it('repairs drift in place: a changed trust policy and an extra managed policy', async () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE' }, record: { created: true, complete: true, data: SAMPLE_OUTPUTS['execution-role'] } });
    const widened = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::210987654321:root' }, Action: 'sts:AssumeRole' }] };
    iam.on(GetRoleCommand).resolves({ Role: role({ AssumeRolePolicyDocument: encoded(widened) }) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({
      AttachedPolicies: [
        { PolicyName: 'AmazonECSTaskExecutionRolePolicy', PolicyArn: MANAGED },
        { PolicyName: 'AdministratorAccess', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
      ],
    });

    const live = (await executionRoleStep.read(harness.readContext))!;
    const want = executionRoleStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, live.observed, executionRoleStep.effects);
    expect(changes.map((change) => change.field)).toEqual(['assumeRolePolicy', 'managedPolicyArns']);

    iam.resetHistory();
    await executionRoleStep.update!(harness.context, want, live, changes);
    expect(callNames()).toEqual(['UpdateAssumeRolePolicy', 'DetachRolePolicy']);
    expect(JSON.parse(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument!)).toEqual(TRUST);
    expect(iam.commandCalls(DetachRolePolicyCommand)[0]!.args[0].input).toEqual({ RoleName: NAME, PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' });
  });

  it('a role at another path is a replacement', () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE' } });
    expect(diffFields(executionRoleStep.desired(harness.config, harness.inputs), { roleName: NAME, path: '/' }, executionRoleStep.effects)).toEqual([
      { field: 'path', from: '/', to: '/authecs/', effect: 'replace' },
    ]);
  });

  it('delete detaches the managed policies, deletes the inline ones, then the role (IAM refuses DeleteRole before)', async () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE' }, record: { created: true, complete: true, data: SAMPLE_OUTPUTS['execution-role'] } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyName: 'AmazonECSTaskExecutionRolePolicy', PolicyArn: MANAGED }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['authecs-secrets'] });

    await executionRoleStep.delete(harness.context);

    expect(callNames()).toEqual(['ListAttachedRolePolicies', 'ListRolePolicies', 'DetachRolePolicy', 'DeleteRolePolicy', 'DeleteRole']);
    expect(iam.commandCalls(DetachRolePolicyCommand)[0]!.args[0].input).toEqual({ RoleName: NAME, PolicyArn: MANAGED });
    expect(iam.commandCalls(DeleteRolePolicyCommand)[0]!.args[0].input).toEqual({ RoleName: NAME, PolicyName: 'authecs-secrets' });
    expect(iam.commandCalls(DeleteRoleCommand)[0]!.args[0].input).toEqual({ RoleName: NAME });
  });

  it('delete treats a role that is already gone as deleted, and surfaces other errors', async () => {
    harness = stepHarness(executionRoleStep, { config: { launchType: 'FARGATE' }, record: { created: true, complete: true, data: SAMPLE_OUTPUTS['execution-role'] } });
    iam.on(ListAttachedRolePoliciesCommand).rejects(codeError('NoSuchEntityException', `The role with name ${NAME} cannot be found.`));
    await expect(executionRoleStep.delete(harness.context)).resolves.toBeUndefined();
    expect(iam.commandCalls(DeleteRoleCommand)).toHaveLength(0);

    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(DeleteRoleCommand).rejects(codeError('DeleteConflictException', 'Cannot delete entity, must remove roles from instance profile first.'));
    await expect(executionRoleStep.delete(harness.context)).rejects.toMatchObject({ name: 'DeleteConflictException' });
  });
});
