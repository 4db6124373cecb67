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
import { AuthecsError } from '../errors.js';
import type { UserPoolDomainOutput } from './outputs.js';
import { defineResource, known, UNKNOWN, type Live, type Maybe } from './resource.js';
import { pollUntil } from './shared/poll.js';
import { resolved } from './shared/resolved.js';
import type { StepContext } from './step.js';

type Context = StepContext<'user-pool-domain'>;

const MAX_PREFIX_LENGTH = 63;
const HASH_LENGTH = 8;
// Cognito refuses a prefix that contains any of these ("Domain cannot contain reserved word";
// developer guide, "Using the Amazon Cognito prefix domain").
const RESERVED_WORD = /aws|amazon|cognito/;
const RESERVED_WORDS = /aws|amazon|cognito/g;

export interface DesiredUserPoolDomain {
  /** The prefix of <prefix>.auth.<region>.amazoncognito.com. */
  domain: Maybe<string>;
  userPoolId: Maybe<string>;
}

/** Removes reserved words until none is left: removing one can join its neighbours into another ("amamazonazon"). */
export function withoutReservedWords(text: string): string {
  let rest = text;
  while (RESERVED_WORD.test(rest)) rest = rest.replace(RESERVED_WORDS, '');
  return rest;
}

/**
 * `<cluster>-<8 hex of sha256(pool ID)>`: the article's authecsblog$(whoami) collides between
 * users; this is stable for one pool and unlikely to be taken by anyone else. Hex digits hold
 * no reserved word and the hyphen keeps the two parts apart, so the result has none either.
 */
