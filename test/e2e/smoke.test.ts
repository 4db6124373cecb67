/**
 * Issue 11: `authecs smoke` after a real `up` against moto. The site itself is played by loopback
 * stand-ins (test/support): a DNS server, an ALB (HTTP and HTTPS listeners with Cognito
 * authentication), and the Cognito hosted UI, which checks passwords against moto's pool
 * (AdminInitiateAuth, ADMIN_USER_PASSWORD_AUTH). smoke is pointed at them with --url, --http-url,
 * --ca-file (a CA made with openssl), AUTHECS_DNS_SERVERS and AUTHECS_SMOKE_COGNITO_URL.
 * Every run signs in with a throwaway user made in moto; every run must leave none behind.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AdminInitiateAuthCommand, DescribeUserPoolClientCommand, ListUsersCommand } from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { startAlbStandIn, type AlbStandIn, type AlbStandInOptions } from '../support/alb-stand-in.js';
import { describeRun, type RunResult } from '../support/cli.js';
import { startDnsStandIn, type DnsStandIn } from '../support/dns-stand-in.js';
import { setupE2e } from '../support/e2e.js';
import { startHostedUiStandIn, type HostedUiStandIn } from '../support/hosted-ui-stand-in.js';
import { skipE2e } from '../support/moto.js';
import { makeTestCa, type TestCa } from '../support/test-ca.js';

const DOMAIN = 'www.example.com';
const ALB_ADDRESSES = ['127.0.0.1', '127.0.0.2'];

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  seen: Record<string, unknown>;
}

interface SmokeDocument {
  command: string;
  ok: boolean;
  domain: string;
  checks: Check[];
  skipped: { name: string; reason: string }[];
  throwawayUser?: { username: string; deleted: boolean; staleDeleted: string[] };
}

interface StateDocument {
  resources: {
    'load-balancer': { data: { dnsName: string } };
    'user-pool': { data: { userPoolId: string } };
    'app-client': { data: { clientId: string } };
    'user-pool-domain': { data: { hostedUiBaseUrl: string } };
  };
  settings: Record<string, unknown>;
}

describe.skipIf(skipE2e)('authecs smoke against the stand-ins of a stack made by up', () => {
  const e2e = setupE2e({ fresh: 'file', awsModel: false });
  let ca: TestCa;
  let dns: DnsStandIn;
  let hostedUi: HostedUiStandIn;
  let albDnsName = '';
  let userPoolId = '';
  let clientId = '';
  let clientSecret = '';
  let hostedUiBaseUrl = '';
  let siteCertificate: { key: string; cert: string };
  const running: AlbStandIn[] = [];

  async function alb(overrides: Partial<AlbStandInOptions> = {}): Promise<AlbStandIn> {
    const standIn = await startAlbStandIn({
      tls: siteCertificate,
      hostedUiBaseUrl,
      tokenEndpoint: { url: `${hostedUi.url}/oauth2/token`, servername: new URL(hostedUiBaseUrl).hostname, ca: ca.caPem },
      clientId,
      clientSecret,
      scope: 'openid',
      sessionCookieName: 'AWSELBAuthSessionCookie',
      publicPaths: ['/health'],
      ...overrides,
    });
    running.push(standIn);
    return standIn;
  }

  function smoke(site: AlbStandIn, extra: string[] = [], options: { json?: boolean } = {}): Promise<RunResult> {
    return e2e.authecs([...(options.json === false ? [] : ['--json']), 'smoke', '--sign-in', '--url', site.httpsUrl, '--http-url', site.httpUrl, '--ca-file', ca.caFile, '--timeout', '2', ...extra], {
      extraEnv: { AUTHECS_DNS_SERVERS: dns.servers, AUTHECS_SMOKE_COGNITO_URL: hostedUi.url },
    });
  }

  const documentOf = (run: RunResult) => run.json as unknown as SmokeDocument;
  const check = (run: RunResult, name: string): Check => {
    const found = documentOf(run)?.checks.find((one) => one.name === name);
    if (!found) throw new Error(`no check ${name}\n${describeRun(run)}`);
    return found;
  };
  const failed = (run: RunResult) => documentOf(run).checks.filter((one) => !one.ok).map((one) => one.name);

  async function throwawayUsersLeft(): Promise<string[]> {
    const users = await e2e.clients.cognito.send(new ListUsersCommand({ UserPoolId: userPoolId }));
    return (users.Users ?? []).flatMap((user) => user.Attributes?.filter((attribute) => attribute.Name === 'email').map((attribute) => attribute.Value!) ?? []).filter((email) => email.startsWith('authecs-smoke-'));
  }

  /** Exit 15, exactly these checks failed, and the throwaway user (if one was made) was deleted. */
  async function expectFailure(run: RunResult, names: string[], { userMade = true } = {}): Promise<void> {
    expect(run.code, describeRun(run)).toBe(EXIT_CODES.smokeFailed);
    expect(documentOf(run).ok).toBe(false);
    expect(failed(run)).toEqual(names);
    if (userMade) expect(documentOf(run).throwawayUser).toMatchObject({ deleted: true });
    expect(await throwawayUsersLeft()).toEqual([]);
  }

  beforeAll(async () => {
    const up = await e2e.authecs(['up', '--json', '--public-path', '/health']);
    expect(up.code, describeRun(up)).toBe(0);
    const state = JSON.parse(readFileSync(e2e.statePath(), 'utf8')) as StateDocument;
    albDnsName = state.resources['load-balancer'].data.dnsName;
    userPoolId = state.resources['user-pool'].data.userPoolId;
    clientId = state.resources['app-client'].data.clientId;
    hostedUiBaseUrl = state.resources['user-pool-domain'].data.hostedUiBaseUrl;
    const client = await e2e.clients.cognito.send(new DescribeUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: clientId }));
    clientSecret = client.UserPoolClient!.ClientSecret!;

    ca = makeTestCa();
    siteCertificate = ca.issue(DOMAIN);
    dns = await startDnsStandIn({ [DOMAIN]: { cname: albDnsName }, [albDnsName]: { a: ALB_ADDRESSES } });
    hostedUi = await startHostedUiStandIn({
      baseUrl: hostedUiBaseUrl,
      tls: ca.issue(new URL(hostedUiBaseUrl).hostname),
      client: { clientId, clientSecret, callbackUrls: client.UserPoolClient!.CallbackURLs ?? [] },
      // The hosted UI's password check is moto's: the password smoke set must be the one that works.
      async verifyPassword(username, password) {
        try {
          const secretHash = createHmac('sha256', clientSecret).update(`${username}${clientId}`).digest('base64');
          const answer = await e2e.clients.cognito.send(
            new AdminInitiateAuthCommand({ UserPoolId: userPoolId, ClientId: clientId, AuthFlow: 'ADMIN_USER_PASSWORD_AUTH', AuthParameters: { USERNAME: username, PASSWORD: password, SECRET_HASH: secretHash } }),
          );
          return Boolean(answer.AuthenticationResult?.IdToken);
        } catch {
          return false;
        }
      },
    });
  }, 180_000);

  afterEach(async () => {
    for (const standIn of running.splice(0)) await standIn.close();
    hostedUi.tamperPassword = false;
    dns.records.set(DOMAIN, { cname: albDnsName });
  });

  afterAll(async () => {
    await hostedUi?.close();
    await dns?.close();
    ca?.remove();
  });

  it('passes every check, signing in with a throwaway user that is deleted afterwards (exit 0)', async () => {
    const site = await alb();
    const run = await smoke(site);
    expect(run.code, describeRun(run)).toBe(EXIT_CODES.success);
    const document = documentOf(run);
    expect(document).toMatchObject({ command: 'smoke', ok: true, domain: DOMAIN, skipped: [] });
    expect(document.checks.map((one) => [one.name, one.ok])).toEqual([
      ['dns', true],
      ['tls', true],
      ['http-redirect', true],
      ['sign-in-gate', true],
      ['public-path:/health', true],
      ['sign-in', true],
    ]);
    expect(check(run, 'dns').seen).toMatchObject({ cname: [albDnsName] });
    expect(check(run, 'tls').seen).toMatchObject({ subject: DOMAIN, issuer: 'authecs test CA', trusted: true });
    expect(check(run, 'http-redirect').seen).toMatchObject({ status: 301, location: `https://${DOMAIN}:443/` });
    expect(check(run, 'sign-in-gate').seen).toMatchObject({ status: 302, params: { client_id: clientId, redirect_uri: `https://${DOMAIN}/oauth2/idpresponse`, response_type: 'code', scope: 'openid', state: '(present)' } });
    expect(check(run, 'public-path:/health').seen).toMatchObject({ status: 200 });
    const signIn = check(run, 'sign-in');
    const username = document.throwawayUser!.username;
    expect(username).toMatch(/^authecs-smoke-[0-9a-f]{12}@example\.invalid$/);
    expect(signIn.seen).toMatchObject({ username, sessionCookies: ['AWSELBAuthSessionCookie-0'], appStatus: 200, appBody: `hello ${username}` });
    // The browser's path: the site, authorize, login (GET, then POST), idpresponse, the site again.
    expect((signIn.seen.steps as { request: string }[]).map((step) => step.request.replace(/\?.*$/, ''))).toEqual([
      `GET https://${DOMAIN}/`,
      `GET ${hostedUiBaseUrl}/oauth2/authorize`,
      `GET ${hostedUiBaseUrl}/login`,
      `POST ${hostedUiBaseUrl}/login`,
      `GET https://${DOMAIN}/oauth2/idpresponse`,
      `GET https://${DOMAIN}/`,
    ]);
    expect(site.tokenExchanges).toEqual([{ status: 200 }]);
    expect(document.throwawayUser).toMatchObject({ deleted: true, staleDeleted: [] });
    expect(await throwawayUsersLeft()).toEqual([]);
    // The password is never printed, and nothing was written to the state file.
    expect(run.stdout + run.stderr).not.toMatch(/password"\s*:/i);
  });

  it('people get one line per check and a verdict', async () => {
    const site = await alb({ noHttpRedirect: true });
    const run = await smoke(site, [], { json: false });
    expect(run.code, describeRun(run)).toBe(EXIT_CODES.smokeFailed);
    expect(run.stdout).toMatch(/^✔ pass  dns +www\.example\.com is a CNAME to the ALB /m);
    expect(run.stdout).toMatch(/^✖ fail  http-redirect +GET http:\/\/www\.example\.com\/ answers 200 over plain HTTP/m);
    expect(run.stdout).toContain('Smoke test failed: 1 of 6 checks failed (http-redirect).');
    expect(run.stderr).toMatch(/created the throwaway user authecs-smoke-/);
    expect(run.stderr).toMatch(/deleted the throwaway user authecs-smoke-/);
    expect(await throwawayUsersLeft()).toEqual([]);
  });

  it('fails dns when the domain points elsewhere', async () => {
    dns.records.set(DOMAIN, { cname: 'elsewhere.example.net' });
    const run = await smoke(await alb());
    await expectFailure(run, ['dns']);
    expect(check(run, 'dns').seen).toMatchObject({ cname: ['elsewhere.example.net'], loadBalancer: albDnsName });
    expect(check(run, 'dns').detail).toContain(`not to the ALB ${albDnsName}`);
  });

  it('passes dns for an alias A record that gives the ALB\'s addresses, and fails one that does not', async () => {
    dns.records.set(DOMAIN, { a: ['127.0.0.2'] });
    const alias = await smoke(await alb(), ['--total-timeout', '60']);
    expect(check(alias, 'dns')).toMatchObject({ ok: true, seen: { addresses: ['127.0.0.2'], loadBalancerAddresses: ALB_ADDRESSES } });
    dns.records.set(DOMAIN, { a: ['192.0.2.10'] });
    const other = await smoke(await alb());
    await expectFailure(other, ['dns']);
    expect(check(other, 'dns').seen).toMatchObject({ addresses: ['192.0.2.10'] });
  });

  it('fails tls for a certificate for another name', async () => {
    const run = await smoke(await alb({ tls: ca.issue('other.example.org') }));
    await expectFailure(run, ['tls']);
    expect(check(run, 'tls').seen).toMatchObject({ subject: 'other.example.org', trusted: true });
    expect(check(run, 'tls').detail).not.toContain('not trusted');
    expect(String(check(run, 'tls').seen.hostnameError)).toContain('other.example.org');
    expect(check(run, 'tls').detail).toContain(`not valid for ${DOMAIN}`);
  });

  it('fails tls for a certificate that expires in 5 days (under 14), and --min-cert-days 3 accepts it', async () => {
    const site = await alb({ tls: ca.issue(DOMAIN, { days: 5 }) });
    const run = await smoke(site);
    await expectFailure(run, ['tls']);
    expect(check(run, 'tls').seen.daysLeft).toBeGreaterThanOrEqual(4);
    expect(check(run, 'tls').seen.daysLeft).toBeLessThanOrEqual(5);
    expect(check(run, 'tls').detail).toMatch(/is expiring in [45] days .*, within the 14-day limit/);
    const lenient = await smoke(site, ['--min-cert-days', '3']);
    expect(lenient.code, describeRun(lenient)).toBe(EXIT_CODES.success);
  });

  it('fails tls for a certificate from a CA it was not told to trust', async () => {
    const stranger = makeTestCa();
    try {
      const run = await smoke(await alb({ tls: stranger.issue(DOMAIN) }));
      await expectFailure(run, ['tls']);
      expect(check(run, 'tls').seen).toMatchObject({ trusted: false, trustError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
      expect(check(run, 'tls').detail).toContain('not trusted');
    } finally {
      stranger.remove();
    }
  });

  it('fails http-redirect when port 80 answers instead of redirecting', async () => {
    const run = await smoke(await alb({ noHttpRedirect: true }));
    await expectFailure(run, ['http-redirect']);
    expect(check(run, 'http-redirect').seen).toMatchObject({ url: `http://${DOMAIN}/`, status: 200, location: null });
  });

  it('fails the sign-in gate (and the sign-in) for a site that answers 200 without sign-in', async () => {
    const run = await smoke(await alb({ openWithoutSignIn: true }));
    await expectFailure(run, ['sign-in-gate', 'sign-in']);
    expect(check(run, 'sign-in-gate').seen).toMatchObject({ status: 200, location: null });
    expect(check(run, 'sign-in-gate').detail).toContain('answers 200 without sign-in: the app is open to anyone');
  });

  it('fails the sign-in gate for a wrong redirect_uri, and the sign-in meets Cognito\'s redirect_mismatch', async () => {
    const run = await smoke(await alb({ redirectUri: 'https://wrong.example.com/oauth2/idpresponse' }));
    await expectFailure(run, ['sign-in-gate', 'sign-in']);
    expect(check(run, 'sign-in-gate').seen).toMatchObject({ status: 302, params: { redirect_uri: 'https://wrong.example.com/oauth2/idpresponse' } });
    expect(check(run, 'sign-in-gate').detail).toContain(`redirect_uri is https://wrong.example.com/oauth2/idpresponse, not https://${DOMAIN}/oauth2/idpresponse`);
    expect(check(run, 'sign-in').detail).toMatch(/sign-in page answered 400: redirect_mismatch/);
  });

  it('fails a public path that sends the visitor to sign in', async () => {
    const run = await smoke(await alb({ publicPaths: [] }));
    await expectFailure(run, ['public-path:/health']);
    expect(check(run, 'public-path:/health').seen).toMatchObject({ url: `https://${DOMAIN}/health`, status: 302 });
    expect(String(check(run, 'public-path:/health').seen.location)).toContain(`${hostedUiBaseUrl}/oauth2/authorize`);
  });

  it('fails the sign-in when the hosted UI refuses the password, and still deletes the user', async () => {
    hostedUi.tamperPassword = true;
    const run = await smoke(await alb());
    await expectFailure(run, ['sign-in']);
    expect(check(run, 'sign-in').detail).toContain('the hosted UI did not sign the user in');
    expect(check(run, 'sign-in').detail).toContain('"Incorrect username or password."');
    const steps = check(run, 'sign-in').seen.steps as { request: string; status: number }[];
    expect(steps.at(-1)).toMatchObject({ status: 200 });
    expect(steps.at(-1)!.request).toMatch(/^POST .*\/login/);
  });

  it('a server that never answers fails each check by its timeout, never hangs the run, and still deletes the user', async () => {
    const started = Date.now();
    const run = await smoke(await alb({ hang: true }), ['--timeout', '1']);
    await expectFailure(run, ['http-redirect', 'sign-in-gate', 'public-path:/health', 'sign-in']);
    for (const name of ['http-redirect', 'sign-in-gate', 'public-path:/health']) expect(check(run, name).seen).toMatchObject({ error: 'no answer within 1 s' });
    expect(check(run, 'sign-in').detail).toContain('no answer within 1 s');
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('--total-timeout bounds the whole run: what is left is not run, and the user is still deleted', async () => {
    const run = await smoke(await alb({ hang: true }), ['--timeout', '2', '--total-timeout', '3']);
    await expectFailure(run, ['http-redirect', 'sign-in-gate', 'public-path:/health', 'sign-in'], { userMade: false });
    expect(check(run, 'sign-in-gate').detail).toContain('the overall time limit ran out');
    expect(check(run, 'sign-in').detail).toBe('not run: the overall time limit (3 s) ran out');
  });

  it('without --sign-in it makes no user and says the sign-in was skipped', async () => {
    const site = await alb();
    const run = await e2e.authecs(['--json', 'smoke', '--url', site.httpsUrl, '--http-url', site.httpUrl, '--ca-file', ca.caFile], {
      extraEnv: { AUTHECS_DNS_SERVERS: dns.servers, AUTHECS_SMOKE_COGNITO_URL: hostedUi.url },
    });
    expect(run.code, describeRun(run)).toBe(EXIT_CODES.success);
    expect(documentOf(run).checks.map((one) => one.name)).toEqual(['dns', 'tls', 'http-redirect', 'sign-in-gate', 'public-path:/health']);
    expect(documentOf(run).skipped).toEqual([{ name: 'sign-in', reason: expect.stringContaining('--sign-in') }]);
    expect(documentOf(run).throwawayUser).toBeUndefined();
  });

  it('refuses bad flags as usage errors, and a missing state file as not found', async () => {
    const site = await alb();
    const badTimeout = await smoke(site, ['--timeout', 'soon']);
    expect(badTimeout.code, describeRun(badTimeout)).toBe(EXIT_CODES.usage);
    const badUrl = await e2e.authecs(['smoke', '--url', 'http://127.0.0.1:1']);
    expect(badUrl.code).toBe(EXIT_CODES.usage);
    expect(badUrl.stderr).toContain('--url');
    const noState = await e2e.authecs(['smoke', '--cluster', 'nothing-here']);
    expect(noState.code).toBe(EXIT_CODES.notFound);
  });
});
