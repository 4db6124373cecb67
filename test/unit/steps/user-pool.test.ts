import {
  CognitoIdentityProviderClient,
  CreateUserPoolCommand,
  DeleteUserPoolCommand,
  DeleteUserPoolDomainCommand,
  DescribeUserPoolCommand,
  ListUserPoolsCommand,
  ListUsersCommand,
  UpdateUserPoolCommand,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffFields } from '../../../src/steps/resource.js';
import { userPoolStep } from '../../../src/steps/user-pool.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

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
    DeletionProtection: 'INACTIVE',
    AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
    UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
    AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
    EstimatedNumberOfUsers: 3,
    ...overrides,
  };
}

const users = (count: number) => Array.from({ length: count }, (_, index) => ({ Username: `user-${index}` }));

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

    expect(await userPoolStep.read(harness.readContext)).toBeUndefined();
    const output = await userPoolStep.create(harness.context, userPoolStep.desired(harness.config, harness.inputs));

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
    // --sign-up invite-only (the default): only an administrator creates users (AdminCreateUserConfigType).
    expect(input.AdminCreateUserConfig).toEqual({ AllowAdminCreateUserOnly: true });
    expect(recordAtCreate).toMatchObject({ created: true, data: { name: 'ecsauth_Pool' } });
    expect(output).toEqual({ userPoolId: POOL.userPoolId, userPoolArn: POOL.userPoolArn, name: 'ecsauth_Pool' });
    expect(harness.state.get('user-pool')).toMatchObject({ created: true, data: output });
  });

  it('honours --user-pool-name', async () => {
    harness = stepHarness(userPoolStep, { config: { userPoolName: 'my pool' } });
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [] });
    cognito.on(CreateUserPoolCommand).resolves({ UserPool: pool({ Name: 'my pool' }) });

    const output = await userPoolStep.create(harness.context, userPoolStep.desired(harness.config, harness.inputs));

    expect(cognito.commandCalls(CreateUserPoolCommand)[0]!.args[0].input.PoolName).toBe('my pool');
    expect(output.name).toBe('my pool');
  });

  it('reads the ARN from DescribeUserPool when CreateUserPool does not return it', async () => {
    harness = stepHarness(userPoolStep);
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [] });
    cognito.on(CreateUserPoolCommand).resolves({ UserPool: pool({ Arn: undefined }) });
    cognito.on(DescribeUserPoolCommand, { UserPoolId: POOL.userPoolId }).resolves({ UserPool: pool() });

    const output = await userPoolStep.create(harness.context, userPoolStep.desired(harness.config, harness.inputs));

    expect(output.userPoolArn).toBe(POOL.userPoolArn);
  });

  it('read adopts the tagged pool a killed run left, skipping a same-named pool of someone else, across pages', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: false, data: { name: 'ecsauth_Pool' } } });
    const before = JSON.stringify(harness.state.get('user-pool'));
    const othersId = 'eu-west-1_Others000';
    // The paginator reuses one input object, so each call's input is copied as it is made.
    const listed: object[] = [];
    cognito.on(ListUserPoolsCommand).callsFake((input: { NextToken?: string }) => {
      listed.push({ ...input });
      return input.NextToken
        ? { UserPools: [{ Id: POOL.userPoolId, Name: 'ecsauth_Pool' }] }
        : { UserPools: [{ Id: othersId, Name: 'ecsauth_Pool' }, { Id: 'eu-west-1_Unrelated', Name: 'something' }], NextToken: 'next' };
    });
    cognito.on(DescribeUserPoolCommand, { UserPoolId: othersId }).resolves({ UserPool: pool({ Id: othersId, UserPoolTags: { team: 'other' } }) });
    cognito.on(DescribeUserPoolCommand, { UserPoolId: POOL.userPoolId }).resolves({ UserPool: pool() });

    const found = await userPoolStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: { userPoolId: POOL.userPoolId, userPoolArn: POOL.userPoolArn, name: 'ecsauth_Pool' } });
    expect(cognito.commandCalls(CreateUserPoolCommand)).toHaveLength(0);
    expect(listed).toEqual([{ MaxResults: 60 }, { MaxResults: 60, NextToken: 'next' }]);
    // The unrelated name is never described.
    expect(cognito.commandCalls(DescribeUserPoolCommand, { UserPoolId: 'eu-west-1_Unrelated' })).toHaveLength(0);
    // read never writes: the engine records what it returns.
    expect(JSON.stringify(harness.state.get('user-pool'))).toBe(before);
  });

  it('create adopts the tagged pool a killed run made rather than making a second (no idempotency token)', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: false, data: { name: 'ecsauth_Pool' } } });
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [{ Id: POOL.userPoolId, Name: 'ecsauth_Pool' }] });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool() });

    const output = await userPoolStep.create(harness.context, userPoolStep.desired(harness.config, harness.inputs));

    expect(output.userPoolId).toBe(POOL.userPoolId);
    expect(cognito.commandCalls(CreateUserPoolCommand)).toHaveLength(0);
    expect(harness.state.get('user-pool')).toMatchObject({ created: true, data: { userPoolId: POOL.userPoolId } });
  });

  it("creates its own pool when the only same-named pool is someone else's (names are not unique)", async () => {
    harness = stepHarness(userPoolStep);
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [{ Id: 'eu-west-1_Others000', Name: 'ecsauth_Pool' }] });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool({ Id: 'eu-west-1_Others000', UserPoolTags: {} }) });
    cognito.on(CreateUserPoolCommand).resolves({ UserPool: pool() });

    expect(await userPoolStep.read(harness.readContext)).toBeUndefined();
    await userPoolStep.create(harness.context, userPoolStep.desired(harness.config, harness.inputs));

    expect(cognito.commandCalls(CreateUserPoolCommand)).toHaveLength(1);
  });

  it('reads the pool by its recorded ID without listing, and it matches what up wants', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand, { UserPoolId: POOL.userPoolId }).resolves({ UserPool: pool() });

    const found = await userPoolStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: POOL });
    expect(cognito.commandCalls(ListUserPoolsCommand)).toHaveLength(0);
    expect(diffFields(userPoolStep.desired(harness.config, harness.inputs), found!.observed, userPoolStep.effects)).toEqual([]);
  });

  it('read returns undefined when the recorded pool was deleted behind our back', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).rejects(error('ResourceNotFoundException', `User pool ${POOL.userPoolId} does not exist.`));
    cognito.on(ListUserPoolsCommand).resolves({ UserPools: [] });

    expect(await userPoolStep.read(harness.readContext)).toBeUndefined();
  });

  it('desired is the configured name and the pool settings authecs makes', () => {
    harness = stepHarness(userPoolStep);

    expect(userPoolStep.desired(articleConfig({ userPoolName: 'other' }), {})).toEqual({
      name: 'other',
      usernameAttributes: ['email'],
      caseSensitive: false,
      autoVerifiedAttributes: ['email'],
      deletionProtection: 'INACTIVE',
      accountRecovery: [{ name: 'verified_email', priority: 1 }],
      attributesRequireVerificationBeforeUpdate: ['email'],
      allowAdminCreateUserOnly: true,
    });
    expect(userPoolStep.desired(articleConfig({ signUp: 'open' }), {}).allowAdminCreateUserOnly).toBe(false);
  });

  it('diff: a rename and lost email auto-verification are updates; case sensitivity and sign-in attributes need a new pool', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool({ AutoVerifiedAttributes: [], UsernameConfiguration: undefined, UsernameAttributes: ['phone_number'] }) });

    const found = await userPoolStep.read(harness.readContext);
    const changes = diffFields(userPoolStep.desired(articleConfig({ userPoolName: 'renamed' }), {}), found!.observed, userPoolStep.effects);

    expect(changes).toEqual([
      { field: 'name', from: 'ecsauth_Pool', to: 'renamed', effect: 'update' },
      { field: 'usernameAttributes', from: ['phone_number'], to: ['email'], effect: 'replace' },
      // A pool made without UsernameConfiguration is case-sensitive.
      { field: 'caseSensitive', from: true, to: false, effect: 'replace' },
      { field: 'autoVerifiedAttributes', from: [], to: ['email'], effect: 'update' },
    ]);
  });

  it('update sends one UpdateUserPool with the live settings carried over and ours on top, and creates nothing', async () => {
    harness = stepHarness(userPoolStep, { config: { userPoolName: 'renamed' }, record: { created: true, complete: true, data: POOL } });
    const drifted = pool({
      AutoVerifiedAttributes: [],
      LambdaConfig: { PreSignUp: 'arn:aws:lambda:eu-west-1:123456789012:function:pre' },
      EmailConfiguration: { EmailSendingAccount: 'DEVELOPER', SourceArn: 'arn:aws:ses:eu-west-1:123456789012:identity/example.com' },
      MfaConfiguration: 'OPTIONAL',
      Policies: { PasswordPolicy: { MinimumLength: 12, TemporaryPasswordValidityDays: 7 } },
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true, UnusedAccountValidityDays: 7 },
      VerificationMessageTemplate: { DefaultEmailOption: 'CONFIRM_WITH_CODE' },
      EmailVerificationMessage: 'legacy {####}',
      UserPoolTags: { ...OUR_TAGS, team: 'web' },
    });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: drifted });
    cognito.on(UpdateUserPoolCommand).resolves({});

    const found = await userPoolStep.read(harness.readContext);
    const want = userPoolStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, userPoolStep.effects);
    const output = await userPoolStep.update!(harness.context, want, found!, changes);

    expect(changes.map((change) => change.field)).toEqual(['name', 'autoVerifiedAttributes']);
    expect(cognito.commandCalls(UpdateUserPoolCommand)).toHaveLength(1);
    const input = cognito.commandCalls(UpdateUserPoolCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      UserPoolId: POOL.userPoolId,
      PoolName: 'renamed',
      AutoVerifiedAttributes: ['email'],
      DeletionProtection: 'INACTIVE',
      AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
      UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
      // Carried over, or UpdateUserPool would reset them to defaults.
      LambdaConfig: drifted.LambdaConfig,
      EmailConfiguration: drifted.EmailConfiguration,
      MfaConfiguration: 'OPTIONAL',
      Policies: drifted.Policies,
      VerificationMessageTemplate: drifted.VerificationMessageTemplate,
      UserPoolTags: { ...OUR_TAGS, team: 'web' },
    });
    // AWS refuses these next to their replacements.
    expect(input.AdminCreateUserConfig).toEqual({ AllowAdminCreateUserOnly: true, UnusedAccountValidityDays: undefined });
    expect(input).not.toHaveProperty('EmailVerificationMessage');
    expect(cognito.commandCalls(CreateUserPoolCommand)).toHaveLength(0);
    expect(cognito.commandCalls(DeleteUserPoolCommand)).toHaveLength(0);
    expect(output).toEqual({ ...POOL, name: 'renamed' });
    expect(harness.state.get('user-pool')).toMatchObject({ data: { name: 'renamed', userPoolId: POOL.userPoolId } });
  });

  it('--sign-up open is an update in place: UpdateUserPool turns AllowAdminCreateUserOnly off and keeps the invitation template', async () => {
    harness = stepHarness(userPoolStep, { config: { signUp: 'open' }, record: { created: true, complete: true, data: POOL } });
    const template = { EmailSubject: 'Welcome', EmailMessage: 'Your username is {username} and temporary password is {####}.' };
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool({ AdminCreateUserConfig: { AllowAdminCreateUserOnly: true, UnusedAccountValidityDays: 7, InviteMessageTemplate: template } }) });
    cognito.on(UpdateUserPoolCommand).resolves({});

    const found = await userPoolStep.read(harness.readContext);
    const want = userPoolStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, userPoolStep.effects);
    await userPoolStep.update!(harness.context, want, found!, changes);

    expect(changes).toEqual([{ field: 'allowAdminCreateUserOnly', from: true, to: false, effect: 'update' }]);
    expect(cognito.commandCalls(UpdateUserPoolCommand)).toHaveLength(1);
    expect(cognito.commandCalls(UpdateUserPoolCommand)[0]!.args[0].input.AdminCreateUserConfig).toEqual({
      AllowAdminCreateUserOnly: false,
      UnusedAccountValidityDays: undefined,
      InviteMessageTemplate: template,
    });
    expect(cognito.commandCalls(CreateUserPoolCommand)).toHaveLength(0);
  });

  it('a pool an older authecs made (self sign-up on, or no AdminCreateUserConfig) is turned invite-only by the next up, in place', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    for (const older of [pool({ AdminCreateUserConfig: { AllowAdminCreateUserOnly: false } }), pool({ AdminCreateUserConfig: undefined })]) {
      cognito.reset();
      cognito.on(DescribeUserPoolCommand).resolves({ UserPool: older });
      const found = await userPoolStep.read(harness.readContext);
      expect(diffFields(userPoolStep.desired(harness.config, harness.inputs), found!.observed, userPoolStep.effects)).toEqual([
        { field: 'allowAdminCreateUserOnly', from: false, to: true, effect: 'update' },
      ]);
    }
  });

  it('loss counts the users a replacement or deletion would destroy, across pages, without writing', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool() });
    const listed: object[] = [];
    cognito.on(ListUsersCommand).callsFake((input: { PaginationToken?: string }) => {
      listed.push({ ...input });
      return input.PaginationToken ? { Users: users(2) } : { Users: users(60), PaginationToken: 'p2' };
    });
    const before = JSON.stringify(harness.state.get('user-pool'));

    const found = await userPoolStep.read(harness.readContext);
    expect(await userPoolStep.loss!(harness.readContext, found!)).toBe('62 users');

    expect(listed).toEqual([
      { UserPoolId: POOL.userPoolId, Limit: 60 },
      { UserPoolId: POOL.userPoolId, Limit: 60, PaginationToken: 'p2' },
    ]);
    expect(JSON.stringify(harness.state.get('user-pool'))).toBe(before);
  });

  it('loss says "1 user", and nothing for an empty pool', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool() });
    const found = await userPoolStep.read(harness.readContext);

    cognito.on(ListUsersCommand).resolves({ Users: users(1) });
    expect(await userPoolStep.loss!(harness.readContext, found!)).toBe('1 user');
    cognito.on(ListUsersCommand).resolves({ Users: [] });
    expect(await userPoolStep.loss!(harness.readContext, found!)).toBeUndefined();
  });

  it('delete removes the recorded pool and treats one already gone as deleted', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).rejects(error('ResourceNotFoundException'));
    cognito.on(DeleteUserPoolCommand).rejects(error('ResourceNotFoundException'));

    await expect(userPoolStep.delete(harness.context)).resolves.toBeUndefined();
    expect(cognito.commandCalls(DeleteUserPoolCommand)[0]!.args[0].input).toEqual({ UserPoolId: POOL.userPoolId });
  });

  it('delete first lets go of the pool\'s own domain, so a replacement (delete, then create) can delete the pool', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool({ Domain: 'ecsauth-8f67cb0d' }) });
    cognito.on(DeleteUserPoolDomainCommand).resolves({});
    cognito.on(DeleteUserPoolCommand).resolves({});

    await userPoolStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolDomainCommand)[0]!.args[0].input).toEqual({ Domain: 'ecsauth-8f67cb0d', UserPoolId: POOL.userPoolId });
    expect(cognito.commandCalls(DeleteUserPoolCommand)).toHaveLength(1);
  });

  it("delete waits while the pool's domain is still being removed", async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool() });
    const domainAttached = error('InvalidParameterException', 'User pool cannot be deleted. It has a domain configured that should be deleted first.');
    cognito.on(DeleteUserPoolCommand).rejectsOnce(domainAttached).rejectsOnce(domainAttached).resolves({});

    await userPoolStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolCommand)).toHaveLength(3);
  });

  it('delete explains how to fix a pool that keeps a domain', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool() });
    cognito.on(DeleteUserPoolCommand).rejects(error('InvalidParameterException', 'User pool cannot be deleted. It has a domain configured that should be deleted first.'));

    await expect(userPoolStep.delete(harness.context)).rejects.toMatchObject({ code: 'USER_POOL_HAS_DOMAIN', exit: 'conflict', hint: expect.stringContaining('delete-user-pool-domain') });
  });

  it('delete does not retry other invalid-parameter errors', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool() });
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

  it('read reports the estimated users and name as its health', async () => {
    harness = stepHarness(userPoolStep, { record: { created: true, complete: true, data: POOL } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: pool() });

    expect((await userPoolStep.read(harness.readContext))?.health).toEqual({ healthy: true, summary: '3 user(s)', details: { estimatedUsers: 3, name: 'ecsauth_Pool' } });
  });
});
