import { readFileSync } from 'node:fs';
import {
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  DeleteUserPoolClientCommand,
  DescribeUserPoolClientCommand,
  ListUserPoolClientsCommand,
  UpdateUserPoolClientCommand,
  type UserPoolClientType,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appClientStep, callbackUrl } from '../../../src/steps/app-client.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { oauthScopes } from '../../../src/steps/shared/cognito.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const cognito = mockClient(CognitoIdentityProviderClient);
const POOL_ID = SAMPLE_OUTPUTS['user-pool'].userPoolId;
const CLIENT = SAMPLE_OUTPUTS['app-client'];
const SECRET = 'sEcReT-1q2w3e4r5t6y7u8i9o0pAZSXDCFVGBHNJMK';
const CALLBACK = 'https://www.example.com/oauth2/idpresponse';
// --sign-out-url's default: Cognito's /logout sends users only to an allowed sign-out URL of the client.
const SIGNED_OUT = 'https://www.example.com/signed-out';

const error = (name: string, message = name) => Object.assign(new Error(message), { name });

function liveClient(overrides: Partial<UserPoolClientType> = {}): UserPoolClientType {
  return {
    UserPoolId: POOL_ID,
    ClientId: CLIENT.clientId,
    ClientName: 'ecsauth_AppClient',
    ClientSecret: SECRET,
    AllowedOAuthFlows: ['code'],
    AllowedOAuthScopes: ['openid'],
    CallbackURLs: [CALLBACK],
    LogoutURLs: [SIGNED_OUT],
    SupportedIdentityProviders: ['COGNITO'],
    AllowedOAuthFlowsUserPoolClient: true,
    ...overrides,
  };
}

const ARTICLE_SETTINGS = {
  UserPoolId: POOL_ID,
  ClientName: 'ecsauth_AppClient',
  AllowedOAuthFlows: ['code'],
  AllowedOAuthScopes: ['openid'],
  CallbackURLs: [CALLBACK],
  LogoutURLs: [SIGNED_OUT],
  SupportedIdentityProviders: ['COGNITO'],
  AllowedOAuthFlowsUserPoolClient: true,
};

