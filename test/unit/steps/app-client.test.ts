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
import { appClientStep, callbackUrl, scopesOf } from '../../../src/steps/app-client.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const cognito = mockClient(CognitoIdentityProviderClient);
const POOL_ID = SAMPLE_OUTPUTS['user-pool'].userPoolId;
const CLIENT = SAMPLE_OUTPUTS['app-client'];
const SECRET = 'sEcReT-1q2w3e4r5t6y7u8i9o0pAZSXDCFVGBHNJMK';
const CALLBACK = 'https://www.example.com/oauth2/idpresponse';

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

    const output = await appClientStep.create(harness.context);

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

    const output = await appClientStep.create(harness.context);
    const inspection = await appClientStep.inspect(harness.context);

    const stateText = readFileSync(harness.state.path, 'utf8');
    expect(stateText).toContain(CLIENT.clientId);
    expect(stateText).not.toContain(SECRET);
    expect(JSON.stringify(output)).not.toContain(SECRET);
    expect(JSON.stringify(inspection)).not.toContain(SECRET);
    expect(harness.progress.join('\n')).not.toContain(SECRET);
  });

  it('does not record the secret when adopting a client either', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: false, data: { name: 'ecsauth_AppClient', userPoolId: POOL_ID } } });
    cognito.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [{ ClientId: CLIENT.clientId, ClientName: 'ecsauth_AppClient', UserPoolId: POOL_ID }] });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });

    const found = await appClientStep.find(harness.context);
    const output = await appClientStep.create(harness.context);

    expect(found).toEqual({ created: true, output: { clientId: CLIENT.clientId, name: 'ecsauth_AppClient', userPoolId: POOL_ID } });
    expect(JSON.stringify(found)).not.toContain(SECRET);
    expect(JSON.stringify(output)).not.toContain(SECRET);
    expect(readFileSync(harness.state.path, 'utf8')).not.toContain(SECRET);
    expect(cognito.commandCalls(CreateUserPoolClientCommand)).toHaveLength(0);
  });

  it('requests every scope in --scope, split on whitespace', async () => {
    harness = stepHarness(appClientStep, { config: { scope: 'openid  email profile' } });
    cognito.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
    cognito.on(CreateUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });

    await appClientStep.create(harness.context);

    expect(cognito.commandCalls(CreateUserPoolClientCommand)[0]!.args[0].input.AllowedOAuthScopes).toEqual(['openid', 'email', 'profile']);
    expect(scopesOf('')).toEqual(['openid']);
  });

  it('builds the callback URL with a lower-case host', () => {
    expect(callbackUrl('WWW.Example.COM')).toBe('https://www.example.com/oauth2/idpresponse');
  });

  it('finds the adopted client across pages of ListUserPoolClients', async () => {
    harness = stepHarness(appClientStep);
    cognito
      .on(ListUserPoolClientsCommand)
      .resolvesOnce({ UserPoolClients: [{ ClientId: 'other', ClientName: 'someone-else' }], NextToken: 'n2' })
      .resolves({ UserPoolClients: [{ ClientId: CLIENT.clientId, ClientName: 'ecsauth_AppClient' }] });
    cognito.on(DescribeUserPoolClientCommand, { ClientId: CLIENT.clientId }).resolves({ UserPoolClient: liveClient() });

    expect(await appClientStep.find(harness.context)).toMatchObject({ output: { clientId: CLIENT.clientId } });
    expect(cognito.commandCalls(ListUserPoolClientsCommand)[0]!.args[0].input).toEqual({ UserPoolId: POOL_ID, MaxResults: 60 });
    expect(cognito.commandCalls(ListUserPoolClientsCommand)[1]!.args[0].input).toEqual({ UserPoolId: POOL_ID, MaxResults: 60, NextToken: 'n2' });
  });

  it('looks the client up by its recorded ID first', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand, { UserPoolId: POOL_ID, ClientId: CLIENT.clientId }).resolves({ UserPoolClient: liveClient() });

    expect(await appClientStep.find(harness.context)).toMatchObject({ created: true, output: CLIENT });
    expect(cognito.commandCalls(ListUserPoolClientsCommand)).toHaveLength(0);
  });

  it('repairs drifted OAuth settings with UpdateUserPoolClient and the full settings list', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({
      UserPoolClient: liveClient({ CallbackURLs: ['https://old.example.com/oauth2/idpresponse'], AllowedOAuthScopes: ['openid', 'aws.cognito.signin.user.admin'], AllowedOAuthFlows: ['implicit'] }),
    });
    cognito.on(UpdateUserPoolClientCommand).resolves({});

    expect(await appClientStep.find(harness.context)).toBeUndefined();
    const output = await appClientStep.create(harness.context);

    expect(cognito.commandCalls(CreateUserPoolClientCommand)).toHaveLength(0);
    expect(cognito.commandCalls(UpdateUserPoolClientCommand)[0]!.args[0].input).toEqual({ ...ARTICLE_SETTINGS, ClientId: CLIENT.clientId });
    expect(output.clientId).toBe(CLIENT.clientId);
  });

  it('replaces a client that has no secret, since a secret can only be set at creation', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient({ ClientSecret: undefined }) });
    cognito.on(DeleteUserPoolClientCommand).resolves({});
    cognito.on(CreateUserPoolClientCommand).resolves({ UserPoolClient: liveClient({ ClientId: 'newclientid123' }) });

    expect(await appClientStep.find(harness.context)).toBeUndefined();
    const output = await appClientStep.create(harness.context);

    expect(cognito.commandCalls(DeleteUserPoolClientCommand)[0]!.args[0].input).toEqual({ UserPoolId: POOL_ID, ClientId: CLIENT.clientId });
    expect(cognito.commandCalls(CreateUserPoolClientCommand)[0]!.args[0].input.GenerateSecret).toBe(true);
    expect(output.clientId).toBe('newclientid123');
    expect(harness.state.get('app-client')).toMatchObject({ data: { clientId: 'newclientid123' } });
  });

  it('delete removes the recorded client and tolerates one already gone', async () => {
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

  it('inspect reports a missing client', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).rejects(error('ResourceNotFoundException'));

    expect(await appClientStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
  });

  it('inspect lists each mismatch: callback URL, flows, scopes and a missing secret', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({
      UserPoolClient: liveClient({ ClientSecret: undefined, CallbackURLs: ['https://WWW.example.com/oauth2/idpresponse'], AllowedOAuthFlows: ['implicit'], AllowedOAuthScopes: ['email'] }),
    });

    const inspection = await appClientStep.inspect(harness.context);

    expect(inspection.present).toBe(true);
    expect(inspection.drift).toEqual([
      `callback URLs are https://WWW.example.com/oauth2/idpresponse, not ${CALLBACK}`,
      'OAuth flows are implicit, not code',
      'OAuth scopes are email, not openid',
      'the client has no secret; the ALB needs one',
    ]);
  });

  it('inspect of a matching client shows no drift', async () => {
    harness = stepHarness(appClientStep, { record: { created: true, complete: true, data: CLIENT } });
    cognito.on(DescribeUserPoolClientCommand).resolves({ UserPoolClient: liveClient() });

    expect(await appClientStep.inspect(harness.context)).toMatchObject({ present: true, healthy: true, drift: [] });
  });
});
