import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ALLOWED_GROUPS_ENV,
  cognitoLogoutUrl,
  createGroupsVerifier,
  GroupsError,
  sessionCookieNames,
  signOutResponse,
  verifyGroups,
  type GroupsVerifierOptions,
} from '../../src/index.js';

const REGION = 'eu-west-1';
const USER_POOL_ID = `${REGION}_AbCdEf123`;
const CLIENT_ID = '4p1n2kq0example0client0id';
const ISSUER = `https://cognito-idp.${REGION}.amazonaws.com/${USER_POOL_ID}`;
const HOSTED_UI = `https://ecsauth-1a2b3c4d.auth.${REGION}.amazoncognito.com`;

// ---- test-only Cognito tokens: RS256 with a key of our own, served as the pool's JWKS ----

const KID = 'test-pool-key';
const poolKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const JWKS = { keys: [{ kty: 'RSA', n: poolKey.publicKey.export({ format: 'jwk' }).n!, e: 'AQAB', kid: KID, alg: 'RS256', use: 'sig' }] };

function token(claims: Record<string, unknown> = {}, key: KeyObject = poolKey.privateKey): string {
  const now = Math.floor(Date.now() / 1000);
  const header = Buffer.from(JSON.stringify({ kid: KID, alg: 'RS256' })).toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({ sub: 'b1e2c3d4-0000-4000-8000-000000000001', iss: ISSUER, client_id: CLIENT_ID, token_use: 'access', scope: 'openid', username: 'alice', exp: now + 600, iat: now, ...claims }),
  ).toString('base64url');
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(key).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

const options = (overrides: Partial<GroupsVerifierOptions> = {}): GroupsVerifierOptions => ({ userPoolId: USER_POOL_ID, clientId: CLIENT_ID, allowedGroups: ['admins', 'staff'], jwks: JWKS, ...overrides });

async function failure(promise: Promise<unknown>): Promise<GroupsError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GroupsError);
    return error as GroupsError;
  }
  throw new Error('expected a GroupsError');
}

describe('groups: the cognito:groups claim of the access token the ALB passes (x-amzn-oidc-accesstoken)', () => {
  const savedEnv = process.env[ALLOWED_GROUPS_ENV];
  afterEach(() => {
    if (savedEnv === undefined) delete process.env[ALLOWED_GROUPS_ENV];
    else process.env[ALLOWED_GROUPS_ENV] = savedEnv;
  });

  it('lets a member of an allowed group in, with their groups and the verified claims', async () => {
    const verified = await createGroupsVerifier(options()).verify({ 'X-Amzn-Oidc-Accesstoken': token({ 'cognito:groups': ['staff', 'readers'] }) });
    expect(verified.groups).toEqual(['staff', 'readers']);
    expect(verified.claims).toMatchObject({ username: 'alice', client_id: CLIENT_ID, token_use: 'access' });
  });

  it('refuses a signed-in user in none of the allowed groups, saying which groups they are in', async () => {
    const error = await failure(createGroupsVerifier(options()).verify(token({ 'cognito:groups': ['guests'] })));
    expect(error).toMatchObject({ check: 'not-member', code: 'GROUPS_NOT_MEMBER', groups: ['guests'] });
    expect(error.message).toBe('Not in an allowed group: the user is in guests; allowed: admins, staff');
    expect((await failure(createGroupsVerifier(options()).verify(token()))).message).toContain('the user is in no group');
  });

  it('takes the allowed groups from AUTHECS_ALLOWED_GROUPS, as `up --allowed-groups` sets it in the container', async () => {
    process.env[ALLOWED_GROUPS_ENV] = 'admins, ops';
    const rest = options({ allowedGroups: undefined });
    expect(createGroupsVerifier(rest).allowedGroups).toEqual(['admins', 'ops']);
    await expect(verifyGroups(token({ 'cognito:groups': ['ops'] }), rest)).resolves.toMatchObject({ groups: ['ops'] });
    expect(await failure(verifyGroups(token({ 'cognito:groups': ['staff'] }), rest))).toMatchObject({ check: 'not-member' });
  });

  it('with no allowed groups (the stack sets none), every user of the pool passes, as the ALB already lets them in', async () => {
    delete process.env[ALLOWED_GROUPS_ENV];
    const verifier = createGroupsVerifier(options({ allowedGroups: undefined }));
    expect(verifier.allowedGroups).toEqual([]);
    await expect(verifier.verify(token())).resolves.toMatchObject({ groups: [] });
  });

  it('still verifies the token itself: a forged signature, another client, an ID token, an expired token', async () => {
    const verifier = createGroupsVerifier(options());
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(await failure(verifier.verify(token({ 'cognito:groups': ['admins'] }, otherKey)))).toMatchObject({ check: 'signature' });
    expect(await failure(verifier.verify(token({ 'cognito:groups': ['admins'], client_id: 'another-client' })))).toMatchObject({ check: 'client' });
    expect(await failure(verifier.verify(token({ 'cognito:groups': ['admins'], token_use: 'id', aud: CLIENT_ID })))).toMatchObject({ check: 'token-use' });
    expect(await failure(verifier.verify(token({ 'cognito:groups': ['admins'], exp: Math.floor(Date.now() / 1000) - 3600 })))).toMatchObject({ check: 'expired' });
  });

  it('a forged member claim never passes: groups are checked only once the signature holds', async () => {
    const [head, , signature] = token({ 'cognito:groups': ['guests'] }).split('.');
    const body = Buffer.from(JSON.stringify({ iss: ISSUER, client_id: CLIENT_ID, token_use: 'access', exp: Math.floor(Date.now() / 1000) + 600, 'cognito:groups': ['admins'] })).toString('base64url');
    expect(await failure(createGroupsVerifier(options()).verify(`${head}.${body}.${signature}`))).toMatchObject({ check: 'signature' });
  });

  it('names a missing or doubled header as malformed', async () => {
    const verifier = createGroupsVerifier(options());
    expect(await failure(verifier.verify({ 'x-amzn-oidc-data': 'x' }))).toMatchObject({ check: 'malformed', message: expect.stringContaining('there is no x-amzn-oidc-accesstoken header') });
    expect(await failure(verifier.verify({ 'x-amzn-oidc-accesstoken': [token(), token({ username: 'bob' })] }))).toMatchObject({ check: 'malformed' });
    expect(await failure(verifier.verify(new Headers({ 'x-amzn-oidc-accesstoken': 'not-a-jwt' })))).toMatchObject({ check: 'malformed' });
  });

  it('refuses options without a user pool or client, as a usage error', () => {
    expect(() => createGroupsVerifier(options({ userPoolId: 'nope' }))).toThrow(expect.objectContaining({ code: 'GROUPS_OPTIONS_INVALID', exit: 'usage' }));
    expect(() => createGroupsVerifier(options({ clientId: '' }))).toThrow(/clientId/);
  });
});

