import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { EXIT_CODES } from '../../src/errors.js';
import {
  ClaimsError,
  MAX_KEY_BYTES,
  createAlbClaimsVerifier,
  decodeAlbToken,
  DEFAULT_GRACE_SECONDS,
  verifyAlbClaims,
  type AlbClaimsVerifierOptions,
  type ClaimsCheck,
} from '../../src/index.js';
import { StateFile } from '../../src/state/state-file.js';

const REGION = 'eu-west-1';
const ALB_ARN = `arn:aws:elasticloadbalancing:${REGION}:123456789012:loadbalancer/app/ecsauth/50dc6c495c0c9188`;
const OTHER_ALB_ARN = `arn:aws:elasticloadbalancing:${REGION}:123456789012:loadbalancer/app/other/0123456789abcdef`;
const CLIENT_ID = '4p1n2kq0example0client0id';
const USER_POOL_ID = `${REGION}_AbCdEf123`;
const ISSUER = `https://cognito-idp.${REGION}.amazonaws.com/${USER_POOL_ID}`;

// ---- test-only token minting (the code under test does no crypto of its own) ----

function newKeyPair(): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function b64url(data: Buffer | string, pad: boolean): string {
  const text = Buffer.from(data).toString('base64url');
  return pad ? text.padEnd(Math.ceil(text.length / 4) * 4, '=') : text;
}

/** JSON whose length is not a multiple of 3, so that its base64url has padding to keep or drop. */
function paddableJson(value: unknown): string {
  let json = JSON.stringify(value);
  while (json.length % 3 === 0) json += ' ';
  return json;
}

interface MintOptions {
  header?: Record<string, unknown>;
  payload?: Record<string, unknown>;
  key?: KeyObject;
  pad?: { header?: boolean; payload?: boolean; signature?: boolean };
}

interface Keys {
  kid: string;
  privateKey: KeyObject;
}

