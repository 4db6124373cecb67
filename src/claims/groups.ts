/**
 * Group checks for an app behind the ALB. The ALB's rule cannot filter by Cognito group, so
 * `--allowed-groups` reaches the app as AUTHECS_ALLOWED_GROUPS and the app checks membership.
 *
 * Where the groups are: `x-amzn-oidc-data` carries the claims of the user info endpoint (ALB
 * guide, "User claims encoding and signature verification"), which returns user attributes only
 * (Cognito guide, "The user attributes endpoint"), and groups are not attributes. The ALB also
 * passes the access token from the token endpoint in `x-amzn-oidc-accesstoken`, and a Cognito
 * access token carries the user's groups in `cognito:groups` (Cognito guide, "Understanding the
 * access token"). That token is signed by the user pool, so it is verified with the pool's keys
 * (aws-jwt-verify's CognitoJwtVerifier, token use `access`, its `groups` check).
 */
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import {
  CognitoJwtInvalidClientIdError,
  CognitoJwtInvalidGroupError,
  CognitoJwtInvalidTokenUseError,
  FetchError,
  JwksValidationError,
  JwkValidationError,
  JwtExpiredError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  JwtParseError,
  JwtWithoutValidKidError,
  KidNotFoundInJwksError,
} from 'aws-jwt-verify/error';
import type { Jwks } from 'aws-jwt-verify/jwk';
import { AuthecsError } from '../errors.js';
import { headerValueOf, type HeaderLookup, type HeaderValue } from './verify.js';

/** The header the ALB puts the user's Cognito access token in. */
export const ALB_ACCESS_TOKEN_HEADER = 'x-amzn-oidc-accesstoken';

/** The container variable `authecs up --allowed-groups` sets (comma-separated). */
export const ALLOWED_GROUPS_ENV = 'AUTHECS_ALLOWED_GROUPS';

export const GROUP_CHECKS = ['not-member', 'malformed', 'signature', 'unknown-kid', 'client', 'token-use', 'issuer', 'expired', 'key-fetch'] as const;

/** The check an access token failed. */
export type GroupCheck = (typeof GROUP_CHECKS)[number];

const HINTS: Record<GroupCheck, string> = {
  'not-member': 'The user is signed in but in none of the allowed groups: answer 403, or add the user to a group (Cognito AdminAddUserToGroup).',
  malformed: `Pass the ${ALB_ACCESS_TOKEN_HEADER} header exactly as the ALB sent it (a JWT).`,
  signature: 'The token was not signed by the user pool, or was changed after signing: treat the request as forged.',
  'unknown-kid': "The user pool's keys have no key for this kid: the token comes from another user pool.",
  client: 'The token was issued to another app client. Expect the client of the ALB rule (state file: resources.app-client.data.clientId).',
  'token-use': `Expected an access token (token_use "access"), as the ALB passes in ${ALB_ACCESS_TOKEN_HEADER}.`,
  issuer: 'The token names another issuer. Expect https://cognito-idp.<region>.amazonaws.com/<user pool ID>.',
  expired: 'Access tokens live an hour by default; the ALB refreshes them with the session. Use a fresh one.',
  'key-fetch': "The user pool's public keys (.well-known/jwks.json) could not be fetched: check that the app can reach cognito-idp.<region>.amazonaws.com.",
};

/** An access token that failed a check, or a user in none of the allowed groups (check 'not-member'). */
export class GroupsError extends AuthecsError {
  readonly check: GroupCheck;
  /** The user's groups, once the token itself was verified (check 'not-member'). */
  readonly groups: readonly string[];

  constructor(check: GroupCheck, detail: string, options: { cause?: unknown; groups?: readonly string[] } = {}) {
    super(check === 'not-member' ? detail : `${ALB_ACCESS_TOKEN_HEADER} failed the ${check} check: ${detail}`, {
      code: `GROUPS_${check.toUpperCase().replace(/-/g, '_')}`,
      exit: 'claims',
      hint: HINTS[check],
      cause: options.cause,
    });
    this.name = 'GroupsError';
    this.check = check;
    this.groups = options.groups ?? [];
  }
}

