import { createHash } from 'node:crypto';
import {
  CreateUserPoolDomainCommand,
  DeleteUserPoolDomainCommand,
  DescribeUserPoolCommand,
  DescribeUserPoolDomainCommand,
  type DomainDescriptionType,
} from '@aws-sdk/client-cognito-identity-provider';
import { hasErrorCode } from '../aws/errors.js';
import { COGNITO_PREFIX } from '../config/schema.js';
import { pollUntil } from './shared/poll.js';
import { AuthecsError } from '../errors.js';
import type { UserPoolDomainOutput } from './outputs.js';
import { defineStep, type StepContext } from './step.js';

type Context = StepContext<'user-pool-domain'>;

const MAX_PREFIX_LENGTH = 63;
const HASH_LENGTH = 8;
// Cognito refuses prefixes that contain these words.
const RESERVED_WORDS = /aws|amazon|cognito/g;
// Status values of a domain that is there, or on its way.
const LIVE_STATUSES = new Set(['ACTIVE', 'CREATING', 'UPDATING']);

/**
 * `<cluster>-<8 hex of sha256(pool ID)>`: the article's authecsblog$(whoami) collides between
 * users; this is stable for one pool and unlikely to be taken by anyone else.
 */
export function derivePrefix(cluster: string, userPoolId: string): string {
  const hash = createHash('sha256').update(userPoolId).digest('hex').slice(0, HASH_LENGTH);
  const room = MAX_PREFIX_LENGTH - HASH_LENGTH - 1;
  const clusterPart = cluster
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(RESERVED_WORDS, '')
    .replace(/-{2,}/g, '-')
    .replace(/^-+/, '')
    .slice(0, room)
    .replace(/-+$/, '');
  const prefix = clusterPart ? `${clusterPart}-${hash}` : `authecs-${hash}`;
  if (!COGNITO_PREFIX.test(prefix)) throw new Error(`derived Cognito prefix "${prefix}" is invalid`);
  return prefix;
}

export function hostedUiBaseUrl(prefix: string, region: string): string {
  return `https://${prefix}.auth.${region}.amazoncognito.com`;
}

function domainTaken(prefix: string, cause?: unknown): AuthecsError {
  return new AuthecsError(`Cognito domain prefix "${prefix}" is already used by another user pool`, {
    code: 'COGNITO_DOMAIN_TAKEN',
    exit: 'conflict',
    resource: prefix,
    cause,
    hint: 'Pass --cognito-domain (or AUTH_COGNITO_DOMAIN) with another prefix; prefixes are unique across all AWS accounts in a region.',
  });
}

