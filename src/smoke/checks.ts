/**
 * `authecs smoke`: what a visitor of the deployed site meets, checked from outside. Each check
 * says pass or fail and what it saw; none changes anything (the sign-in in sign-in.ts makes
 * and deletes one throwaway user).
 */
import { checkServerIdentity, connect, rootCertificates, type PeerCertificate } from 'node:tls';
import type { Resolver } from 'node:dns/promises';
import { normalizeName, resolverFor, type DnsOptions } from '../doctor/dns.js';
import { HttpFailure, send, type HttpResponse, type HttpSettings } from './http.js';

export interface SmokeCheck {
  name: string;
  ok: boolean;
  /** One line for people: what was expected, and what was seen. */
  detail: string;
  /** The facts behind the verdict, for --json. Never a secret. */
  seen: Record<string, unknown>;
}

/** What the state file says the site is. */
export interface SiteFacts {
  domain: string;
  loadBalancerDnsName: string;
  /** https://<prefix>.auth.<region>.amazoncognito.com */
  hostedUiBaseUrl: string;
  clientId: string;
  scope: string;
  sessionCookieName: string;
  publicPaths: string[];
  /** false: the stack has no HTTP:80 listener (--no-http-redirect). */
  httpRedirect: boolean;
}

export interface ProbeSettings {
  http: HttpSettings;
  /** Where the HTTPS site is reached (default https://DOMAIN). */
  siteUrl: URL;
  /** Where plain HTTP is reached (default http://DOMAIN). */
  httpUrl: URL;
  dns: DnsOptions;
  /** A certificate that expires within this many days fails the tls check. */
  minCertDays: number;
  now: () => number;
}

/** The ALB's callback path (ALB guide, "Authenticate users using an Application Load Balancer"). */
export const IDP_RESPONSE_PATH = '/oauth2/idpresponse';
export const AUTHORIZE_PATH = '/oauth2/authorize';

const DAY_MS = 24 * 60 * 60 * 1000;

export function siteOrigin(site: SiteFacts): string {
  return `https://${site.domain}`;
}

function failureOf(error: unknown): string {
  return error instanceof HttpFailure ? error.message : (error as Error).message;
}

async function withTimeout<Result>(work: Promise<Result>, timeoutMs: number, onTimeout: () => void): Promise<Result> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          onTimeout();
          reject(new Error(`no answer within ${timeoutMs / 1000} s`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- 1. DNS: the domain leads to the ALB ----

/**
 * Below the apex authecs makes a CNAME to the ALB's name; at the apex an alias A record, which
 * resolves to the ALB's own addresses (Route 53 guide, "Choosing between alias and non-alias
 * records"). Either way the site's name must lead to this ALB.
 */
export async function checkDns(site: SiteFacts, settings: ProbeSettings): Promise<SmokeCheck> {
  const timeoutMs = settings.dns.timeoutMs ?? settings.http.timeoutMs;
  const resolver = resolverFor({ ...settings.dns, timeoutMs });
  const lookup = <Result>(work: Promise<Result>) => withTimeout(work, timeoutMs, () => resolver.cancel());
  // The run's deadline cancels a lookup in flight too (it then fails with ECANCELLED).
  const onAbort = () => resolver.cancel();
  settings.http.signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await resolveToAlb(site, resolver, lookup);
  } finally {
    settings.http.signal.removeEventListener('abort', onAbort);
  }
}

async function resolveToAlb(site: SiteFacts, resolver: Resolver, lookup: <Result>(work: Promise<Result>) => Promise<Result>): Promise<SmokeCheck> {
  const name = 'dns';
  const alb = normalizeName(site.loadBalancerDnsName);
  // An alias target may carry AWS's dualstack. prefix.
  const isAlb = (target: string) => normalizeName(target).replace(/^dualstack\./, '') === alb;
  let cname: string[] = [];
  try {
    cname = (await lookup(resolver.resolveCname(site.domain))).map(normalizeName);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENODATA') {
      return { name, ok: false, detail: `${site.domain} does not resolve (${code ?? (error as Error).message})`, seen: { error: code ?? (error as Error).message } };
    }
  }
  if (cname.length > 0) {
    const ok = cname.some(isAlb);
    return {
      name,
      ok,
      detail: ok ? `${site.domain} is a CNAME to the ALB ${alb}` : `${site.domain} is a CNAME to ${cname.join(', ')}, not to the ALB ${alb}`,
      seen: { cname, loadBalancer: alb },
    };
  }
  // No CNAME: an alias record (or something else) gives addresses; they must be the ALB's.
  let addresses: string[];
  let albAddresses: string[];
  try {
    addresses = (await lookup(resolver.resolve4(site.domain))).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { name, ok: false, detail: `${site.domain} has no CNAME and no A record (${code})`, seen: { error: code, loadBalancer: alb } };
  }
  try {
    albAddresses = (await lookup(resolver.resolve4(alb))).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { name, ok: false, detail: `${site.domain} resolves to ${addresses.join(', ')}, but the ALB name ${alb} does not resolve (${code})`, seen: { addresses, loadBalancer: alb, error: code } };
  }
  // ALB addresses come and go; every address of the site must be one of the ALB's.
  const ok = addresses.length > 0 && addresses.every((address) => albAddresses.includes(address));
  return {
    name,
    ok,
    detail: ok
      ? `${site.domain} resolves (alias A) to the ALB's addresses ${addresses.join(', ')}`
      : `${site.domain} resolves to ${addresses.join(', ')}, which are not the ALB's (${albAddresses.join(', ') || 'none'})`,
    seen: { addresses, loadBalancer: alb, loadBalancerAddresses: albAddresses },
  };
}