function mint(keys: Keys, options: MintOptions = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', kid: keys.kid, alg: 'ES256', iss: ISSUER, client: CLIENT_ID, signer: ALB_ARN, exp: now + 120, ...options.header };
  const payload = { sub: 'b1e2c3d4-0000-4000-8000-000000000001', email_verified: 'true', email: 'alice@example.com', username: 'alice', exp: now + 120, iss: ISSUER, ...options.payload };
  const pad = options.pad ?? {};
  const signingInput = `${b64url(paddableJson(header), pad.header ?? false)}.${b64url(paddableJson(payload), pad.payload ?? false)}`;
  const signature = sign('sha256', Buffer.from(signingInput), { key: options.key ?? keys.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${b64url(signature, pad.signature ?? false)}`;
}

// ---- a loopback stand-in for https://public-keys.auth.elb.<region>.amazonaws.com ----

interface KeyServer {
  url: string;
  requests: string[];
  keys: Map<string, string>;
  close(): Promise<void>;
}

async function startKeyServer(): Promise<KeyServer> {
  const requests: string[] = [];
  const keys = new Map<string, string>();
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    requests.push(path);
    const pem = keys.get(decodeURIComponent(path.slice(1)));
    if (!pem) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(pem);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    keys,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A URL where nothing listens: bind a port, then let it go. */
async function deadEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A loopback server with a handler of the test's own (misbehaving key endpoints). */
async function startServer(handler: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function keyPairOf(type: 'ec-p384' | 'rsa'): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-384' });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

async function rejection(promise: Promise<unknown>): Promise<ClaimsError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClaimsError) return error;
    throw error;
  }
  throw new Error('expected a ClaimsError, but the token verified');
}

let keyServer: KeyServer;
let keys: Keys;

beforeAll(async () => {
  keyServer = await startKeyServer();
  const pair = newKeyPair();
  keys = { kid: randomUUID(), privateKey: pair.privateKey };
  keyServer.keys.set(keys.kid, pair.pem);
});

afterAll(async () => {
  await keyServer.close();
});

function options(overrides: Partial<AlbClaimsVerifierOptions> = {}): AlbClaimsVerifierOptions {
  return { albArn: ALB_ARN, clientId: CLIENT_ID, userPoolId: USER_POOL_ID, keyEndpoint: keyServer.url, ...overrides };
}

describe('verifyAlbClaims / createAlbClaimsVerifier', () => {
  it('returns the claims of a valid token, from headers of any case or from the raw value', async () => {
    const verifier = createAlbClaimsVerifier(options());
    const token = mint(keys);
    const claims = await verifier.verify({ 'X-Amzn-Oidc-Data': token, 'x-amzn-oidc-identity': 'someone' });
    expect(claims).toMatchObject({ email: 'alice@example.com', iss: ISSUER, username: 'alice' });
    expect(await verifier.verify(token)).toMatchObject({ email: 'alice@example.com' });
    expect(await verifier.verify({ 'x-amzn-oidc-data': [token] })).toMatchObject({ email: 'alice@example.com' });
    expect(await verifier.verify(new Headers({ 'x-amzn-oidc-data': token }))).toMatchObject({ email: 'alice@example.com' });
    const { header } = await verifier.verifyToken(token);
    expect(header).toMatchObject({ kid: keys.kid, signer: ALB_ARN, client: CLIENT_ID, alg: 'ES256' });
  });

  it('derives the issuer from the user pool and the region, and the key endpoint from the ALB region', () => {
    const verifier = createAlbClaimsVerifier({ albArn: ALB_ARN, clientId: CLIENT_ID, userPoolId: USER_POOL_ID });
    expect(verifier.issuer).toBe(ISSUER);
    expect(verifier.keyEndpoint).toBe(`https://public-keys.auth.elb.${REGION}.amazonaws.com`);
    expect(verifier.graceSeconds).toBe(DEFAULT_GRACE_SECONDS);
  });

  const rejections: { name: string; check: ClaimsCheck; token: () => string; overrides?: Partial<AlbClaimsVerifierOptions> }[] = [
    { name: 'a token from another ALB (signer)', check: 'signer', token: () => mint(keys, { header: { signer: OTHER_ALB_ARN } }) },
    { name: 'a token for another app client', check: 'client', token: () => mint(keys, { header: { client: 'someotherclient' } }) },
    { name: 'a token from another issuer', check: 'issuer', token: () => mint(keys, { payload: { iss: `https://cognito-idp.${REGION}.amazonaws.com/${REGION}_Other` } }) },
    { name: 'an expired token', check: 'expired', token: () => mint(keys, { payload: { exp: Math.floor(Date.now() / 1000) - 600 } }) },
    {
      name: 'a token just past exp when the grace is 0',
      check: 'expired',
      token: () => mint(keys, { payload: { exp: Math.floor(Date.now() / 1000) - 5 } }),
      overrides: { graceSeconds: 0 },
    },
    {
      name: 'a tampered payload',
      check: 'signature',
      token: () => {
        const [header, , signature] = mint(keys).split('.');
        const forged = b64url(paddableJson({ sub: 'x', email: 'mallory@example.com', exp: Math.floor(Date.now() / 1000) + 120, iss: ISSUER }), false);
        return `${header}.${forged}.${signature}`;
      },
    },
    { name: 'a token signed with another key under a known kid', check: 'signature', token: () => mint(keys, { key: newKeyPair().privateKey }) },
    { name: 'an unknown kid (the endpoint answers 404)', check: 'unknown-kid', token: () => mint({ kid: randomUUID(), privateKey: keys.privateKey }) },
    { name: 'a kid that is not a UUID', check: 'malformed', token: () => mint(keys, { header: { kid: '../../etc/passwd' } }) },
    { name: 'an alg other than ES256', check: 'algorithm', token: () => mint(keys, { header: { alg: 'HS256' } }) },
    { name: 'alg none', check: 'algorithm', token: () => mint(keys, { header: { alg: 'none' } }) },
    { name: 'something that is not a JWT', check: 'malformed', token: () => 'not-a-jwt' },
    { name: 'an empty header', check: 'malformed', token: () => '' },
  ];

  for (const { name, check, token, overrides } of rejections) {
    it(`rejects ${name} with check '${check}'`, async () => {
      const error = await rejection(createAlbClaimsVerifier(options(overrides)).verify({ 'x-amzn-oidc-data': token() }));
      expect(error.check).toBe(check);
      expect(error.message).toContain(`failed the ${check} check`);
      expect(error.exitCode).toBe(EXIT_CODES.claims);
    });
  }

  it('rejects a request without the header as malformed', async () => {
    const error = await rejection(createAlbClaimsVerifier(options()).verify({ host: 'example.com' }));
    expect(error.check).toBe('malformed');
    expect(error.message).toContain('no x-amzn-oidc-data header');
  });

  it('accepts a token a little past exp within the grace', async () => {
    const token = mint(keys, { payload: { exp: Math.floor(Date.now() / 1000) - 5 } });
    await expect(createAlbClaimsVerifier(options({ graceSeconds: 60 })).verify(token)).resolves.toMatchObject({ email: 'alice@example.com' });
  });

  it('verifies an ALB-style token that mixes padded and unpadded base64url segments', async () => {
    const token = mint(keys, { pad: { header: true, payload: false, signature: true } });
    const [header, payload, signature] = token.split('.');
    expect(header).toMatch(/=$/);
    expect(payload).not.toContain('=');
    expect(signature).toMatch(/=$/);
    await expect(createAlbClaimsVerifier(options()).verify(token)).resolves.toMatchObject({ email: 'alice@example.com' });
    const all = mint(keys, { pad: { header: true, payload: true, signature: true } });
    await expect(createAlbClaimsVerifier(options()).verify(all)).resolves.toMatchObject({ email: 'alice@example.com' });
    expect(decodeAlbToken(token).payload).toMatchObject({ email: 'alice@example.com' });
  });

  it('fails with key-fetch, not a crash, when the key endpoint is down', async () => {
    const endpoint = await deadEndpoint();
    const error = await rejection(createAlbClaimsVerifier(options({ keyEndpoint: endpoint })).verify(mint(keys)));
    expect(error.check).toBe('key-fetch');
    expect(error.message).toContain(endpoint);
  });

  it('fails with key-fetch when the endpoint answers with something that is not a key', async () => {
    const kid = randomUUID();
    keyServer.keys.set(kid, 'this is not a PEM');
    const error = await rejection(createAlbClaimsVerifier(options()).verify(mint({ kid, privateKey: keys.privateKey })));
    expect(error.check).toBe('key-fetch');
  });

  it('caches the key by kid: a second verification makes no second fetch', async () => {
    const pair = newKeyPair();
    const fresh = { kid: randomUUID(), privateKey: pair.privateKey };
    keyServer.keys.set(fresh.kid, pair.pem);
    const verifier = createAlbClaimsVerifier(options());
    const fetches = () => keyServer.requests.filter((path) => path === `/${fresh.kid}`).length;
    await verifier.verify(mint(fresh));
    expect(fetches()).toBe(1);
    await verifier.verify(mint(fresh, { payload: { email: 'bob@example.com' } }));
    expect(fetches()).toBe(1);
    // The one-shot function shares a verifier between calls with the same options.
    await verifyAlbClaims(mint(fresh), options({ graceSeconds: 7 }));
    await verifyAlbClaims(mint(fresh), options({ graceSeconds: 7 }));
    expect(fetches()).toBe(2);
  });

  it('rejects incomplete options with a usage error', () => {
    expect(() => createAlbClaimsVerifier({ albArn: 'not-an-arn', clientId: CLIENT_ID, userPoolId: USER_POOL_ID })).toThrow(/not a load balancer ARN/);
    expect(() => createAlbClaimsVerifier({ albArn: ALB_ARN, clientId: CLIENT_ID })).toThrow(/user pool ID/);
  });

  it('decodeAlbToken returns header and payload, marked unverified', () => {
    const decoded = decodeAlbToken({ 'x-amzn-oidc-data': mint(keys, { header: { signer: OTHER_ALB_ARN } }) });
    expect(decoded.verified).toBe(false);
    expect(decoded.header).toMatchObject({ signer: OTHER_ALB_ARN, kid: keys.kid });
    expect(decoded.payload).toMatchObject({ email: 'alice@example.com' });
  });
});