export function isGroupsError(error: unknown): error is GroupsError {
  return error instanceof GroupsError;
}

/** Request headers (Node's `req.headers` or a Fetch `Headers`), or the raw header value. */
export type AccessTokenInput = string | HeaderLookup | Readonly<Record<string, HeaderValue>>;

export interface GroupsVerifierOptions {
  /** The stack's user pool (state file: resources.user-pool.data.userPoolId). */
  userPoolId: string;
  /** The ALB rule's app client (state file: resources.app-client.data.clientId). */
  clientId: string;
  /**
   * Groups of which the user must be in at least one: names, or one comma-separated string.
   * Default: the AUTHECS_ALLOWED_GROUPS variable `up --allowed-groups` gives the container. None
   * (the stack sets no groups) lets every signed-in user of the pool in, as the ALB does.
   */
  allowedGroups?: string | readonly string[];
  /** Seconds past `exp` still accepted, for clock skew (default 30). */
  graceSeconds?: number;
  /** The pool's public keys, when the app cannot fetch them (tests, no route to Cognito). */
  jwks?: Jwks;
}

export interface VerifiedGroups {
  /** The user's groups (`cognito:groups`), possibly none. */
  groups: string[];
  /** Every claim of the verified access token (sub, username, client_id, scope...). */
  claims: Record<string, unknown>;
}

export interface GroupsVerifier {
  readonly allowedGroups: readonly string[];
  /** Resolves to the user's groups, or rejects with a GroupsError (check 'not-member' when in none of the allowed ones). */
  verify(input: AccessTokenInput): Promise<VerifiedGroups>;
}

/** AUTHECS_ALLOWED_GROUPS as a list: comma-separated, blanks dropped. */
export function allowedGroupsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return parseGroups(env[ALLOWED_GROUPS_ENV]);
}

function parseGroups(value: string | readonly string[] | undefined): string[] {
  const parts = typeof value === 'string' ? value.split(',') : [...(value ?? [])];
  return [...new Set(parts.map((part) => part.trim()).filter(Boolean))];
}

/** The raw access token from headers (or the string itself). Throws GroupsError 'malformed' when absent. */
export function extractAccessToken(input: AccessTokenInput): string {
  const token = headerValueOf(input, ALB_ACCESS_TOKEN_HEADER, (message) => new GroupsError('malformed', message));
  if (!token) throw new GroupsError('malformed', `there is no ${ALB_ACCESS_TOKEN_HEADER} header (is the request coming through the ALB's authenticate rule?)`);
  return token;
}

