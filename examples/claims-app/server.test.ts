import { createSign, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClaimsApp, optionsFromEnv, signOutFromEnv } from './server.js';

const REGION = 'eu-west-1';
const ALB_ARN = `arn:aws:elasticloadbalancing:${REGION}:123456789012:loadbalancer/app/ecsauth/50dc6c495c0c9188`;
const CLIENT_ID = '4p1n2kq0example0client0id';
const USER_POOL_ID = `${REGION}_AbCdEf123`;
const ISSUER = `https://cognito-idp.${REGION}.amazonaws.com/${USER_POOL_ID}`;
const HOSTED_UI = `https://ecsauth-1a2b3c4d.auth.${REGION}.amazoncognito.com`;
const SIGN_OUT_URL = 'https://www.example.com/signed-out';

// Test-only Cognito access tokens (RS256, as a user pool signs them), with the user's groups.
const cognitoKid = 'test-pool-key';
const cognitoKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const POOL_JWKS = { keys: [{ kty: 'RSA', n: cognitoKeys.publicKey.export({ format: 'jwk' }).n!, e: 'AQAB', kid: cognitoKid, alg: 'RS256', use: 'sig' }] };

function accessToken(groups: string[] | undefined): string {
  const now = Math.floor(Date.now() / 1000);
  const header = Buffer.from(JSON.stringify({ kid: cognitoKid, alg: 'RS256' })).toString('base64url');
  const body = { sub: 'b1e2c3d4-0000-4000-8000-000000000001', iss: ISSUER, client_id: CLIENT_ID, token_use: 'access', scope: 'openid', exp: now + 600, iat: now, ...(groups ? { 'cognito:groups': groups } : {}) };
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(cognitoKeys.privateKey).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

// Test-only minting of ALB-style tokens (padded base64url, as the ALB sends them).
const pad = (text: string) => text.padEnd(Math.ceil(text.length / 4) * 4, '=');
const b64 = (data: Buffer | string) => pad(Buffer.from(data).toString('base64url'));

function mint(kid: string, key: KeyObject, header: Record<string, unknown> = {}): string {
  const exp = Math.floor(Date.now() / 1000) + 120;
  const input = `${b64(JSON.stringify({ typ: 'JWT', kid, alg: 'ES256', iss: ISSUER, client: CLIENT_ID, signer: ALB_ARN, exp, ...header }))}.${b64(
    JSON.stringify({ sub: 'b1e2c3d4-0000-4000-8000-000000000001', email: 'alice@example.com', exp, iss: ISSUER }),
  )}`;
  return `${input}.${b64(sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }))}`;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('examples/claims-app', () => {
  const kid = randomUUID();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let keyServer: Server;
  let app: Server;
  let appUrl: string;
  let keyFetches = 0;

  beforeAll(async () => {
    keyServer = createServer((request, response) => {
      keyFetches += 1;
      if (request.url === `/${kid}`) response.writeHead(200).end(pem);
      else response.writeHead(404).end();
    });
    const keyEndpoint = await listen(keyServer);
    const env = { ALB_ARN, COGNITO_CLIENT_ID: CLIENT_ID, COGNITO_USER_POOL_ID: USER_POOL_ID, ALB_KEY_ENDPOINT: keyEndpoint, COGNITO_DOMAIN: HOSTED_UI, SIGN_OUT_URL };
    const options = optionsFromEnv(env);
    app = createClaimsApp(options, () => {}, { signOut: signOutFromEnv(env)! });
    appUrl = await listen(app);
    // The same app for a stack with --allowed-groups admins,staff (AUTHECS_ALLOWED_GROUPS).
    groupsApp = createClaimsApp(options, () => {}, { groups: { userPoolId: USER_POOL_ID, clientId: CLIENT_ID, allowedGroups: 'admins,staff', jwks: POOL_JWKS } });
    groupsAppUrl = await listen(groupsApp);
  });

  afterAll(async () => {
    await close(app);
    await close(groupsApp);
    await close(keyServer);
  });

  let groupsApp: Server;
  let groupsAppUrl: string;

  it('greets the signed-in user by email, fetching the key once', async () => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await fetch(appUrl, { headers: { 'x-amzn-oidc-data': mint(kid, privateKey) } });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('Hello, alice@example.com!\n');
    }
    expect(keyFetches).toBe(1);
  });

  it('refuses a request without the header', async () => {
    const response = await fetch(appUrl);
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('malformed');
  });

  it('refuses a forged header (signed with another key)', async () => {
    const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const response = await fetch(appUrl, { headers: { 'x-amzn-oidc-data': mint(kid, forger) } });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('signature');
  });

  it('refuses a token from another ALB', async () => {
    const response = await fetch(appUrl, { headers: { 'x-amzn-oidc-data': mint(kid, privateKey, { signer: ALB_ARN.replace('ecsauth', 'other') }) } });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('signer');
  });

  it('answers the health check without a token', async () => {
    const response = await fetch(`${appUrl}/healthz`);
    expect(response.status).toBe(200);
  });

  it('optionsFromEnv names a missing variable', () => {
    expect(() => optionsFromEnv({ ALB_ARN })).toThrow(/COGNITO_CLIENT_ID/);
  });

  it('/sign-out expires every ALB session cookie shard and sends the user to Cognito\'s /logout, then to the sign-out URL', async () => {
    const response = await fetch(`${appUrl}/sign-out`, {
      redirect: 'manual',
      headers: { cookie: 'AWSELBAuthSessionCookie-0=part0; theme=dark; AWSELBAuthSessionCookie-1=part1' },
    });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${HOSTED_UI}/logout?client_id=${CLIENT_ID}&logout_uri=${encodeURIComponent(SIGN_OUT_URL)}`);
    expect(response.headers.getSetCookie()).toEqual([
      'AWSELBAuthSessionCookie-0=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly',
      'AWSELBAuthSessionCookie-1=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly',
    ]);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('/signed-out is a plain page, with no token needed (serve it with --public-path /signed-out)', async () => {
    const response = await fetch(`${appUrl}/signed-out`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('You are signed out.\n');
  });

  it('with allowed groups: greets a member, answers 403 to a signed-in user in none of them, 401 to a forged access token', async () => {
    const data = mint(kid, privateKey);
    const member = await fetch(groupsAppUrl, { headers: { 'x-amzn-oidc-data': data, 'x-amzn-oidc-accesstoken': accessToken(['staff']) } });
    expect(member.status).toBe(200);
    expect(await member.text()).toBe('Hello, alice@example.com!\n');

    const outsider = await fetch(groupsAppUrl, { headers: { 'x-amzn-oidc-data': data, 'x-amzn-oidc-accesstoken': accessToken(['guests']) } });
    expect(outsider.status).toBe(403);

    const noGroups = await fetch(groupsAppUrl, { headers: { 'x-amzn-oidc-data': data, 'x-amzn-oidc-accesstoken': accessToken(undefined) } });
    expect(noGroups.status).toBe(403);

    const [head, , signature] = accessToken(['guests']).split('.');
    const forgedBody = Buffer.from(JSON.stringify({ iss: ISSUER, client_id: CLIENT_ID, token_use: 'access', exp: Math.floor(Date.now() / 1000) + 600, 'cognito:groups': ['admins'] })).toString('base64url');
    const forged = await fetch(groupsAppUrl, { headers: { 'x-amzn-oidc-data': data, 'x-amzn-oidc-accesstoken': `${head}.${forgedBody}.${signature}` } });
    expect(forged.status).toBe(401);
    expect(await forged.text()).toContain('signature');
  });

  it('without groups configured, the access token is not needed (every signed-in user, as the ALB lets in)', async () => {
    const response = await fetch(appUrl, { headers: { 'x-amzn-oidc-data': mint(kid, privateKey) } });
    expect(response.status).toBe(200);
  });
});