describe('hardening (issue 9)', () => {
  const GOV_WEST_ARN = 'arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/ecsauth/50dc6c495c0c9188';
  const GOV_EAST_ARN = 'arn:aws-us-gov:elasticloadbalancing:us-gov-east-1:123456789012:loadbalancer/app/ecsauth/50dc6c495c0c9188';
  const CHINA_ARN = 'arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/ecsauth/50dc6c495c0c9188';
  const ISO_ARN = 'arn:aws-iso:elasticloadbalancing:us-iso-east-1:123456789012:loadbalancer/app/ecsauth/50dc6c495c0c9188';

  for (const type of ['ec-p384', 'rsa'] as const) {
    it(`key type pinned: rejects a token whose kid serves ${type === 'rsa' ? 'an RSA' : 'a P-384'} key, though the token says ES256`, async () => {
      const pair = keyPairOf(type);
      const kid = randomUUID();
      keyServer.keys.set(kid, pair.pem);
      // Signed so that the served key would verify it: sha256 with that key.
      const token = mint({ kid, privateKey: pair.privateKey });
      const error = await rejection(createAlbClaimsVerifier(options()).verify(token));
      expect(error.check).toBe('key-type');
      expect(error.message).toContain(type === 'rsa' ? 'a RSA key' : 'an EC P-384 key');
      expect(error.exitCode).toBe(EXIT_CODES.claims);
    });
  }

  it('refuses a redirect from the key endpoint, even to a host that serves the right key', async () => {
    const redirector = await startServer((request, response) => {
      response.writeHead(302, { location: `${keyServer.url}${request.url}` }).end();
    });
    try {
      const error = await rejection(createAlbClaimsVerifier(options({ keyEndpoint: redirector.url })).verify(mint(keys)));
      expect(error.check).toBe('key-fetch');
      expect(error.message).toContain('HTTP 302');
      expect(error.message).toContain('redirects are refused');
    } finally {
      await redirector.close();
    }
  });

  it('stops reading an endless key answer past 16 KiB, long before the deadline', async () => {
    let sent = 0;
    const endless = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/x-pem-file' });
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const pump = () => {
        while (!response.destroyed && response.write(chunk)) sent += chunk.length;
        if (!response.destroyed) response.once('drain', pump);
      };
      pump();
    });
    try {
      const started = Date.now();
      const error = await rejection(createAlbClaimsVerifier(options({ keyEndpoint: endless.url, keyFetchTimeoutMs: 20_000 })).verify(mint(keys)));
      expect(error.check).toBe('key-fetch');
      expect(error.message).toContain(`more than ${MAX_KEY_BYTES} bytes`);
      expect(Date.now() - started).toBeLessThan(2000);
      // The connection is closed: the server stops being able to send.
      const after = sent;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(sent - after).toBeLessThan(8 * 1024 * 1024);
    } finally {
      await endless.close();
    }
  });

  it('refuses a key answer whose Content-Length is over 16 KiB without waiting for its body', async () => {
    const liar = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-length': String(50 * 1024 * 1024) });
      response.write('-----BEGIN PUBLIC KEY-----\n');
    });
    try {
      const started = Date.now();
      const error = await rejection(createAlbClaimsVerifier(options({ keyEndpoint: liar.url, keyFetchTimeoutMs: 20_000 })).verify(mint(keys)));
      expect(error.check).toBe('key-fetch');
      expect(error.message).toContain('Content-Length');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await liar.close();
    }
  });

  it('gives up on a key endpoint that stalls mid-body, or drips, at the deadline', async () => {
    const stall = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/x-pem-file' });
      response.write('-----BEGIN PUBLIC KEY-----\n');
    });
    const drip = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/x-pem-file' });
      const timer = setInterval(() => (response.destroyed ? clearInterval(timer) : response.write('A')), 20);
    });
    try {
      for (const server of [stall, drip]) {
        const started = Date.now();
        const error = await rejection(createAlbClaimsVerifier(options({ keyEndpoint: server.url, keyFetchTimeoutMs: 300 })).verify(mint(keys)));
        expect(error.check).toBe('key-fetch');
        expect(error.message).toContain('no complete answer within 300 ms');
        expect(Date.now() - started).toBeLessThan(1500);
      }
    } finally {
      await stall.close();
      await drip.close();
    }
  });

  it('derives the documented key endpoint per partition: GovCloud west and east from S3', () => {
    const base = { clientId: CLIENT_ID, userPoolId: 'us-gov-west-1_AbCdEf123' };
    const west = createAlbClaimsVerifier({ ...base, albArn: GOV_WEST_ARN });
    expect(west.keyEndpoint).toBe('https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1');
    expect(west.issuer).toBe('https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_AbCdEf123');
    const east = createAlbClaimsVerifier({ ...base, albArn: GOV_EAST_ARN, userPoolId: 'us-gov-east-1_AbCdEf123' });
    expect(east.keyEndpoint).toBe('https://s3-us-gov-east-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-east-1');
  });

  it('refuses partitions with no documented key endpoint, with a clear message', () => {
    const base = { clientId: CLIENT_ID, userPoolId: USER_POOL_ID };
    expect(() => createAlbClaimsVerifier({ ...base, albArn: CHINA_ARN })).toThrow(/documents no ALB public key endpoint for cn-north-1 \(partition aws-cn\)/);
    // China works once the caller names the endpoint.
    expect(createAlbClaimsVerifier({ ...base, albArn: CHINA_ARN, keyEndpoint: 'https://keys.example.cn' }).keyEndpoint).toBe('https://keys.example.cn');
    expect(() => createAlbClaimsVerifier({ ...base, albArn: ISO_ARN, keyEndpoint: 'https://keys.example' })).toThrow(/partition aws-iso/);
  });

  it('takes the region from the ALB ARN: a different region option is refused, not used', () => {
    expect(() => createAlbClaimsVerifier(options({ region: 'us-east-1' }))).toThrow(/us-east-1 is not the ALB's region eu-west-1/);
    expect(createAlbClaimsVerifier(options({ region: REGION })).issuer).toBe(ISSUER);
  });
});

