import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  ALB_DATA_HEADER,
  ClaimsError,
  cognitoIssuer,
  createAlbClaimsVerifier,
  decodeAlbToken,
  DEFAULT_GRACE_SECONDS,
  regionOfAlbArn,
  regionOfUserPool,
} from '../../claims/verify.js';
import { loadBaseConfig } from '../../config/load.js';
import { AuthecsError, configError, usageError } from '../../errors.js';
import { StateFile } from '../../state/state-file.js';
import type { AppClientOutput, LoadBalancerOutput, UserPoolOutput } from '../../steps/outputs.js';
import type { CommandDefinition, CommandRun } from '../registry.js';
import { describeStatePath, flagsFrom, stateOpenOptions, type Io } from '../io.js';

interface TokenOptions {
  token?: string;
  headerFile?: string;
}

interface VerifyOptions extends TokenOptions {
  albArn?: string;
  clientId?: string;
  userPoolId?: string;
  issuer?: string;
  keyEndpoint?: string;
  graceSeconds?: string;
}

const MAX_GRACE_SECONDS = 3600;

function addTokenOptions(command: Command): void {
  command.option('--token <jwt>', `the ${ALB_DATA_HEADER} value (the JWT itself)`);
  command.option('--header-file <path>', `a file of raw HTTP header lines ("name: value") holding ${ALB_DATA_HEADER}; - reads stdin`);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The x-amzn-oidc-data values among raw header lines. A request or status line is skipped, and
 * reading stops at the first empty line: what follows is the body, which the sender controls.
 */
export function headerValuesFrom(text: string): string[] {
  const values: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (line.slice(0, colon).trim().toLowerCase() === ALB_DATA_HEADER) values.push(line.slice(colon + 1).trim());
  }
  return values;
}

/** The token from --token or --header-file (a file or stdin). */
async function tokenFrom(command: Command, io: Io): Promise<string> {
  const { token, headerFile } = command.opts() as TokenOptions;
  if (token !== undefined && headerFile !== undefined) throw usageError('Pass either --token or --header-file, not both');
  if (token !== undefined) return token;
  if (headerFile === undefined) {
    throw usageError(`No token given`, `Pass --token <jwt>, or --header-file <path> with the request's header lines (--header-file - reads them from stdin).`);
  }
  let text: string;
  const source = headerFile === '-' ? 'stdin' : headerFile;
  if (headerFile === '-') {
    text = await readAll(io.stdin);
  } else {
    try {
      text = readFileSync(resolve(io.cwd, headerFile), 'utf8');
    } catch (error) {
      throw usageError(`Cannot read the header file ${headerFile}: ${(error as Error).message}`, 'Check the --header-file path.');
    }
  }
  const values = headerValuesFrom(text);
  if (values.length === 0) throw new ClaimsError('malformed', `there is no ${ALB_DATA_HEADER} header line in ${source} (reading stops at the first empty line, where the body begins)`);
  if (new Set(values).size > 1) throw new ClaimsError('malformed', `${source} has ${values.length} different ${ALB_DATA_HEADER} header lines`);
  return values[0]!;
}

function graceFrom(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_GRACE_SECONDS;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(value) || value > MAX_GRACE_SECONDS) {
    throw configError('--grace-seconds', `"${raw}" is not a whole number of seconds from 0 to ${MAX_GRACE_SECONDS}`, `Pass e.g. --grace-seconds ${DEFAULT_GRACE_SECONDS}.`);
  }
  return value;
}

function formatValue(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if ((name === 'exp' || name === 'iat' || name === 'nbf' || name === 'auth_time') && typeof value === 'number') {
    return `${value} (${new Date(value * 1000).toISOString()})`;
  }
  return JSON.stringify(value);
}

function lines(record: Record<string, unknown>, indent = ''): string[] {
  return Object.entries(record).map(([name, value]) => `${indent}${name}: ${formatValue(name, value)}`);
}

interface Expected {
  albArn: string;
  clientId: string;
  issuer: string;
  region: string;
  keyEndpoint: string | undefined;
  graceSeconds: number;
  stateFile: string | undefined;
}

/**
 * Expected values: flags first, then the state file `up` wrote. The region is the ALB ARN's:
 * the environment (AWS_REGION) never decides it, and a --region that disagrees is an error.
 */
