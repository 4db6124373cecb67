import {
  CreateUserPoolClientCommand,
  DeleteUserPoolClientCommand,
  DescribeUserPoolClientCommand,
  paginateListUserPoolClients,
  UpdateUserPoolClientCommand,
  type OAuthFlowType,
  type UserPoolClientType,
} from '@aws-sdk/client-cognito-identity-provider';
import { hasErrorCode } from '../aws/errors.js';
import { signOutUrlOf } from '../config/schema.js';
import type { AppClientOutput } from './outputs.js';
import { defineResource, known, UNKNOWN, type Live, type Maybe } from './resource.js';
import { oauthScopes } from './shared/cognito.js';
import { resolved } from './shared/resolved.js';
import type { StepContext } from './step.js';

type Context = StepContext<'app-client'>;

/*
 * The ClientSecret that AWS returns from Create/DescribeUserPoolClient never leaves the
 * functions below: only ClientId is read from a response, and only the `Shape` of a client
 * (which has no secret field, just whether one exists) is passed around.
 */

const LIST_PAGE_SIZE = 60;

/** The client the ALB needs (aws-behaviour.md): a secret, the code grant, openid, the exact callback. */
export interface DesiredAppClient {
  name: string;
  callbackUrls: string[];
  /** --sign-out-url: where Cognito's /logout may send users (its logout_uri must be one of these). */
  logoutUrls: string[];
  allowedOAuthFlows: OAuthFlowType[];
  scopes: string[];
  /** Sign-in through the pool itself (COGNITO), not a federated provider. */
  supportedIdentityProviders: string[];
  /** Without it the client's OAuth settings are ignored. */
  allowedOAuthFlowsUserPoolClient: boolean;
  generateSecret: boolean;
  userPoolId: Maybe<string>;
}

export function callbackUrl(domain: string): string {
  // Cognito compares the redirect URI exactly; the ALB sends a lower-case host.
  return `https://${domain.toLowerCase()}/oauth2/idpresponse`;
}

const sorted = <Value extends string>(values: readonly Value[] | undefined): Value[] => [...new Set(values ?? [])].sort();

/** A client without its secret: what the rest of this module may see. */
interface Shape {
  clientId: string;
  userPoolId: string;
  observed: Omit<DesiredAppClient, 'userPoolId'> & { userPoolId: string };
}

function shapeOf(client: UserPoolClientType, userPoolId: string): Shape {
  return {
    clientId: client.ClientId!,
    userPoolId: client.UserPoolId ?? userPoolId,
    observed: {
      name: client.ClientName ?? '',
      callbackUrls: sorted(client.CallbackURLs),
      logoutUrls: sorted(client.LogoutURLs),
      allowedOAuthFlows: sorted(client.AllowedOAuthFlows),
      scopes: sorted(client.AllowedOAuthScopes),
      supportedIdentityProviders: sorted(client.SupportedIdentityProviders),
      allowedOAuthFlowsUserPoolClient: client.AllowedOAuthFlowsUserPoolClient === true,
      generateSecret: Boolean(client.ClientSecret),
      userPoolId: client.UserPoolId ?? userPoolId,
    },
  };
}

async function describeClient(context: Context, userPoolId: string, clientId: string): Promise<Shape | undefined> {
  try {
    const response = await context.clients.cognito.send(new DescribeUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: clientId }));
    return response.UserPoolClient ? shapeOf(response.UserPoolClient, userPoolId) : undefined;
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}

/** Our pool is ours, so a client with our name in it is ours (left by a killed run); `except` skips the one being replaced. */
async function findByName(context: Context, userPoolId: string, name: string, except?: string): Promise<Shape | undefined> {
  try {
    for await (const page of paginateListUserPoolClients({ client: context.clients.cognito, pageSize: LIST_PAGE_SIZE }, { UserPoolId: userPoolId, MaxResults: LIST_PAGE_SIZE })) {
      const match = (page.UserPoolClients ?? []).find((client) => client.ClientName === name && client.ClientId && client.ClientId !== except);
      if (match) return await describeClient(context, userPoolId, match.ClientId!);
    }
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
  return undefined;
}

/** The recorded client, else one with our name in today's pool; undefined when the pool is still to be made. */
async function locate(context: Context): Promise<Shape | undefined> {
  const recorded = context.record?.data;
  if (recorded?.clientId && recorded.userPoolId) {
    const found = await describeClient(context, recorded.userPoolId, recorded.clientId);
    if (found) return found;
  }
  const userPoolId = context.hasOutput('user-pool') ? context.output('user-pool').userPoolId : recorded?.userPoolId;
  if (!userPoolId) return undefined;
  return findByName(context, userPoolId, recorded?.name ?? context.config.appClientName);
}

function toOutput(clientId: string, name: string, userPoolId: string): AppClientOutput {
  return { clientId, name, userPoolId };
}

function live(shape: Shape): Live<'app-client', DesiredAppClient> {
  const { observed } = shape;
  const ready = observed.generateSecret && observed.allowedOAuthFlows.includes('code') && observed.scopes.includes('openid') && observed.allowedOAuthFlowsUserPoolClient;
  return {
    output: toOutput(shape.clientId, observed.name, shape.userPoolId),
    observed,
    created: true,
    health: {
      healthy: true,
      summary: ready ? 'code grant, openid, callback set' : 'settings differ',
      details: { clientId: shape.clientId, name: observed.name, callbackUrls: observed.callbackUrls, scopes: observed.scopes, flows: observed.allowedOAuthFlows, hasSecret: observed.generateSecret },
    },
  };
}

/** The OAuth settings, as both CreateUserPoolClient and UpdateUserPoolClient take them. */
function settingsOf(want: DesiredAppClient) {
  return {
    ClientName: want.name,
    AllowedOAuthFlows: want.allowedOAuthFlows,
    AllowedOAuthScopes: want.scopes,
    CallbackURLs: want.callbackUrls,
    LogoutURLs: want.logoutUrls,
    SupportedIdentityProviders: want.supportedIdentityProviders,
    AllowedOAuthFlowsUserPoolClient: want.allowedOAuthFlowsUserPoolClient,
  };
}

/** Creates the client; only its ID is read from the response, the secret in it is dropped here. */
async function createClient(context: Context, want: DesiredAppClient, userPoolId: string): Promise<string> {
  const response = await context.clients.cognito.send(new CreateUserPoolClientCommand({ UserPoolId: userPoolId, GenerateSecret: want.generateSecret, ...settingsOf(want) }));
  return response.UserPoolClient!.ClientId!;
}

async function deleteClient(context: Context, userPoolId: string, clientId: string): Promise<void> {
  try {
    await context.clients.cognito.send(new DeleteUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: clientId }));
  } catch (error) {
    if (!hasErrorCode(error, 'ResourceNotFoundException')) throw error;
  }
}