// ---- the CLI, in-process ----

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], cwd: string, input?: string, env: Record<string, string> = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  stdin.end(input ?? '');
  const code = await main(args, { cwd, env: { HOME: cwd, ...env }, stdout, stderr, stdin });
  return { code, stdout: out, stderr: err };
}

describe('authecs claims', () => {
  let cwd: string;

  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'authecs-claims-'));
    const state = StateFile.open(join(cwd, '.authecs', 'ecsauth.json'));
    state.initialise('ecsauth', REGION, {});
    state.update('load-balancer', { created: true, complete: true, data: { name: 'ecsauth', loadBalancerArn: ALB_ARN, dnsName: 'ecsauth-1.eu-west-1.elb.amazonaws.com' } });
    state.update('user-pool', { created: true, complete: true, data: { userPoolId: USER_POOL_ID, userPoolArn: `arn:aws:cognito-idp:${REGION}:123456789012:userpool/${USER_POOL_ID}`, name: 'ecsauth_Pool' } });
    state.update('app-client', { created: true, complete: true, data: { clientId: CLIENT_ID, name: 'ecsauth_AppClient', userPoolId: USER_POOL_ID } });
  });

  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  it('verify checks a token against the state file and prints its claims', async () => {
    const result = await cli(['claims', 'verify', '--token', mint(keys), '--key-endpoint', keyServer.url], cwd);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Verified');
    expect(result.stdout).toContain('email: alice@example.com');
    expect(result.stdout).toContain(`iss: ${ISSUER}`);
  });

  it('verify --json prints {ok, header, claims}', async () => {
    const result = await cli(['--json', 'claims', 'verify', '--token', mint(keys), '--key-endpoint', keyServer.url], cwd);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as { ok: boolean; header: Record<string, unknown>; claims: Record<string, unknown> };
    expect(document.ok).toBe(true);
    expect(document.header).toMatchObject({ signer: ALB_ARN, client: CLIENT_ID, kid: keys.kid });
    expect(document.claims).toMatchObject({ email: 'alice@example.com' });
  });

  it('verify reads raw header lines from a file and from stdin', async () => {
    const token = mint(keys, { pad: { header: true, signature: true } });
    const headers = `GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Amzn-Oidc-Identity: abc\r\nX-Amzn-Oidc-Data: ${token}\r\n\r\n`;
    writeFileSync(join(cwd, 'headers.txt'), headers);
    const fromFile = await cli(['claims', 'verify', '--header-file', 'headers.txt', '--key-endpoint', keyServer.url], cwd);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toContain('email: alice@example.com');
    const fromStdin = await cli(['claims', 'verify', '--header-file', '-', '--key-endpoint', keyServer.url], cwd, headers);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(fromStdin.stdout).toContain('email: alice@example.com');
  });

  it('verify --header-file stops at the first empty line: a token line in the body is not a header', async () => {
    const headers = `GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\nx-amzn-oidc-data: ${mint(keys)}\r\n`;
    writeFileSync(join(cwd, 'request.txt'), headers);
    const result = await cli(['claims', 'verify', '--header-file', 'request.txt', '--key-endpoint', keyServer.url], cwd);
    expect(result.code).toBe(EXIT_CODES.claims);
    expect(result.stderr).toContain('no x-amzn-oidc-data header line in request.txt');
    expect(result.stdout).not.toContain('alice@example.com');
  });

  it('verify --json prints one JSON document when --header-file is rejected', async () => {
    writeFileSync(join(cwd, 'no-token.txt'), 'Host: www.example.com\r\n\r\n');
    const rejected = await cli(['--json', 'claims', 'verify', '--header-file', 'no-token.txt', '--key-endpoint', keyServer.url], cwd);
    expect(rejected.code).toBe(EXIT_CODES.claims);
    expect(JSON.parse(rejected.stdout)).toMatchObject({ command: 'claims verify', ok: false, check: 'malformed', code: 'CLAIMS_MALFORMED', exitCode: EXIT_CODES.claims });
    const unreadable = await cli(['--json', 'claims', 'verify', '--header-file', 'missing.txt'], cwd);
    expect(unreadable.code).toBe(EXIT_CODES.usage);
    expect(JSON.parse(unreadable.stdout)).toMatchObject({ command: 'claims verify', ok: false, code: 'USAGE', exitCode: EXIT_CODES.usage });
  });

  it('verify takes the region from the ALB ARN when there is no state file: AWS_REGION does not beat it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'authecs-claims-region-'));
    try {
      const args = ['claims', 'verify', '--token', mint(keys), '--alb-arn', ALB_ARN, '--client-id', CLIENT_ID, '--user-pool-id', USER_POOL_ID, '--key-endpoint', keyServer.url];
      const result = await cli(args, empty, undefined, { AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-west-2' });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`iss: ${ISSUER}`);
      const disagreeing = await cli(['--region', 'us-east-1', ...args], empty);
      expect(disagreeing.code).toBe(EXIT_CODES.usage);
      expect(disagreeing.stderr).toContain('us-east-1 is not the region of the ALB');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('verify refuses a China ALB without --key-endpoint, naming the partition, as one JSON document', async () => {
    const china = 'arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/ecsauth/50dc6c495c0c9188';
    const result = await cli(['--json', 'claims', 'verify', '--token', mint(keys), '--alb-arn', china], cwd);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, code: 'CLAIMS_NO_KEY_ENDPOINT' });
    expect(result.stderr).toContain('partition aws-cn');
  });

  it('verify exits 12 on a forged token and names the check', async () => {
    const forged = mint(keys, { key: newKeyPair().privateKey });
    const result = await cli(['claims', 'verify', '--token', forged, '--key-endpoint', keyServer.url], cwd);
    expect(result.code).toBe(EXIT_CODES.claims);
    expect(result.stderr).toContain('failed the signature check');
    expect(result.stdout).not.toContain('alice@example.com');
  });

  it('verify exits 12 naming the signer check when --alb-arn overrides the state file', async () => {
    const result = await cli(['--json', 'claims', 'verify', '--token', mint(keys), '--key-endpoint', keyServer.url, '--alb-arn', OTHER_ALB_ARN], cwd);
    expect(result.code).toBe(EXIT_CODES.claims);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, check: 'signer' });
    expect(result.stderr).toContain('"code":"CLAIMS_SIGNER"');
  });

  it('verify exits 12 naming key-fetch when the key endpoint is down', async () => {
    const result = await cli(['claims', 'verify', '--token', mint(keys), '--key-endpoint', await deadEndpoint()], cwd);
    expect(result.code).toBe(EXIT_CODES.claims);
    expect(result.stderr).toContain('failed the key-fetch check');
  });

  it('verify without a state file or flags is a usage error', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'authecs-claims-empty-'));
    try {
      const result = await cli(['claims', 'verify', '--token', mint(keys)], empty);
      expect(result.code).toBe(EXIT_CODES.usage);
      expect(result.stderr).toContain('--alb-arn');
      const flagsOnly = await cli(
        ['claims', 'verify', '--token', mint(keys), '--alb-arn', ALB_ARN, '--client-id', CLIENT_ID, '--user-pool-id', USER_POOL_ID, '--key-endpoint', keyServer.url],
        empty,
      );
      expect(flagsOnly.code, flagsOnly.stderr).toBe(0);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('verify rejects a bad --grace-seconds', async () => {
    const result = await cli(['claims', 'verify', '--token', mint(keys), '--grace-seconds', 'soon'], cwd);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain('--grace-seconds');
  });

  it('decode prints header and payload labelled UNVERIFIED, even for a token that would fail verify', async () => {
    const token = mint(keys, { header: { signer: OTHER_ALB_ARN } });
    const human = await cli(['claims', 'decode', '--token', token], cwd);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('UNVERIFIED');
    expect(human.stdout).toContain(`signer: ${OTHER_ALB_ARN}`);
    expect(human.stdout).toContain('email: alice@example.com');
    const json = await cli(['--json', 'claims', 'decode', '--token', token], cwd);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ verified: false, header: { signer: OTHER_ALB_ARN }, payload: { email: 'alice@example.com' } });
  });

  it('decode of something that is not a token is a usage error', async () => {
    const result = await cli(['claims', 'decode', '--token', 'garbage'], cwd);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain('malformed');
  });
});
