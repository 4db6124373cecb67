/**
 * A loopback stand-in for the stack's ALB, as a visitor meets it, built from the ALB guide
 * ("Authenticate users using an Application Load Balancer": the authentication flow) and the
 * ELB API reference (RedirectActionConfig):
 * - HTTP listener: 301 to https://#{host}:443/#{path}?#{query} (authecs's redirect action);
 * - HTTPS, a request without a valid session cookie: 302 to the pool domain's
 *   /oauth2/authorize (client_id, redirect_uri=https://HOST/oauth2/idpresponse, response_type=code,
 *   scope, state) with an AWSALBAuthNonce cookie tying the state to this browser;
 * - /oauth2/idpresponse?code&state: redeems the code at the hosted UI's /oauth2/token itself
 *   (POST, grant_type=authorization_code, HTTP Basic client_id:client_secret), sets
 *   <SessionCookieName>-0 and 302 back to the original URL;
 * - with a valid session cookie: the app, which answers 200 "hello <email>";
 * - public paths: the app, without sign-in.
 * The real ALB also asks the user info endpoint for claims and signs x-amzn-oidc-data; here the
 * email is read from the (dummy) id token, which is all the app needs.
 * Misbehaviours for the failure tests: open without sign-in, a wrong redirect_uri, no HTTP
 * redirect, and a server that accepts requests and never answers.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { ServerCertificate } from './test-ca.js';

export interface AlbStandInOptions {
  tls: ServerCertificate;
  /** https://<prefix>.auth.<region>.amazoncognito.com, as the ALB's authenticate-cognito action knows it. */
  hostedUiBaseUrl: string;
  /** Where the token endpoint really is (the hosted UI stand-in), and the CA and name to check it by. */
  tokenEndpoint: { url: string; servername: string; ca: string };
  clientId: string;
  clientSecret: string;
  scope: string;
  sessionCookieName: string;
  /** Path patterns served without sign-in (ALB wildcards * and ?). */
  publicPaths?: string[];
  /** Misbehaviours. */
  openWithoutSignIn?: boolean;
  redirectUri?: string;
  noHttpRedirect?: boolean;
  hang?: boolean;
}

export interface AlbStandIn {
  httpsUrl: string;
  httpUrl: string;
  /** Requests seen on HTTPS, "METHOD /path". */
  requests: string[];
  /** Token exchanges made, and how they ended. */
  tokenExchanges: { status: number }[];
  close(): Promise<void>;
}

const NONCE_COOKIE = 'AWSALBAuthNonce';

function cookiesOf(request: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0) cookies.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  return cookies;
}

function hostOf(request: IncomingMessage): string {
  return (request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
}

/** An ALB path pattern as a regular expression: * any characters, ? exactly one. */
function patternMatches(pattern: string, path: string): boolean {
  const expression = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${expression}$`).test(path);
}

function redeem(options: AlbStandInOptions, code: string, redirectUri: string): Promise<{ status: number; email?: string }> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: options.clientId }).toString();
  const endpoint = new URL(options.tokenEndpoint.url);
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      {
        method: 'POST',
        hostname: endpoint.hostname,
        port: endpoint.port,
        path: endpoint.pathname,
        servername: options.tokenEndpoint.servername,
        ca: options.tokenEndpoint.ca,
        headers: {
          host: options.tokenEndpoint.servername,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          authorization: `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`,
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          if (response.statusCode !== 200) return resolve({ status: response.statusCode ?? 0 });
          const tokens = JSON.parse(text) as { id_token: string };
          const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1]!, 'base64url').toString('utf8')) as { email?: string; aud?: string };
          resolve(claims.aud === options.clientId && claims.email ? { status: 200, email: claims.email } : { status: 401 });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

export async function startAlbStandIn(options: AlbStandInOptions): Promise<AlbStandIn> {
  const sessions = new Map<string, string>();
  const pending = new Map<string, { nonce: string; original: string }>();
  const requests: string[] = [];
  const tokenExchanges: { status: number }[] = [];
  const sockets = new Set<Socket>();
  const cookieName = `${options.sessionCookieName}-0`;

  const app = (response: ServerResponse, text: string) => {
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(text);
  };

  const handleHttps = async (request: IncomingMessage, response: ServerResponse) => {
    const host = hostOf(request);
    const url = new URL(request.url ?? '/', `https://${host}`);
    requests.push(`${request.method} ${url.pathname}`);
    if (options.hang) return; // accepted, never answered
    const cookies = cookiesOf(request);
    if (url.pathname === '/oauth2/idpresponse') {
      const flow = pending.get(url.searchParams.get('state') ?? '');
      if (!flow || cookies.get(NONCE_COOKIE) !== flow.nonce) {
        response.writeHead(401, { 'content-type': 'text/html' });
        return response.end('<html><body><center><h1>401 Authorization Required</h1></center></body></html>');
      }
      pending.delete(url.searchParams.get('state')!);
      const redeemed = await redeem(options, url.searchParams.get('code') ?? '', options.redirectUri ?? `https://${host}/oauth2/idpresponse`);
      tokenExchanges.push({ status: redeemed.status });
      if (!redeemed.email) {
        response.writeHead(401, { 'content-type': 'text/html' });
        return response.end('<html><body><center><h1>401 Authorization Required</h1></center></body></html>');
      }
      const session = randomBytes(24).toString('base64url');
      sessions.set(session, redeemed.email);
      response.writeHead(302, {
        location: flow.original,
        'set-cookie': [`${cookieName}=${session}; Path=/; Secure; HttpOnly`, `${NONCE_COOKIE}=; Path=/; Max-Age=0`],
      });
      return response.end();
    }
    if (options.publicPaths?.some((pattern) => patternMatches(pattern, url.pathname))) return app(response, `public: ${url.pathname}`);
    if (options.openWithoutSignIn) return app(response, 'hello anonymous');
    const email = sessions.get(cookies.get(cookieName) ?? '');
    if (email) return app(response, `hello ${email}`);
    const state = randomBytes(24).toString('base64url');
    const nonce = randomBytes(12).toString('base64url');
    pending.set(state, { nonce, original: `https://${host}${url.pathname}${url.search}` });
    const authorize = new URL('/oauth2/authorize', options.hostedUiBaseUrl);
    authorize.search = new URLSearchParams({
      client_id: options.clientId,
      redirect_uri: options.redirectUri ?? `https://${host}/oauth2/idpresponse`,
      response_type: 'code',
      scope: options.scope,
      state,
    }).toString();
    response.writeHead(302, { location: authorize.toString(), 'set-cookie': `${NONCE_COOKIE}=${nonce}; Path=/; Secure; HttpOnly` });
    response.end();
  };

  const https: HttpsServer = createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, (request, response) => {
    handleHttps(request, response).catch((error: Error) => {
      response.writeHead(500);
      response.end(error.message);
    });
  });
  const http: HttpServer = createHttpServer((request, response) => {
    if (options.hang) return;
    if (options.noHttpRedirect) return app(response, 'a plain HTTP site');
    const url = new URL(request.url ?? '/', 'http://placeholder');
    const query = url.search.slice(1);
    response.writeHead(301, { location: `https://${hostOf(request)}:443${url.pathname}${query ? `?${query}` : ''}` });
    response.end();
  });
  for (const server of [https, http]) {
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  }
  return {
    httpsUrl: `https://127.0.0.1:${(https.address() as AddressInfo).port}`,
    httpUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    requests,
    tokenExchanges,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all([https, http].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };
}
