/**
 * `smoke --sign-in`: a whole sign-in as a browser makes it, with a throwaway user.
 *
 * The flow, from the ALB guide ("Authenticate users using an Application Load Balancer",
 * Authentication flow) and the Cognito guide ("Authorize endpoint", "Login endpoint"):
 *   GET https://DOMAIN/                    → 302 <pool domain>/oauth2/authorize?client_id…&state…
 *   GET /oauth2/authorize                  → 302 /login?… (no identity_provider: the hosted UI)
 *   GET /login                             → 200, the sign-in form (hidden _csrf) and an XSRF-TOKEN cookie
 *   POST /login  _csrf, username, password, signInSubmitButton
 *                                          → 302 https://DOMAIN/oauth2/idpresponse?code…&state…
 *   GET /oauth2/idpresponse                → the ALB redeems the code at the token endpoint itself,
 *                                            then 302 to the original URL with AWSELBAuthSessionCookie-0…
 *   GET https://DOMAIN/ with that cookie   → the app's answer
 * The form's field names are the classic hosted UI's (form cognitoSignInForm: _csrf,
 * username, password, signInSubmitButton). The newer managed login pages are drawn by
 * script; a pool using them has no such form, and the check says so.
 */
import { randomBytes } from 'node:crypto';
import {
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminSetUserPasswordCommand,
  paginateListUsers,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { generateTemporaryPassword } from '../users/temporary-password.js';
import { IDP_RESPONSE_PATH, isSignInRedirect, siteOrigin, withoutQuery, type ProbeSettings, type SiteFacts, type SmokeCheck } from './checks.js';
import { CookieJar, cookieNames, HttpFailure, send, type HttpResponse } from './http.js';

/** Throwaway users are named so that they are recognisable, and never deliverable (RFC 2606 .invalid). */
export const THROWAWAY_PREFIX = 'authecs-smoke-';
export const THROWAWAY_DOMAIN = 'example.invalid';
/** A throwaway user older than this was left by a run that was killed: the next run deletes it. */
export const STALE_AFTER_MS = 60 * 60 * 1000;
const MAX_HOPS = 10;
// A generous password: the pool's policy is Cognito's default unless someone changed it.
const PASSWORD_LENGTH = 32;

export interface ThrowawayUser {
  username: string;
  /** Held in memory only: never printed, never written. */
  password: string;
}

export function throwawayUsername(): string {
  return `${THROWAWAY_PREFIX}${randomBytes(6).toString('hex')}@${THROWAWAY_DOMAIN}`;
}

/** AdminCreateUser without any message (SUPPRESS), then a permanent password, so no change is forced at sign-in. */
export async function createThrowawayUser(cognito: CognitoIdentityProviderClient, userPoolId: string): Promise<ThrowawayUser> {
  const username = throwawayUsername();
  const password = generateTemporaryPassword({ MinimumLength: PASSWORD_LENGTH });
  await cognito.send(
    new AdminCreateUserCommand({
      UserPoolId: userPoolId,
      Username: username,
      MessageAction: 'SUPPRESS',
      UserAttributes: [
        { Name: 'email', Value: username },
        { Name: 'email_verified', Value: 'true' },
      ],
    }),
  );
  return { username, password };
}

/** After AdminCreateUser: if this fails, the caller still deletes the user. */
export async function setPermanentPassword(cognito: CognitoIdentityProviderClient, userPoolId: string, user: ThrowawayUser): Promise<void> {
  await cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: userPoolId, Username: user.username, Password: user.password, Permanent: true }));
}

export async function deleteThrowawayUser(cognito: CognitoIdentityProviderClient, userPoolId: string, username: string): Promise<void> {
  await cognito.send(new AdminDeleteUserCommand({ UserPoolId: userPoolId, Username: username }));
}

