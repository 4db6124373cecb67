/**
 * Sign-out for an app behind the ALB. The ALB keeps the sign-in in its session cookie
 * (AWSELBAuthSessionCookie-0, -1, ...: it shards a cookie over 4K, ALB guide "Authentication
 * flow"), and Cognito keeps its own session. The ALB guide ("Authentication logout and session
 * timeout"): an app that signs a user out "should set the expiration time of the authentication
 * session cookie to -1 and redirect the client to the IdP logout endpoint". Cognito's is
 * `/logout?client_id=...&logout_uri=...`, which redirects to logout_uri when it is one of the app
 * client's allowed sign-out URLs (Cognito guide, "The managed login sign-out endpoint: /logout"),
 * which `authecs up --sign-out-url` sets.
 */
import { AuthecsError } from '../errors.js';
import type { HeaderLookup, HeaderValue } from './verify.js';

/** The ALB's default session cookie name (AuthenticateCognitoActionConfig SessionCookieName). */
export const DEFAULT_SESSION_COOKIE = 'AWSELBAuthSessionCookie';

export interface SignOutOptions {
  /**
   * The Cognito hosted-UI domain: its base URL (https://<prefix>.auth.<region>.amazoncognito.com,
   * as `authecs up` prints it; state file: resources.user-pool-domain.data.hostedUiBaseUrl) or
   * its host. Default: the AUTHECS_COGNITO_DOMAIN variable.
   */
  cognitoDomain?: string;
  /** The ALB rule's app client. Default: AUTHECS_CLIENT_ID. */
  clientId?: string;
  /** Where Cognito sends the user afterwards: the stack's --sign-out-url. Default: AUTHECS_SIGN_OUT_URL. */
  signOutUrl?: string;
  /** The stack's --session-cookie. Default: AWSELBAuthSessionCookie. */
  sessionCookieName?: string;
  /** Where the defaults are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface SignOutResponse {
  status: 302;
  headers: {
    location: string;
    /** One Set-Cookie header per session cookie to expire. */
    'set-cookie': string[];
    'cache-control': 'no-store';
  };
}

/** The request's cookies: the Cookie header's value, or the request headers. */
export type CookieInput = string | HeaderLookup | Readonly<Record<string, HeaderValue>>;

function optionsError(problem: string): AuthecsError {
  return new AuthecsError(`Cannot build the sign-out response: ${problem}`, {
    code: 'SIGN_OUT_OPTIONS_INVALID',
    exit: 'usage',
    hint: 'Pass cognitoDomain, clientId and signOutUrl (or set AUTHECS_COGNITO_DOMAIN, AUTHECS_CLIENT_ID and AUTHECS_SIGN_OUT_URL); `authecs up` prints the sign-out link they make.',
  });
}

/** The hosted UI's base URL from a base URL or a host name. */
function hostedUiBase(domain: string): string {
  const trimmed = domain.trim().replace(/\/+$/, '');
  const url = /^https:\/\//i.test(trimmed) ? trimmed : /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(trimmed) ? `https://${trimmed}` : undefined;
  if (!url) throw optionsError(`"${domain}" is not the Cognito domain's URL or host (https://<prefix>.auth.<region>.amazoncognito.com); a bare prefix does not say the region`);
  return url;
}

interface LogoutParts {
  cognitoDomain: string;
  clientId: string;
  signOutUrl: string;
}

function logoutParts(options: SignOutOptions): LogoutParts {
  const env = options.env ?? process.env;
  const cognitoDomain = options.cognitoDomain ?? env.AUTHECS_COGNITO_DOMAIN;
  const clientId = options.clientId ?? env.AUTHECS_CLIENT_ID;
  const signOutUrl = options.signOutUrl ?? env.AUTHECS_SIGN_OUT_URL;
  if (!cognitoDomain) throw optionsError('the Cognito domain (cognitoDomain, AUTHECS_COGNITO_DOMAIN) is not set');
  if (!clientId) throw optionsError('the app client ID (clientId, AUTHECS_CLIENT_ID) is not set');
  if (!signOutUrl) throw optionsError('the sign-out URL (signOutUrl, AUTHECS_SIGN_OUT_URL) is not set');
  return { cognitoDomain, clientId, signOutUrl };
}

/** Cognito's sign-out link: it ends the Cognito session, then sends the user to signOutUrl. */
export function cognitoLogoutUrl(options: SignOutOptions): string {
  const { cognitoDomain, clientId, signOutUrl } = logoutParts(options);
  return `${hostedUiBase(cognitoDomain)}/logout?client_id=${encodeURIComponent(clientId)}&logout_uri=${encodeURIComponent(signOutUrl)}`;
}

function cookieHeaderOf(input: CookieInput): string {
  if (typeof input === 'string') return input;
  if (typeof (input as HeaderLookup).get === 'function') return (input as HeaderLookup).get('cookie') ?? '';
  return Object.entries(input as Readonly<Record<string, HeaderValue>>)
    .filter(([name]) => name.toLowerCase() === 'cookie')
    .flatMap(([, value]) => (typeof value === 'string' ? [value] : [...(value ?? [])]))
    .join('; ');
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The session cookies present in the request: the name itself and its shards (<name>-0, <name>-1, ...). */
export function sessionCookieNames(input: CookieInput, sessionCookieName: string = DEFAULT_SESSION_COOKIE): string[] {
  const pattern = new RegExp(`^${escapeRegExp(sessionCookieName)}(?:-\\d+)?$`);
  const names = cookieHeaderOf(input)
    .split(';')
    .map((pair) => pair.split('=')[0]!.trim())
    .filter((name) => pattern.test(name));
  return [...new Set(names)];
}

/**
 * The response to a sign-out request: every ALB session cookie in the request expired, then a
 * 302 to Cognito's /logout, which ends the Cognito session and sends the user to signOutUrl.
 * Answer with it as it is: `res.writeHead(r.status, r.headers).end()`.
 */
export function signOutResponse(input: CookieInput, options: SignOutOptions = {}): SignOutResponse {
  const sessionCookieName = options.sessionCookieName ?? DEFAULT_SESSION_COOKIE;
  const location = cognitoLogoutUrl(options);
  const present = sessionCookieNames(input, sessionCookieName);
  // None seen (a cookie the browser did not send here): still expire the first shard.
  const names = present.length > 0 ? present : [`${sessionCookieName}-0`];
  // "Expiration time -1" (ALB guide): a Max-Age of 0 or less and an Expires in the past delete the
  // cookie at once (RFC 6265, 5.3); host-only with Path=/, so it replaces a cookie for the whole site.
  const expired = names.map((name) => `${name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly`);
  return { status: 302, headers: { location, 'set-cookie': expired, 'cache-control': 'no-store' } };
}
