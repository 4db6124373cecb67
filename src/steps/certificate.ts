import { createHash } from 'node:crypto';
import {
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  ListCertificatesCommand,
  ListTagsForCertificateCommand,
  RequestCertificateCommand,
  type CertificateDetail,
  type CertificateSummary,
} from '@aws-sdk/client-acm';
import type { Listener } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { RRType } from '@aws-sdk/client-route-53';
import { hasErrorCode } from '../aws/errors.js';
import { pollUntil, retryWhileInUse } from './shared/poll.js';
import { AuthecsError } from '../errors.js';
import { ARTICLE_TTL, changeRecordsAndWait, deleteRecordSet, holdsValue, recordSetsNamed } from './dns-record.js';
import { normalizeDnsName } from './hosted-zone.js';
import { describeListener, listListeners } from './https-listener.js';
import type { CertificateOutput, ValidationRecord } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type StepContext } from './step.js';

type Context = StepContext<'certificate'>;

// CertificateValidated waiter: every 60 s (aws-behaviour.md).
const ISSUED_POLL_SECONDS = 60;
// The validation CNAME shows up in DescribeCertificate a few seconds after the request.
const RECORD_POLL_SECONDS = 5;
const RECORD_TIMEOUT_SECONDS = 5 * 60;
// A deleted listener releases the certificate after a short delay.
const IN_USE_POLL_SECONDS = 15;

const UNUSABLE_STATUSES = new Set(['FAILED', 'VALIDATION_TIMED_OUT', 'REVOKED', 'EXPIRED', 'INACTIVE']);

async function listenersOf(context: Context, user: string): Promise<Listener[]> {
  if (!user.includes(':listener/')) return listListeners(context.clients.elbv2, user);
  const listener = await describeListener(context.clients.elbv2, user);
  return listener ? [listener] : [];
}

/**
 * The InUseBy entries that really still hold the certificate. ACM lags behind a deleted
 * listener (and moto never clears it), so an ELB listener or load balancer that is gone,
 * or no longer serves this certificate, counts as released. Anything else is trusted.
 */
async function holdersOf(context: Context, arn: string, inUseBy: readonly string[]): Promise<string[]> {
  const holders: string[] = [];
  for (const user of inUseBy) {
    if (!user.includes(':elasticloadbalancing:')) {
      holders.push(user);
      continue;
    }
    const listeners = await listenersOf(context, user);
    if (listeners.some((listener) => (listener.Certificates ?? []).some((certificate) => certificate.CertificateArn === arn))) holders.push(user);
  }
  return holders;
}

/** RequestCertificate's IdempotencyToken: \w+, at most 32 characters, the same for the same stack and domain. */
export function certificateIdempotencyToken(stack: string, domain: string): string {
  return `authecs${createHash('sha256').update(stack + domain).digest('hex').slice(0, 25)}`;
}

