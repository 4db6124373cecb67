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
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { derivePrefix, userPoolDomainStep, withoutReservedWords } from '../../../src/steps/user-pool-domain.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

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

  it('removes reserved words until none is left, as removing one can join its neighbours into another', () => {
    expect(withoutReservedWords('amamazonazon')).toBe('');
    expect(derivePrefix('amamazonazon', POOL_ID)).toBe('authecs-8f67cb0d');
    expect(derivePrefix('shop-awawss', POOL_ID)).toBe('shop-8f67cb0d');
    expect(derivePrefix('cocognitognito-app', POOL_ID)).toBe('app-8f67cb0d');
    expect(derivePrefix('awamazons-x', POOL_ID)).toBe('x-8f67cb0d');
    for (const cluster of ['amamazonazon', 'shop-awawss', 'cocognitognito-app', 'awamazons-x', 'caogwsnito']) {
      expect(derivePrefix(cluster, POOL_ID)).not.toMatch(/aws|amazon|cognito/);
    }
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

  it('desired: the derived prefix of our pool, or --cognito-domain', () => {
    harness = stepHarness(userPoolDomainStep);

    expect(userPoolDomainStep.desired(harness.config, harness.inputs)).toEqual({ domain: PREFIX, userPoolId: POOL_ID });
    expect(userPoolDomainStep.desired(articleConfig({ cognitoDomain: 'authecsblog-alice' }), harness.inputs)).toEqual({ domain: 'authecsblog-alice', userPoolId: POOL_ID });
  });

  it('desired: the derived prefix hashes the pool ID, so it is unknown while the pool is to be made', () => {
    harness = stepHarness(userPoolDomainStep);

    expect(userPoolDomainStep.desired(harness.config, { ...harness.inputs, 'user-pool': UNKNOWN })).toEqual({ domain: UNKNOWN, userPoolId: UNKNOWN });
    // A requested prefix is known at once.
    expect(userPoolDomainStep.desired(articleConfig({ cognitoDomain: 'authecsblog-alice' }), { 'user-pool': UNKNOWN })).toEqual({ domain: 'authecsblog-alice', userPoolId: UNKNOWN });
  });

  it('creates the derived prefix domain on our pool and records its hosted UI URL', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);
    let recordAtCreate: unknown;
    cognito.on(CreateUserPoolDomainCommand).callsFake(() => {
      recordAtCreate = harness.state.get('user-pool-domain');
      return { CloudFrontDomain: 'd111111abcdef8.cloudfront.net' };
    });

    expect(await userPoolDomainStep.read(harness.readContext)).toBeUndefined();
    const output = await userPoolDomainStep.create(harness.context, userPoolDomainStep.desired(harness.config, harness.inputs));

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

    const output = await userPoolDomainStep.create(harness.context, userPoolDomainStep.desired(harness.config, harness.inputs));

    expect(cognito.commandCalls(CreateUserPoolDomainCommand)[0]!.args[0].input).toEqual({ Domain: 'authecsblog-alice', UserPoolId: POOL_ID });
    expect(output.hostedUiBaseUrl).toBe('https://authecsblog-alice.auth.eu-west-1.amazoncognito.com');
  });

  it('read adopts the domain a killed run made for our pool, without writing; create then makes none', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: false, data: { domain: PREFIX, userPoolId: POOL_ID } } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held());
    const before = JSON.stringify(harness.state.get('user-pool-domain'));

    const found = await userPoolDomainStep.read(harness.readContext);
    expect(JSON.stringify(harness.state.get('user-pool-domain'))).toBe(before);
    const output = await userPoolDomainStep.create(harness.context, userPoolDomainStep.desired(harness.config, harness.inputs));

    expect(found).toMatchObject({ created: true, output: RECORD, observed: { domain: PREFIX, userPoolId: POOL_ID }, settled: true });
    expect(diffFields(userPoolDomainStep.desired(harness.config, harness.inputs), found!.observed, userPoolDomainStep.effects)).toEqual([]);
    expect(output).toEqual(RECORD);
    expect(cognito.commandCalls(CreateUserPoolDomainCommand)).toHaveLength(0);
  });

  it('read returns undefined while no pool holds the prefix', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);

    expect(await userPoolDomainStep.read(harness.readContext)).toBeUndefined();
  });

  it('read finds nothing, and calls nothing, while the pool is still to be made', async () => {
    harness = stepHarness(userPoolDomainStep);
    harness.state.remove('user-pool');

    expect(await userPoolDomainStep.read(harness.readContext)).toBeUndefined();
    expect(cognito.calls()).toHaveLength(0);
  });

  it('refuses a prefix another user pool holds, naming the flag to change', async () => {
    harness = stepHarness(userPoolDomainStep, { config: { cognitoDomain: 'popular' } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held({ UserPoolId: 'eu-west-1_SomeoneElse', Domain: 'popular' }));

    await expect(userPoolDomainStep.read(harness.readContext)).rejects.toMatchObject({
      code: 'COGNITO_DOMAIN_TAKEN',
      exit: 'conflict',
      message: 'Cognito domain prefix "popular" is already used by another user pool',
      hint: expect.stringMatching(/--cognito-domain.*AUTH_COGNITO_DOMAIN/),
    });
    await expect(userPoolDomainStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'COGNITO_DOMAIN_TAKEN' });
    await expect(userPoolDomainStep.create(harness.context, userPoolDomainStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'COGNITO_DOMAIN_TAKEN' });
    expect(cognito.commandCalls(CreateUserPoolDomainCommand)).toHaveLength(0);
  });

  it("maps AWS's 'Domain already associated with another user pool' (another account) to the same conflict", async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);
    cognito.on(CreateUserPoolDomainCommand).rejects(error('InvalidParameterException', 'Domain already associated with another user pool.'));

    await expect(userPoolDomainStep.create(harness.context, userPoolDomainStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'COGNITO_DOMAIN_TAKEN', exit: 'conflict' });
  });

  it('lets other invalid-parameter errors through', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolDomainCommand).resolves(free);
    cognito.on(CreateUserPoolDomainCommand).rejects(error('InvalidParameterException', 'Domain cannot contain reserved word: aws'));

    await expect(userPoolDomainStep.create(harness.context, userPoolDomainStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('read finds the prefix domain the pool already holds; a different wish replaces it (a pool holds one)', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL_ID, Domain: 'earlier-prefix' } });
    cognito.on(DescribeUserPoolDomainCommand, { Domain: 'earlier-prefix' }).resolves(held({ Domain: 'earlier-prefix' }));

    const found = await userPoolDomainStep.read(harness.readContext);

    expect(found?.output).toEqual({ domain: 'earlier-prefix', userPoolId: POOL_ID, hostedUiBaseUrl: 'https://earlier-prefix.auth.eu-west-1.amazoncognito.com' });
    expect(diffFields(userPoolDomainStep.desired(harness.config, harness.inputs), found!.observed, userPoolDomainStep.effects)).toEqual([
      { field: 'domain', from: 'earlier-prefix', to: PREFIX, effect: 'replace' },
    ]);
  });

  it('diff: a new --cognito-domain replaces the domain; a new pool replaces it too', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held());

    const found = await userPoolDomainStep.read(harness.readContext);

    expect(diffFields(userPoolDomainStep.desired(articleConfig({ cognitoDomain: 'new-prefix' }), harness.inputs), found!.observed, userPoolDomainStep.effects)).toEqual([
      { field: 'domain', from: PREFIX, to: 'new-prefix', effect: 'replace' },
    ]);
    expect(diffFields(userPoolDomainStep.desired(harness.config, { 'user-pool': UNKNOWN }), found!.observed, userPoolDomainStep.effects)).toEqual([
      { field: 'domain', from: PREFIX, to: UNKNOWN, effect: 'replace' },
      { field: 'userPoolId', from: POOL_ID, to: UNKNOWN, effect: 'replace' },
    ]);
  });

  it('a CREATING domain is not settled; settle waits for ACTIVE', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolvesOnce(held({ Status: 'CREATING' })).resolvesOnce(held({ Status: 'CREATING' })).resolves(held());

    const found = await userPoolDomainStep.read(harness.readContext);
    expect(found).toMatchObject({ settled: false, health: { healthy: false, summary: 'CREATING (not ready yet)' } });

    expect(await userPoolDomainStep.settle!(harness.context, found!)).toEqual(RECORD);
    expect(cognito.commandCalls(DescribeUserPoolDomainCommand)).toHaveLength(3);
  });

  it('settle stops on a FAILED domain with a way out', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held({ Status: 'FAILED' }));

    const found = await userPoolDomainStep.read(harness.readContext);
    expect(found?.settled).toBe(false);
    await expect(userPoolDomainStep.settle!(harness.context, found!)).rejects.toMatchObject({ code: 'COGNITO_DOMAIN_FAILED', hint: expect.stringContaining('delete-user-pool-domain') });
  });

  it('create waits for a DELETING domain of ours to go before making it again', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolDomainCommand).resolvesOnce(held({ Status: 'DELETING' })).resolvesOnce(held({ Status: 'DELETING' })).resolves(free);
    cognito.on(CreateUserPoolDomainCommand).resolves({});

    await userPoolDomainStep.create(harness.context, userPoolDomainStep.desired(harness.config, harness.inputs));

    expect(cognito.commandCalls(CreateUserPoolDomainCommand)).toHaveLength(1);
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

  it('delete (for a replacement) also removes the unrecorded domain the pool holds, so the new one can be made', async () => {
    harness = stepHarness(userPoolDomainStep);
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL_ID, Domain: 'earlier-prefix' } });
    cognito.on(DescribeUserPoolDomainCommand).resolvesOnce(held({ Domain: 'earlier-prefix' })).resolves(free);
    cognito.on(DeleteUserPoolDomainCommand).resolves({});

    await userPoolDomainStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolDomainCommand)[0]!.args[0].input).toEqual({ Domain: 'earlier-prefix', UserPoolId: POOL_ID });
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

  it('read reports an ACTIVE domain as healthy, with its hosted UI URL', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held());

    expect((await userPoolDomainStep.read(harness.readContext))?.health).toEqual({ healthy: true, summary: 'ACTIVE', details: { status: 'ACTIVE', hostedUiBaseUrl: URL } });
  });

  it('read treats a prefix now held by another pool as gone from ours', async () => {
    harness = stepHarness(userPoolDomainStep, { record: { created: true, complete: true, data: RECORD } });
    cognito.on(DescribeUserPoolDomainCommand).resolves(held({ UserPoolId: 'eu-west-1_SomeoneElse' }));

    expect(await userPoolDomainStep.read(harness.readContext)).toBeUndefined();
  });
});