describe('sign-out: expire the ALB session cookies, then Cognito /logout', () => {
  const signOut = { cognitoDomain: HOSTED_UI, clientId: CLIENT_ID, signOutUrl: 'https://www.example.com/signed-out', env: {} };
  const expired = (name: string) => `${name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly`;

  it('expires every shard of the session cookie in the request (ALB guide: "set the expiration time ... to -1") and redirects to /logout', () => {
    const response = signOutResponse('AWSELBAuthSessionCookie-0=a; other=1; AWSELBAuthSessionCookie-1=b; AWSELBAuthSessionCookieX=c', signOut);
    expect(response).toEqual({
      status: 302,
      headers: {
        // Cognito's /logout: client_id and logout_uri, which must be an allowed sign-out URL of the client.
        location: `${HOSTED_UI}/logout?client_id=${CLIENT_ID}&logout_uri=https%3A%2F%2Fwww.example.com%2Fsigned-out`,
        'set-cookie': [expired('AWSELBAuthSessionCookie-0'), expired('AWSELBAuthSessionCookie-1')],
        'cache-control': 'no-store',
      },
    });
  });

  it('reads the Cookie header from Node or Fetch headers, and honours another --session-cookie', () => {
    expect(sessionCookieNames({ Cookie: 'MyCookie-0=a; AWSELBAuthSessionCookie-0=b' }, 'MyCookie')).toEqual(['MyCookie-0']);
    expect(sessionCookieNames(new Headers({ cookie: 'AWSELBAuthSessionCookie-2=x' }))).toEqual(['AWSELBAuthSessionCookie-2']);
    expect(signOutResponse({ cookie: 'MyCookie-0=a' }, { ...signOut, sessionCookieName: 'MyCookie' }).headers['set-cookie']).toEqual([expired('MyCookie-0')]);
  });

  it('expires the first shard when the request carries none', () => {
    expect(signOutResponse('', signOut).headers['set-cookie']).toEqual([expired('AWSELBAuthSessionCookie-0')]);
  });

  it('takes its settings from AUTHECS_COGNITO_DOMAIN, AUTHECS_CLIENT_ID and AUTHECS_SIGN_OUT_URL, a host without scheme too', () => {
    const env = { AUTHECS_COGNITO_DOMAIN: 'ecsauth-1a2b3c4d.auth.eu-west-1.amazoncognito.com', AUTHECS_CLIENT_ID: CLIENT_ID, AUTHECS_SIGN_OUT_URL: 'http://localhost:8080/bye' };
    expect(cognitoLogoutUrl({ env })).toBe(`${HOSTED_UI}/logout?client_id=${CLIENT_ID}&logout_uri=http%3A%2F%2Flocalhost%3A8080%2Fbye`);
  });

  it('refuses missing settings and a bare prefix (which does not say the region), as usage errors', () => {
    expect(() => signOutResponse('', { ...signOut, clientId: undefined })).toThrow(expect.objectContaining({ code: 'SIGN_OUT_OPTIONS_INVALID', exit: 'usage' }));
    expect(() => cognitoLogoutUrl({ ...signOut, cognitoDomain: 'ecsauth-1a2b3c4d' })).toThrow(/bare prefix/);
    expect(() => cognitoLogoutUrl({ ...signOut, signOutUrl: undefined })).toThrow(/AUTHECS_SIGN_OUT_URL/);
  });
});