// ---- 2. TLS: the certificate is valid for the domain, trusted, and not about to expire ----

function peerFacts(certificate: PeerCertificate): Record<string, unknown> {
  return {
    subject: certificate.subject?.CN,
    subjectAltNames: certificate.subjectaltname,
    issuer: certificate.issuer?.CN ?? certificate.issuer?.O,
    validFrom: certificate.valid_from ? new Date(certificate.valid_from).toISOString() : undefined,
    validTo: certificate.valid_to ? new Date(certificate.valid_to).toISOString() : undefined,
  };
}

export function checkTls(site: SiteFacts, settings: ProbeSettings): Promise<SmokeCheck> {
  const name = 'tls';
  const host = settings.siteUrl.hostname.replace(/^\[|\]$/g, '');
  const port = Number(settings.siteUrl.port || 443);
  return new Promise((resolve) => {
    let done = false;
    const finish = (check: SmokeCheck) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      settings.http.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(check);
    };
    // Verified by hand below, so that a bad certificate is described rather than just refused.
    const socket = connect({
      host,
      port,
      servername: site.domain,
      rejectUnauthorized: false,
      ...(settings.http.extraCa ? { ca: [...rootCertificates, settings.http.extraCa] } : {}),
    });
    const timer = setTimeout(() => finish({ name, ok: false, detail: `no TLS handshake with ${host}:${port} within ${settings.http.timeoutMs / 1000} s`, seen: { error: 'timeout' } }), settings.http.timeoutMs);
    const onAbort = () => finish({ name, ok: false, detail: 'stopped: the overall time limit ran out', seen: { error: 'overall timeout' } });
    settings.http.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (error: NodeJS.ErrnoException) => finish({ name, ok: false, detail: `no TLS connection to ${host}:${port}: ${error.message}`, seen: { error: error.code ?? error.message } }));
    socket.on('secureConnect', () => {
      const certificate = socket.getPeerCertificate();
      const facts = peerFacts(certificate);
      const problems: string[] = [];
      const identity = checkServerIdentity(site.domain, certificate);
      if (identity) problems.push(`not valid for ${site.domain} (${identity.message})`);
      // Node counts a name mismatch as unauthorized too; that is reported above, by name.
      // (Typed as an Error, it is an OpenSSL code string such as UNABLE_TO_VERIFY_LEAF_SIGNATURE.)
      const raw = socket.authorized ? undefined : (socket.authorizationError as unknown);
      const chainError = raw === undefined ? undefined : typeof raw === 'string' ? raw : ((raw as { code?: string }).code ?? String(raw));
      const trustError = chainError && chainError !== 'ERR_TLS_CERT_ALTNAME_INVALID' ? chainError : undefined;
      if (trustError) problems.push(`not trusted (${trustError})`);
      const validTo = Date.parse(certificate.valid_to);
      const daysLeft = Math.floor((validTo - settings.now()) / DAY_MS);
      if (!Number.isFinite(validTo) || validTo - settings.now() < settings.minCertDays * DAY_MS) {
        problems.push(validTo < settings.now() ? `expired (on ${new Date(validTo).toISOString()})` : `expiring in ${daysLeft} days (${new Date(validTo).toISOString()}), within the ${settings.minCertDays}-day limit`);
      }
      const seen = { ...facts, daysLeft, trusted: !trustError, ...(trustError ? { trustError } : {}), ...(identity ? { hostnameError: identity.message } : {}) };
      finish(
        problems.length === 0
          ? { name, ok: true, detail: `the certificate for ${site.domain} (issuer ${String(facts.issuer)}) is trusted and valid for ${daysLeft} more days`, seen }
          : { name, ok: false, detail: `the certificate served for ${site.domain} is ${problems.join('; ')}`, seen },
      );
    });
  });
}

