import { AuthecsError } from '../../errors.js';
import { hasErrorCode } from '../../aws/errors.js';
import type { StepName } from '../outputs.js';
import type { StepContext } from '../step.js';
import { pollUntil } from './poll.js';

/**
 * "Not found" answers for a resource that was created a moment ago. EC2 API Reference / EC2
 * Developer Guide, "Eventual consistency in the Amazon EC2 API": a call that uses a resource right
 * after its create can get InvalidGroup.NotFound (and the matching NotFound codes) for a while.
 * ELBv2 reports a group it cannot see yet as InvalidSecurityGroup (hashicorp/packer#3627 is the same race).
 */
export const NOT_YET_VISIBLE_CODES = [
  'InvalidGroup.NotFound',
  'InvalidLaunchTemplateId.NotFound',
  'InvalidLaunchTemplateId.VersionNotFound',
  'InvalidKeyPair.NotFound',
  'InvalidSecurityGroup',
  'InvalidSecurityGroupException',
] as const;

const RETRY_SECONDS = 5;
// The guide suggests backing off "up to a few minutes"; a create that is not visible after that is not coming.
const TIMEOUT_SECONDS = 120;

export interface VisibilityOptions<Result> {
  /** What is awaited, for the timeout message: "security group sg-1 to be visible to CreateLoadBalancer". */
  description: string;
  call: () => Promise<Result>;
  /** Defaults to NOT_YET_VISIBLE_CODES. */
  codes?: readonly string[];
  timeoutSeconds?: number;
}

/** Runs `call`, retrying for a bounded time while AWS does not see a just-created resource yet. */
export async function retryWhileNotVisible<Name extends StepName, Result>(context: StepContext<Name>, options: VisibilityOptions<Result>): Promise<Result> {
  const codes = [...(options.codes ?? NOT_YET_VISIBLE_CODES)];
  let lastError: unknown;
  try {
    const wrapped = await pollUntil(context, {
      description: options.description,
      intervalSeconds: RETRY_SECONDS,
      retry: true,
      timeoutSeconds: options.timeoutSeconds ?? TIMEOUT_SECONDS,
      check: async () => {
        try {
          return { value: await options.call() };
        } catch (error) {
          if (!hasErrorCode(error, ...codes)) throw error;
          lastError = error;
          return undefined;
        }
      },
      onWaiting: (attempt) => (attempt === 1 ? `not visible yet, retrying: ${options.description}` : undefined),
    });
    return wrapped.value;
  } catch (error) {
    // Past the bound the resource is really missing: report AWS's own answer, not a timeout.
    if (error instanceof AuthecsError && error.exit === 'timeout' && lastError !== undefined) throw lastError;
    throw error;
  }
}
