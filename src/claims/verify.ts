/**
 * Verifies the user claims an ALB with a Cognito `authenticate` rule passes to the app in
 * `x-amzn-oidc-data`: an ES256 JWT whose header names the signing ALB (`signer`), the app
 * client (`client`) and the key (`kid`), and whose public key (PEM) is published at
 * `<key endpoint>/<kid>`.
 *
 * All of the cryptography is aws-jwt-verify's (AlbJwtVerifier). It accepts the padded
 * base64url segments ALBs emit ('=' at the end of a segment, which strict JWT libraries
 * reject), fetches the PEM by kid and caches it, so a second token with the same kid costs
 * no second fetch. This module adds what an app behind the ALB needs around it: reading the
 * token from request headers, cheap rejections before any key is fetched, a key fetch over
 * http or https with hard bounds (no redirects, at most 16 KiB, one deadline for the whole
 * answer), only EC P-256 keys, and one error type whose `check` says which check failed.
 */
import { AlbJwtVerifier } from 'aws-jwt-verify';
import { AlbJwksCache } from 'aws-jwt-verify/alb-cache';
import {
  AlbJwtInvalidClientIdError,
  AlbJwtInvalidSignerError,
  JwtExpiredError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  JwtParseError,
  JwtWithoutValidKidError,
} from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';
import type { Jwks, JwksCache, JwkWithKid } from 'aws-jwt-verify/jwk';
import { decomposeUnverifiedJwt } from 'aws-jwt-verify/jwt';
import { AuthecsError } from '../errors.js';

/** The header the ALB puts the signed user claims in. */
export const ALB_DATA_HEADER = 'x-amzn-oidc-data';

/**
 * Seconds a token is still accepted after its `exp`, for clock skew between the ALB and the
 * app. ALB claims tokens live only minutes and both ends keep NTP time on AWS, so the
 * allowance is small; raise it per verifier with `graceSeconds` (CLI: --grace-seconds).
 */
export const DEFAULT_GRACE_SECONDS = 30;

/** How long one key fetch may take before it fails with check 'key-fetch'. */
export const DEFAULT_KEY_FETCH_TIMEOUT_MS = 3000;

export const CLAIMS_CHECKS = ['signature', 'signer', 'client', 'issuer', 'expired', 'unknown-kid', 'malformed', 'key-fetch', 'key-type', 'algorithm'] as const;

/** The most a key answer may hold: an ALB key PEM is about 180 bytes. */
export const MAX_KEY_BYTES = 16 * 1024;

/** The check a token failed. */
export type ClaimsCheck = (typeof CLAIMS_CHECKS)[number];

const HINTS: Record<ClaimsCheck, string> = {
  signature: 'The token was not signed by the ALB key its kid names, or was changed after signing: treat the request as forged.',
  signer: 'The token was signed by another load balancer. Expect the ARN of the ALB in front of this app (CLI: --alb-arn, or the state file).',
  client: 'The token was issued for another Cognito app client. Expect the client of the ALB rule (CLI: --client-id, or the state file).',
  issuer: 'The token names another issuer. Expect https://cognito-idp.<region>.amazonaws.com/<user pool ID> (CLI: --user-pool-id / --issuer).',
  expired: 'ALB claims tokens live only minutes: use a fresh one. To allow for clock skew, raise graceSeconds (CLI: --grace-seconds).',
  'unknown-kid': 'The key endpoint has no public key for this kid: the token was not signed by an ALB of this region, or the key endpoint is wrong (CLI: --key-endpoint / --alb-arn).',
  malformed: `Pass the ${ALB_DATA_HEADER} header exactly as the ALB sent it (three base64url segments separated by dots).`,
  'key-fetch': 'The public key could not be fetched: check that the app can reach the key endpoint (CLI: --key-endpoint) and try again.',
  'key-type': 'ALBs sign with EC P-256 keys (ES256). Any other key under this kid did not come from an ALB: check the key endpoint (CLI: --key-endpoint) and treat the request as forged.',
  algorithm: 'ALB claims tokens are signed with ES256; any other alg is refused.',
};

/** A token that failed a check. `check` names the check; `exitCode` is 12 ('claims') for the CLI. */
export class ClaimsError extends AuthecsError {
  readonly check: ClaimsCheck;