export function derivePrefix(cluster: string, userPoolId: string): string {
  const hash = createHash('sha256').update(userPoolId).digest('hex').slice(0, HASH_LENGTH);
  const room = MAX_PREFIX_LENGTH - HASH_LENGTH - 1;
  const clusterPart = withoutReservedWords(cluster.toLowerCase().replace(/[^a-z0-9-]+/g, '-'))
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

/** The prefix domain a pool holds now, if any (a pool holds only one). */
async function poolDomain(context: Context, userPoolId: string): Promise<string | undefined> {
  try {
    const response = await context.clients.cognito.send(new DescribeUserPoolCommand({ UserPoolId: userPoolId }));
    return response.UserPool?.Domain || undefined;
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}

// moto omits Status; a domain it answers for is there.
const statusOf = (holder: DomainDescriptionType): string => holder.Status ?? 'ACTIVE';

/**
 * Our pool's domain: the recorded one while it still belongs to the recorded pool, else the one
 * today's pool holds (a killed run's, or an earlier --cognito-domain). A DELETING domain is gone.
 */
async function locate(context: Context): Promise<DomainDescriptionType | undefined> {
  const recorded = context.record?.data;
  if (recorded?.domain && recorded.userPoolId) {
    const holder = await describeDomain(context, recorded.domain);
    if (holder && holder.UserPoolId === recorded.userPoolId && statusOf(holder) !== 'DELETING') return holder;
  }
  const userPoolId = context.hasOutput('user-pool') ? context.output('user-pool').userPoolId : undefined;
  if (!userPoolId) return undefined;
  const current = await poolDomain(context, userPoolId);
  if (!current) return undefined;
  const holder = await describeDomain(context, current);
  return holder && holder.UserPoolId === userPoolId && statusOf(holder) !== 'DELETING' ? holder : undefined;
}

/** A requested prefix that another pool holds is refused before anything changes. */
async function refuseTakenPrefix(context: Context, ours: DomainDescriptionType | undefined): Promise<void> {
  const requested = context.config.cognitoDomain;
  if (!requested || ours?.Domain === requested) return;
  const holder = await describeDomain(context, requested);
  const ourPools = new Set([ours?.UserPoolId, context.record?.data.userPoolId, context.hasOutput('user-pool') ? context.output('user-pool').userPoolId : undefined]);
  if (holder && !ourPools.has(holder.UserPoolId)) throw domainTaken(requested);
}

function toOutput(prefix: string, userPoolId: string, region: string): UserPoolDomainOutput {
  return { domain: prefix, userPoolId, hostedUiBaseUrl: hostedUiBaseUrl(prefix, region) };
}

function live(holder: DomainDescriptionType, region: string): Live<'user-pool-domain', DesiredUserPoolDomain> {
  const status = statusOf(holder);
  const output = toOutput(holder.Domain!, holder.UserPoolId!, region);
  return {
    output,
    observed: { domain: output.domain, userPoolId: output.userPoolId },
    created: true,
    // A prefix domain takes up to a minute to become ACTIVE (API reference, CreateUserPoolDomain).
    settled: status === 'ACTIVE',
    health: { healthy: status === 'ACTIVE', summary: status === 'ACTIVE' ? 'ACTIVE' : `${status} (not ready yet)`, details: { status, hostedUiBaseUrl: output.hostedUiBaseUrl } },
  };
}

function domainFailed(prefix: string, userPoolId: string): AuthecsError {
  return new AuthecsError(`Cognito domain ${prefix} of user pool ${userPoolId} is in status FAILED`, {
    code: 'COGNITO_DOMAIN_FAILED',
    exit: 'aws',
    resource: prefix,
    hint: `Delete it (aws cognito-idp delete-user-pool-domain --user-pool-id ${userPoolId} --domain ${prefix}) and run \`authecs up\` again.`,
  });
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

export const userPoolDomainStep = defineResource<'user-pool-domain', DesiredUserPoolDomain>({
  name: 'user-pool-domain',
  title: 'Cognito hosted-UI domain',
  articleSection: 'Create an Amazon Cognito user pool domain',
  dependsOn: ['user-pool'],

  desired(config, inputs) {
    const userPoolId = known(inputs['user-pool'], (pool) => pool.userPoolId) ?? UNKNOWN;
    // The derived prefix hashes the pool ID, so it is unknown until the pool exists.
    const domain = config.cognitoDomain ?? known(inputs['user-pool'], (pool) => derivePrefix(config.cluster, pool.userPoolId)) ?? UNKNOWN;
    return { domain, userPoolId };
  },

  // No UpdateUserPoolDomain for a prefix (it changes only a custom domain's certificate or the
  // branding version), and a pool holds only one prefix domain: a new prefix or pool is delete, then create.
  effects: { domain: 'replace', userPoolId: 'replace' },

  // The settings schema already refuses a --cognito-domain with a reserved word.
  async preflight(context) {
    await refuseTakenPrefix(context, undefined);
  },

  async read(context) {
    const holder = await locate(context);
    await refuseTakenPrefix(context, holder);
    return holder ? live(holder, context.config.region) : undefined;
  },

  async settle(context, current) {
    const { domain, userPoolId } = current.output;
    return pollUntil(context, {
      description: `Cognito domain ${domain} to be ACTIVE`,
      intervalSeconds: 5,
      check: async () => {
        const holder = await describeDomain(context, domain);
        if (!holder || holder.UserPoolId !== userPoolId) throw domainTaken(domain);
        const status = statusOf(holder);
        if (status === 'FAILED') throw domainFailed(domain, userPoolId);
        return status === 'ACTIVE' ? current.output : undefined;
      },
      onWaiting: (attempt) => (attempt % 4 === 1 ? `waiting for Cognito domain ${domain} to be ACTIVE` : undefined),
    });
  },

  async create(context, want) {
    const prefix = resolved(want.domain, 'Cognito domain prefix');
    const userPoolId = resolved(want.userPoolId, 'user pool ID');
    const output = toOutput(prefix, userPoolId, context.config.region);
    const holder = await describeDomain(context, prefix);
    if (holder && holder.UserPoolId !== userPoolId) throw domainTaken(prefix);
    if (holder && statusOf(holder) === 'DELETING') await waitUntilGone(context, prefix, userPoolId);
    else if (holder) {
      // Made by a killed run (read found it DELETING a moment ago, or it has just appeared).
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
    const targets = recorded?.domain && recorded.userPoolId ? [{ domain: recorded.domain, userPoolId: recorded.userPoolId }] : [];
    // A replacement deletes what read found, which may be a domain the pool held before authecs
    // recorded it (a pool holds only one, so it must go before the new one is made).
    const userPoolId = context.hasOutput('user-pool') ? context.output('user-pool').userPoolId : undefined;
    const current = userPoolId ? await poolDomain(context, userPoolId) : undefined;
    if (userPoolId && current && !targets.some((target) => target.domain === current)) targets.push({ domain: current, userPoolId });
    for (const { domain, userPoolId: owner } of targets) {
      // Only delete it while it is still our pool's: a prefix can move to another pool.
      const holder = await describeDomain(context, domain);
      if (!holder || holder.UserPoolId !== owner) continue;
      if (holder.Status !== 'DELETING') {
        try {
          await context.clients.cognito.send(new DeleteUserPoolDomainCommand({ Domain: domain, UserPoolId: owner }));
        } catch (error) {
          if (hasErrorCode(error, 'ResourceNotFoundException')) continue;
          throw error;
        }
      }
      // AWS will not delete the pool while the domain is still DELETING, nor make a new one in it.
      await waitUntilGone(context, domain, owner);
    }
  },
});
