import {
  CreateUserPoolClientCommand,
  DeleteUserPoolClientCommand,
  DescribeUserPoolClientCommand,
  ListUserPoolClientsCommand,
  type ListUserPoolClientsCommandOutput,
  UpdateUserPoolClientCommand,
  type UserPoolClientType,
} from '@aws-sdk/client-cognito-identity-provider';
import type { Config } from '../config/schema.js';
import { hasErrorCode } from '../aws/errors.js';
import type { AppClientOutput } from './outputs.js';
import { defineStep, type StepContext } from './step.js';

type Context = StepContext<'app-client'>;

/*
 * The ClientSecret that AWS returns from Create/DescribeUserPoolClient never leaves the
 * functions below: only ClientId is read from a response, and only the `Shape` of a client
 * (which has no secret field, just whether one exists) is passed around.
 */

const LIST_PAGE_SIZE = 60;

/** The OAuth settings the ALB needs (aws-behaviour.md): secret, code grant, openid, exact callback. */
export interface ClientSettings {
  AllowedOAuthFlows: 'code'[];
  AllowedOAuthScopes: string[];
  CallbackURLs: string[];
  SupportedIdentityProviders: string[];
  AllowedOAuthFlowsUserPoolClient: true;
}

export function callbackUrl(domain: string): string {
  // Cognito compares the redirect URI exactly; the ALB sends a lower-case host.
  return `https://${domain.toLowerCase()}/oauth2/idpresponse`;
}

export function scopesOf(scope: string): string[] {
  const scopes = scope.split(/\s+/).filter(Boolean);
  return scopes.length > 0 ? scopes : ['openid'];
}

function desiredSettings(config: Config): ClientSettings {
  return {
    AllowedOAuthFlows: ['code'],
    AllowedOAuthScopes: scopesOf(config.scope),
    CallbackURLs: [callbackUrl(config.domain)],
    SupportedIdentityProviders: ['COGNITO'],
    AllowedOAuthFlowsUserPoolClient: true,
  };
}

/** A client without its secret: what the rest of this module may see. */
interface Shape {
  clientId: string;
  name: string | undefined;
  hasSecret: boolean;
  flows: string[];
  scopes: string[];
  callbackUrls: string[];
  providers: string[];
  flowsAllowed: boolean;
}

function shapeOf(client: UserPoolClientType): Shape {
  return {
    clientId: client.ClientId!,
    name: client.ClientName,
    hasSecret: Boolean(client.ClientSecret),
    flows: client.AllowedOAuthFlows ?? [],
    scopes: client.AllowedOAuthScopes ?? [],
    callbackUrls: client.CallbackURLs ?? [],
    providers: client.SupportedIdentityProviders ?? [],
    flowsAllowed: client.AllowedOAuthFlowsUserPoolClient === true,
  };
}

function sameSet(left: readonly string[], right: readonly string[]): boolean {
  const a = [...new Set(left)].sort();
  const b = [...new Set(right)].sort();
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

const list = (values: readonly string[]): string => (values.length > 0 ? values.join(' ') : 'none');

/** Each difference from the client `up` makes; empty when it matches. */
function clientDrift(shape: Shape, want: ClientSettings): string[] {
  const drift: string[] = [];
  if (!sameSet(shape.callbackUrls, want.CallbackURLs)) drift.push(`callback URLs are ${list(shape.callbackUrls)}, not ${list(want.CallbackURLs)}`);
  if (!sameSet(shape.flows, want.AllowedOAuthFlows)) drift.push(`OAuth flows are ${list(shape.flows)}, not ${list(want.AllowedOAuthFlows)}`);
  if (!sameSet(shape.scopes, want.AllowedOAuthScopes)) drift.push(`OAuth scopes are ${list(shape.scopes)}, not ${list(want.AllowedOAuthScopes)}`);
  if (!sameSet(shape.providers, want.SupportedIdentityProviders)) drift.push(`identity providers are ${list(shape.providers)}, not ${list(want.SupportedIdentityProviders)}`);
  if (!shape.flowsAllowed) drift.push('OAuth flows are not enabled for the client (AllowedOAuthFlowsUserPoolClient is false)');
  if (!shape.hasSecret) drift.push('the client has no secret; the ALB needs one');
  return drift;
}

async function describeClient(context: Context, userPoolId: string, clientId: string): Promise<Shape | undefined> {
  try {
    const response = await context.clients.cognito.send(new DescribeUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: clientId }));
    return response.UserPoolClient ? shapeOf(response.UserPoolClient) : undefined;
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}