// ---- 3. HTTP → HTTPS ----

/**
 * authecs's HTTP listener redirects with protocol HTTPS and port 443, keeping host, path and
 * query (RedirectActionConfig, ELB API reference), so the ALB answers https://DOMAIN:443/;
 * https://DOMAIN/ is the same place.
 */
export async function checkHttpRedirect(site: SiteFacts, settings: ProbeSettings): Promise<SmokeCheck> {
  const name = 'http-redirect';
  const url = `http://${site.domain}/`;
  const accepted = [`https://${site.domain}/`, `https://${site.domain}:443/`];
  let response: HttpResponse;
  try {
    response = await send({ method: 'GET', url, verifyTls: false }, { ...settings.http, connectTo: new Map([...settings.http.connectTo, [`http://${site.domain}`, settings.httpUrl]]) });
  } catch (error) {
    return { name, ok: false, detail: `GET ${url}: ${failureOf(error)}`, seen: { url, error: failureOf(error) } };
  }
  const seen = { url, status: response.status, location: response.location ?? null };
  if ((response.status === 301 || response.status === 302) && response.location && accepted.includes(response.location.toLowerCase())) {
    return { name, ok: true, detail: `GET ${url} answers ${response.status} → ${response.location}`, seen };
  }
  if (response.status === 301 || response.status === 302) {
    return { name, ok: false, detail: `GET ${url} redirects to ${response.location ?? '(no Location)'}, not to https://${site.domain}/`, seen };
  }
  return { name, ok: false, detail: `GET ${url} answers ${response.status} over plain HTTP instead of redirecting to https://${site.domain}/`, seen };
}

// ---- 4. the sign-in gate ----

export interface AuthorizeRedirect {
  problems: string[];
  params: Record<string, string | null>;
}

/**
 * What the ALB's authenticate-cognito action must send an unauthenticated visitor to: the pool
 * domain's /oauth2/authorize with the stack's client, code flow, the configured scope, a state,
 * and https://DOMAIN/oauth2/idpresponse as the callback (ALB guide, "Authenticate users using an
 * Application Load Balancer"; Cognito guide, "Authorize endpoint").
 */
export function judgeAuthorizeRedirect(location: string, site: SiteFacts): AuthorizeRedirect {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return { problems: [`Location "${location}" is not an absolute URL`], params: {} };
  }
  const query = url.searchParams;
  const params = {
    client_id: query.get('client_id'),
    redirect_uri: query.get('redirect_uri'),
    response_type: query.get('response_type'),
    scope: query.get('scope'),
    state: query.get('state') ? '(present)' : null,
  };
  const problems: string[] = [];
  const hostedUi = new URL(site.hostedUiBaseUrl);
  if (url.origin !== hostedUi.origin || url.pathname !== AUTHORIZE_PATH) problems.push(`it goes to ${url.origin}${url.pathname}, not ${hostedUi.origin}${AUTHORIZE_PATH}`);
  if (params.client_id !== site.clientId) problems.push(`client_id is ${params.client_id ?? 'missing'}, not the stack's ${site.clientId}`);
  const callback = `https://${site.domain}${IDP_RESPONSE_PATH}`;
  if (params.redirect_uri !== callback) problems.push(`redirect_uri is ${params.redirect_uri ?? 'missing'}, not ${callback}`);
  if (params.response_type !== 'code') problems.push(`response_type is ${params.response_type ?? 'missing'}, not code`);
  const scopes = (value: string | null) => [...new Set((value ?? '').split(/\s+/).filter(Boolean))].sort().join(' ');
  if (scopes(params.scope) !== scopes(site.scope)) problems.push(`scope is "${params.scope ?? ''}", not "${site.scope}"`);
  if (!query.get('state')) problems.push('there is no state parameter');
  return { problems, params };
}