function describeCause(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function toGroupsError(error: unknown, allowed: readonly string[]): GroupsError {
  if (error instanceof GroupsError) return error;
  const options = { cause: error };
  const reason = describeCause(error);
  if (error instanceof CognitoJwtInvalidGroupError) {
    const raw = (error as { rawJwt?: { payload?: Record<string, unknown> } }).rawJwt?.payload?.['cognito:groups'];
    const groups = Array.isArray(raw) ? raw.map(String) : [];
    const member = groups.length ? `the user is in ${groups.join(', ')}` : 'the user is in no group';
    return new GroupsError('not-member', `Not in an allowed group: ${member}; allowed: ${allowed.join(', ')}`, { ...options, groups });
  }
  if (error instanceof CognitoJwtInvalidClientIdError) return new GroupsError('client', reason, options);
  if (error instanceof CognitoJwtInvalidTokenUseError) return new GroupsError('token-use', reason, options);
  if (error instanceof JwtInvalidIssuerError) return new GroupsError('issuer', reason, options);
  if (error instanceof JwtExpiredError || error instanceof JwtNotBeforeError) return new GroupsError('expired', reason, options);
  if (error instanceof KidNotFoundInJwksError) return new GroupsError('unknown-kid', reason, options);
  if (error instanceof JwtInvalidSignatureError || error instanceof JwtInvalidSignatureAlgorithmError) return new GroupsError('signature', reason, options);
  if (error instanceof JwtParseError || error instanceof JwtWithoutValidKidError) return new GroupsError('malformed', reason, options);
  if (error instanceof FetchError || error instanceof JwksValidationError || error instanceof JwkValidationError) return new GroupsError('key-fetch', reason, options);
  return new GroupsError('signature', `the token could not be checked (${reason})`, options);
}

function optionsError(problem: string): AuthecsError {
  return new AuthecsError(`Cannot check groups: ${problem}`, {
    code: 'GROUPS_OPTIONS_INVALID',
    exit: 'usage',
    hint: 'Pass userPoolId and clientId (state file: resources.user-pool.data.userPoolId and resources.app-client.data.clientId).',
  });
}

/** Creates a verifier; keep one for the life of the process, so that the pool's keys stay cached. */
export function createGroupsVerifier(options: GroupsVerifierOptions): GroupsVerifier {
  const { userPoolId, clientId } = options;
  if (!userPoolId || !/^[a-z]{2}(?:-[a-z]+)+-\d+_[0-9A-Za-z]+$/.test(userPoolId)) throw optionsError(`"${userPoolId ?? ''}" is not a user pool ID such as eu-west-1_AbCdEf123`);
  if (!clientId) throw optionsError('the app client ID (clientId) is not set');
  const allowedGroups = options.allowedGroups === undefined ? allowedGroupsFromEnv() : parseGroups(options.allowedGroups);
  const verifier = CognitoJwtVerifier.create({
    userPoolId,
    clientId,
    tokenUse: 'access',
    // No allowed groups: any user of the pool, as the ALB already lets in.
    groups: allowedGroups.length > 0 ? allowedGroups : null,
    graceSeconds: options.graceSeconds ?? 30,
    // So that a refusal can say which groups the user is in (only after the signature verified).
    includeRawJwtInErrors: true,
  });
  if (options.jwks) verifier.cacheJwks(options.jwks);
  return {
    allowedGroups,
    async verify(input) {
      const token = extractAccessToken(input);
      let payload: Record<string, unknown>;
      try {
        payload = { ...(await verifier.verify(token)) } as Record<string, unknown>;
      } catch (error) {
        throw toGroupsError(error, allowedGroups);
      }
      const groups = Array.isArray(payload['cognito:groups']) ? (payload['cognito:groups'] as unknown[]).map(String) : [];
      return { groups, claims: payload };
    },
  };
}

const sharedVerifiers = new Map<string, GroupsVerifier>();
const SHARED_VERIFIERS_MAX = 16;

/**
 * One-shot check that the request's user is in an allowed group (by default those of
 * AUTHECS_ALLOWED_GROUPS). Verifiers, and so their key caches, are shared between calls with the
 * same options. Resolves to the user's groups; rejects with a GroupsError.
 */
export async function verifyGroups(input: AccessTokenInput, options: GroupsVerifierOptions): Promise<VerifiedGroups> {
  const allowedGroups = options.allowedGroups === undefined ? allowedGroupsFromEnv() : parseGroups(options.allowedGroups);
  const key = JSON.stringify({ userPoolId: options.userPoolId, clientId: options.clientId, allowedGroups, graceSeconds: options.graceSeconds ?? 30, jwks: options.jwks ?? null });
  let verifier = sharedVerifiers.get(key);
  if (!verifier) {
    verifier = createGroupsVerifier({ ...options, allowedGroups });
    if (sharedVerifiers.size >= SHARED_VERIFIERS_MAX) sharedVerifiers.delete(sharedVerifiers.keys().next().value!);
    sharedVerifiers.set(key, verifier);
  }
  return verifier.verify(input);
}
