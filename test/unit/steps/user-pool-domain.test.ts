import {
  CognitoIdentityProviderClient,
  CreateUserPoolDomainCommand,
  DeleteUserPoolDomainCommand,
  DescribeUserPoolCommand,
  DescribeUserPoolDomainCommand,
  type DomainDescriptionType,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COGNITO_PREFIX } from '../../../src/config/schema.js';
import { derivePrefix, userPoolDomainStep } from '../../../src/steps/user-pool-domain.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const cognito = mockClient(CognitoIdentityProviderClient);
const POOL_ID = SAMPLE_OUTPUTS['user-pool'].userPoolId;
// sha256("eu-west-1_AbCdEf123") starts with 8f67cb0d.
const PREFIX = 'ecsauth-8f67cb0d';
const URL = 'https://ecsauth-8f67cb0d.auth.eu-west-1.amazoncognito.com';
const RECORD = { domain: PREFIX, userPoolId: POOL_ID, hostedUiBaseUrl: URL };

const error = (name: string, message = name) => Object.assign(new Error(message), { name });
const held = (overrides: Partial<DomainDescriptionType> = {}) => ({
  DomainDescription: { UserPoolId: POOL_ID, Domain: PREFIX, AWSAccountId: '123456789012', CloudFrontDistribution: 'd111111abcdef8.cloudfront.net', Status: 'ACTIVE' as const, ...overrides },
});
// What moto (and AWS) answer for a prefix nobody holds.
const free = { DomainDescription: {} };

describe('derivePrefix', () => {
  it('is <cluster>-<first 8 hex of sha256(pool ID)>', () => {
    expect(derivePrefix('ecsauth', POOL_ID)).toBe(PREFIX);
  });

  it('lower-cases and sanitises the cluster name', () => {
    expect(derivePrefix('My_Cluster.Name', POOL_ID)).toBe('my-cluster-name-8f67cb0d');
    expect(derivePrefix('--edge--', POOL_ID)).toBe('edge-8f67cb0d');
  });

  it('truncates a long cluster name so the whole prefix is at most 63 characters', () => {
    const prefix = derivePrefix('a'.repeat(200), POOL_ID);
    expect(prefix).toHaveLength(63);
    expect(prefix).toMatch(COGNITO_PREFIX);
    expect(prefix.endsWith('-8f67cb0d')).toBe(true);
    // A cut that lands on a hyphen must not leave a double or trailing one.
    expect(derivePrefix(`${'b'.repeat(53)}-xyz`, POOL_ID)).toMatch(COGNITO_PREFIX);
  });

  it("drops Cognito's reserved words and falls back when nothing is left", () => {
    expect(derivePrefix('aws-cognito-shop', POOL_ID)).toBe('shop-8f67cb0d');
    expect(derivePrefix('Amazon', POOL_ID)).toBe('authecs-8f67cb0d');
    expect(derivePrefix('___', POOL_ID)).toBe('authecs-8f67cb0d');
  });

  it('differs between pools', () => {
    expect(derivePrefix('ecsauth', 'eu-west-1_Other')).not.toBe(PREFIX);
  });
});

