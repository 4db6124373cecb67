import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClaimsApp, optionsFromEnv } from './server.js';

const REGION = 'eu-west-1';
const ALB_ARN = `arn:aws:elasticloadbalancing:${REGION}:123456789012:loadbalancer/app/ecsauth/50dc6c495c0c9188`;
const CLIENT_ID = '4p1n2kq0example0client0id';
const USER_POOL_ID = `${REGION}_AbCdEf123`;
const ISSUER = `https://cognito-idp.${REGION}.amazonaws.com/${USER_POOL_ID}`;

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
    const options = optionsFromEnv({ ALB_ARN, COGNITO_CLIENT_ID: CLIENT_ID, COGNITO_USER_POOL_ID: USER_POOL_ID, ALB_KEY_ENDPOINT: keyEndpoint });
    app = createClaimsApp(options);
    appUrl = await listen(app);
  });

  afterAll(async () => {
    await close(app);
    await close(keyServer);
  });

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
});