  constructor(check: ClaimsCheck, detail: string, options: { cause?: unknown } = {}) {
    super(`${ALB_DATA_HEADER} failed the ${check} check: ${detail}`, {
      code: `CLAIMS_${check.toUpperCase().replace(/-/g, '_')}`,
      exit: 'claims',
      hint: HINTS[check],
      cause: options.cause,
    });
    this.name = 'ClaimsError';
    this.check = check;
  }
}

export function isClaimsError(error: unknown): error is ClaimsError {
  return error instanceof ClaimsError;
}

/** The header of an ALB claims token (after verification, every field here is trusted). */
export interface AlbTokenHeader {
  alg: string;
  kid: string;
  signer: string;
  client: string;
  iss?: string;
  exp?: number;
  typ?: string;
  [name: string]: unknown;
}

/** The claims in an ALB claims token: the user's attributes from the identity provider. */
export interface AlbClaims {
  sub: string;
  iss: string;
  exp: number;
  email?: string;
  username?: string;
  [name: string]: unknown;
}

export interface VerifiedAlbToken {
  header: AlbTokenHeader;
  claims: AlbClaims;
}

/** What `decodeAlbToken` returns: nothing in it has been checked. */
export interface DecodedAlbToken {
  verified: false;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

export type HeaderValue = string | readonly string[] | undefined;

/** Something with a `get(name)`, like the Fetch API's Headers. */
export interface HeaderLookup {
  get(name: string): string | null;
}

/**
 * Where the token comes from: the request's headers (Node's `req.headers`, any case of
 * header name, values string or string[]; or a Fetch `Headers`), or the raw header value.
 */
export type ClaimsInput = string | HeaderLookup | Readonly<Record<string, HeaderValue>>;

export interface AlbClaimsVerifierOptions {
  /** ARN of the ALB that signs the tokens; must equal the token header's `signer`. */
  albArn: string;
  /** Cognito app client ID of the ALB's authenticate rule; must equal the token header's `client`. */
  clientId: string;
  /** User pool ID; the expected issuer is https://cognito-idp.<region>.amazonaws.com/<userPoolId>. */
  userPoolId?: string;
  /** Expected `iss`, instead of deriving it from userPoolId (for an OIDC provider other than Cognito). */
  issuer?: string;
  /** Region of the ALB. The ARN names it, so this is optional and must agree with albArn. */
  region?: string;
  /**
   * Base URL of the ALB public keys; the key is fetched from <keyEndpoint>/<kid>. Default, from
   * the ARN's partition and region: https://public-keys.auth.elb.<region>.amazonaws.com, or for
   * GovCloud https://s3-<region>.amazonaws.com/aws-elb-public-keys-prod-<region>. Required in
   * the China partition, which documents no endpoint.
   */
  keyEndpoint?: string;
  /** Seconds past `exp` still accepted (default DEFAULT_GRACE_SECONDS). */
  graceSeconds?: number;
  /** Time limit of one key fetch in milliseconds (default DEFAULT_KEY_FETCH_TIMEOUT_MS). */
  keyFetchTimeoutMs?: number;
}

export interface AlbClaimsVerifier {
  readonly albArn: string;
  readonly clientId: string;
  readonly issuer: string;
  readonly keyEndpoint: string;
  readonly graceSeconds: number;
  /** Resolves to the verified claims, or rejects with a ClaimsError. */
  verify(input: ClaimsInput): Promise<AlbClaims>;
  /** Like verify, with the (now verified) header as well. */
  verifyToken(input: ClaimsInput): Promise<VerifiedAlbToken>;
}

// Any partition, so that one without support gets a clear refusal rather than "not an ARN".
const ALB_ARN = /^arn:(aws(?:-[a-z]+)*):elasticloadbalancing:([a-z]{2}(?:-[a-z]+)+-\d+):.+$/;
// The partitions aws-jwt-verify accepts in an ALB ARN.
const VERIFIABLE_PARTITIONS = new Set(['aws', 'aws-cn', 'aws-us-gov']);
// The GovCloud regions whose key endpoints the ALB user guide lists.
const GOVCLOUD_KEY_REGIONS = new Set(['us-gov-west-1', 'us-gov-east-1']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const USER_POOL_REGION = /^([a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$/;

export interface AlbArnParts {
  partition: string;
  region: string;
}

export function parseAlbArn(albArn: string): AlbArnParts | undefined {
  const match = ALB_ARN.exec(albArn);
  return match ? { partition: match[1]!, region: match[2]! } : undefined;
}

export function regionOfAlbArn(albArn: string): string | undefined {
  return parseAlbArn(albArn)?.region;
}

/** The partition a region belongs to, from its name. */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('cn-')) return 'aws-cn';
  const iso = /^[a-z]{2}-(iso[a-z]?)-/.exec(region);
  if (iso) return `aws-${iso[1]}`;
  return 'aws';
}

/**
 * The documented ALB key endpoint for a region (ALB user guide, "User claims encoding and
 * signature verification"). Throws a usage error where none is documented.
 */
export function defaultKeyEndpoint(region: string, partition: string = partitionOfRegion(region)): string {
  if (partition === 'aws') return `https://public-keys.auth.elb.${region}.amazonaws.com`;
  if (partition === 'aws-us-gov' && GOVCLOUD_KEY_REGIONS.has(region)) return `https://s3-${region}.amazonaws.com/aws-elb-public-keys-prod-${region}`;
  throw new AuthecsError(`Cannot verify ALB claims: AWS documents no ALB public key endpoint for ${region} (partition ${partition})`, {
    code: 'CLAIMS_NO_KEY_ENDPOINT',
    exit: 'usage',
    hint: 'Give the key endpoint explicitly (library: keyEndpoint; CLI: --key-endpoint), as the base URL the ALB keys are fetched from as <url>/<kid>.',
  });
}

export function cognitoIssuer(region: string, userPoolId: string): string {
  return `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`;
}

/** The region a user pool lives in, from its ID (<region>_<id>). */
export function regionOfUserPool(userPoolId: string): string | undefined {
  return USER_POOL_REGION.exec(userPoolId)?.[1];
}

function optionsError(message: string): AuthecsError {
  return new AuthecsError(`Cannot verify ALB claims: ${message}`, {
    code: 'CLAIMS_OPTIONS',
    exit: 'usage',
    hint: 'Give the ALB ARN, the app client ID and the user pool ID (or the issuer).',
  });
}

function isHeaderLookup(input: ClaimsInput): input is HeaderLookup {
  return typeof input === 'object' && input !== null && typeof (input as { get?: unknown }).get === 'function';
}

/**
 * One header's value from a request's headers (any case of name, values string or string[]; or a
 * Fetch `Headers`), or the raw value itself, trimmed; '' when absent. `conflict` makes the error
 * for a header given twice with different values. The claims and the groups checks share it.
 */
export function headerValueOf(input: ClaimsInput, header: string, conflict: (message: string) => Error): string {
  let value: HeaderValue | null;
  if (typeof input === 'string') {
    value = input;
  } else if (isHeaderLookup(input)) {
    value = input.get(header);
  } else {
    const values = Object.entries(input)
      .filter(([name, found]) => name.toLowerCase() === header && found !== undefined)
      .flatMap(([, found]) => (typeof found === 'string' ? [found] : [...(found ?? [])]));
    if (new Set(values.map((one) => one.trim())).size > 1) throw conflict(`the ${header} header appears more than once with different values`);
    value = values[0];
  }
  return typeof value === 'string' ? value.trim() : '';
}

/** The raw x-amzn-oidc-data value from headers (or the string itself), trimmed. Throws ClaimsError 'malformed' when absent. */
export function extractAlbToken(input: ClaimsInput): string {
  const token = headerValueOf(input, ALB_DATA_HEADER, (message) => new ClaimsError('malformed', message));
  if (!token) throw new ClaimsError('malformed', `there is no ${ALB_DATA_HEADER} header (is the request coming through the ALB's authenticate rule?)`);
  if (token.includes(',')) throw new ClaimsError('malformed', `the ${ALB_DATA_HEADER} header appears more than once`);
  return token;
}

function decompose(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  try {
    const { header, payload } = decomposeUnverifiedJwt(token);
    return { header: { ...header }, payload: { ...payload } };
  } catch (error) {
    const reason = error instanceof JwtParseError ? error.message : String(error);
    throw new ClaimsError('malformed', `not a JWT (${reason})`, { cause: error });
  }
}

/**
 * Decodes header and payload WITHOUT verifying anything: for looking, never for trusting.
 * Padded and unpadded base64url segments are both accepted, as the ALB sends either.
 */
export function decodeAlbToken(input: ClaimsInput): DecodedAlbToken {
  const { header, payload } = decompose(extractAlbToken(input));
  return { verified: false, header, payload };
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timed out';
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code}: ${cause.message}` : cause.message;
  }
  return error.message;
}

/** Fetches one PEM over http or https; failures become ClaimsErrors ('unknown-kid' or 'key-fetch'). */
function keyFetcher(timeoutMs: number): Fetcher {
  return {
    async fetch(uri: string): Promise<ArrayBuffer> {
      // One deadline for the whole answer, headers and body: a server that stalls or drips is cut off.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new KeyDeadlineError(timeoutMs)), timeoutMs);
      try {
        return await fetchBoundedKey(uri, controller.signal);
      } finally {
        clearTimeout(timer);
        // Closes the connection of an answer we stopped reading (too large, or refused).
        controller.abort();
      }
    },
  };
}

class KeyDeadlineError extends Error {
  constructor(timeoutMs: number) {
    super(`no complete answer within ${timeoutMs} ms`);
    this.name = 'KeyDeadlineError';
  }
}

function abortReason(signal: AbortSignal, error: unknown): string {
  return signal.reason instanceof KeyDeadlineError ? signal.reason.message : describeCause(error);
}

async function fetchBoundedKey(uri: string, signal: AbortSignal): Promise<ArrayBuffer> {
  let response: Response;
  try {
    // A redirect could send the fetch to a host that serves any key: refuse it.
    response = await fetch(uri, { signal, redirect: 'manual' });
  } catch (error) {
    throw new ClaimsError('key-fetch', `cannot fetch the public key from ${uri} (${abortReason(signal, error)})`, { cause: error });
  }
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get('location');
    throw new ClaimsError('key-fetch', `${uri} answered HTTP ${response.status}, a redirect${location ? ` to ${location}` : ''}; redirects are refused, the key must come from the key endpoint itself`);
  }
  if (response.status === 404 || response.status === 403) {
    // The regional endpoint answers 403 or 404 for a kid it does not know.
    throw new ClaimsError('unknown-kid', `the key endpoint has no public key for this kid (${uri} answered HTTP ${response.status})`);
  }
  if (response.status !== 200) throw new ClaimsError('key-fetch', `cannot fetch the public key from ${uri} (HTTP ${response.status})`);
  const declared = response.headers.get('content-length');
  if (declared !== null && Number(declared) > MAX_KEY_BYTES) {
    throw new ClaimsError('key-fetch', `${uri} declares ${declared} bytes (Content-Length), more than the ${MAX_KEY_BYTES} a public key may take`);
  }
  if (!response.body) return new ArrayBuffer(0);
  // Read the stream ourselves, so that neither the size nor the deadline waits for the whole body.
  const reader = response.body.getReader();
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {});
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await Promise.race([reader.read(), aborted]);
    } catch (error) {
      throw new ClaimsError('key-fetch', `cannot read the public key from ${uri} (${abortReason(signal, error)})`, { cause: error });
    }
    if (chunk.done) break;
    total += chunk.value.byteLength;
    if (total > MAX_KEY_BYTES) {
      reader.cancel().catch(() => {});
      throw new ClaimsError('key-fetch', `${uri} answered more than ${MAX_KEY_BYTES} bytes, too many for one public key`);
    }
    chunks.push(chunk.value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body.buffer;
}

/** ALB keys are EC P-256. aws-jwt-verify labels every PEM ES256 and would verify with any key type. */
function assertAlbKeyType(jwk: JwkWithKid, jwksUri: string): JwkWithKid {
  const fields = jwk as { kty?: unknown; crv?: unknown };
  if (fields.kty === 'EC' && fields.crv === 'P-256') return jwk;
  const served = fields.kty === 'EC' ? `an EC ${String(fields.crv)} key` : `a ${String(fields.kty)} key`;
  throw new ClaimsError('key-type', `${jwksUri} served ${served} for kid ${jwk.kid}; ALB keys are EC P-256 (ES256)`);
}

/** aws-jwt-verify's ALB key cache (by key endpoint and kid), with its failures named as key failures. */
class KeyCache implements JwksCache {
  private readonly inner: AlbJwksCache;

  constructor(fetcher: Fetcher) {
    this.inner = new AlbJwksCache({ fetcher });
  }

  async getJwk(jwksUri: string, jwt: Parameters<JwksCache['getJwk']>[1]): Promise<JwkWithKid> {
    try {
      return assertAlbKeyType(await this.inner.getJwk(jwksUri, jwt), jwksUri);
    } catch (error) {
      if (error instanceof ClaimsError) throw error;
      if (error instanceof JwtWithoutValidKidError) throw new ClaimsError('malformed', 'the header has no kid that is a UUID', { cause: error });
      throw new ClaimsError('key-fetch', `the key endpoint ${jwksUri} did not answer with a usable public key (${describeCause(error)})`, { cause: error });
    }
  }

  getCachedJwk(jwksUri: string, jwt: Parameters<JwksCache['getCachedJwk']>[1]): JwkWithKid {
    return assertAlbKeyType(this.inner.getCachedJwk(jwksUri, jwt), jwksUri);
  }

  addJwks(jwksUri: string, jwks: Jwks): void {
    this.inner.addJwks(jwksUri, jwks);
  }

  getJwks(): Promise<Jwks> {
    // ALBs publish single PEM keys, not a JWKS: aws-jwt-verify's cache refuses this.
    return this.inner.getJwks();
  }
}

function quote(value: unknown): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}

/** Turns aws-jwt-verify's errors into ClaimsErrors. Anything unexpected counts as an unverifiable signature. */
function toClaimsError(error: unknown, payload: Record<string, unknown>, expected: { issuer: string; graceSeconds: number }): ClaimsError {
  if (error instanceof ClaimsError) return error;
  const options = { cause: error };
  if (error instanceof JwtInvalidSignatureError) return new ClaimsError('signature', 'the signature does not match the header and payload', options);
  if (error instanceof JwtInvalidSignatureAlgorithmError) return new ClaimsError('algorithm', `alg is ${quote(error.failedAssertion.actual)}, expected "ES256"`, options);
  if (error instanceof JwtExpiredError) {
    const exp = Number(payload.exp);
    const ago = Math.round(Date.now() / 1000 - exp);
    return new ClaimsError('expired', `the token expired at ${new Date(exp * 1000).toISOString()}, ${ago}s ago (grace ${expected.graceSeconds}s)`, options);
  }
  if (error instanceof JwtNotBeforeError) return new ClaimsError('expired', `the token is not valid before ${new Date(Number(payload.nbf) * 1000).toISOString()}`, options);
  if (error instanceof JwtInvalidIssuerError) return new ClaimsError('issuer', `iss is ${quote(payload.iss)}, expected "${expected.issuer}"`, options);
  if (error instanceof AlbJwtInvalidSignerError) return new ClaimsError('signer', `signer is ${quote(error.failedAssertion.actual)}`, options);
  if (error instanceof AlbJwtInvalidClientIdError) return new ClaimsError('client', `client is ${quote(error.failedAssertion.actual)}`, options);
  if (error instanceof JwtWithoutValidKidError) return new ClaimsError('malformed', 'the header has no kid that is a UUID', options);
  if (error instanceof JwtParseError) return new ClaimsError('malformed', error.message, options);
  return new ClaimsError('signature', `the signature could not be checked (${describeCause(error)})`, options);
}

interface ResolvedOptions {
  albArn: string;
  clientId: string;
  issuer: string;
  keyEndpoint: string;
  graceSeconds: number;
  keyFetchTimeoutMs: number;
}

function resolveOptions(options: AlbClaimsVerifierOptions): ResolvedOptions {
  const { albArn, clientId } = options;
  if (!albArn) throw optionsError('the ALB ARN (albArn) is not set');
  const arn = parseAlbArn(albArn);
  if (!arn) throw optionsError(`"${albArn}" is not a load balancer ARN (arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/...)`);
  if (!VERIFIABLE_PARTITIONS.has(arn.partition)) {
    throw optionsError(`the ALB is in partition ${arn.partition}, for which AWS documents no ALB key endpoint and aws-jwt-verify accepts no ARN (supported: aws, aws-us-gov, aws-cn with keyEndpoint)`);
  }
  if (!clientId) throw optionsError('the app client ID (clientId) is not set');
  // The ARN names the ALB's region; a region from elsewhere (AWS_REGION) may only agree with it.
  const region = arn.region;
  if (options.region && options.region !== region) throw optionsError(`region ${options.region} is not the ALB's region ${region} (from its ARN)`);
  let issuer = options.issuer;
  if (!issuer) {
    if (!options.userPoolId) throw optionsError('neither the user pool ID (userPoolId) nor the issuer is set');
    issuer = cognitoIssuer(regionOfUserPool(options.userPoolId) ?? region, options.userPoolId);
  }
  const keyEndpoint = (options.keyEndpoint || defaultKeyEndpoint(region, arn.partition)).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(keyEndpoint)) throw optionsError(`the key endpoint "${keyEndpoint}" is not an http(s) URL`);
  const graceSeconds = options.graceSeconds ?? DEFAULT_GRACE_SECONDS;
  if (!Number.isFinite(graceSeconds) || graceSeconds < 0) throw optionsError(`graceSeconds must be a number of 0 or more, not ${graceSeconds}`);
  const keyFetchTimeoutMs = options.keyFetchTimeoutMs ?? DEFAULT_KEY_FETCH_TIMEOUT_MS;
  if (!Number.isFinite(keyFetchTimeoutMs) || keyFetchTimeoutMs <= 0) throw optionsError(`keyFetchTimeoutMs must be a positive number, not ${keyFetchTimeoutMs}`);
  return { albArn, clientId, issuer, keyEndpoint, graceSeconds, keyFetchTimeoutMs };
}

