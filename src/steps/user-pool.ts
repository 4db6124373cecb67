import {
  CreateUserPoolCommand,
  DeleteUserPoolCommand,
  DeleteUserPoolDomainCommand,
  DescribeUserPoolCommand,
  paginateListUserPools,
  paginateListUsers,
  UpdateUserPoolCommand,
  type RecoveryOptionNameType,
  type UpdateUserPoolCommandInput,
  type UsernameAttributeType,
  type UserPoolType,
  type VerifiedAttributeType,
} from '@aws-sdk/client-cognito-identity-provider';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { UserPoolOutput } from './outputs.js';
import { defineResource, type Live } from './resource.js';
import { retryWhileInUse } from './shared/poll.js';
import { MANAGED_BY_TAG_KEY, MANAGED_BY_TAG_VALUE, STACK_TAG_KEY } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'user-pool'>;

const LIST_PAGE_SIZE = 60;

export interface RecoveryOption {
  name: RecoveryOptionNameType;
  priority: number;
}

/** The pool authecs makes: the article's email sign-in plus the secure defaults below. */
export interface DesiredUserPool {
  name: string;
  /** Users sign in with their email address. */
  usernameAttributes: UsernameAttributeType[];
  caseSensitive: boolean;
  autoVerifiedAttributes: VerifiedAttributeType[];
  /** INACTIVE so that `down` can delete the pool. */
  deletionProtection: 'ACTIVE' | 'INACTIVE';
  accountRecovery: RecoveryOption[];
  attributesRequireVerificationBeforeUpdate: VerifiedAttributeType[];
  /** --sign-up invite-only: only an administrator creates users; open: anyone may sign up. */
  allowAdminCreateUserOnly: boolean;
}

const sorted = <Value extends string>(values: readonly Value[] | undefined): Value[] => [...new Set(values ?? [])].sort();

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
  for await (const page of paginateListUserPools({ client: context.clients.cognito, pageSize: LIST_PAGE_SIZE }, { MaxResults: LIST_PAGE_SIZE })) {
    for (const summary of page.UserPools ?? []) {
      if (summary.Name !== name || !summary.Id) continue;
      const pool = await describePool(context, summary.Id);
      if (pool && isOurs(pool, context.stack)) return pool;
    }
  }
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

function observedOf(pool: UserPoolType): DesiredUserPool {
  return {
    name: pool.Name!,
    usernameAttributes: sorted(pool.UsernameAttributes),
    // A pool made without UsernameConfiguration is case-sensitive (the API's old default).
    caseSensitive: pool.UsernameConfiguration?.CaseSensitive ?? true,
    autoVerifiedAttributes: sorted(pool.AutoVerifiedAttributes),
    deletionProtection: pool.DeletionProtection ?? 'INACTIVE',
    accountRecovery: recoveryOf(pool),
    attributesRequireVerificationBeforeUpdate: sorted(pool.UserAttributeUpdateSettings?.AttributesRequireVerificationBeforeUpdate),
    // Absent means the API default, self sign-up allowed (AdminCreateUserConfigType).
    allowAdminCreateUserOnly: pool.AdminCreateUserConfig?.AllowAdminCreateUserOnly ?? false,
  };
}

function recoveryOf(pool: UserPoolType): RecoveryOption[] {
  return (pool.AccountRecoverySetting?.RecoveryMechanisms ?? [])
    .map((mechanism) => ({ name: mechanism.Name!, priority: mechanism.Priority! }))
    .sort((left, right) => left.priority - right.priority);
}

function live(pool: UserPoolType): Live<'user-pool', DesiredUserPool> {
  const estimatedUsers = pool.EstimatedNumberOfUsers;
  return {
    output: toOutput(pool),
    observed: observedOf(pool),
    created: true,
    health: {
      healthy: true,
      summary: estimatedUsers === undefined ? 'present' : `${estimatedUsers} user(s)`,
      details: { name: pool.Name, ...(estimatedUsers === undefined ? {} : { estimatedUsers }) },
    },
  };
}