/** Our pool is ours, so a client with our name in it is ours (left by a killed run). */
async function findByName(context: Context, userPoolId: string, name: string): Promise<Shape | undefined> {
  let nextToken: string | undefined;
  do {
    let page: ListUserPoolClientsCommandOutput;
    try {
      page = await context.clients.cognito.send(new ListUserPoolClientsCommand({ UserPoolId: userPoolId, MaxResults: LIST_PAGE_SIZE, ...(nextToken ? { NextToken: nextToken } : {}) }));
    } catch (error) {
      if (hasErrorCode(error, 'ResourceNotFoundException')) return undefined;
      throw error;
    }
    const match = (page.UserPoolClients ?? []).find((client) => client.ClientName === name && client.ClientId);
    if (match) return describeClient(context, userPoolId, match.ClientId!);
    nextToken = page.NextToken;
  } while (nextToken);
  return undefined;
}

async function locate(context: Context, userPoolId: string): Promise<Shape | undefined> {
  const recorded = context.record?.data;
  if (recorded?.clientId && (recorded.userPoolId ?? userPoolId) === userPoolId) {
    const found = await describeClient(context, userPoolId, recorded.clientId);
    if (found) return found;
  }
  return findByName(context, userPoolId, context.config.appClientName);
}

function toOutput(clientId: string, name: string, userPoolId: string): AppClientOutput {
  return { clientId, name, userPoolId };
}

export const appClientStep = defineStep({
  name: 'app-client',
  title: 'Cognito app client',
  articleSection: 'Create an Amazon Cognito user pool application client',
  dependsOn: ['user-pool'],

  async find(context) {
    const { userPoolId } = context.output('user-pool');
    const client = await locate(context, userPoolId);
    if (!client || clientDrift(client, desiredSettings(context.config)).length > 0) return undefined;
    return { output: toOutput(client.clientId, client.name ?? context.config.appClientName, userPoolId), created: true };
  },

  async create(context) {
    const { userPoolId } = context.output('user-pool');
    const name = context.config.appClientName;
    const settings = desiredSettings(context.config);
    let existing = await locate(context, userPoolId);

    if (existing && !existing.hasSecret) {
      // A secret can only be set at creation: replace the client (the host rule follows the new ID).
      context.progress(`replacing app client ${existing.clientId}, which has no secret`);
      context.save({ created: true, data: { name, userPoolId } });
      try {
        await context.clients.cognito.send(new DeleteUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: existing.clientId }));
      } catch (error) {
        if (!hasErrorCode(error, 'ResourceNotFoundException')) throw error;
      }
      existing = undefined;
    }

    if (existing) {
      const output = toOutput(existing.clientId, name, userPoolId);
      context.save({ created: true, data: output });
      if (clientDrift(existing, settings).length > 0) {
        // UpdateUserPoolClient resets whatever it is not given, so send the full create-time list.
        context.progress('updating the app client to the OAuth settings the ALB needs');
        await context.clients.cognito.send(new UpdateUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: existing.clientId, ClientName: name, ...settings }));
      }
      return output;
    }

    // App clients take no tags: record the intent so a killed run is found by name in our pool.
    context.save({ created: true, data: { name, userPoolId } });
    const response = await context.clients.cognito.send(new CreateUserPoolClientCommand({ UserPoolId: userPoolId, ClientName: name, GenerateSecret: true, ...settings }));
    // Only the ID is read; the secret in this response is dropped here.
    const output = toOutput(response.UserPoolClient!.ClientId!, name, userPoolId);
    context.save({ data: output });
    return output;
  },

  async delete(context) {
    const recorded = context.record?.data;
    const userPoolId = recorded?.userPoolId ?? (context.hasOutput('user-pool') ? context.output('user-pool').userPoolId : undefined);
    if (!userPoolId) return;
    const clientId = recorded?.clientId ?? (await findByName(context, userPoolId, recorded?.name ?? context.config.appClientName))?.clientId;
    if (!clientId) return;
    try {
      await context.clients.cognito.send(new DeleteUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: clientId }));
    } catch (error) {
      if (!hasErrorCode(error, 'ResourceNotFoundException')) throw error;
    }
  },

  async inspect(context) {
    const recorded = context.record?.data;
    const client = recorded?.clientId && recorded.userPoolId ? await describeClient(context, recorded.userPoolId, recorded.clientId) : undefined;
    if (!client) return { present: false, healthy: false, summary: 'missing' };
    const drift = clientDrift(client, desiredSettings(context.config));
    return {
      present: true,
      healthy: true,
      summary: drift.length === 0 ? 'code grant, openid, callback set' : 'settings differ',
      drift,
      details: { clientId: client.clientId, name: client.name, callbackUrls: client.callbackUrls, scopes: client.scopes, flows: client.flows, hasSecret: client.hasSecret },
    };
  },
});