/**
 * Creates a verifier; keep one for the life of the process, so that keys stay cached.
 * Throws an AuthecsError (exit 'usage') when the options are incomplete.
 */
export function createAlbClaimsVerifier(options: AlbClaimsVerifierOptions): AlbClaimsVerifier {
  const resolved = resolveOptions(options);
  const { albArn, clientId, issuer, keyEndpoint, graceSeconds } = resolved;
  const verifier = AlbJwtVerifier.create(
    { albArn, clientId, issuer, jwksUri: keyEndpoint, graceSeconds },
    { jwksCache: new KeyCache(keyFetcher(resolved.keyFetchTimeoutMs)) },
  );

  async function verifyToken(input: ClaimsInput): Promise<VerifiedAlbToken> {
    const token = extractAlbToken(input);
    const { header, payload } = decompose(token);
    // Cheap rejections first, so that no key is fetched for a token that cannot pass.
    if (header.alg !== 'ES256') throw new ClaimsError('algorithm', `alg is ${quote(header.alg)}, expected "ES256"`);
    if (typeof header.kid !== 'string' || !UUID.test(header.kid)) throw new ClaimsError('malformed', `kid is ${quote(header.kid)}, which is not a UUID as ALB key IDs are`);
    if (header.signer !== albArn) throw new ClaimsError('signer', `signer is ${quote(header.signer)}, expected "${albArn}"`);
    if (header.client !== clientId) throw new ClaimsError('client', `client is ${quote(header.client)}, expected "${clientId}"`);
    if (typeof payload.exp !== 'number') throw new ClaimsError('malformed', 'the payload has no exp claim');
    try {
      await verifier.verify(token);
    } catch (error) {
      throw toClaimsError(error, payload, { issuer, graceSeconds });
    }
    return { header: header as AlbTokenHeader, claims: payload as AlbClaims };
  }

  return {
    albArn,
    clientId,
    issuer,
    keyEndpoint,
    graceSeconds,
    verifyToken,
    async verify(input) {
      return (await verifyToken(input)).claims;
    },
  };
}

const sharedVerifiers = new Map<string, AlbClaimsVerifier>();
const SHARED_VERIFIERS_MAX = 16;

/**
 * One-shot verification. Verifiers (and so their key caches) are shared between calls with
 * the same options, so a second call with the same kid fetches nothing.
 */
export async function verifyAlbClaims(input: ClaimsInput, options: AlbClaimsVerifierOptions): Promise<AlbClaims> {
  const resolved = resolveOptions(options);
  const key = JSON.stringify(resolved);
  let verifier = sharedVerifiers.get(key);
  if (!verifier) {
    verifier = createAlbClaimsVerifier(resolved);
    if (sharedVerifiers.size >= SHARED_VERIFIERS_MAX) sharedVerifiers.delete(sharedVerifiers.keys().next().value!);
    sharedVerifiers.set(key, verifier);
  }
  return verifier.verify(input);
}
