import { AuthecsError } from '../errors.js';

/** The AWS error code of an SDK exception (its name), or a Node network code. */
export function awsErrorCode(error: unknown): string {
  if (error === null || typeof error !== 'object') return String(error);
  const candidate = error as { name?: string; code?: string; Code?: string; cause?: unknown; errors?: unknown[] };
  if (candidate.code && /^E[A-Z]+$/.test(candidate.code)) return candidate.code;
  // AggregateError from a refused dual-stack connect carries the real code inside.
  if (Array.isArray(candidate.errors) && candidate.errors.length > 0) return awsErrorCode(candidate.errors[0]);
  if (candidate.name && candidate.name !== 'Error') return candidate.name;
  return candidate.Code ?? candidate.code ?? 'Error';
}

export function hasErrorCode(error: unknown, ...codes: string[]): boolean {
  return codes.includes(awsErrorCode(error));
}

const CREDENTIAL_CODES = new Set([
  'CredentialsProviderError',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'AuthFailure',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
]);
const ACCESS_DENIED_CODES = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError', 'OptInRequired']);
const ENDPOINT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError']);

const LOST_ANSWER_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

/**
 * Whether AWS may have applied a call whose answer never arrived: the connection broke, the
 * request timed out, or the server failed (5xx). Such a create must not be sent again blindly.
 */
export function outcomeUnknown(error: unknown): boolean {
  if (error instanceof AuthecsError) return false;
  const code = awsErrorCode(error);
  if (code === 'TimeoutError' && error instanceof Error && error.message.includes('Waiter has timed out')) return false;
  if (LOST_ANSWER_CODES.has(code)) return true;
  if (error instanceof Error && /socket hang up|other side closed|ECONNRESET/i.test(error.message)) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

export interface ErrorPlace {
  step?: string;
  resource?: string;
  endpointUrl?: string;
}

/** Turns any thrown value into an AuthecsError that names the step and the resource. */
export function classifyAwsError(error: unknown, place: ErrorPlace = {}): AuthecsError {
  if (error instanceof AuthecsError) {
    error.step ??= place.step;
    error.resource ??= place.resource;
    return error;
  }
  const code = awsErrorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const where = [place.step ? `step ${place.step}` : undefined, place.resource].filter(Boolean).join(', ');
  const prefix = where ? `${where}: ` : '';
  const options = { step: place.step, resource: place.resource, cause: error };

  if (CREDENTIAL_CODES.has(code) || /Could not load credentials|credential/i.test(code === 'Error' ? message : '')) {
    return new AuthecsError(`${prefix}no usable AWS credentials (${code}: ${message})`, {
      ...options,
      code: 'NO_CREDENTIALS',
      exit: 'credentials',
      hint: 'Set AWS_PROFILE or pass --profile, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. For moto or LocalStack any dummy values work.',
    });
  }
  if (ACCESS_DENIED_CODES.has(code)) {
    return new AuthecsError(`${prefix}access denied (${code}: ${message})`, {
      ...options,
      code: 'ACCESS_DENIED',
      exit: 'accessDenied',
      hint: 'Grant the IAM permission named above to the identity authecs runs as, then run the command again; it resumes where it stopped.',
    });
  }
  // SDK waiters raise TimeoutError too, with a JSON message; that is a wait running out, not the network.
  if (code === 'TimeoutError' && message.includes('Waiter has timed out')) {
    return new AuthecsError(`${prefix}timed out waiting for the resource to settle`, {
      ...options,
      code: 'WAIT_TIMEOUT',
      exit: 'timeout',
      hint: 'Run the command again to keep waiting (it resumes), or raise --wait-timeout.',
    });
  }
  if (ENDPOINT_CODES.has(code)) {
    return new AuthecsError(`${prefix}cannot reach the AWS endpoint${place.endpointUrl ? ` ${place.endpointUrl}` : ''} (${code})`, {
      ...options,
      code: 'ENDPOINT_UNREACHABLE',
      exit: 'endpoint',
      hint: place.endpointUrl ? 'Check --endpoint-url / AWS_ENDPOINT_URL and that the emulator is running.' : 'Check your network connection and --region.',
    });
  }
  return new AuthecsError(`${prefix}${code}: ${message}`, {
    ...options,
    code: `AWS_${code}`,
    exit: 'aws',
    hint: 'Fix the cause above and run the command again; authecs resumes from its state file.',
  });
}
