/**
 * A tiny app for behind the ALB: greets the signed-in user by email, and answers 401 to a
 * request whose x-amzn-oidc-data header is missing or fails verification (forged, expired,
 * from another ALB or app client). In your own app, import from 'authecs' instead.
 */
import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { ClaimsError, createAlbClaimsVerifier, type AlbClaimsVerifierOptions } from '../../src/index.js';

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

/** Creates (but does not start) the server. One verifier for its whole life, so keys stay cached. */
export function createClaimsApp(options: AlbClaimsVerifierOptions, log: (line: string) => void = () => {}): Server {
  const verifier = createAlbClaimsVerifier(options);
  return createServer((request, response) => {
    const reply = (status: number, text: string) => {
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${text}\n`);
    };
    // The target group's health check reaches the task directly, without the ALB's headers.
    if (request.url === '/healthz') {
      reply(200, 'ok');
      return;
    }
    verifier.verify(request.headers).then(
      (claims) => {
        const name = typeof claims.email === 'string' ? claims.email : claims.sub;
        reply(200, `Hello, ${name}!`);
      },
      (error: unknown) => {
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
  const server = createClaimsApp(optionsFromEnv(), (line) => process.stderr.write(`${line}\n`));
  server.listen(port, () => process.stderr.write(`claims-app listening on :${port}\n`));
}
