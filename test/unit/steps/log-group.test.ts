import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  type LogGroup,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffFields } from '../../../src/steps/resource.js';
import { KEEP_LOGS_STEPS, logGroupStep } from '../../../src/steps/log-group.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const logs = mockClient(CloudWatchLogsClient);
const iam = mockClient(IAMClient);
const NAME = '/authecs/ecsauth';
const ARN = SAMPLE_OUTPUTS['log-group'].logGroupArn;
const OUR_TAGS = { 'authecs:stack': 'ecsauth', 'managed-by': 'authecs' };
const group = (overrides: Partial<LogGroup> = {}): LogGroup => ({ logGroupName: NAME, arn: `${ARN}:*`, logGroupArn: ARN, retentionInDays: 30, storedBytes: 2048, ...overrides });
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });

const ROLE_ARN = 'arn:aws:iam::123456789012:role/ecsInstanceRole';
const profileWithRole = { InstanceProfile: { InstanceProfileName: 'ecsInstanceRole', InstanceProfileId: 'AIPA1', Arn: 'arn:aws:iam::123456789012:instance-profile/ecsInstanceRole', Path: '/', CreateDate: new Date(), Roles: [{ RoleName: 'ecsInstanceRole', RoleId: 'AROA1', Arn: ROLE_ARN, Path: '/', CreateDate: new Date() }] } };
const encoded = (document: object) => encodeURIComponent(JSON.stringify(document));