async function describeCertificate(context: Context, arn: string): Promise<CertificateDetail | undefined> {
  try {
    return (await context.clients.acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate;
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}

async function listCertificates(context: Context): Promise<CertificateSummary[]> {
  const summaries: CertificateSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await context.clients.acm.send(
      new ListCertificatesCommand({ CertificateStatuses: ['PENDING_VALIDATION', 'ISSUED'], ...(nextToken ? { NextToken: nextToken } : {}) }),
    );
    summaries.push(...(page.CertificateSummaryList ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return summaries;
}

/** A certificate for this domain carrying our tag: one a killed run requested but never recorded. */
async function findTagged(context: Context): Promise<CertificateDetail | undefined> {
  const domain = normalizeDnsName(context.config.domain);
  const candidates = (await listCertificates(context)).filter((summary) => summary.CertificateArn && normalizeDnsName(summary.DomainName ?? '') === domain);
  const ours: CertificateDetail[] = [];
  for (const candidate of candidates) {
    const tags = await context.clients.acm.send(new ListTagsForCertificateCommand({ CertificateArn: candidate.CertificateArn! }));
    if (!hasStackTag(tags.Tags, context.stack)) continue;
    const detail = await describeCertificate(context, candidate.CertificateArn!);
    if (detail) ours.push(detail);
  }
  return ours.find((detail) => detail.Status === 'ISSUED') ?? ours[0];
}

/** The recorded certificate if it still exists, else a tagged one. */
async function locate(context: Context): Promise<CertificateDetail | undefined> {
  const recordedArn = context.record?.data.certificateArn;
  if (recordedArn) {
    const recorded = await describeCertificate(context, recordedArn);
    if (recorded) return recorded;
  }
  return findTagged(context);
}

function certificateFailed(detail: CertificateDetail): AuthecsError {
  return new AuthecsError(`Certificate ${detail.CertificateArn} for ${detail.DomainName} is ${detail.Status}${detail.FailureReason ? ` (${detail.FailureReason})` : ''}`, {
    code: 'CERTIFICATE_FAILED',
    exit: 'aws',
    resource: detail.CertificateArn,
    hint:
      detail.FailureReason === 'CAA_ERROR'
        ? "The domain's CAA records do not allow amazon.com to issue; add a CAA record for amazon.com, then delete this certificate and run `authecs up` again."
        : 'Fix the cause above, delete this certificate in the ACM console (or with `authecs down`), then run `authecs up` again.',
  });
}

/** The CNAME records ACM wants, once every domain has one; deduplicated (names can repeat). */
function validationRecordsOf(detail: CertificateDetail): { name: string; type: string; value: string }[] | undefined {
  const options = detail.DomainValidationOptions ?? [];
  if (options.length === 0 || options.some((option) => !option.ResourceRecord?.Name || !option.ResourceRecord.Value)) return undefined;
  const unique = new Map<string, { name: string; type: string; value: string }>();
  for (const option of options) {
    const record = option.ResourceRecord!;
    const entry = { name: record.Name!, type: record.Type ?? 'CNAME', value: record.Value! };
    unique.set(`${normalizeDnsName(entry.name)}|${entry.type}|${normalizeDnsName(entry.value)}`, entry);
  }
  return [...unique.values()];
}

async function waitForValidationRecords(context: Context, arn: string): Promise<{ detail: CertificateDetail; records: { name: string; type: string; value: string }[] }> {
  return pollUntil(context, {
    description: `ACM to publish the DNS validation record of ${arn}`,
    intervalSeconds: RECORD_POLL_SECONDS,
    timeoutSeconds: RECORD_TIMEOUT_SECONDS,
    check: async () => {
      const detail = await describeCertificate(context, arn);
      if (!detail) throw certificateVanished(arn);
      if (UNUSABLE_STATUSES.has(detail.Status ?? '')) throw certificateFailed(detail);
      const records = validationRecordsOf(detail);
      return records ? { detail, records } : undefined;
    },
    onWaiting: (attempt) => (attempt === 1 ? 'waiting for ACM to publish the DNS validation record' : undefined),
  });
}

function certificateVanished(arn: string): AuthecsError {
  return new AuthecsError(`Certificate ${arn} no longer exists`, {
    code: 'CERTIFICATE_MISSING',
    exit: 'aws',
    resource: arn,
    hint: 'Someone deleted it while authecs was waiting; run `authecs up` again to request a new one.',
  });
}

async function isInZone(context: Context, hostedZoneId: string, record: { name: string; type: string; value: string }): Promise<boolean> {
  const live = await recordSetsNamed(context, hostedZoneId, record.name, record.type);
  return live.some((recordSet) => holdsValue(recordSet, record.value));
}

function sameRecord(left: { name: string; type: string; value: string }, right: { name: string; type: string; value: string }): boolean {
  return normalizeDnsName(left.name) === normalizeDnsName(right.name) && left.type === right.type && normalizeDnsName(left.value) === normalizeDnsName(right.value);
}

function formatElapsed(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m ${seconds % 60}s` : `${seconds}s`;
}

function toOutput(context: Context, arn: string, status: string, validationRecords: ValidationRecord[]): CertificateOutput {
  return { certificateArn: arn, domain: context.config.domain, status, validationRecords, hostedZoneId: context.output('hosted-zone').hostedZoneId };
}

/** Upserts the validation CNAMEs that are not in the zone yet, in one change, as the article does. */
async function publishValidationRecords(context: Context, hostedZoneId: string, wanted: { name: string; type: string; value: string }[]): Promise<ValidationRecord[]> {
  const recorded = context.record?.data.validationRecords ?? [];
  const planned: (ValidationRecord & { present: boolean })[] = [];
  for (const record of wanted) {
    const present = await isInZone(context, hostedZoneId, record);
    // Already there and not ours: another certificate of this zone shares it, so `down` leaves it.
    const ours = recorded.some((each) => each.created && sameRecord(each, record));
    planned.push({ ...record, created: present ? ours : true, present });
  }
  const validationRecords = planned.map(({ present: _present, ...record }) => record);
  // Intent first: records cannot be tagged, so the state file is the only proof they are ours.
  context.save({ data: { validationRecords } });
  const missing = planned.filter((record) => !record.present);
  if (missing.length > 0) {
    context.progress(`adding ${missing.length} DNS validation record(s) to zone ${hostedZoneId}`);
    await changeRecordsAndWait(
      context,
      hostedZoneId,
      missing.map((record) => ({
        Action: 'UPSERT',
        ResourceRecordSet: { Name: record.name, Type: record.type as RRType, TTL: ARTICLE_TTL, ResourceRecords: [{ Value: record.value }] },
      })),
      'UPSERT the ACM DNS validation records',
    );
  }
  return validationRecords;
}

async function waitUntilIssued(context: Context, detail: CertificateDetail): Promise<CertificateDetail> {
  const arn = detail.CertificateArn!;
  let status = detail.Status ?? 'PENDING_VALIDATION';
  return pollUntil(context, {
    description: `certificate ${arn} for ${context.config.domain} to be ISSUED`,
    intervalSeconds: ISSUED_POLL_SECONDS,
    timeoutSeconds: context.config.certificateTimeoutMinutes * 60,
    timeoutCode: 'CERTIFICATE_VALIDATION_TIMEOUT',
    timeoutHint: `Check that the validation CNAME is in the zone that is authoritative for ${context.config.domain} (its NS delegation at the registrar must point at this hosted zone), then run \`authecs up\` again to keep waiting, or raise --certificate-timeout.`,
    check: async () => {
      const current = await describeCertificate(context, arn);
      if (!current) throw certificateVanished(arn);
      status = current.Status ?? status;
      if (status === 'ISSUED') return current;
      if (UNUSABLE_STATUSES.has(status)) throw certificateFailed(current);
      return undefined;
    },
    onWaiting: (_attempt, elapsedSeconds) => `certificate ${status}, waiting for ACM to validate ${context.config.domain} (${formatElapsed(elapsedSeconds)} elapsed)`,
  });
}

/** Other live certificates for the same domain share its validation CNAME and still need it. */
async function othersNeedRecords(context: Context, domain: string, arn: string | undefined): Promise<boolean> {
  const others = (await listCertificates(context)).filter((summary) => summary.CertificateArn !== arn && normalizeDnsName(summary.DomainName ?? '') === normalizeDnsName(domain));
  return others.length > 0;
}

export const certificateStep = defineStep({
  name: 'certificate',
  title: 'ACM certificate (DNS validation)',
  articleSection: 'Request a public certificate',
  dependsOn: ['hosted-zone'],

  async find(context) {
    const detail = await locate(context);
    if (!detail || detail.Status !== 'ISSUED') return undefined;
    const wanted = validationRecordsOf(detail);
    if (!wanted) return undefined;
    const hostedZoneId = context.output('hosted-zone').hostedZoneId;
    for (const record of wanted) {
      // Without its validation record ACM cannot renew: let create() put it back.
      if (!(await isInZone(context, hostedZoneId, record))) return undefined;
    }
    const recorded = context.record?.data.validationRecords ?? [];
    const validationRecords = wanted.map((record) => ({ ...record, created: recorded.some((each) => each.created && sameRecord(each, record)) }));
    // Recorded or tagged: either way authecs requested it.
    return { output: toOutput(context, detail.CertificateArn!, 'ISSUED', validationRecords), created: true };
  },

  async create(context) {
    const { config } = context;
    const hostedZoneId = context.output('hosted-zone').hostedZoneId;
    let detail = await locate(context);
    if (detail && UNUSABLE_STATUSES.has(detail.Status ?? '')) throw certificateFailed(detail);
    let arn = detail?.CertificateArn;
    if (!arn) {
      const response = await context.clients.acm.send(
        new RequestCertificateCommand({
          DomainName: config.domain,
          ValidationMethod: 'DNS',
          IdempotencyToken: certificateIdempotencyToken(context.stack, config.domain),
          Tags: stackTags(context.stack),
        }),
      );
      arn = response.CertificateArn!;
    }
    context.save({ created: true, data: { certificateArn: arn, domain: config.domain, hostedZoneId, status: detail?.Status ?? 'PENDING_VALIDATION' } });

    const published = await waitForValidationRecords(context, arn);
    detail = published.detail;
    const validationRecords = await publishValidationRecords(context, hostedZoneId, published.records);

    if (detail.Status !== 'ISSUED') detail = await waitUntilIssued(context, detail);
    context.save({ data: { status: 'ISSUED' } });
    return toOutput(context, arn, 'ISSUED', validationRecords);
  },

  async delete(context) {
    const data = context.record?.data;
    if (!data) return;
    const arn = data.certificateArn;
    if (arn) {
      const detail = await describeCertificate(context, arn);
      const holders = detail?.InUseBy?.length ? await holdersOf(context, arn, detail.InUseBy) : [];
      if (holders.length > 0) {
        // A listener deleted a moment ago still holds the certificate for a while (aws-behaviour.md).
        await pollUntil(context, {
          description: `certificate ${arn} to be released by ${holders.join(', ')}`,
          intervalSeconds: IN_USE_POLL_SECONDS,
          timeoutCode: 'CERTIFICATE_IN_USE',
          timeoutHint: 'Remove the certificate from the listeners named above (or delete them), then run `authecs down` again.',
          check: async () => {
            const current = await describeCertificate(context, arn);
            if (!current) return true;
            return (await holdersOf(context, arn, current.InUseBy ?? [])).length === 0 ? true : undefined;
          },
          onWaiting: (attempt) => (attempt % 4 === 1 ? `waiting for ${holders.length} resource(s) to release the certificate` : undefined),
        });
      }
      if (detail) {
        await retryWhileInUse(
          context,
          {
            description: `delete certificate ${arn}`,
            codes: ['ResourceInUseException'],
            intervalSeconds: IN_USE_POLL_SECONDS,
            call: async () => {
              try {
                await context.clients.acm.send(new DeleteCertificateCommand({ CertificateArn: arn }));
              } catch (error) {
                if (!hasErrorCode(error, 'ResourceNotFoundException')) throw error;
              }
            },
          },
          hasErrorCode,
        );
      }
      context.save({ data: { certificateArn: undefined, status: 'DELETED' } });
    }

    const hostedZoneId = data.hostedZoneId;
    let remaining = [...(data.validationRecords ?? [])];
    const ours = remaining.filter((record) => record.created);
    if (!hostedZoneId || ours.length === 0) return;
    if (await othersNeedRecords(context, data.domain ?? context.config.domain, arn)) {
      context.progress(`left the DNS validation record(s) in zone ${hostedZoneId}: another certificate for ${data.domain ?? context.config.domain} uses them`);
      return;
    }
    for (const record of ours) {
      const live = (await recordSetsNamed(context, hostedZoneId, record.name, record.type)).find((recordSet) => holdsValue(recordSet, record.value));
      if (live) {
        await deleteRecordSet(context, hostedZoneId, {
          Name: record.name,
          Type: record.type as RRType,
          TTL: live.TTL ?? ARTICLE_TTL,
          ResourceRecords: live.ResourceRecords ?? [{ Value: record.value }],
        });
      }
      remaining = remaining.filter((each) => each !== record);
      context.save({ data: { validationRecords: remaining } });
    }
  },

  async inspect(context) {
    const data = context.record?.data;
    const arn = data?.certificateArn;
    if (!arn) return { present: false, healthy: false, summary: 'missing' };
    const detail = await describeCertificate(context, arn);
    if (!detail) return { present: false, healthy: false, summary: 'missing', drift: [`certificate ${arn} no longer exists`] };
    const status = detail.Status ?? 'unknown';
    const inUseBy = detail.InUseBy ?? [];
    const drift: string[] = [];
    if (data.hostedZoneId) {
      for (const record of data.validationRecords ?? []) {
        if (!(await isInZone(context, data.hostedZoneId, record))) drift.push(`validation record ${record.name} is missing from zone ${data.hostedZoneId} (ACM cannot renew)`);
      }
    }
    return {
      present: true,
      healthy: status === 'ISSUED',
      summary: inUseBy.length > 0 ? `${status}, in use by ${inUseBy.length}` : status,
      ...(drift.length > 0 ? { drift } : {}),
      details: { status, inUseBy, ...(detail.FailureReason ? { failureReason: detail.FailureReason } : {}) },
    };
  },
});