describe('app-client step', () => {
  let harness: StepHarness<'app-client'>;
  beforeEach(() => {
    cognito.reset();
  });
  afterEach(() => harness?.cleanup());

  it("creates the article's client: a secret, the code grant, openid, COGNITO and the ALB's exact callback URL", async () => {
    harness = stepHarness(appClientStep);
    cognito.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
    let recordAtCreate: unknown;
    cognito.on(CreateUserPoolClientCommand).callsFake(() => {
      recordAtCreate = harness.state.get('app-client');
      return { UserPoolClient: liveClient() };
    });

    expect(await appClientStep.read(harness.readContext)).toBeUndefined();
    const output = await appClientStep.create(harness.context, appClientStep.desired(harness.config, harness.inputs));

    expect(cognito.commandCalls(CreateUserPoolClientCommand)[0]!.args[0].input).toEqual({ ...ARTICLE_SETTINGS, GenerateSecret: true });
    expect(recordAtCreate).toMatchObject({ created: true, data: { name: 'ecsauth_AppClient', userPoolId: POOL_ID } });
    expect(output).toEqual({ clientId: CLIENT.clientId, name: 'ecsauth_AppClient', userPoolId: POOL_ID });
    expect(harness.state.get('app-client')).toMatchObject({ created: true, data: output });
  });

  it('never writes, returns or reports the client secret', async () => {
    harness = stepHarness(appClientStep);
    cognito.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
    cognito.on(CreateUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });

    const output = await appClientStep.create(harness.context, appClientStep.desired(harness.config, harness.inputs));
    const found = await appClientStep.read(harness.readContext);

    const stateText = readFileSync(harness.state.path, 'utf8');
    expect(stateText).toContain(CLIENT.clientId);
    expect(stateText).not.toContain(SECRET);
    expect(JSON.stringify(output)).not.toContain(SECRET);
    expect(found?.observed.generateSecret).toBe(true);
    expect(JSON.stringify(found)).not.toContain(SECRET);
    expect(harness.progress.join('\n')).not.toContain(SECRET);
  });

  it('read adopts a client a killed run made without returning its secret or writing, and create then makes no second one', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: false, data: { name: 'ecsauth_AppClient', userPoolId: POOL_ID } } });
    cognito.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [{ ClientId: CLIENT.clientId, ClientName: 'ecsauth_AppClient', UserPoolId: POOL_ID }] });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });
    const before = JSON.stringify(harness.state.get('app-client'));

    const found = await appClientStep.read(harness.readContext);
    expect(JSON.stringify(harness.state.get('app-client'))).toBe(before);
    const output = await appClientStep.create(harness.context, appClientStep.desired(harness.config, harness.inputs));

    expect(found).toMatchObject({ created: true, output: { clientId: CLIENT.clientId, name: 'ecsauth_AppClient', userPoolId: POOL_ID } });
    expect(JSON.stringify(found)).not.toContain(SECRET);
    expect(JSON.stringify(output)).not.toContain(SECRET);
    expect(readFileSync(harness.state.path, 'utf8')).not.toContain(SECRET);
    expect(cognito.commandCalls(CreateUserPoolClientCommand)).toHaveLength(0);
  });

  it('requests every scope in --scope, de-duplicated and sorted', async () => {
    harness = stepHarness(appClientStep, { config: { scope: 'openid  profile email openid' } });
    cognito.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
    cognito.on(CreateUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });

    await appClientStep.create(harness.context, appClientStep.desired(harness.config, harness.inputs));

    expect(cognito.commandCalls(CreateUserPoolClientCommand)[0]!.args[0].input.AllowedOAuthScopes).toEqual(['email', 'openid', 'profile']);
    expect(oauthScopes('')).toEqual(['openid']);
  });

  it('builds the callback URL with a lower-case host', () => {
    expect(callbackUrl('WWW.Example.COM')).toBe('https://www.example.com/oauth2/idpresponse');
  });

  it('read finds the client across pages of ListUserPoolClients', async () => {
    harness = stepHarness(appClientStep);
    // The paginator reuses one input object, so each call's input is copied as it is made.
    const listed: object[] = [];
    cognito.on(ListUserPoolClientsCommand).callsFake((input: { NextToken?: string }) => {
      listed.push({ ...input });
      return input.NextToken
        ? { UserPoolClients: [{ ClientId: CLIENT.clientId, ClientName: 'ecsauth_AppClient' }] }
        : { UserPoolClients: [{ ClientId: 'other', ClientName: 'someone-else' }], NextToken: 'n2' };
    });
    cognito.on(DescribeUserPoolClientCommand, { ClientId: CLIENT.clientId }).resolves({ UserPoolClient: liveClient() });

    expect(await appClientStep.read(harness.readContext)).toMatchObject({ output: { clientId: CLIENT.clientId } });
    expect(listed).toEqual([
      { UserPoolId: POOL_ID, MaxResults: 60 },
      { UserPoolId: POOL_ID, MaxResults: 60, NextToken: 'n2' },
    ]);
  });

  it('read looks the client up by its recorded ID first, and it matches what up wants', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand, { UserPoolId: POOL_ID, ClientId: CLIENT.clientId }).resolves({ UserPoolClient: liveClient() });

    const found = await appClientStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: CLIENT });
    expect(cognito.commandCalls(ListUserPoolClientsCommand)).toHaveLength(0);
    expect(diffFields(appClientStep.desired(harness.config, harness.inputs), found!.observed, appClientStep.effects)).toEqual([]);
  });

  it('read finds nothing while the user pool is still to be made', async () => {
    harness = stepHarness(appClientStep);
    harness.state.remove('user-pool');

    expect(await appClientStep.read(harness.readContext)).toBeUndefined();
    expect(cognito.calls()).toHaveLength(0);
  });

  it('desired: the user pool ID is unknown while the pool is to be made', () => {
    harness = stepHarness(appClientStep);

    expect(appClientStep.desired(harness.config, { ...harness.inputs, 'user-pool': UNKNOWN })).toEqual({
      name: 'ecsauth_AppClient',
      callbackUrls: [CALLBACK],
      logoutUrls: [SIGNED_OUT],
      allowedOAuthFlows: ['code'],
      scopes: ['openid'],
      supportedIdentityProviders: ['COGNITO'],
      allowedOAuthFlowsUserPoolClient: true,
      generateSecret: true,
      userPoolId: UNKNOWN,
    });
  });

  it('--sign-out-url is an update in place: one UpdateUserPoolClient with LogoutURLs and every other setting (it resets what it is not sent)', async () => {
    harness = stepHarness(appClientStep, { config: { signOutUrl: 'https://www.example.com/goodbye' }, record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });
    cognito.on(UpdateUserPoolClientCommand).resolves({});

    const found = await appClientStep.read(harness.readContext);
    const want = appClientStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, appClientStep.effects);
    await appClientStep.update!(harness.context, want, found!, changes);

    expect(changes).toEqual([{ field: 'logoutUrls', from: [SIGNED_OUT], to: ['https://www.example.com/goodbye'], effect: 'update' }]);
    expect(cognito.commandCalls(UpdateUserPoolClientCommand).map((call) => call.args[0].input)).toEqual([
      { ...ARTICLE_SETTINGS, LogoutURLs: ['https://www.example.com/goodbye'], ClientId: CLIENT.clientId },
    ]);
    expect(cognito.commandCalls(CreateUserPoolClientCommand)).toHaveLength(0);
  });

  it('a client an older authecs made has no sign-out URL: the next up adds it in place', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient({ LogoutURLs: undefined }) });

    const found = await appClientStep.read(harness.readContext);
    expect(diffFields(appClientStep.desired(harness.config, harness.inputs), found!.observed, appClientStep.effects)).toEqual([
      { field: 'logoutUrls', from: [], to: [SIGNED_OUT], effect: 'update' },
    ]);
  });

  it('diff: new scopes and a drifted callback are updates; a missing secret or another pool needs a new client', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient({ CallbackURLs: ['https://old.example.com/oauth2/idpresponse'], ClientSecret: undefined }) });

    const found = await appClientStep.read(harness.readContext);
    const want = appClientStep.desired(articleConfig({ scope: 'openid email' }), { 'user-pool': { ...SAMPLE_OUTPUTS['user-pool'], userPoolId: 'eu-west-1_NewPool00' } });

    expect(diffFields(want, found!.observed, appClientStep.effects)).toEqual([
      { field: 'callbackUrls', from: ['https://old.example.com/oauth2/idpresponse'], to: [CALLBACK], effect: 'update' },
      { field: 'scopes', from: ['openid'], to: ['email', 'openid'], effect: 'update' },
      { field: 'generateSecret', from: false, to: true, effect: 'replace' },
      { field: 'userPoolId', from: POOL_ID, to: 'eu-west-1_NewPool00', effect: 'replace' },
    ]);
  });

  it('update sends one UpdateUserPoolClient with every setting authecs makes, and creates nothing', async () => {
    harness = stepHarness(appClientStep, { config: { scope: 'openid email' }, record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({
      UserPoolClient: liveClient({ CallbackURLs: ['https://old.example.com/oauth2/idpresponse'], AllowedOAuthFlows: ['implicit'] }),
    });
    cognito.on(UpdateUserPoolClientCommand).resolves({});

    const found = await appClientStep.read(harness.readContext);
    const want = appClientStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, appClientStep.effects);
    const output = await appClientStep.update!(harness.context, want, found!, changes);

    expect(changes.map((change) => [change.field, change.effect])).toEqual([
      ['callbackUrls', 'update'],
      ['allowedOAuthFlows', 'update'],
      ['scopes', 'update'],
    ]);
    expect(cognito.commandCalls(UpdateUserPoolClientCommand)).toHaveLength(1);
    expect(cognito.commandCalls(UpdateUserPoolClientCommand)[0]!.args[0].input).toEqual({ ...ARTICLE_SETTINGS, AllowedOAuthScopes: ['email', 'openid'], ClientId: CLIENT.clientId });
    expect(cognito.commandCalls(CreateUserPoolClientCommand)).toHaveLength(0);
    expect(cognito.commandCalls(DeleteUserPoolClientCommand)).toHaveLength(0);
    expect(output).toEqual(CLIENT);
  });

  it('replace makes the new client first and retires the old one for the engine to delete once the rule moved', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient({ ClientSecret: undefined }) });
    cognito.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [{ ClientId: CLIENT.clientId, ClientName: 'ecsauth_AppClient' }] });
    cognito.on(CreateUserPoolClientCommand).resolves({ UserPoolClient: liveClient({ ClientId: 'newclientid123' }) });

    const found = await appClientStep.read(harness.readContext);
    const want = appClientStep.desired(harness.config, harness.inputs);
    const output = await appClientStep.replace!(harness.context, want, found!, diffFields(want, found!.observed, appClientStep.effects));

    expect(cognito.commandCalls(CreateUserPoolClientCommand)[0]!.args[0].input).toEqual({ ...ARTICLE_SETTINGS, GenerateSecret: true });
    expect(cognito.commandCalls(DeleteUserPoolClientCommand)).toHaveLength(0);
    expect(output).toEqual({ ...CLIENT, clientId: 'newclientid123' });
    expect(harness.state.get('app-client')).toMatchObject({ data: { clientId: 'newclientid123' }, retired: [CLIENT] });
    expect(readFileSync(harness.state.path, 'utf8')).not.toContain(SECRET);
  });

  it('replace adopts the new client a killed replacement left instead of making a third', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand, { ClientId: CLIENT.clientId }).resolves({ UserPoolClient: liveClient({ ClientSecret: undefined }) });
    cognito.on(DescribeUserPoolClientCommand, { ClientId: 'leftover123' }).resolves({ UserPoolClient: liveClient({ ClientId: 'leftover123' }) });
    cognito.on(ListUserPoolClientsCommand).resolves({
      UserPoolClients: [
        { ClientId: CLIENT.clientId, ClientName: 'ecsauth_AppClient' },
        { ClientId: 'leftover123', ClientName: 'ecsauth_AppClient' },
      ],
    });

    const found = await appClientStep.read(harness.readContext);
    const output = await appClientStep.replace!(harness.context, appClientStep.desired(harness.config, harness.inputs), found!, []);

    expect(output.clientId).toBe('leftover123');
    expect(cognito.commandCalls(CreateUserPoolClientCommand)).toHaveLength(0);
  });

  it('the retired client is deleted from its record alone', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DeleteUserPoolClientCommand).rejects(error('ResourceNotFoundException'));

    await expect(appClientStep.delete(harness.context)).resolves.toBeUndefined();
    expect(cognito.commandCalls(DeleteUserPoolClientCommand)[0]!.args[0].input).toEqual({ UserPoolId: POOL_ID, ClientId: CLIENT.clientId });
  });

  it('delete after a crash before the ID was recorded finds our client by name', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: false, data: { name: 'ecsauth_AppClient', userPoolId: POOL_ID } } });
    cognito.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [{ ClientId: CLIENT.clientId, ClientName: 'ecsauth_AppClient' }] });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });
    cognito.on(DeleteUserPoolClientCommand).resolves({});

    await appClientStep.delete(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolClientCommand)[0]!.args[0].input).toEqual({ UserPoolId: POOL_ID, ClientId: CLIENT.clientId });
  });

  it('delete propagates other errors', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DeleteUserPoolClientCommand).rejects(error('AccessDeniedException'));

    await expect(appClientStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('read finds nothing when the recorded client and its name are gone', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).rejects(error('ResourceNotFoundException'));
    cognito.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });

    expect(await appClientStep.read(harness.readContext)).toBeUndefined();
  });

  it('read reports the OAuth settings as health, and flags a client the ALB cannot use', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });

    expect((await appClientStep.read(harness.readContext))?.health).toEqual({
      healthy: true,
      summary: 'code grant, openid, callback set',
      details: { clientId: CLIENT.clientId, name: 'ecsauth_AppClient', callbackUrls: [CALLBACK], scopes: ['openid'], flows: ['code'], hasSecret: true },
    });

    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient({ ClientSecret: undefined }) });
    expect((await appClientStep.read(harness.readContext))?.health.summary).toBe('settings differ');
  });
});
