/**
 * authecs as a library: verify the user claims the ALB passes to an app behind it, check the
 * user's Cognito groups, and sign the user out.
 * (The CLI lives in src/cli; nothing here pulls it in.)
 */
export {
  ALB_DATA_HEADER,
  CLAIMS_CHECKS,
  ClaimsError,
  DEFAULT_GRACE_SECONDS,
  DEFAULT_KEY_FETCH_TIMEOUT_MS,
  MAX_KEY_BYTES,
  cognitoIssuer,
  createAlbClaimsVerifier,
  decodeAlbToken,
  defaultKeyEndpoint,
  extractAlbToken,
  isClaimsError,
  parseAlbArn,
  partitionOfRegion,
  regionOfAlbArn,
  regionOfUserPool,
  verifyAlbClaims,
} from './claims/verify.js';
export type {
  AlbArnParts,
  AlbClaims,
  AlbClaimsVerifier,
  AlbClaimsVerifierOptions,
  AlbTokenHeader,
  ClaimsCheck,
  ClaimsInput,
  DecodedAlbToken,
  HeaderLookup,
  HeaderValue,
  VerifiedAlbToken,
} from './claims/verify.js';
export {
  ALB_ACCESS_TOKEN_HEADER,
  ALLOWED_GROUPS_ENV,
  GROUP_CHECKS,
  GroupsError,
  allowedGroupsFromEnv,
  createGroupsVerifier,
  extractAccessToken,
  isGroupsError,
  verifyGroups,
} from './claims/groups.js';
export type { AccessTokenInput, GroupCheck, GroupsVerifier, GroupsVerifierOptions, VerifiedGroups } from './claims/groups.js';
export { DEFAULT_SESSION_COOKIE, cognitoLogoutUrl, sessionCookieNames, signOutResponse } from './claims/sign-out.js';
export type { CookieInput, SignOutOptions, SignOutResponse } from './claims/sign-out.js';