/**
 * UpdateUserPool sets every parameter it is not given back to its default (Lambda triggers,
 * email and SMS settings, MFA...), and AWS asks callers to pass the existing configuration with
 * their changes (API reference, UpdateUserPool). So the live pool's settings are carried over and
 * only authecs's own are replaced. The legacy message fields and UnusedAccountValidityDays are
 * left out: AWS refuses them next to their replacements (VerificationMessageTemplate,
 * TemporaryPasswordValidityDays), which DescribeUserPool also returns.
 */
function updateInput(pool: UserPoolType, want: DesiredUserPool, stack: string): UpdateUserPoolCommandInput {
  // The invitation template is carried over; only who may create users is authecs's.
  const adminCreateUserConfig = { ...pool.AdminCreateUserConfig, UnusedAccountValidityDays: undefined, AllowAdminCreateUserOnly: want.allowAdminCreateUserOnly };
  return {
    UserPoolId: pool.Id!,
    Policies: pool.Policies,
    LambdaConfig: pool.LambdaConfig,
    VerificationMessageTemplate: pool.VerificationMessageTemplate,
    SmsAuthenticationMessage: pool.SmsAuthenticationMessage,
    MfaConfiguration: pool.MfaConfiguration,
    DeviceConfiguration: pool.DeviceConfiguration,
    EmailConfiguration: pool.EmailConfiguration,
    SmsConfiguration: pool.SmsConfiguration,
    AdminCreateUserConfig: adminCreateUserConfig,
    UserPoolAddOns: pool.UserPoolAddOns,
    UserPoolTier: pool.UserPoolTier,
    UserPoolTags: { ...pool.UserPoolTags, [STACK_TAG_KEY]: stack, [MANAGED_BY_TAG_KEY]: MANAGED_BY_TAG_VALUE },
    ...settingsOf(want),
    PoolName: want.name,
  };
}

/** The settings that CreateUserPool and UpdateUserPool both take, from the desired state. */
function settingsOf(want: DesiredUserPool) {
  return {
    AutoVerifiedAttributes: want.autoVerifiedAttributes,
    DeletionProtection: want.deletionProtection,
    AccountRecoverySetting: { RecoveryMechanisms: want.accountRecovery.map((option) => ({ Name: option.name, Priority: option.priority })) },
    UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: want.attributesRequireVerificationBeforeUpdate },
  };
}

/**
 * AWS refuses to delete a pool that still has a domain. `down` deletes the domain first, but a
 * replacement (delete, then create) deletes the pool before the domain step runs, so the pool
 * lets go of its own domains: they cannot outlive it.
 */
async function releaseDomains(context: Context, userPoolId: string): Promise<void> {
  const pool = await describePool(context, userPoolId);
  for (const domain of [pool?.Domain, pool?.CustomDomain]) {
    if (!domain) continue;
    try {
      await context.clients.cognito.send(new DeleteUserPoolDomainCommand({ Domain: domain, UserPoolId: userPoolId }));
    } catch (error) {
      if (!hasErrorCode(error, 'ResourceNotFoundException')) throw error;
    }
  }
}

// AWS refuses to delete a pool that still has a domain; the domain step deletes it first, but the
// deletion can take a moment to settle.
function isDomainStillAttached(error: unknown): boolean {
  return hasErrorCode(error, 'InvalidParameterException') && /domain/i.test((error as Error).message ?? '');
}

