/**
 * A loopback stand-in for the Cognito hosted UI (classic), built from the Cognito developer
 * guide ("Authorize endpoint", "Login endpoint", "Token endpoint"):
 * - GET /oauth2/authorize: checks client_id, response_type=code and the redirect_uri against the
 *   client's callback URLs (else /error?error=redirect_mismatch), then 302 to /login with the same
 *   parameters;
 * - GET /login: the sign-in form (form cognitoSignInForm: hidden _csrf and cognitoAsfData,
 *   username, password, signInSubmitButton) and an XSRF-TOKEN cookie holding the same token;
 * - POST /login: the _csrf field must match the cookie; a wrong user or password gets the form
 *   again with "Incorrect username or password."; otherwise 302 to redirect_uri?code=…&state=…;
 * - POST /oauth2/token: grant_type=authorization_code with client authentication (HTTP Basic
 *   client_id:client_secret); each code once, for the redirect_uri it was issued for. The tokens
 *   are unsigned dummies (the ALB stand-in reads the email from the id token).
 * It serves HTTPS with a certificate for the pool domain's host name.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ServerCertificate } from './test-ca.js';

export interface HostedUiClient {
  clientId: string;
  clientSecret: string;
  callbackUrls: string[];
}

export interface HostedUiStandInOptions {
  /** https://<prefix>.auth.<region>.amazoncognito.com: the issuer of its dummy tokens. */
  baseUrl: string;
  tls: ServerCertificate;
  client: HostedUiClient;
  /** Whether this user may sign in with this password (the test asks moto's Cognito). */
  verifyPassword(username: string, password: string): Promise<boolean>;
}

export interface HostedUiStandIn {
  /** https://127.0.0.1:port: where requests for the pool domain really go. */
  url: string;
  /** Requests seen, "METHOD /path" (no query), in order. */
  requests: string[];
  /** Test hook: change every submitted password before it is checked (a wrong password). */
  tamperPassword: boolean;
  close(): Promise<void>;
}

interface IssuedCode {
  username: string;
  redirectUri: string;
  clientId: string;
}

const FORM_FIELDS = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state'];

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

function cookiesOf(request: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0) cookies.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  return cookies;
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function loginPage(query: URLSearchParams, csrf: string, error?: string): string {
  const action = `/login?${query.toString()}`;
  return [
    '<!DOCTYPE html><html><head><title>Signin</title></head><body>',
    '<div class="modal-content background-customizable">',
    error ? `<p id="loginErrorMessage" class="errorMessage-customizable">${escapeHtml(error)}</p>` : '',
    `<form name="cognitoSignInForm" action="${escapeHtml(action)}" method="post">`,
    `<input name="_csrf" type="hidden" value="${escapeHtml(csrf)}"/>`,
    '<input name="cognitoAsfData" type="hidden" value=""/>',
    '<input id="signInFormUsername" name="username" type="text" placeholder="Username"/>',
    '<input id="signInFormPassword" name="password" type="password" placeholder="Password"/>',
    '<input name="signInSubmitButton" type="submit" value="Sign in"/>',
    '</form></div></body></html>',
  ].join('\n');
}

export async function startHostedUiStandIn(options: HostedUiStandInOptions): Promise<HostedUiStandIn> {
  const codes = new Map<string, IssuedCode>();
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const state = { tamperPassword: false };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', options.baseUrl);
    requests.push(`${request.method} ${url.pathname}`);
    const query = url.searchParams;
    const send = (status: number, body: string, headers: Record<string, string | string[]> = {}) => {
      response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
      response.end(body);
    };
    const checkClient = (): string | undefined => {
      if (query.get('client_id') !== options.client.clientId) return 'invalid_request';
      if (!options.client.callbackUrls.includes(query.get('redirect_uri') ?? '')) return 'redirect_mismatch';
      if (query.get('response_type') !== 'code') return 'unsupported_response_type';
      return undefined;
    };

    if (request.method === 'GET' && url.pathname === '/oauth2/authorize') {
      const error = checkClient();
      if (error) return send(302, '', { location: `/error?error=${error}&client_id=${encodeURIComponent(query.get('client_id') ?? '')}` });
      const forwarded = new URLSearchParams(FORM_FIELDS.filter((field) => query.has(field)).map((field): [string, string] => [field, query.get(field)!]));
      return send(302, '', { location: `/login?${forwarded.toString()}` });
    }
    if (request.method === 'GET' && url.pathname === '/error') {
      return send(400, `<html><body><p>An error was encountered with the requested page.</p><p class="errorMessage-customizable">${escapeHtml(query.get('error') ?? '')}</p></body></html>`);
    }
    if (url.pathname === '/login') {
      const error = checkClient();
      if (error) return send(302, '', { location: `/error?error=${error}` });
      if (request.method === 'GET') {
        const csrf = randomBytes(16).toString('hex');
        return send(200, loginPage(query, csrf), { 'set-cookie': `XSRF-TOKEN=${csrf}; Path=/; Secure; HttpOnly; SameSite=Lax` });
      }
      if (request.method === 'POST') {
        const form = new URLSearchParams(await readBody(request));
        const cookie = cookiesOf(request).get('XSRF-TOKEN');
        if (!cookie || form.get('_csrf') !== cookie) return send(403, '<html><body>Forbidden: CSRF token</body></html>');
        const username = form.get('username') ?? '';
        const password = `${form.get('password') ?? ''}${state.tamperPassword ? 'x' : ''}`;
        if (!(await options.verifyPassword(username, password))) return send(200, loginPage(query, cookie, 'Incorrect username or password.'));
        const code = randomBytes(18).toString('hex');
        codes.set(code, { username, redirectUri: query.get('redirect_uri')!, clientId: options.client.clientId });
        const redirect = new URL(query.get('redirect_uri')!);
        redirect.searchParams.set('code', code);
        if (query.has('state')) redirect.searchParams.set('state', query.get('state')!);
        return send(302, '', { location: redirect.toString() });
      }
    }
    if (request.method === 'POST' && url.pathname === '/oauth2/token') {
      const json = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      const [clientId, clientSecret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
      if (clientId !== options.client.clientId || clientSecret !== options.client.clientSecret) return json(401, { error: 'invalid_client' });
      const form = new URLSearchParams(await readBody(request));
      if (form.get('grant_type') !== 'authorization_code') return json(400, { error: 'unsupported_grant_type' });
      const issued = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      if (!issued || issued.redirectUri !== form.get('redirect_uri')) return json(400, { error: 'invalid_grant' });
      const now = Math.floor(Date.now() / 1000);
      const claims = { sub: randomBytes(8).toString('hex'), email: issued.username, aud: issued.clientId, iss: options.baseUrl, token_use: 'id', iat: now, exp: now + 3600 };
      return json(200, {
        id_token: `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims)}.`,
        access_token: `${base64url({ alg: 'none' })}.${base64url({ ...claims, token_use: 'access' })}.`,
        refresh_token: randomBytes(24).toString('hex'),
        expires_in: 3600,
        token_type: 'Bearer',
      });
    }
    return send(404, '<html><body>Not found</body></html>');
  };

  const server: Server = createServer({ key: options.tls.key, cert: options.tls.cert }, (request, response) => {
    handle(request, response).catch((error: Error) => {
      response.writeHead(500);
      response.end(error.message);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    get tamperPassword() {
      return state.tamperPassword;
    },
    set tamperPassword(value: boolean) {
      state.tamperPassword = value;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
