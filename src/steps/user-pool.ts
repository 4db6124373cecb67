import {
  CreateUserPoolCommand,
  DeleteUserPoolCommand,
  DescribeUserPoolCommand,
  ListUserPoolsCommand,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { hasErrorCode } from '../aws/errors.js';
import { retryWhileInUse } from './shared/poll.js';
import { AuthecsError } from '../errors.js';
import type { UserPoolOutput } from './outputs.js';
import { defineStep, MANAGED_BY_TAG_KEY, MANAGED_BY_TAG_VALUE, STACK_TAG_KEY, type StepContext } from './step.js';

type Context = StepContext<'user-pool'>;

const LIST_PAGE_SIZE = 60;

async function describePool(context: Context, userPoolId: string): Promise<UserPoolType | undefined> {
  try {
    const response = await context.clients.cognito.send(new DescribeUserPoolCommand({ UserPoolId: userPoolId }));
    return response.UserPool;
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}

function isOurs(pool: UserPoolType, stack: string): boolean {
  return pool.UserPoolTags?.[STACK_TAG_KEY] === stack;
}

/**
 * Pool names are not unique and CreateUserPool has no idempotency token, so a pool left by a
 * killed run is found by name, then confirmed by our tag (moto lacks ListTagsForResource, so
 * the tags come from DescribeUserPool).
 */
async function findTaggedByName(context: Context, name: string): Promise<UserPoolType | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await context.clients.cognito.send(new ListUserPoolsCommand({ MaxResults: LIST_PAGE_SIZE, ...(nextToken ? { NextToken: nextToken } : {}) }));
    for (const summary of page.UserPools ?? []) {
      if (summary.Name !== name || !summary.Id) continue;
      const pool = await describePool(context, summary.Id);
      if (pool && isOurs(pool, context.stack)) return pool;
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return undefined;
}

async function locate(context: Context): Promise<UserPoolType | undefined> {
  const recordedId = context.record?.data.userPoolId;
  if (recordedId) {
    const recorded = await describePool(context, recordedId);
    if (recorded) return recorded;
  }
  return findTaggedByName(context, context.record?.data.name ?? context.config.userPoolName);
}

function toOutput(pool: UserPoolType): UserPoolOutput {
  return { userPoolId: pool.Id!, userPoolArn: pool.Arn!, name: pool.Name! };
}

/** What differs from the pool `up` makes; these settings cannot change after creation. */
function poolDrift(pool: UserPoolType): string[] {
  const drift: string[] = [];
  if (!(pool.UsernameAttributes ?? []).includes('email')) drift.push('users do not sign in with their email address (UsernameAttributes lacks email)');
  if (!(pool.AutoVerifiedAttributes ?? []).includes('email')) drift.push('email addresses are not verified automatically (AutoVerifiedAttributes lacks email)');
  if (pool.UsernameConfiguration?.CaseSensitive !== false) drift.push('user names are case-sensitive');
  return drift;
}

// AWS refuses to delete a pool that still has a domain; the domain step deletes it first, but the
// deletion can take a moment to settle.
function isDomainStillAttached(error: unknown): boolean {
  return hasErrorCode(error, 'InvalidParameterException') && /domain/i.test((error as Error).message ?? '');
}

export const userPoolStep = defineStep({
  name: 'user-pool',
  title: 'Cognito user pool',
  articleSection: 'Create an Amazon Cognito user pool',
  dependsOn: [],

  async find(context) {
    const pool = await locate(context);
    return pool ? { output: toOutput(pool), created: true } : undefined;
  },

  async create(context) {
    const name = context.config.userPoolName;
    const existing = await locate(context);
    if (existing) {
      const output = toOutput(existing);
      context.save({ created: true, data: output });
      return output;
    }

    // Record the intent first: with no idempotency token, only the name and tag find it again.
    context.save({ created: true, data: { name } });
    const response = await context.clients.cognito.send(
      new CreateUserPoolCommand({
        PoolName: name,
        UsernameAttributes: ['email'],
        UsernameConfiguration: { CaseSensitive: false },
        AutoVerifiedAttributes: ['email'],
        UserPoolTags: { [STACK_TAG_KEY]: context.stack, [MANAGED_BY_TAG_KEY]: MANAGED_BY_TAG_VALUE },
        // `down` must be able to delete the pool.
        DeletionProtection: 'INACTIVE',
        // Secure defaults beyond the article: recover accounts only through a verified email, and
        // keep the old address until a new one is verified, so a typo or a hijacked session
        // cannot move an account to an address nobody has proven.
        AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
        UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
      }),
    );
    const created = response.UserPool!;
    const userPoolId = created.Id!;
    context.save({ data: { userPoolId, name } });
    const userPoolArn = created.Arn ?? (await describePool(context, userPoolId))?.Arn;
    if (!userPoolArn) {
      throw new AuthecsError(`User pool ${userPoolId} was created but AWS did not return its ARN`, {
        code: 'USER_POOL_NO_ARN',
        exit: 'aws',
        resource: userPoolId,
        hint: 'Run `authecs up` again; it will find the pool by its recorded ID.',
      });
    }
    const output: UserPoolOutput = { userPoolId, userPoolArn, name };
    context.save({ data: output });
    return output;
  },

  async delete(context) {
    const recordedId = context.record?.data.userPoolId;
    // Killed between the intent and the ID: the tagged pool with our name is the one we made.
    const userPoolId = recordedId ?? (context.record?.data.name ? (await findTaggedByName(context, context.record.data.name))?.Id : undefined);
    if (!userPoolId) return;
    try {
      await retryWhileInUse(
        context,
        {
          description: `delete user pool ${userPoolId} (its domain is still being removed)`,
          codes: [],
          intervalSeconds: 5,
          timeoutSeconds: 5 * 60,
          call: async () => {
            try {
              await context.clients.cognito.send(new DeleteUserPoolCommand({ UserPoolId: userPoolId }));
            } catch (error) {
              if (!hasErrorCode(error, 'ResourceNotFoundException')) throw error;
            }
          },
        },
        isDomainStillAttached,
      );
    } catch (error) {
      if (error instanceof AuthecsError && error.exit === 'timeout') {
        throw new AuthecsError(`User pool ${userPoolId} still has a domain, so it cannot be deleted`, {
          code: 'USER_POOL_HAS_DOMAIN',
          exit: 'conflict',
          resource: userPoolId,
          cause: error,
          hint: `Delete the pool's domain (aws cognito-idp describe-user-pool --user-pool-id ${userPoolId} shows it; then aws cognito-idp delete-user-pool-domain --user-pool-id ${userPoolId} --domain <domain>), then run \`authecs down\` again.`,
        });
      }
      throw error;
    }
  },

  async inspect(context) {
    const userPoolId = context.record?.data.userPoolId;
    const pool = userPoolId ? await describePool(context, userPoolId) : undefined;
    if (!pool) return { present: false, healthy: false, summary: 'missing' };
    const estimatedUsers = pool.EstimatedNumberOfUsers;
    return {
      present: true,
      healthy: true,
      summary: estimatedUsers === undefined ? 'present' : `${estimatedUsers} user(s)`,
      drift: poolDrift(pool),
      details: { name: pool.Name, ...(estimatedUsers === undefined ? {} : { estimatedUsers }) },
    };
  },
});