/** The domain's description, or undefined when no pool holds it (moto answers `{}`, AWS an empty object). */
async function describeDomain(context: Context, prefix: string): Promise<DomainDescriptionType | undefined> {
  try {
    const response = await context.clients.cognito.send(new DescribeUserPoolDomainCommand({ Domain: prefix }));
    const description = response.DomainDescription;
    return description?.UserPoolId ? description : undefined;
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}

interface Plan {
  userPoolId: string;
  prefix: string;
  /** The domain's current holder, if any. */
  holder: DomainDescriptionType | undefined;
}

/**
 * Which prefix this pool should have. A pool holds one prefix domain: if ours already has one
 * (an earlier run with another --cognito-domain), keep it unless a different prefix was asked for.
 */
async function plan(context: Context): Promise<Plan> {
  const { userPoolId } = context.output('user-pool');
  const requested = context.config.cognitoDomain;
  let prefix = requested ?? derivePrefix(context.config.cluster, userPoolId);

  const pool = await context.clients.cognito.send(new DescribeUserPoolCommand({ UserPoolId: userPoolId }));
  const current = pool.UserPool?.Domain;
  if (current && current !== prefix) {
    if (requested) {
      throw new AuthecsError(`User pool ${userPoolId} already has the domain prefix "${current}", and a pool can hold only one`, {
        code: 'COGNITO_POOL_HAS_DOMAIN',
        exit: 'conflict',
        resource: userPoolId,
        hint: `Pass --cognito-domain ${current} to keep it, or delete it first (aws cognito-idp delete-user-pool-domain --user-pool-id ${userPoolId} --domain ${current}) and run \`authecs up\` again.`,
      });
    }
    context.progress(`user pool already has the domain prefix "${current}"; keeping it`);
    prefix = current;
  }

  const holder = await describeDomain(context, prefix);
  if (holder && holder.UserPoolId !== userPoolId) throw domainTaken(prefix);
  return { userPoolId, prefix, holder };
}

async function waitUntilGone(context: Context, prefix: string, userPoolId: string): Promise<void> {
  await pollUntil(context, {
    description: `Cognito domain ${prefix} to be deleted`,
    intervalSeconds: 5,
    check: async () => {
      const still = await describeDomain(context, prefix);
      return still && still.UserPoolId === userPoolId ? undefined : true;
    },
    onWaiting: (attempt) => (attempt % 4 === 1 ? `waiting for Cognito domain ${prefix} to be deleted` : undefined),
  });
}

function toOutput(prefix: string, userPoolId: string, region: string): UserPoolDomainOutput {
  return { domain: prefix, userPoolId, hostedUiBaseUrl: hostedUiBaseUrl(prefix, region) };
}

export const userPoolDomainStep = defineStep({
  name: 'user-pool-domain',
  title: 'Cognito hosted-UI domain',
  articleSection: 'Create an Amazon Cognito user pool domain',
  dependsOn: ['user-pool'],

  async preflight(context) {
    const requested = context.config.cognitoDomain;
    if (!requested) return;
    const holder = await describeDomain(context, requested);
    const ourPool = context.record?.data.userPoolId ?? (context.hasOutput('user-pool') ? context.output('user-pool').userPoolId : undefined);
    if (holder && holder.UserPoolId !== ourPool) throw domainTaken(requested);
  },

  async find(context) {
    const { userPoolId, prefix, holder } = await plan(context);
    if (!holder || !LIVE_STATUSES.has(holder.Status ?? 'ACTIVE')) return undefined;
    return { output: toOutput(prefix, userPoolId, context.config.region), created: true };
  },

  async create(context) {
    const { userPoolId, prefix, holder } = await plan(context);
    const output = toOutput(prefix, userPoolId, context.config.region);
    if (holder?.Status === 'FAILED') {
      throw new AuthecsError(`Cognito domain ${prefix} of user pool ${userPoolId} is in status FAILED`, {
        code: 'COGNITO_DOMAIN_FAILED',
        exit: 'aws',
        resource: prefix,
        hint: `Delete it (aws cognito-idp delete-user-pool-domain --user-pool-id ${userPoolId} --domain ${prefix}) and run \`authecs up\` again.`,
      });
    }
    if (holder?.Status === 'DELETING') {
      await waitUntilGone(context, prefix, userPoolId);
    } else if (holder) {
      // Ours already (a killed run, or the pool's existing domain): our pool, so our domain.
      context.save({ created: true, data: output });
      return output;
    }

    // Record the intent: a domain takes no tags.
    context.save({ created: true, data: { domain: prefix, userPoolId } });
    try {
      await context.clients.cognito.send(new CreateUserPoolDomainCommand({ Domain: prefix, UserPoolId: userPoolId }));
    } catch (error) {
      // Real AWS, when another account holds the prefix: DescribeUserPoolDomain cannot see it.
      if (hasErrorCode(error, 'InvalidParameterException') && /already associated with another user pool/i.test((error as Error).message)) {
        throw domainTaken(prefix, error);
      }
      throw error;
    }
    context.save({ data: output });
    return output;
  },

  async delete(context) {
    const recorded = context.record?.data;
    if (!recorded?.domain || !recorded.userPoolId) return;
    const { domain, userPoolId } = recorded;
    // Only delete it while it is still our pool's: a prefix can move to another pool.
    const holder = await describeDomain(context, domain);
    if (!holder || holder.UserPoolId !== userPoolId) return;
    if (holder.Status !== 'DELETING') {
      try {
        await context.clients.cognito.send(new DeleteUserPoolDomainCommand({ Domain: domain, UserPoolId: userPoolId }));
      } catch (error) {
        if (hasErrorCode(error, 'ResourceNotFoundException')) return;
        throw error;
      }
    }
    // AWS will not delete the pool while the domain is still DELETING.
    await waitUntilGone(context, domain, userPoolId);
  },

  async inspect(context) {
    const recorded = context.record?.data;
    if (!recorded?.domain) return { present: false, healthy: false, summary: 'missing' };
    const holder = await describeDomain(context, recorded.domain);
    if (!holder) return { present: false, healthy: false, summary: 'missing' };
    const url = hostedUiBaseUrl(recorded.domain, context.config.region);
    if (holder.UserPoolId !== recorded.userPoolId) {
      return {
        present: false,
        healthy: false,
        summary: 'held by another user pool',
        drift: [`domain ${recorded.domain} belongs to user pool ${holder.UserPoolId}, not ${recorded.userPoolId}`],
        details: { status: holder.Status, hostedUiBaseUrl: url },
      };
    }
    const status = holder.Status ?? 'unknown';
    return {
      present: true,
      healthy: status === 'ACTIVE',
      summary: status === 'ACTIVE' ? 'ACTIVE' : `${status} (not ready yet)`,
      drift: [],
      details: { status, hostedUiBaseUrl: url },
    };
  },
});