function expectedValues(command: Command, io: Io, options: VerifyOptions): Expected {
  const graceSeconds = graceFrom(options.graceSeconds);
  const base = loadBaseConfig({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
  const regionFlag = flagsFrom(command).region === undefined ? undefined : base.region;
  const statePath = describeStatePath(command, io);
  const state = StateFile.open(statePath, stateOpenOptions(base));
  const fromState = state.exists;
  const albArn = options.albArn ?? state.get<LoadBalancerOutput>('load-balancer')?.data.loadBalancerArn;
  const clientId = options.clientId ?? state.get<AppClientOutput>('app-client')?.data.clientId;
  const userPoolId = options.userPoolId ?? state.get<UserPoolOutput>('user-pool')?.data.userPoolId ?? state.get<AppClientOutput>('app-client')?.data.userPoolId;
  const where = fromState ? `the state file ${statePath}` : `a state file (none at ${statePath})`;
  const missing = (what: string, flag: string) =>
    new AuthecsError(`Cannot verify: the expected ${what} is not known (pass ${flag}, or run \`authecs up\` so that ${where} records it)`, {
      code: 'CLAIMS_EXPECTED_MISSING',
      exit: 'usage',
      hint: 'Pass --state or --cluster to point at the stack, or give --alb-arn, --client-id and --user-pool-id (or --issuer).',
    });
  if (!albArn) throw missing('ALB ARN', '--alb-arn');
  if (!regionOfAlbArn(albArn)) throw configError('--alb-arn', `"${albArn}" is not a load balancer ARN`, 'Pass the ARN of the ALB, arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>.');
  if (!clientId) throw missing('app client ID', '--client-id');
  const region = regionOfAlbArn(albArn)!;
  if (regionFlag !== undefined && regionFlag !== region) {
    throw configError('--region', `${regionFlag} is not the region of the ALB ${albArn}`, 'Leave --region out: the ALB ARN names the region.');
  }
  let issuer = options.issuer;
  if (!issuer) {
    if (!userPoolId) throw missing('user pool ID', '--user-pool-id or --issuer');
    issuer = cognitoIssuer(regionOfUserPool(userPoolId) ?? region, userPoolId);
  }
  if (options.keyEndpoint !== undefined && !/^https?:\/\/[^/]/.test(options.keyEndpoint)) {
    throw configError('--key-endpoint', `"${options.keyEndpoint}" is not an http(s) URL`, 'Pass e.g. --key-endpoint https://public-keys.auth.elb.eu-west-1.amazonaws.com');
  }
  return { albArn, clientId, issuer, region, keyEndpoint: options.keyEndpoint, graceSeconds, stateFile: fromState ? state.path : undefined };
}

const verifyCommand: CommandDefinition = {
  name: 'verify',
  summary: `verify an ${ALB_DATA_HEADER} token (signature, signer, client, issuer, expiry) against the stack and print its claims; exit 12 if a check fails`,
  configure(command: Command) {
    addTokenOptions(command);
    command.option('--alb-arn <arn>', 'expected signer (default: the load balancer in the state file)');
    command.option('--client-id <id>', 'expected app client (default: the app client in the state file)');
    command.option('--user-pool-id <id>', 'user pool whose issuer to expect (default: the user pool in the state file)');
    command.option('--issuer <url>', 'expected iss, instead of https://cognito-idp.<region>.amazonaws.com/<user pool ID>');
    command.option('--key-endpoint <url>', 'where the ALB public keys are, fetched as <url>/<kid> (default: the endpoint AWS documents for the ALB ARN\'s region: https://public-keys.auth.elb.<region>.amazonaws.com, or the S3 one in GovCloud; required in China)');
    command.option('--grace-seconds <n>', `seconds past exp still accepted, for clock skew (default: ${DEFAULT_GRACE_SECONDS})`);
  },
  async run({ command, reporter, io }: CommandRun) {
    return withFailureDocument('claims verify', reporter, async () => {
      const options = command.opts() as VerifyOptions;
      const expected = expectedValues(command, io, options);
      const token = await tokenFrom(command, io);
      const verifier = createAlbClaimsVerifier({
        albArn: expected.albArn,
        clientId: expected.clientId,
        issuer: expected.issuer,
        region: expected.region,
        graceSeconds: expected.graceSeconds,
        ...(expected.keyEndpoint ? { keyEndpoint: expected.keyEndpoint } : {}),
      });
      const { header, claims } = await verifier.verifyToken(token);
      reporter.result(
        { command: 'claims verify', ok: true, header, claims },
        [
          `Verified: signature (ES256, key ${header.kid}), signer, client, issuer and expiry all check out.`,
          ...lines(claims),
        ],
      );
      return 0;
    });
  },
};

/**
 * Runs a claims command so that any failure the user can meet (a failed check, a rejected
 * --header-file, a missing expected value) still ends with one result document on stdout.
 */
async function withFailureDocument(name: string, reporter: CommandRun['reporter'], body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (!(error instanceof AuthecsError)) throw error;
    reporter.error(error);
    reporter.result(
      { command: name, ok: false, ...(error instanceof ClaimsError ? { check: error.check } : {}), code: error.code, message: error.message, exitCode: error.exitCode },
      [],
    );
    return error.exitCode;
  }
}

const decodeCommand: CommandDefinition = {
  name: 'decode',
  summary: `print the header and payload of an ${ALB_DATA_HEADER} token WITHOUT verifying it`,
  configure(command: Command) {
    addTokenOptions(command);
  },
  async run({ command, reporter, io }: CommandRun) {
    return withFailureDocument('claims decode', reporter, async () => {
      let decoded;
      try {
        decoded = decodeAlbToken(await tokenFrom(command, io));
      } catch (error) {
        // Nothing was verified, so a token that does not decode is bad input, not a failed check.
        if (error instanceof ClaimsError) throw usageError(error.message, error.hint);
        throw error;
      }
      reporter.result(
        { command: 'claims decode', verified: false, header: decoded.header, payload: decoded.payload },
        [
          'UNVERIFIED: decoded only; the signature, signer, client, issuer and expiry were NOT checked. Do not trust these values (use `authecs claims verify`).',
          'header:',
          ...lines(decoded.header, '  '),
          'payload:',
          ...lines(decoded.payload, '  '),
        ],
      );
      return 0;
    });
  },
};

export const claimsCommand: CommandDefinition = {
  name: 'claims',
  summary: `check the ${ALB_DATA_HEADER} user claims the ALB passes to the app`,
  configure(_command: Command) {},
  // Never called: main.ts runs the sub-command. Reaching it would be a usage error.
  async run() {
    return 2;
  },
  subcommands: [verifyCommand, decodeCommand],
};
