/** OAuth helpers that the app client and the host rule must agree on. */

/**
 * The scopes of a space-separated list, de-duplicated and sorted: neither Cognito nor the ALB
 * keeps their order, so one wish must always compare equal. The ALB's default scope is openid.
 */
export function oauthScopes(scope: string | undefined): string[] {
  const scopes = [...new Set((scope ?? '').split(/\s+/).filter(Boolean))].sort();
  return scopes.length > 0 ? scopes : ['openid'];
}

/** The scope string the ALB's authenticate-cognito action sends, in its normalised form. */
export function normaliseScope(scope: string | undefined): string {
  return oauthScopes(scope).join(' ');
}