/** Throwaway users that a killed run left behind (older than an hour, so never a running smoke's own). */
export async function deleteStaleThrowawayUsers(cognito: CognitoIdentityProviderClient, userPoolId: string, now: number): Promise<string[]> {
  const stale: string[] = [];
  for await (const page of paginateListUsers({ client: cognito }, { UserPoolId: userPoolId, Filter: `email ^= "${THROWAWAY_PREFIX}"` })) {
    for (const user of page.Users ?? []) {
      const email = user.Attributes?.find((attribute) => attribute.Name === 'email')?.Value;
      const created = user.UserCreateDate?.getTime();
      if (!email?.startsWith(THROWAWAY_PREFIX) || !email.endsWith(`@${THROWAWAY_DOMAIN}`) || created === undefined || now - created < STALE_AFTER_MS) continue;
      await deleteThrowawayUser(cognito, userPoolId, email);
      stale.push(email);
    }
  }
  return stale;
}

// ---- the hosted UI's sign-in form ----

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'" };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1]?.toLowerCase() === 'x' ? parseInt(entity.slice(2), 16) : Number(entity.slice(1));
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  if (!match) return undefined;
  return decodeEntities(match[1] ?? match[2] ?? match[3] ?? '');
}

export interface SignInForm {
  action: string | undefined;
  /** Every hidden field of the form (_csrf, cognitoAsfData, …), sent back as a browser would. */
  hidden: Record<string, string>;
}

/** The first form on the page that carries a _csrf field (the classic hosted UI draws the same form twice). */
export function findSignInForm(html: string): SignInForm | undefined {
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const hidden: Record<string, string> = {};
    for (const input of match[2]!.matchAll(/<input\b[^>]*>/gi)) {
      const tag = input[0];
      const name = attribute(tag, 'name');
      if (name && attribute(tag, 'type')?.toLowerCase() === 'hidden') hidden[name] = attribute(tag, 'value') ?? '';
    }
    if ('_csrf' in hidden) return { action: attribute(`<form${match[1]!}>`, 'action'), hidden };
  }
  return undefined;
}

/** The hosted UI's own complaint on a page it sent back, e.g. "Incorrect username or password." */
export function pageError(html: string): string | undefined {
  const match = /<[^>]+id="loginErrorMessage"[^>]*>([^<]*)</i.exec(html) ?? /<[^>]+class="[^"]*error[^"]*"[^>]*>\s*([^<\s][^<]*)</i.exec(html);
  const text = match?.[1] ? decodeEntities(match[1]).trim() : '';
  return text || undefined;
}

// ---- the flow ----

interface Step {
  request: string;
  status?: number;
  location?: string;
  error?: string;
}

/** An authorization code is spent once it is used, but it stays out of the report all the same. */
function redact(url: string | undefined): string | undefined {
  return url?.replace(/([?&]code=)[^&]+/, '$1…');
}

class FlowFailure extends Error {}

/**
 * Signs the user in through the ALB and the hosted UI, and fetches the app. Requests to the
 * site go where --url says (the tls check judges its certificate); requests to Cognito check
 * its certificate, since they carry the password.
 */