export const appClientStep = defineResource<'app-client', DesiredAppClient>({
  name: 'app-client',
  title: 'Cognito app client',
  articleSection: 'Create an Amazon Cognito user pool application client',
  dependsOn: ['user-pool'],

  desired: (config, inputs) => ({
    name: config.appClientName,
    callbackUrls: [callbackUrl(config.domain)],
    logoutUrls: [signOutUrlOf(config)],
    allowedOAuthFlows: ['code'],
    scopes: oauthScopes(config.scope),
    supportedIdentityProviders: ['COGNITO'],
    allowedOAuthFlowsUserPoolClient: true,
    generateSecret: true,
    userPoolId: known(inputs['user-pool'], (pool) => pool.userPoolId) ?? UNKNOWN,
  }),

  effects: {
    // UpdateUserPoolClient changes the name and OAuth settings in place (API reference).
    name: 'update',
    callbackUrls: 'update',
    logoutUrls: 'update',
    allowedOAuthFlows: 'update',
    scopes: 'update',
    supportedIdentityProviders: 'update',
    allowedOAuthFlowsUserPoolClient: 'update',
    // A secret can only be set when the client is created, and a client lives in one pool
    // (developer guide, "Updating user pool configuration": client secret).
    generateSecret: 'replace',
    userPoolId: 'replace',
  },

  async read(context) {
    const shape = await locate(context);
    return shape ? live(shape) : undefined;
  },

  async create(context, want) {
    const userPoolId = resolved(want.userPoolId, 'user pool ID');
    // No idempotency token: a client a killed run made in our pool is adopted, not made twice.
    const existing = await findByName(context, userPoolId, want.name);
    if (existing) {
      const output = toOutput(existing.clientId, want.name, userPoolId);
      context.save({ created: true, data: output });
      return output;
    }
    // App clients take no tags: record the intent so a killed run is found by name in our pool.
    context.save({ created: true, data: { name: want.name, userPoolId } });
    const output = toOutput(await createClient(context, want, userPoolId), want.name, userPoolId);
    context.save({ data: output });
    return output;
  },

  async update(context, want, current) {
    const { clientId, userPoolId } = current.output;
    // UpdateUserPoolClient resets whatever it is not given, so send every setting authecs makes.
    await context.clients.cognito.send(new UpdateUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: clientId, ...settingsOf(want) }));
    const output = toOutput(clientId, want.name, userPoolId);
    context.save({ data: output });
    return output;
  },

  /**
   * Create-before-delete: client names need not be unique, so the new client is made while the
   * ALB still signs users in with the old one; the engine deletes the old one once the host rule
   * uses the new ID.
   */
  async replace(context, want, current) {
    const userPoolId = resolved(want.userPoolId, 'user pool ID');
    // Recorded before the new client, so a run killed in between still deletes the old one later.
    context.retire(current.output);
    // A killed replacement left its new client in the pool: adopt it rather than make a third.
    const leftover = await findByName(context, userPoolId, want.name, current.output.clientId);
    const clientId = leftover?.observed.generateSecret === want.generateSecret ? leftover.clientId : await createClient(context, want, userPoolId);
    const output = toOutput(clientId, want.name, userPoolId);
    context.save({ created: true, data: output });
    return output;
  },

  async delete(context) {
    const recorded = context.record?.data;
    const userPoolId = recorded?.userPoolId ?? (context.hasOutput('user-pool') ? context.output('user-pool').userPoolId : undefined);
    if (!userPoolId) return;
    const clientId = recorded?.clientId ?? (await findByName(context, userPoolId, recorded?.name ?? context.config.appClientName))?.clientId;
    if (!clientId) return;
    await deleteClient(context, userPoolId, clientId);
  },
});