describe('log-group step', () => {
  let harness: StepHarness<'log-group'>;
  beforeEach(() => {
    logs.reset();
    iam.reset();
  });
  afterEach(() => harness?.cleanup());

  it('creates /authecs/<cluster> tagged in the create call, records it, then sets the retention (30 days by default)', async () => {
    harness = stepHarness(logGroupStep);
    logs.on(DescribeLogGroupsCommand).resolvesOnce({ logGroups: [] }).resolves({ logGroups: [group()] });
    let recordAtRetention: unknown;
    logs.on(PutRetentionPolicyCommand).callsFake(() => {
      recordAtRetention = harness.state.get('log-group');
      return {};
    });

    expect(await logGroupStep.read(harness.readContext)).toBeUndefined();
    const output = await logGroupStep.create(harness.context, logGroupStep.desired(harness.config, harness.inputs));

    expect(logs.commandCalls(DescribeLogGroupsCommand)[0]!.args[0].input).toMatchObject({ logGroupNamePrefix: NAME });
    expect(logs.commandCalls(CreateLogGroupCommand)[0]!.args[0].input).toEqual({ logGroupName: NAME, tags: OUR_TAGS });
    expect(logs.commandCalls(PutRetentionPolicyCommand)[0]!.args[0].input).toEqual({ logGroupName: NAME, retentionInDays: 30 });
    // Recorded right after CreateLogGroup: a run killed before the retention call still deletes it on `down`.
    expect(recordAtRetention).toMatchObject({ created: true, data: { logGroupName: NAME } });
    expect(output).toEqual({ logGroupName: NAME, logGroupArn: ARN });
    expect(harness.state.get('log-group')).toMatchObject({ created: true, data: { logGroupName: NAME, logGroupArn: ARN } });
  });

  it('names the group after --cluster and keeps --log-retention days', async () => {
    harness = stepHarness(logGroupStep, { config: { cluster: 'shop', logRetentionDays: 90 } });
    expect(logGroupStep.desired(harness.config, harness.inputs)).toEqual({ logGroupName: '/authecs/shop', retentionInDays: 90 });
  });

  it('adopts a group tagged for this stack (left by a killed run), ignoring a longer name with the same prefix', async () => {
    harness = stepHarness(logGroupStep);
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [group({ logGroupName: `${NAME}-old`, logGroupArn: `${ARN}-old`, arn: `${ARN}-old:*` }), group()] });
    logs.on(ListTagsForResourceCommand, { resourceArn: ARN }).resolves({ tags: OUR_TAGS });

    const found = await logGroupStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: { logGroupName: NAME, logGroupArn: ARN }, observed: { logGroupName: NAME, retentionInDays: 30 } });
    expect(logs.commandCalls(ListTagsForResourceCommand).map((call) => call.args[0].input.resourceArn)).toEqual([ARN]);
    expect(logs.commandCalls(CreateLogGroupCommand)).toHaveLength(0);
    expect(harness.state.get('log-group')).toBeUndefined();
  });

  it('refuses a group of that name that is not this stack\'s, in read and preflight', async () => {
    harness = stepHarness(logGroupStep);
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [group()] });
    logs.on(ListTagsForResourceCommand).resolves({ tags: { team: 'payments' } });

    await expect(logGroupStep.read(harness.readContext)).rejects.toMatchObject({ code: 'LOG_GROUP_NAME_TAKEN', exit: 'conflict', resource: ARN, hint: expect.stringContaining('--cluster') });
    await expect(logGroupStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'LOG_GROUP_NAME_TAKEN' });
    expect(logs.commandCalls(CreateLogGroupCommand)).toHaveLength(0);
  });

  it('create: ResourceAlreadyExists for a group tagged ours (a lost answer) is adopted; someone else\'s is refused with nothing changed', async () => {
    harness = stepHarness(logGroupStep);
    logs.on(CreateLogGroupCommand).rejects(codeError('ResourceAlreadyExistsException', 'The specified log group already exists'));
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [group({ retentionInDays: undefined })] });
    logs.on(ListTagsForResourceCommand).resolvesOnce({ tags: OUR_TAGS }).resolves({ tags: {} });

    await expect(logGroupStep.create(harness.context, logGroupStep.desired(harness.config, harness.inputs))).resolves.toEqual({ logGroupName: NAME, logGroupArn: ARN });
    expect(logs.commandCalls(PutRetentionPolicyCommand)).toHaveLength(1);

    harness.state.remove('log-group');
    await expect(logGroupStep.create(harness.context, logGroupStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'LOG_GROUP_NAME_TAKEN', exit: 'conflict' });
    expect(logs.commandCalls(PutRetentionPolicyCommand)).toHaveLength(1);
    expect(harness.state.get('log-group')).toBeUndefined();
  });

  it('a retention change is an in-place update: PutRetentionPolicy only, no create', async () => {
    harness = stepHarness(logGroupStep, { config: { logRetentionDays: 365 }, record: { created: true, complete: true, data: SAMPLE_OUTPUTS['log-group'] } });
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [group()] });

    const live = (await logGroupStep.read(harness.readContext))!;
    const changes = diffFields(logGroupStep.desired(harness.config, harness.inputs), live.observed, logGroupStep.effects);
    expect(changes).toEqual([{ field: 'retentionInDays', from: 30, to: 365, effect: 'update' }]);
    // The recorded ARN identifies it: no tag lookup needed.
    expect(logs.commandCalls(ListTagsForResourceCommand)).toHaveLength(0);

    await logGroupStep.update!(harness.context, logGroupStep.desired(harness.config, harness.inputs), live, changes);
    expect(logs.commandCalls(PutRetentionPolicyCommand).map((call) => call.args[0].input)).toEqual([{ logGroupName: NAME, retentionInDays: 365 }]);
    expect(logs.commandCalls(CreateLogGroupCommand)).toHaveLength(0);
  });

  it('a group whose retention was removed (never expire) shows as drift back to the setting', async () => {
    harness = stepHarness(logGroupStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['log-group'] } });
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [group({ retentionInDays: undefined })] });

    const live = (await logGroupStep.read(harness.readContext))!;
    expect(live.health).toEqual({ healthy: true, summary: 'never expires', details: { logGroupArn: ARN, retentionInDays: undefined, storedBytes: 2048 } });
    expect(diffFields(logGroupStep.desired(harness.config, harness.inputs), live.observed, logGroupStep.effects)).toEqual([{ field: 'retentionInDays', from: undefined, to: 30, effect: 'update' }]);
  });

  it('a new name (another cluster) is a replacement', () => {
    harness = stepHarness(logGroupStep);
    expect(diffFields(logGroupStep.desired(harness.config, harness.inputs), { logGroupName: '/authecs/old', retentionInDays: 30 }, logGroupStep.effects)).toEqual([
      { field: 'logGroupName', from: '/authecs/old', to: NAME, effect: 'replace' },
    ]);
  });

  it('delete removes the recorded group and treats a missing one as deleted; other errors surface', async () => {
    harness = stepHarness(logGroupStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['log-group'] } });
    logs.on(DeleteLogGroupCommand).resolvesOnce({}).rejectsOnce(codeError('ResourceNotFoundException', 'The specified log group does not exist.')).rejects(codeError('AccessDeniedException'));

    await logGroupStep.delete(harness.context);
    await expect(logGroupStep.delete(harness.context)).resolves.toBeUndefined();
    await expect(logGroupStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(logs.commandCalls(DeleteLogGroupCommand)[0]!.args[0].input).toEqual({ logGroupName: NAME });
  });

  it('is always enabled, and is what `down --keep-logs` keeps', () => {
    harness = stepHarness(logGroupStep, { config: { launchType: 'FARGATE' } });
    expect(logGroupStep.enabled!(harness.config)).toBe(true);
    expect(KEEP_LOGS_STEPS).toEqual(['log-group']);
  });

  // ECS guide, "Amazon ECS task execution IAM role": on EC2 the awslogs driver writes with the
  // container instance role; without the two actions, tasks fail to start.
  describe('preflight: may the EC2 container instance role write the logs?', () => {
    let warnings: string[];
    const preflight = async (config = {}) => {
      harness = stepHarness(logGroupStep, { config });
      warnings = [];
      harness.readContext.warn = (message) => warnings.push(message);
      logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
      await expect(logGroupStep.preflight!(harness.readContext)).resolves.toBeUndefined();
    };

    it('says nothing when AmazonEC2ContainerServiceforEC2Role is attached, without reading the policy', async () => {
      iam.on(GetInstanceProfileCommand).resolves(profileWithRole);
      iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyName: 'AmazonEC2ContainerServiceforEC2Role', PolicyArn: 'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role' }] });

      await preflight();

      expect(iam.commandCalls(GetInstanceProfileCommand)[0]!.args[0].input).toEqual({ InstanceProfileName: 'ecsInstanceRole' });
      expect(warnings).toEqual([]);
      expect(iam.commandCalls(GetPolicyCommand)).toHaveLength(0);
    });

    it('says nothing when a customer managed policy (URL-encoded, its default version) allows logs:* on the group', async () => {
      const policyArn = 'arn:aws:iam::123456789012:policy/app-logs';
      iam.on(GetInstanceProfileCommand).resolves(profileWithRole);
      iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyName: 'app-logs', PolicyArn: policyArn }] });
      iam.on(GetPolicyCommand).resolves({ Policy: { PolicyName: 'app-logs', Arn: policyArn, DefaultVersionId: 'v3' } });
      iam.on(GetPolicyVersionCommand, { PolicyArn: policyArn, VersionId: 'v3' }).resolves({
        PolicyVersion: { VersionId: 'v3', IsDefaultVersion: true, Document: encoded({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'logs:*', Resource: `${ARN}:*` }] }) },
      });
      iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });

      await preflight();

      expect(warnings).toEqual([]);
      expect(iam.commandCalls(GetPolicyVersionCommand)).toHaveLength(1);
    });

    it('warns, naming the role and exactly what to add, when no policy allows writing the logs', async () => {
      iam.on(GetInstanceProfileCommand).resolves(profileWithRole);
      iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
      iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['ecs-agent'] });
      iam.on(GetRolePolicyCommand, { RoleName: 'ecsInstanceRole', PolicyName: 'ecs-agent' }).resolves({
        RoleName: 'ecsInstanceRole',
        PolicyName: 'ecs-agent',
        PolicyDocument: encoded({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecs:*', 'logs:CreateLogStream'], Resource: '*' }] }),
      });

      await preflight();

      expect(warnings).toHaveLength(1);
      const [warning] = warnings;
      expect(warning).toContain('role ecsInstanceRole (instance profile ecsInstanceRole) does not allow logs:PutLogEvents on /authecs/ecsauth');
      expect(warning).toContain('not the task execution role');
      expect(warning).toContain('Attach the AWS managed policy AmazonEC2ContainerServiceforEC2Role (arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role) to ecsInstanceRole');
      expect(warning).toContain(`an inline policy to it that allows logs:CreateLogStream and logs:PutLogEvents on ${ARN}:*`);
    });

    it('leaves a missing instance profile to the capacity step (no second error, no warning)', async () => {
      iam.on(GetInstanceProfileCommand).rejects(codeError('NoSuchEntityException', 'Instance Profile ecsInstanceRole cannot be found.'));
      await preflight();
      expect(warnings).toEqual([]);
    });

    it('warns that it could not check when IAM reads are denied, and does not fail', async () => {
      iam.on(GetInstanceProfileCommand).resolves(profileWithRole);
      iam.on(ListAttachedRolePoliciesCommand).rejects(codeError('AccessDenied', 'not authorized to perform: iam:ListAttachedRolePolicies'));

      await preflight();

      expect(warnings).toEqual([expect.stringMatching(/^could not check whether role ecsInstanceRole .* \(IAM read access denied\); on EC2 it needs logs:CreateLogStream and logs:PutLogEvents on arn:aws:logs:eu-west-1:123456789012:log-group:\/authecs\/ecsauth:\*$/)]);
    });

    it('makes no IAM call under Fargate, where the execution role writes the logs', async () => {
      await preflight({ launchType: 'FARGATE' });
      expect(iam.calls()).toHaveLength(0);
      expect(warnings).toEqual([]);
    });
  });
});
