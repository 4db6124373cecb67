/**
 * The one HTTP client `smoke` uses: node:http and node:https, one request at a time, never
 * following redirects by itself (each check looks at every hop), with a hard deadline for the
 * whole exchange, a cap on the body, and a cookie jar kept per host as a browser keeps it.
 *
 * A request names the URL a browser would open (https://www.example.com/); `connectTo` can send
 * it elsewhere (--url, a loopback stand-in in tests) while the Host header and the TLS SNI name
 * stay the URL's own host, as `curl --connect-to` does.
 */
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

/** More than a sign-in page or an app's answer needs; a larger body is cut here. */
export const MAX_BODY_BYTES = 512 * 1024;

export interface HttpSettings {
  /** Origin as a browser sees it (https://www.example.com) → the base URL to connect to instead. */
  connectTo: Map<string, URL>;
  /** Extra trusted CA certificates (PEM), added to the system's (--ca-file). */
  extraCa?: string;
  /** The deadline for one exchange: connect, TLS, headers and body. */
  timeoutMs: number;
  /** The whole run's deadline: aborting it ends any request in flight. */
  signal: AbortSignal;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: OutgoingHttpHeaders;
  body?: string;
  /**
   * Check the server's certificate (name and chain). Off for the site itself: the `tls` check
   * judges its certificate once, and the other checks look at behaviour alone.
   */
  verifyTls: boolean;
}

export interface HttpResponse {
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  location: string | undefined;
  setCookies: string[];
  body: string;
}

/** A request that got no usable answer: refused, reset, timed out, bad TLS. */
export class HttpFailure extends Error {
  override readonly name = 'HttpFailure';
}

function trustedCa(extraCa: string | undefined): string[] | undefined {
  return extraCa ? [...rootCertificates, extraCa] : undefined;
}

/** Where a URL is really sent: its own origin, or the base `connectTo` gives for it. */
export function targetOf(url: URL, connectTo: Map<string, URL>): URL {
  const base = connectTo.get(url.origin);
  if (!base) return url;
  return new URL(`${url.pathname}${url.search}`, base);
}

function describeError(error: NodeJS.ErrnoException): string {
  return error.code && !error.message.includes(error.code) ? `${error.message} (${error.code})` : error.message;
}

export function send(request: HttpRequest, settings: HttpSettings): Promise<HttpResponse> {
  const url = new URL(request.url);
  const target = targetOf(url, settings.connectTo);
  const secure = target.protocol === 'https:';
  const seconds = settings.timeoutMs / 1000;
  return new Promise((resolve, reject) => {
    if (settings.signal.aborted) {
      reject(new HttpFailure('not sent: the overall time limit ran out'));
      return;
    }
    let settled = false;
    const finish = (error: Error | undefined, response?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      settings.signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(response!);
    };
    const headers: OutgoingHttpHeaders = {
      // Host is the URL's own, wherever the request is sent.
      host: url.host,
      'user-agent': 'authecs-smoke',
      accept: 'text/html,application/xhtml+xml,*/*',
      ...request.headers,
      ...(request.body !== undefined ? { 'content-length': Buffer.byteLength(request.body) } : {}),
    };
    const options = {
      method: request.method,
      hostname: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port || (secure ? 443 : 80),
      path: `${target.pathname}${target.search}`,
      headers,
      agent: false as const,
      ...(secure
        ? {
            servername: url.hostname,
            rejectUnauthorized: request.verifyTls,
            ...(trustedCa(settings.extraCa) ? { ca: trustedCa(settings.extraCa) } : {}),
          }
        : {}),
    };
    const outgoing = (secure ? httpsRequest : httpRequest)(options, (incoming) => {
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        if (size >= MAX_BODY_BYTES) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_BODY_BYTES) incoming.destroy();
      });
      const done = () =>
        finish(undefined, {
          url: request.url,
          status: incoming.statusCode ?? 0,
          headers: incoming.headers,
          location: incoming.headers.location,
          setCookies: incoming.headers['set-cookie'] ?? [],
          body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY_BYTES),
        });
      incoming.on('end', done);
      incoming.on('close', done);
      incoming.on('error', (error) => (size >= MAX_BODY_BYTES ? done() : finish(new HttpFailure(`the answer broke off: ${describeError(error)}`))));
    });
    const timer = setTimeout(() => {
      finish(new HttpFailure(`no answer within ${seconds} s`));
      outgoing.destroy();
    }, settings.timeoutMs);
    const onAbort = () => {
      finish(new HttpFailure('stopped: the overall time limit ran out'));
      outgoing.destroy();
    };
    settings.signal.addEventListener('abort', onAbort, { once: true });
    outgoing.on('error', (error: NodeJS.ErrnoException) => finish(new HttpFailure(describeError(error))));
    outgoing.end(request.body);
  });
}

/**
 * Cookies per host, as a browser keeps them for this flow: name=value, replaced by a later
 * Set-Cookie, dropped by an expired one. Domain and Path are not needed here: every cookie of
 * the flow is set by the host it goes back to, for the whole site.
 */
export class CookieJar {
  private readonly hosts = new Map<string, Map<string, string>>();

  store(url: string, setCookies: readonly string[]): void {
    const host = new URL(url).hostname;
    const cookies = this.hosts.get(host) ?? new Map<string, string>();
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const equals = pair.indexOf('=');
      if (equals <= 0) continue;
      const name = pair.slice(0, equals).trim();
      const value = pair.slice(equals + 1).trim();
      const expired = attributes.some((attribute) => {
        const [key = '', raw = ''] = attribute.split('=').map((part) => part.trim());
        if (key.toLowerCase() === 'max-age') return Number(raw) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(raw) < Date.now();
        return false;
      });
      if (expired) cookies.delete(name);
      else cookies.set(name, value);
    }
    this.hosts.set(host, cookies);
  }

  header(url: string): string | undefined {
    const cookies = this.hosts.get(new URL(url).hostname);
    if (!cookies || cookies.size === 0) return undefined;
    return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  names(url: string): string[] {
    return [...(this.hosts.get(new URL(url).hostname)?.keys() ?? [])];
  }
}

/** The names of the cookies a response sets (never their values: a session cookie is a credential). */
export function cookieNames(setCookies: readonly string[]): string[] {
  return setCookies.map((line) => line.split('=')[0]!.trim()).filter(Boolean);
}