export async function checkSignInGate(site: SiteFacts, settings: ProbeSettings): Promise<SmokeCheck> {
  const name = 'sign-in-gate';
  const url = `${siteOrigin(site)}/`;
  let response: HttpResponse;
  try {
    response = await send({ method: 'GET', url, verifyTls: false }, settings.http);
  } catch (error) {
    return { name, ok: false, detail: `GET ${url} without a session: ${failureOf(error)}`, seen: { url, error: failureOf(error) } };
  }
  const seen: Record<string, unknown> = { url, status: response.status, location: response.location ?? null };
  if (response.status === 302 && response.location) {
    const { problems, params } = judgeAuthorizeRedirect(response.location, site);
    seen.params = params;
    if (problems.length === 0) return { name, ok: true, detail: `GET ${url} without a session answers 302 to the Cognito sign-in (${new URL(site.hostedUiBaseUrl).host})`, seen };
    return { name, ok: false, detail: `GET ${url} without a session redirects, but ${problems.join('; ')}`, seen };
  }
  if (response.status >= 200 && response.status < 300) {
    return { name, ok: false, detail: `GET ${url} answers ${response.status} without sign-in: the app is open to anyone`, seen };
  }
  if (response.status === 401) {
    return { name, ok: false, detail: `GET ${url} answers 401 instead of sending the visitor to sign in (is the rule's OnUnauthenticatedRequest "deny"?)`, seen };
  }
  return { name, ok: false, detail: `GET ${url} without a session answers ${response.status}${response.location ? ` → ${response.location}` : ''}, not 302 to the Cognito sign-in`, seen };
}

// ---- 5. public paths ----

/** A URL without its query, for one-line details (the full one is in `seen`). */
export function withoutQuery(location: string, base: string): string {
  const url = new URL(location, base);
  return `${url.origin}${url.pathname}`;
}

export function isSignInRedirect(response: HttpResponse, site: SiteFacts): boolean {
  if (response.status < 300 || response.status >= 400 || !response.location) return false;
  try {
    const location = new URL(response.location, response.url);
    return location.origin === new URL(site.hostedUiBaseUrl).origin || location.pathname === AUTHORIZE_PATH;
  } catch {
    return false;
  }
}

/**
 * A path to request for a path pattern: * matches any run of characters, so none is sent; ? matches
 * exactly one, so one letter is (ALB guide, "Path conditions").
 */
export function samplePath(pattern: string): string {
  const path = pattern.replace(/\*/g, '').replace(/\?/g, 'a');
  return path.startsWith('/') ? path : `/${path}`;
}

export async function checkPublicPath(site: SiteFacts, path: string, settings: ProbeSettings): Promise<SmokeCheck> {
  const name = `public-path:${path}`;
  const url = `${siteOrigin(site)}${samplePath(path)}`;
  let response: HttpResponse;
  try {
    response = await send({ method: 'GET', url, verifyTls: false }, settings.http);
  } catch (error) {
    return { name, ok: false, detail: `GET ${url} without a session: ${failureOf(error)}`, seen: { url, error: failureOf(error) } };
  }
  const seen = { url, status: response.status, location: response.location ?? null };
  if (isSignInRedirect(response, site)) return { name, ok: false, detail: `GET ${url} sends the visitor to sign in (${response.status} → ${withoutQuery(response.location!, url)}), but it is a public path`, seen };
  if (response.status === 401) return { name, ok: false, detail: `GET ${url} answers 401, but it is a public path`, seen };
  if (response.status >= 500) return { name, ok: false, detail: `GET ${url} answers ${response.status} without sign-in (the path is public, but the app behind it fails)`, seen };
  return { name, ok: true, detail: `GET ${url} answers ${response.status} without sign-in`, seen };
}