export async function checkSignIn(site: SiteFacts, settings: ProbeSettings, user: ThrowawayUser): Promise<SmokeCheck> {
  const name = 'sign-in';
  const jar = new CookieJar();
  const steps: Step[] = [];
  const origin = siteOrigin(site);
  const hostedUi = new URL(site.hostedUiBaseUrl).origin;
  const isSite = (url: string) => new URL(url).origin === origin;

  const go = async (method: 'GET' | 'POST', url: string, body?: string): Promise<HttpResponse> => {
    const step: Step = { request: `${method} ${redact(url)}` };
    steps.push(step);
    if (steps.length > MAX_HOPS * 2) throw new FlowFailure(`more than ${MAX_HOPS * 2} requests: a redirect loop`);
    const cookie = jar.header(url);
    try {
      const response = await send(
        {
          method,
          url,
          verifyTls: !isSite(url),
          headers: {
            ...(cookie ? { cookie } : {}),
            ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin, referer: url } : {}),
          },
          ...(body !== undefined ? { body } : {}),
        },
        settings.http,
      );
      jar.store(url, response.setCookies);
      step.status = response.status;
      if (response.location) step.location = redact(new URL(response.location, url).toString());
      return response;
    } catch (error) {
      step.error = error instanceof HttpFailure ? error.message : (error as Error).message;
      throw new FlowFailure(`${method} ${redact(url)}: ${step.error}`);
    }
  };
  const next = (response: HttpResponse) => new URL(response.location!, response.url).toString();
  const isRedirect = (response: HttpResponse) => response.status >= 300 && response.status < 400 && response.location !== undefined;

  const seen = (extra: Record<string, unknown> = {}) => ({ username: user.username, steps, ...extra });
  try {
    // 1. The site sends an unauthenticated visitor to Cognito's authorize endpoint.
    const start = `${origin}/`;
    let response = await go('GET', start);
    if (!isSignInRedirect(response, site)) throw new FlowFailure(`GET ${start} answered ${response.status}, not a redirect to the Cognito sign-in`);
    // 2. Follow Cognito's redirects to the sign-in page.
    while (isRedirect(response) && !isSite(next(response))) {
      if (new URL(next(response)).origin !== hostedUi) throw new FlowFailure(`Cognito redirected to ${redact(next(response))}, outside ${hostedUi}`);
      response = await go('GET', next(response));
    }
    if (isRedirect(response)) throw new FlowFailure(`Cognito sent the visitor back to the site (${redact(next(response))}) before any sign-in`);
    if (response.status !== 200) throw new FlowFailure(`the sign-in page answered ${response.status}${pageError(response.body) ? `: ${pageError(response.body)}` : ''}`);
    const form = findSignInForm(response.body);
    if (!form) throw new FlowFailure(`the sign-in page (${redact(response.url)}) has no form with a _csrf field: not the classic hosted UI's username and password form`);
    // 3. Submit the form as the browser would: its hidden fields, the user, the password, the button.
    const action = new URL(form.action ?? response.url, response.url).toString();
    const body = new URLSearchParams({ ...form.hidden, username: user.username, password: user.password, signInSubmitButton: 'Sign in' }).toString();
    response = await go('POST', action, body);
    if (!isRedirect(response)) {
      const complaint = pageError(response.body);
      throw new FlowFailure(`the hosted UI did not sign the user in: POST ${withoutQuery(action, action)} answered ${response.status}${complaint ? ` ("${complaint}")` : ''}`);
    }
    const callback = new URL(next(response));
    if (callback.origin !== origin || callback.pathname !== IDP_RESPONSE_PATH || !callback.searchParams.get('code')) {
      throw new FlowFailure(`after sign-in Cognito redirected to ${redact(callback.toString())}, not to ${origin}${IDP_RESPONSE_PATH}?code=…`);
    }
    // 4. The ALB redeems the code itself and sets its session cookie.
    response = await go('GET', callback.toString());
    const sessionCookies = cookieNames(response.setCookies).filter((cookie) => cookie.startsWith(`${site.sessionCookieName}-`));
    if (!isRedirect(response) || sessionCookies.length === 0) {
      throw new FlowFailure(
        `the ALB did not finish the sign-in: GET ${origin}${IDP_RESPONSE_PATH} answered ${response.status} ${sessionCookies.length === 0 ? `without a ${site.sessionCookieName}-0 cookie` : ''}${response.body ? ` (${response.body.trim().slice(0, 120)})` : ''}`.trim(),
      );
    }
    const original = next(response);
    if (!isSite(original)) throw new FlowFailure(`the ALB sent the signed-in visitor to ${redact(original)}, not back to the site`);
    // 5. With the cookie, the site answers with the app.
    response = await go('GET', original);
    if (isSignInRedirect(response, site)) throw new FlowFailure(`with its session cookie the visitor is sent to sign in again (${response.status}): the ALB did not accept the cookie it set`);
    if (response.status < 200 || response.status >= 300) throw new FlowFailure(`with a session the site answered ${response.status}, not the app's 2xx`);
    const snippet = response.body.trim().slice(0, 200);
    return {
      name,
      ok: true,
      detail: `${user.username} signed in through ${new URL(site.hostedUiBaseUrl).host}; the ALB set ${sessionCookies.join(', ')} and the app answered ${response.status}`,
      seen: seen({ sessionCookies, appStatus: response.status, appBody: snippet }),
    };
  } catch (error) {
    if (!(error instanceof FlowFailure)) throw error;
    return { name, ok: false, detail: error.message, seen: seen() };
  }
}