describe('user-pool-domain step', () => {
  let harness: StepHarness<'user-pool-domain'>;
  beforeEach(() => {
    cognito.reset();
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL_ID } });
  });
  afterEach(() => harness?.cleanup());

  it('creates the derived prefix domain on our pool and records its hosted UI URL', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);
    let recordAtCreate: unknown;
    cognito.on(CreateUserPoolDomainCommand).callsFake(() => {
      recordAtCreate = harness.state.get('user-pool-domain');
      return { CloudFrontDomain: 'd111111abcdef8.cloudfront.net' };
    });

    const output = await userPoolDomainStep.create(harness.context);

    expect(cognito.commandCalls(DescribeUserPoolDomainCommand)[0]!.args[0].input).toEqual({ Domain: PREFIX });
    expect(cognito.commandCalls(CreateUserPoolDomainCommand)[0]!.args[0].input).toEqual({ Domain: PREFIX, UserPoolId: POOL_ID });
    expect(recordAtCreate).toMatchObject({ created: true, data: { domain: PREFIX, userPoolId: POOL_ID } });
    expect(output).toEqual(RECORD);
    expect(harness.state.get('user-pool-domain')).toMatchObject({ created: true, data: RECORD });
  });

  it('uses --cognito-domain when given', async () => {
    harness = stepHarness(userPoolDomainStep, { config: { cognitoDomain: 'authecsblog-alice' } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);
    cognito.on(CreateUserPoolDomainCommand).resolves({});

    const output = await userPoolDomainStep.create(harness.context);

    expect(cognito.commandCalls(CreateUserPoolDomainCommand)[0]!.args[0].input).toEqual({ Domain: 'authecsblog-alice', UserPoolId: POOL_ID });
    expect(output.hostedUiBaseUrl).toBe('https://authecsblog-alice.auth.eu-west-1.amazoncognito.com');
  });

  it('adopts the domain a killed run made for our pool', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: false, data: { domain: PREFIX, userPoolId: POOL_ID } } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held());

    const found = await userPoolDomainStep.find(harness.context);
    const output = await userPoolDomainStep.create(harness.context);

    expect(found).toEqual({ created: true, output: RECORD });
    expect(output).toEqual(RECORD);
    expect(cognito.commandCalls(CreateUserPoolDomainCommand)).toHaveLength(0);
  });

  it('find returns undefined while no pool holds the prefix', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);

    expect(await userPoolDomainStep.find(harness.context)).toBeUndefined();
  });

  it('refuses a prefix another user pool holds, naming the flag to change', async () => {
    harness = stepHarness(userPoolDomainStep, { config: { cognitoDomain: 'popular' } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held({ UserPoolId: 'eu-west-1_SomeoneElse', Domain: 'popular' }));

    await expect(userPoolDomainStep.create(harness.context)).rejects.toMatchObject({
      code: 'COGNITO_DOMAIN_TAKEN',
      exit: 'conflict',
      message: 'Cognito domain prefix "popular" is already used by another user pool',
      hint: expect.stringMatching(/--cognito-domain.*AUTH_COGNITO_DOMAIN/),
    });
    await expect(userPoolDomainStep.find(harness.context)).rejects.toMatchObject({ code: 'COGNITO_DOMAIN_TAKEN' });
    expect(cognito.commandCalls(CreateUserPoolDomainCommand)).toHaveLength(0);
  });

  it("maps AWS's 'Domain already associated with another user pool' (another account) to the same conflict", async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);
    cognito.on(CreateUserPoolDomainCommand).rejects(error('InvalidParameterException', 'Domain already associated with another user pool.'));

    await expect(userPoolDomainStep.create(harness.context)).rejects.toMatchObject({ code: 'COGNITO_DOMAIN_TAKEN', exit: 'conflict' });
  });

  it('lets other invalid-parameter errors through', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);
    cognito.on(CreateUserPoolDomainCommand).rejects(error('InvalidParameterException', 'Domain cannot contain reserved word: aws'));

    await expect(userPoolDomainStep.create(harness.context)).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('keeps the prefix domain the pool already has (a pool holds only one) when no prefix was asked for', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL_ID, Domain: 'earlier-prefix' } });
    cognito.on(DescribeUserPoolDomainCommand, { Domain: 'earlier-prefix' }).resolves(held({ Domain: 'earlier-prefix' }));

    const found = await userPoolDomainStep.find(harness.context);
    const output = await userPoolDomainStep.create(harness.context);

    expect(found?.output.domain).toBe('earlier-prefix');
    expect(output).toEqual({ domain: 'earlier-prefix', userPoolId: POOL_ID, hostedUiBaseUrl: 'https://earlier-prefix.auth.eu-west-1.amazoncognito.com' });
    expect(cognito.commandCalls(CreateUserPoolDomainCommand)).toHaveLength(0);
    expect(harness.progress.some((line) => line.includes('earlier-prefix'))).toBe(true);
  });

  it('refuses a different --cognito-domain for a pool that already has one', async () => {
    harness = stepHarness(userPoolDomainStep, { config: { cognitoDomain: 'new-prefix' } });
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL_ID, Domain: 'earlier-prefix' } });

    await expect(userPoolDomainStep.create(harness.context)).rejects.toMatchObject({
      code: 'COGNITO_POOL_HAS_DOMAIN',
      exit: 'conflict',
      hint: expect.stringContaining('--cognito-domain earlier-prefix'),
    });
    expect(cognito.commandCalls(CreateUserPoolDomainCommand)).toHaveLength(0);
  });

  it('delete removes our domain and waits until it is gone', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito
      .on(DescribeUserPoolDomainCommand)
      .resolvesOnce(held())
      .resolvesOnce(held({ Status: 'DELETING' }))
      .resolves(free);
    cognito.on(DeleteUserPoolDomainCommand).resolves({});

    await userPoolDomainStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolDomainCommand)[0]!.args[0].input).toEqual({ Domain: PREFIX, UserPoolId: POOL_ID });
    expect(cognito.commandCalls(DescribeUserPoolDomainCommand)).toHaveLength(3);
  });

  it('delete treats a domain already gone as deleted', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);

    await userPoolDomainStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolDomainCommand)).toHaveLength(0);
  });

  it('delete tolerates ResourceNotFoundException from the delete call', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held());
    cognito.on(DeleteUserPoolDomainCommand).rejects(error('ResourceNotFoundException', PREFIX));

    await expect(userPoolDomainStep.delete(harness.context)).resolves.toBeUndefined();
  });

  it('delete leaves the prefix alone once it belongs to another pool', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held({ UserPoolId: 'eu-west-1_SomeoneElse' }));

    await userPoolDomainStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolDomainCommand)).toHaveLength(0);
  });

  it('inspect: ACTIVE is healthy', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held());

    expect(await userPoolDomainStep.inspect(harness.context)).toMatchObject({ present: true, healthy: true, summary: 'ACTIVE', details: { status: 'ACTIVE', hostedUiBaseUrl: URL } });
  });

  it('inspect: CREATING is present but not yet healthy', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held({ Status: 'CREATING' }));

    expect(await userPoolDomainStep.inspect(harness.context)).toMatchObject({ present: true, healthy: false, details: { status: 'CREATING' } });
  });

  it('inspect: an unknown domain ({DomainDescription:{}}) is missing', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);

    expect(await userPoolDomainStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false, summary: 'missing' });
  });

  it('inspect: a prefix now held by another pool is reported as drift', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held({ UserPoolId: 'eu-west-1_SomeoneElse' }));

    const inspection = await userPoolDomainStep.inspect(harness.context);
    expect(inspection).toMatchObject({ present: false, healthy: false });
    expect(inspection.drift?.[0]).toContain('eu-west-1_SomeoneElse');
  });
});
