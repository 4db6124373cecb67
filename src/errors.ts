/**
 * Every failure a user can meet is an AuthecsError: a stable code, a message that names
 * what is wrong, a hint that says how to fix it, and the exit code the CLI ends with.
 * The README's exit-code table is generated from EXIT_CODES, so keep the two in step.
 */
export const EXIT_CODES = {
  success: 0,
  internal: 1,
  usage: 2,
  credentials: 3,
  accessDenied: 4,
  conflict: 5,
  notFound: 6,
  timeout: 7,
  state: 8,
  unhealthy: 9,
  endpoint: 10,
  aws: 11,
  claims: 12,
  notReady: 13,
  rolloutFailed: 14,
  smokeFailed: 15,
  changes: 20,
  interrupted: 130,
} as const;

export type ExitCodeName = keyof typeof EXIT_CODES;

export const EXIT_CODE_MEANINGS: Record<ExitCodeName, string> = {
  success: 'Success. For `status`: every resource is present and healthy.',
  internal: 'Unexpected internal error (a bug: please report it with `--verbose` output).',
  usage: 'Bad command line or configuration: an unknown flag, an invalid setting, `down` without `--yes` when not at a terminal.',
  credentials: 'No AWS credentials were found, or they were rejected as invalid.',
  accessDenied: 'AWS denied a call (missing IAM permission).',
  conflict: 'A name or setting is already taken by something authecs did not create (ALB or target group name, Cognito domain prefix, rule priority, cluster).',
  notFound: 'A prerequisite is missing: the hosted zone for the domain, the network stack, the instance profile; for `logs`, the state file or the log group (run `up` first); for `recover`, nothing of the stack was found.',
  timeout: 'A wait ran out of time (certificate validation, load balancer, instances, service stability). A rollout that runs out of time exits 14.',
  state: 'The state file is locked by another run, corrupt, or written by a newer authecs; for `status` and `down`, missing while the stack still has resources (run `recover`); for `recover`, already there (`--force`).',
  unhealthy: '`status` only: something is missing, unhealthy or has drifted.',
  endpoint: 'The AWS endpoint could not be reached (wrong `--endpoint-url`, no network).',
  aws: 'AWS rejected a call for another reason; the message names the step and the resource.',
  claims: '`claims verify` only: the token failed a check (signature, signer, client, issuer, expired, unknown kid, key type).',
  notReady: '`doctor` only: a readiness check failed (credentials, a permission, the hosted zone\'s delegation, the instance profile, the service-linked role, a quota); the report says which.',
  rolloutFailed: 'The ECS rollout failed, was rolled back by the deployment circuit breaker, or ran out of time; the error says why (stopped tasks, target health, the app\'s last log lines, service events) and `--json` carries the same facts.',
  smokeFailed: '`smoke` only: a check of the live site failed (DNS, TLS certificate, HTTP to HTTPS redirect, the sign-in gate, a public path, the sign-in); the report says which and what it saw.',
  changes: '`plan` only: the plan has changes (not an error). `plan` exits 0 when nothing would change.',
  interrupted: 'Interrupted by Ctrl-C or SIGTERM (after the calls in flight answered and were recorded); the state file is consistent, so run the command again to carry on.',
};

export interface AuthecsErrorOptions {
  code: string;
  exit: ExitCodeName;
  hint?: string;
  step?: string;
  resource?: string;
  cause?: unknown;
  /** Structured facts behind the error (JSON-safe); `--json` prints them as the error event's `details`. */
  details?: Readonly<Record<string, unknown>>;
}

export class AuthecsError extends Error {
  readonly code: string;
  readonly exit: ExitCodeName;
  readonly hint: string | undefined;
  step: string | undefined;
  resource: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(message: string, options: AuthecsErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuthecsError';
    this.code = options.code;
    this.exit = options.exit;
    this.hint = options.hint;
    this.step = options.step;
    this.resource = options.resource;
    this.details = options.details;
  }

  /** The details as indented lines for people, printed between the message and the hint. */
  detailLines(): string[] {
    return [];
  }

  get exitCode(): number {
    return EXIT_CODES[this.exit];
  }
}

export function usageError(message: string, hint?: string): AuthecsError {
  return new AuthecsError(message, { code: 'USAGE', exit: 'usage', hint });
}

export function configError(setting: string, problem: string, hint: string): AuthecsError {
  return new AuthecsError(`Invalid setting ${setting}: ${problem}`, { code: 'CONFIG_INVALID', exit: 'usage', hint });
}

export function stateError(code: string, message: string, hint: string): AuthecsError {
  return new AuthecsError(message, { code, exit: 'state', hint });
}

/** A graceful stop (the first Ctrl-C or SIGTERM): raised at the next AWS call or wait, after the calls in flight were recorded. */
export function interruptedError(): AuthecsError {
  return new AuthecsError('Interrupted: the calls in flight finished and are recorded, and the state file is consistent', {
    code: 'INTERRUPTED',
    exit: 'interrupted',
    hint: 'Run the same command again to carry on where it stopped.',
  });
}

export function isAuthecsError(error: unknown): error is AuthecsError {
  return error instanceof AuthecsError;
}
