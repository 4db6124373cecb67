/**
 * The parts of `authecs smoke` that need no live site: reading the hosted UI's form, judging the
 * ALB's authorize redirect, the cookie jar, and the throwaway user's lifetime (aws-sdk-client-mock).
 * test/e2e/smoke.test.ts runs every check against loopback stand-ins after a real `up`.
 */
import { createServer } from 'node:net';
import {
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { judgeAuthorizeRedirect, samplePath, type SiteFacts } from '../../src/smoke/checks.js';
import { CookieJar, cookieNames } from '../../src/smoke/http.js';
import { runSmoke } from '../../src/smoke/run.js';
import { deleteStaleThrowawayUsers, findSignInForm, pageError, STALE_AFTER_MS } from '../../src/smoke/sign-in.js';
import { meetsPasswordPolicy } from '../../src/users/temporary-password.js';

const SITE: SiteFacts = {
  domain: 'www.example.com',
  loadBalancerDnsName: 'ecsauth-1.eu-west-1.elb.amazonaws.com',
  hostedUiBaseUrl: 'https://ecsauth-1a2b3c4d.auth.eu-west-1.amazoncognito.com',
  clientId: 'client123',
  scope: 'openid email',
  sessionCookieName: 'AWSELBAuthSessionCookie',
  publicPaths: [],
  httpRedirect: true,
};

const authorize = (params: Record<string, string>, base = `${SITE.hostedUiBaseUrl}/oauth2/authorize`) => `${base}?${new URLSearchParams(params).toString()}`;
const GOOD = { client_id: 'client123', redirect_uri: 'https://www.example.com/oauth2/idpresponse', response_type: 'code', scope: 'email openid', state: 'abc' };

describe('the ALB redirect to Cognito', () => {
  it('accepts the stack client, the callback, code flow, the scope in any order and a state', () => {
    expect(judgeAuthorizeRedirect(authorize(GOOD), SITE)).toEqual({
      problems: [],
      params: { client_id: 'client123', redirect_uri: 'https://www.example.com/oauth2/idpresponse', response_type: 'code', scope: 'email openid', state: '(present)' },
    });
  });

  it('names every difference', () => {
    const { problems } = judgeAuthorizeRedirect(authorize({ client_id: 'other', redirect_uri: 'https://x.example.com/oauth2/idpresponse', response_type: 'token', scope: 'openid' }, 'https://evil.example.net/oauth2/authorize'), SITE);
    expect(problems).toEqual([
      `it goes to https://evil.example.net/oauth2/authorize, not ${SITE.hostedUiBaseUrl}/oauth2/authorize`,
      "client_id is other, not the stack's client123",
      'redirect_uri is https://x.example.com/oauth2/idpresponse, not https://www.example.com/oauth2/idpresponse',
      'response_type is token, not code',
      'scope is "openid", not "openid email"',
      'there is no state parameter',
    ]);
    expect(judgeAuthorizeRedirect('/relative', SITE).problems).toEqual(['Location "/relative" is not an absolute URL']);
  });
});

describe('the hosted UI sign-in page', () => {
  // The classic hosted UI draws the form twice (small and large screens), with &amp; in the action.
  const page = `<html><body>
    <form name="cognitoSignInForm" action="/login?client_id=abc&amp;redirect_uri=https%3A%2F%2Fwww.example.com%2Foauth2%2Fidpresponse&amp;state=s1" method="post" class="cognito-asf">
      <input name="_csrf" type="hidden" value="token-1"/><input name="cognitoAsfData" type="hidden" value="">
      <input id="signInFormUsername" name="username" type="text"><input name="password" type="password">
      <input name="signInSubmitButton" type="Submit" value="Sign in">
    </form>
    <form name="cognitoSignInForm" action="/login?second" method="post"><input name="_csrf" type="hidden" value="token-2"/></form>
    <p id="loginErrorMessage" class="errorMessage-customizable">Incorrect username or password.</p>
  </body></html>`;

  it('finds the first form with a _csrf field, its action (entities decoded) and its hidden fields', () => {
    expect(findSignInForm(page)).toEqual({
      action: '/login?client_id=abc&redirect_uri=https%3A%2F%2Fwww.example.com%2Foauth2%2Fidpresponse&state=s1',
      hidden: { _csrf: 'token-1', cognitoAsfData: '' },
    });
    expect(findSignInForm('<form action="/x"><input name="q"></form>')).toBeUndefined();
  });

  it('reads the error the page shows', () => {
    expect(pageError(page)).toBe('Incorrect username or password.');
    expect(pageError('<p>fine</p>')).toBeUndefined();
  });
});

describe('cookies and paths', () => {
  it('keeps cookies per host, replaces them, drops expired ones, and reports names only', () => {
    const jar = new CookieJar();
    jar.store('https://www.example.com/', ['AWSALBAuthNonce=n1; Path=/; Secure; HttpOnly']);
    jar.store('https://auth.example.com/login', ['XSRF-TOKEN=t1; Path=/; Secure']);
    expect(jar.header('https://www.example.com/oauth2/idpresponse')).toBe('AWSALBAuthNonce=n1');
    jar.store('https://www.example.com/', ['AWSELBAuthSessionCookie-0=s; Path=/', 'AWSALBAuthNonce=; Max-Age=0']);
    expect(jar.header('https://www.example.com/')).toBe('AWSELBAuthSessionCookie-0=s');
    expect(jar.header('https://auth.example.com/login')).toBe('XSRF-TOKEN=t1');
    expect(jar.header('https://elsewhere.example.com/')).toBeUndefined();
    expect(cookieNames(['AWSELBAuthSessionCookie-0=secret; Path=/', 'AWSELBAuthSessionCookie-1=more'])).toEqual(['AWSELBAuthSessionCookie-0', 'AWSELBAuthSessionCookie-1']);
  });

  it('requests a path that a public path pattern matches', () => {
    expect(samplePath('/health')).toBe('/health');
    expect(samplePath('/assets/*')).toBe('/assets/');
    expect(samplePath('/v?/status')).toBe('/va/status');
  });
});

describe('the throwaway user', () => {
  const cognito = mockClient(CognitoIdentityProviderClient);
  const client = new CognitoIdentityProviderClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const NOW = Date.UTC(2026, 0, 1, 12);
  const user = (email: string, ageMs: number) => ({ Username: `sub-${email}`, UserCreateDate: new Date(NOW - ageMs), Attributes: [{ Name: 'email', Value: email }] });
  let closedPort = 0;

  beforeEach(async () => {
    cognito.reset();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closedPort = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  afterAll(() => cognito.restore());

  it('deletes only throwaway users older than an hour, which a killed run left', async () => {
    cognito.on(ListUsersCommand).resolves({
      Users: [
        user('authecs-smoke-aaaaaaaaaaaa@example.invalid', STALE_AFTER_MS + 1000),
        user('authecs-smoke-bbbbbbbbbbbb@example.invalid', 60_000),
        user('authecs-smoke-someone@example.com', STALE_AFTER_MS * 5),
      ],
    });
    cognito.on(AdminDeleteUserCommand).resolves({});
    expect(await deleteStaleThrowawayUsers(client, 'pool-1', NOW)).toEqual(['authecs-smoke-aaaaaaaaaaaa@example.invalid']);
    expect(cognito.commandCalls(ListUsersCommand)[0]!.args[0].input).toMatchObject({ UserPoolId: 'pool-1', Filter: 'email ^= "authecs-smoke-"' });
    expect(cognito.commandCalls(AdminDeleteUserCommand).map((call) => call.args[0].input)).toEqual([{ UserPoolId: 'pool-1', Username: 'authecs-smoke-aaaaaaaaaaaa@example.invalid' }]);
  });

  /** A run whose site is a closed port: every check fails fast, and the sign-in is reached. */
  const run = () =>
    runSmoke({
      site: { ...SITE, domain: 'www.example.com', httpRedirect: false },
      probe: {
        siteUrl: new URL(`https://127.0.0.1:${closedPort}`),
        httpUrl: new URL(`http://127.0.0.1:${closedPort}`),
        dns: { servers: [`127.0.0.1:${closedPort}`], timeoutMs: 200 },
        minCertDays: 14,
        now: () => NOW,
        http: { connectTo: new Map([['https://www.example.com', new URL(`https://127.0.0.1:${closedPort}`)]]), timeoutMs: 500 },
      },
      totalTimeoutMs: 20_000,
      signIn: { cognito: client, userPoolId: 'pool-1' },
      progress: () => {},
    });

  it('is made without a message and with a permanent password, and deleted although the sign-in failed', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [] });
    cognito.on(AdminCreateUserCommand).resolves({ User: {} });
    cognito.on(AdminSetUserPasswordCommand).resolves({});
    cognito.on(AdminDeleteUserCommand).resolves({});
    const report = await run();
    const create = cognito.commandCalls(AdminCreateUserCommand)[0]!.args[0].input;
    const username = create.Username!;
    expect(username).toMatch(/^authecs-smoke-[0-9a-f]{12}@example\.invalid$/);
    expect(create).toEqual({ UserPoolId: 'pool-1', Username: username, MessageAction: 'SUPPRESS', UserAttributes: [{ Name: 'email', Value: username }, { Name: 'email_verified', Value: 'true' }] });
    const password = cognito.commandCalls(AdminSetUserPasswordCommand)[0]!.args[0].input;
    expect(password).toMatchObject({ UserPoolId: 'pool-1', Username: username, Permanent: true });
    expect(password.Password!.length).toBeGreaterThanOrEqual(32);
    expect(meetsPasswordPolicy(password.Password!, undefined)).toBe(true);
    expect(report.checks.find((check) => check.name === 'sign-in')).toMatchObject({ ok: false });
    expect(JSON.stringify(report)).not.toContain(password.Password!);
    expect(cognito.commandCalls(AdminDeleteUserCommand).map((call) => call.args[0].input)).toEqual([{ UserPoolId: 'pool-1', Username: username }]);
    expect(report.throwawayUser).toEqual({ username, deleted: true, staleDeleted: [] });
  });

  it('is deleted when its password cannot be set', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [] });
    cognito.on(AdminCreateUserCommand).resolves({ User: {} });
    cognito.on(AdminSetUserPasswordCommand).rejects(Object.assign(new Error('Password does not conform to policy'), { name: 'InvalidPasswordException' }));
    cognito.on(AdminDeleteUserCommand).resolves({});
    const report = await run();
    expect(report.checks.find((check) => check.name === 'sign-in')?.detail).toBe("could not set the throwaway user's password: InvalidPasswordException: Password does not conform to policy");
    expect(cognito.commandCalls(AdminDeleteUserCommand)).toHaveLength(1);
    expect(report.throwawayUser?.deleted).toBe(true);
  });

  it('fails the sign-in check when the user cannot be deleted, and says how it will go', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [] });
    cognito.on(AdminCreateUserCommand).resolves({ User: {} });
    cognito.on(AdminSetUserPasswordCommand).resolves({});
    cognito.on(AdminDeleteUserCommand).rejects(Object.assign(new Error('User: x is not authorized to perform: cognito-idp:AdminDeleteUser'), { name: 'AccessDeniedException' }));
    const report = await run();
    const signIn = report.checks.find((check) => check.name === 'sign-in')!;
    expect(signIn.ok).toBe(false);
    expect(signIn.detail).toContain('could not be deleted (AccessDeniedException');
    expect(signIn.detail).toContain('the next smoke --sign-in deletes it once it is an hour old');
    expect(report.throwawayUser).toMatchObject({ deleted: false, error: expect.stringContaining('AccessDeniedException') });
  });
});
