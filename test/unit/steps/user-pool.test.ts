import {
  CognitoIdentityProviderClient,
  CreateUserPoolCommand,
  DeleteUserPoolCommand,
  DescribeUserPoolCommand,
  ListUserPoolsCommand,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { userPoolStep } from '../../../src/steps/user-pool.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const cognito = mockClient(CognitoIdentityProviderClient);
const POOL = SAMPLE_OUTPUTS['user-pool'];
const OUR_TAGS = { 'authecs:stack': 'ecsauth', 'managed-by': 'authecs' };

const error = (name: string, message = name) => Object.assign(new Error(message), { name });

function pool(overrides: Partial<UserPoolType> = {}): UserPoolType {
  return {
    Id: POOL.userPoolId,
    Name: 'ecsauth_Pool',
    Arn: POOL.userPoolArn,
    UserPoolTags: OUR_TAGS,
    UsernameAttributes: ['email'],
    UsernameConfiguration: { CaseSensitive: false },
    AutoVerifiedAttributes: ['email'],
    EstimatedNumberOfUsers: 3,
    ...overrides,
  };
}

describe('user-pool step', () => {
  let harness: StepHarness<'user-pool'>;
  beforeEach(() => {
    cognito.reset();
  });
  afterEach(() => harness?.cleanup());

  it("creates the article's pool (email sign-in, case-insensitive, email auto-verified), tagged, and records it", async () => {
    harness = stepHarness(userPoolStep);
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [] });
    let recordAtCreate: unknown;
    cognito.on(CreateUserPoolCommand).callsFake(() => {
      recordAtCreate = harness.state.get('user-pool');
      return { UserPool: pool() };
    });

    const output = await userPoolStep.create(harness.context);

    const input = cognito.commandCalls(CreateUserPoolCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      PoolName: 'ecsauth_Pool',
      UsernameAttributes: ['email'],
      UsernameConfiguration: { CaseSensitive: false },
      AutoVerifiedAttributes: ['email'],
      UserPoolTags: { 'authecs:stack': 'ecsauth', 'managed-by': 'authecs' },
      DeletionProtection: 'INACTIVE',
    });
    // Secure defaults beyond the article.
    expect(input.AccountRecoverySetting).toEqual({ RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] });
    expect(input.UserAttributeUpdateSettings).toEqual({ AttributesRequireVerificationBeforeUpdate: ['email'] });
    expect(recordAtCreate).toMatchObject({ created: true, data: { name: 'ecsauth_Pool' } });
    expect(output).toEqual({ userPoolId: POOL.userPoolId, userPoolArn: POOL.userPoolArn, name: 'ecsauth_Pool' });
    expect(harness.state.get('user-pool')).toMatchObject({ created: true, data: output });
  });

  it('honours --user-pool-name', async () => {
    harness = stepHarness(userPoolStep, { config: { userPoolName: 'my pool' } });
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [] });
    cognito.on(CreateUserPoolCommand).resolves({ UserPool: pool({ Name: 'my pool' }) });

    const output = await userPoolStep.create(harness.context);

    expect(cognito.commandCalls(CreateUserPoolCommand)[0]!.args[0].input.PoolName).toBe('my pool');
    expect(output.name).toBe('my pool');
  });

  it('reads the ARN from DescribeUserPool when CreateUserPool does not return it', async () => {
    harness = stepHarness(userPoolStep);
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [] });
    cognito.on(CreateUserPoolCommand).resolves({ UserPool: pool({ Arn: undefined }) });
    cognito.on(DescribeUserPoolCommand, { UserPoolId: POOL.userPoolId }).resolves({ UserPool: pool() });

    const output = await userPoolStep.create(harness.context);

    expect(output.userPoolArn).toBe(POOL.userPoolArn);
  });

  it('adopts the tagged pool a killed run left, skipping a same-named pool of someone else, across pages', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: false, data: { name: 'ecsauth_Pool' } } });
    const othersId = 'eu-west-1_Others000';
    cognito
      .on(ListUserPoolsCommand)
      .resolvesOnce({ UserPools: [{ Id: othersId, Name: 'ecsauth_Pool' }, { Id: 'eu-west-1_Unrelated', Name: 'something' }], NextToken: 'next' })
      .resolves({ UserPools: [{ Id: POOL.userPoolId, Name: 'ecsauth_Pool' }] });
    cognito.on(DescribeUserPoolCommand, { UserPoolId: othersId }).resolves({ UserPool: pool({ Id: othersId, UserPoolTags: { team: 'other' } }) });
    cognito.on(DescribeUserPoolCommand, { UserPoolId: POOL.userPoolId }).resolves({ UserPool: pool() });

    const found = await userPoolStep.find(harness.context);
    const output = await userPoolStep.create(harness.context);

    expect(found).toEqual({ created: true, output: { userPoolId: POOL.userPoolId, userPoolArn: POOL.userPoolArn, name: 'ecsauth_Pool' } });
    expect(output.userPoolId).toBe(POOL.userPoolId);
    expect(cognito.commandCalls(CreateUserPoolCommand)).toHaveLength(0);
    expect(cognito.commandCalls(ListUserPoolsCommand)[0]!.args[0].input).toEqual({ MaxResults: 60 });
    expect(cognito.commandCalls(ListUserPoolsCommand)[1]!.args[0].input).toEqual({ MaxResults: 60, NextToken: 'next' });
    // The unrelated name is never described.
    expect(cognito.commandCalls(DescribeUserPoolCommand, { UserPoolId: 'eu-west-1_Unrelated' })).toHaveLength(0);
    expect(harness.state.get('user-pool')).toMatchObject({ created: true, data: { userPoolId: POOL.userPoolId } });
  });

  it("creates its own pool when the only same-named pool is someone else's (names are not unique)", async () => {
    harness = stepHarness(userPoolStep);
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [{ Id: 'eu-west-1_Others000', Name: 'ecsauth_Pool' }] });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool({ Id: 'eu-west-1_Others000', UserPoolTags: {} }) });
    cognito.on(CreateUserPoolCommand).resolves({ UserPool: pool() });

    expect(await userPoolStep.find(harness.context)).toBeUndefined();
    await userPoolStep.create(harness.context);

    expect(cognito.commandCalls(CreateUserPoolCommand)).toHaveLength(1);
  });

  it('finds the pool by its recorded ID without listing', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand, { UserPoolId: POOL.userPoolId }).resolves({ UserPool: pool() });

    expect(await userPoolStep.find(harness.context)).toMatchObject({ created: true, output: POOL });
    expect(cognito.commandCalls(ListUserPoolsCommand)).toHaveLength(0);
  });

  it('find returns undefined when the recorded pool was deleted behind our back', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).rejects(error('ResourceNotFoundException', `User pool ${POOL.userPoolId} does not exist.`));
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [] });

    expect(await userPoolStep.find(harness.context)).toBeUndefined();
  });

  it('delete removes the recorded pool and treats one already gone as deleted', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DeleteUserPoolCommand).rejects(error('ResourceNotFoundException'));

    await expect(userPoolStep.delete(harness.context)).resolves.toBeUndefined();
    expect(cognito.commandCalls(DeleteUserPoolCommand)[0]!.args[0].input).toEqual({ UserPoolId: POOL.userPoolId });
  });

  it('delete waits while the pool\'s domain is still being removed', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    const domainAttached = error('InvalidParameterException', 'User pool cannot be deleted. It has a domain configured that should be deleted first.');
    cognito.on(DeleteUserPoolCommand).rejectsOnce(domainAttached).rejectsOnce(domainAttached).resolves({});

    await userPoolStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolCommand)).toHaveLength(3);
  });

  it('delete explains how to fix a pool that keeps a domain', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DeleteUserPoolCommand).rejects(error('InvalidParameterException', 'User pool cannot be deleted. It has a domain configured that should be deleted first.'));

    await expect(userPoolStep.delete(harness.context)).rejects.toMatchObject({ code: 'USER_POOL_HAS_DOMAIN', exit: 'conflict', hint: expect.stringContaining('delete-user-pool-domain') });
  });

  it('delete does not retry other invalid-parameter errors', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DeleteUserPoolCommand).rejects(error('InvalidParameterException', 'Deletion protection is active'));

    await expect(userPoolStep.delete(harness.context)).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(cognito.commandCalls(DeleteUserPoolCommand)).toHaveLength(1);
  });

  it('delete after a crash before the ID was recorded finds the tagged pool by name', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: false, data: { name: 'ecsauth_Pool' } } });
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [{ Id: POOL.userPoolId, Name: 'ecsauth_Pool' }] });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool() });
    cognito.on(DeleteUserPoolCommand).resolves({});

    await userPoolStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolCommand)[0]!.args[0].input).toEqual({ UserPoolId: POOL.userPoolId });
  });

  it('delete after a crash with no pool made deletes nothing', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: false, data: { name: 'ecsauth_Pool' } } });
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [] });

    await userPoolStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolCommand)).toHaveLength(0);
  });

  it('inspect reports a missing pool', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).rejects(error('ResourceNotFoundException'));

    expect(await userPoolStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
  });

  it('inspect shows the estimated users and name, and drift in the sign-in settings', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool() });

    expect(await userPoolStep.inspect(harness.context)).toMatchObject({ present: true, healthy: true, drift: [], details: { estimatedUsers: 3, name: 'ecsauth_Pool' } });

    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool({ UsernameAttributes: [], AutoVerifiedAttributes: [] }) });
    const { drift } = await userPoolStep.inspect(harness.context);
    expect(drift).toHaveLength(2);
    expect(drift![0]).toContain('UsernameAttributes');
  });
});