export const userPoolStep = defineResource<'user-pool', DesiredUserPool>({
  name: 'user-pool',
  title: 'Cognito user pool',
  articleSection: 'Create an Amazon Cognito user pool',
  dependsOn: [],

  desired: (config) => ({
    name: config.userPoolName,
    usernameAttributes: ['email'],
    caseSensitive: false,
    autoVerifiedAttributes: ['email'],
    deletionProtection: 'INACTIVE',
    // Secure defaults beyond the article: recover accounts only through a verified email, and
    // keep the old address until a new one is verified, so a typo or a hijacked session
    // cannot move an account to an address nobody has proven.
    accountRecovery: [{ name: 'verified_email', priority: 1 }],
    attributesRequireVerificationBeforeUpdate: ['email'],
    // The article leaves self sign-up on, so anyone could make an account and pass the ALB.
    allowAdminCreateUserOnly: config.signUp === 'invite-only',
  }),

  effects: {
    // UpdateUserPool takes PoolName ("the updated name of your user pool", API reference), so a
    // rename keeps the users; the developer guide's "settings you can't change" predates it.
    name: 'update',
    // Sign-in attributes and case sensitivity are fixed at creation (developer guide, "Updating
    // user pool configuration": change them by creating a new user pool).
    usernameAttributes: 'replace',
    caseSensitive: 'replace',
    autoVerifiedAttributes: 'update',
    deletionProtection: 'update',
    accountRecovery: 'update',
    attributesRequireVerificationBeforeUpdate: 'update',
    // UpdateUserPool takes AdminCreateUserConfig (API reference), sent with the rest of the pool's settings.
    allowAdminCreateUserOnly: 'update',
  },

  async read(context) {
    const pool = await locate(context);
    return pool ? live(pool) : undefined;
  },

  async create(context, want) {
    // No idempotency token: a pool a killed run made is adopted rather than made twice.
    const existing = await findTaggedByName(context, want.name);
    if (existing) {
      const output = toOutput(existing);
      context.save({ created: true, data: output });
      return output;
    }

    // Record the intent first: with no idempotency token, only the name and tag find it again.
    context.save({ created: true, data: { name: want.name } });
    const response = await context.clients.cognito.send(
      new CreateUserPoolCommand({
        PoolName: want.name,
        UsernameAttributes: want.usernameAttributes,
        UsernameConfiguration: { CaseSensitive: want.caseSensitive },
        UserPoolTags: { [STACK_TAG_KEY]: context.stack, [MANAGED_BY_TAG_KEY]: MANAGED_BY_TAG_VALUE },
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: want.allowAdminCreateUserOnly },
        ...settingsOf(want),
      }),
    );
    const created = response.UserPool!;
    const userPoolId = created.Id!;
    context.save({ data: { userPoolId, name: want.name } });
    const userPoolArn = created.Arn ?? (await describePool(context, userPoolId))?.Arn;
    if (!userPoolArn) {
      throw new AuthecsError(`User pool ${userPoolId} was created but AWS did not return its ARN`, {
        code: 'USER_POOL_NO_ARN',
        exit: 'aws',
        resource: userPoolId,
        hint: 'Run `authecs up` again; it will find the pool by its recorded ID.',
      });
    }
    const output: UserPoolOutput = { userPoolId, userPoolArn, name: want.name };
    context.save({ data: output });
    return output;
  },

  async update(context, want, current) {
    const { userPoolId } = current.output;
    // Described again, not taken from read: the carried-over settings must be the latest.
    const pool = await describePool(context, userPoolId);
    if (!pool) {
      throw new AuthecsError(`User pool ${userPoolId} disappeared while it was being updated`, {
        code: 'USER_POOL_GONE',
        exit: 'aws',
        resource: userPoolId,
        hint: 'Run `authecs up` again to create it.',
      });
    }
    await context.clients.cognito.send(new UpdateUserPoolCommand(updateInput(pool, want, context.stack)));
    const output: UserPoolOutput = { ...current.output, name: want.name };
    context.save({ data: output });
    return output;
  },

  /** Replacing or deleting the pool deletes every user in it: the engine asks first. */
  async loss(context, current) {
    let users = 0;
    const pages = paginateListUsers({ client: context.clients.cognito, pageSize: LIST_PAGE_SIZE }, { UserPoolId: current.output.userPoolId, Limit: LIST_PAGE_SIZE });
    for await (const page of pages) users += page.Users?.length ?? 0;
    if (users === 0) return undefined;
    return users === 1 ? '1 user' : `${users} users`;
  },

  async delete(context) {
    const recordedId = context.record?.data.userPoolId;
    // Killed between the intent and the ID: the tagged pool with our name is the one we made.
    const userPoolId = recordedId ?? (context.record?.data.name ? (await findTaggedByName(context, context.record.data.name))?.Id : undefined);
    if (!userPoolId) return;
    await releaseDomains(context, userPoolId);
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
});
