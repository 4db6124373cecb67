/**
 * A tiny app for behind the ALB: greets the signed-in user by email, and answers 401 to a
 * request whose x-amzn-oidc-data header is missing or fails verification (forged, expired,
 * from another ALB or app client); 403 to a user in none of the stack's --allowed-groups.
 * /sign-out ends the ALB and Cognito sessions; /signed-out is where Cognito sends the user then.
 * In your own app, import from 'authecs' instead.
 */
import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import {
  ClaimsError,
  createAlbClaimsVerifier,
  createGroupsVerifier,
  GroupsError,
  signOutResponse,
  type AlbClaimsVerifierOptions,
  type GroupsVerifierOptions,
  type SignOutOptions,
} from '../../src/index.js';

/** Verifier options from the environment (see README.md). Throws when a required one is missing. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): AlbClaimsVerifierOptions {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new Error(`Set ${name} (see examples/claims-app/README.md)`);
    return value;
  };
  const optional = (name: string): string | undefined => env[name]?.trim() || undefined;
  const grace = optional('CLAIMS_GRACE_SECONDS');
  // No region: the ALB ARN names it. AWS_REGION is the task's, and must not decide it.
  const keyEndpoint = optional('ALB_KEY_ENDPOINT');
  return {
    albArn: required('ALB_ARN'),
    clientId: required('COGNITO_CLIENT_ID'),
    userPoolId: required('COGNITO_USER_POOL_ID'),
    ...(keyEndpoint ? { keyEndpoint } : {}),
    ...(grace ? { graceSeconds: Number(grace) } : {}),
  };
}

/**
 * Sign-out settings from the environment: COGNITO_DOMAIN (the hosted-UI URL `authecs up` prints),
 * COGNITO_CLIENT_ID, SIGN_OUT_URL (the stack's --sign-out-url) and SESSION_COOKIE (its
 * --session-cookie, if not the default). Undefined, and /sign-out answers 501, without the first.
 */
export function signOutFromEnv(env: NodeJS.ProcessEnv = process.env): SignOutOptions | undefined {
  const cognitoDomain = env.COGNITO_DOMAIN?.trim();
  if (!cognitoDomain) return undefined;
  const sessionCookieName = env.SESSION_COOKIE?.trim();
  return {
    cognitoDomain,
    ...(env.COGNITO_CLIENT_ID?.trim() ? { clientId: env.COGNITO_CLIENT_ID.trim() } : {}),
    ...(env.SIGN_OUT_URL?.trim() ? { signOutUrl: env.SIGN_OUT_URL.trim() } : {}),
    ...(sessionCookieName ? { sessionCookieName } : {}),
  };
}

export interface ClaimsAppOptions {
  /** Sign-out: /sign-out answers 501 without it. */
  signOut?: SignOutOptions;
  /** Groups check (AUTHECS_ALLOWED_GROUPS by default); only a user in an allowed group is greeted. */
  groups?: GroupsVerifierOptions;
}

/** Creates (but does not start) the server. One verifier for its whole life, so keys stay cached. */
export function createClaimsApp(options: AlbClaimsVerifierOptions, log: (line: string) => void = () => {}, extra: ClaimsAppOptions = {}): Server {
  const verifier = createAlbClaimsVerifier(options);
  const groups = extra.groups ? createGroupsVerifier(extra.groups) : undefined;
  const checkGroups = groups && groups.allowedGroups.length > 0 ? groups : undefined;
  return createServer((request, response) => {
    const reply = (status: number, text: string) => {
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${text}\n`);
    };
    const path = (request.url ?? '/').split('?')[0];
    // The target group's health check reaches the task directly, without the ALB's headers.
    if (path === '/healthz') {
      reply(200, 'ok');
      return;
    }
    // Where Cognito sends the user after /logout. The ALB asks for a sign-in first unless the
    // stack serves it without one: `authecs up --public-path /signed-out`.
    if (path === '/signed-out') {
      reply(200, 'You are signed out.');
      return;
    }
    if (path === '/sign-out') {
      if (!extra.signOut) {
        reply(501, 'Not Implemented: set COGNITO_DOMAIN, COGNITO_CLIENT_ID and SIGN_OUT_URL to sign users out');
        return;
      }
      const signedOut = signOutResponse(request.headers, extra.signOut);
      response.writeHead(signedOut.status, signedOut.headers).end();
      return;
    }
    const verified = verifier.verify(request.headers).then(async (claims) => {
      // The ALB cannot filter by group: the access token's cognito:groups decides.
      if (checkGroups) await checkGroups.verify(request.headers);
      return claims;
    });
    verified.then(
      (claims) => {
        const name = typeof claims.email === 'string' ? claims.email : claims.sub;
        reply(200, `Hello, ${name}!`);
      },
      (error: unknown) => {
        if (error instanceof GroupsError) {
          log(error.message);
          if (error.check === 'not-member') reply(403, 'Forbidden: you are not in a group allowed here');
          else if (error.check === 'key-fetch') reply(503, 'Service Unavailable: cannot check sign-in right now');
          else reply(401, `Unauthorized: sign-in could not be verified (access token: ${error.check})`);
          return;
        }
        if (!(error instanceof ClaimsError)) {
          log(`unexpected error: ${String(error)}`);
          reply(500, 'Internal Server Error');
          return;
        }
        log(error.message);
        // Our own trouble fetching the ALB key is not the visitor's fault.
        if (error.check === 'key-fetch') reply(503, 'Service Unavailable: cannot check sign-in right now');
        else reply(401, `Unauthorized: sign-in could not be verified (${error.check})`);
      },
    );
  });
}

// Run directly (e.g. `npx tsx examples/claims-app/server.ts`): listen on PORT (default 8080).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 8080);
  const claims = optionsFromEnv();
  const signOut = signOutFromEnv();
  const groups: GroupsVerifierOptions = { userPoolId: claims.userPoolId!, clientId: claims.clientId };
  const server = createClaimsApp(claims, (line) => process.stderr.write(`${line}\n`), { ...(signOut ? { signOut } : {}), groups });
  server.listen(port, () => process.stderr.write(`claims-app listening on :${port}\n`));
}
