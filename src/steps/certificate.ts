import { randomUUID } from 'node:crypto';
import {
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  ListTagsForCertificateCommand,
  paginateListCertificates,
  RequestCertificateCommand,
  type CertificateDetail,
  type CertificateSummary,
  type ValidationMethod,
} from '@aws-sdk/client-acm';
import type { Listener } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { RRType } from '@aws-sdk/client-route-53';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { CertificateOutput, ValidationRecord } from './outputs.js';
import { defineResource, known, UNKNOWN, type Live, type Maybe } from './resource.js';
import { describeListener, listListeners } from './shared/listeners.js';
import { CERTIFICATE_ISSUED_SCHEDULE, CERTIFICATE_RECORD_SCHEDULE, pollUntil, progressGate, retryWhileInUse } from './shared/poll.js';
import { resolved } from './shared/resolved.js';
import { ARTICLE_TTL, changeRecords, deleteRecordSet, holdsValue, normalizeDnsName, recordSetsNamed } from './shared/route53.js';
import { hasStackTag, stackTags } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'certificate'>;

export interface DesiredCertificate {
  domain: string;
  validationMethod: ValidationMethod;
  /** The zone the validation records go in, UNKNOWN while the zone lookup is still to run. */
  hostedZoneId: Maybe<string>;
}

type CertificateLive = Live<'certificate', DesiredCertificate>;
type WantedRecord = { name: string; type: string; value: string };

const RECORD_TIMEOUT_SECONDS = 5 * 60;
// A deleted listener releases the certificate after a short delay.
const IN_USE_POLL_SECONDS = 15;

const UNUSABLE_STATUSES = new Set(['FAILED', 'VALIDATION_TIMED_OUT', 'REVOKED', 'EXPIRED', 'INACTIVE']);

/**
 * RequestCertificate's IdempotencyToken (\w{1,32}), fresh per certificate: ACM treats one token within an hour as
 * one certificate (ACM API Reference, RequestCertificate), so a fixed token gave `up` the one `down` just deleted.
 */
export function newIdempotencyToken(): string {
  return randomUUID().replace(/-/g, '');
}

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
  for await (const page of paginateListCertificates({ client: context.clients.acm }, { CertificateStatuses: ['PENDING_VALIDATION', 'ISSUED'] })) {
    summaries.push(...(page.CertificateSummaryList ?? []));
  }
  return summaries;
}

/** A certificate for this domain carrying our tag: one a killed run requested but never recorded. */
async function findTagged(context: Context, forDomain: string, except?: string): Promise<CertificateDetail | undefined> {
  const domain = normalizeDnsName(forDomain);
  const candidates = (await listCertificates(context)).filter(
    (summary) => summary.CertificateArn && summary.CertificateArn !== except && normalizeDnsName(summary.DomainName ?? '') === domain,
  );
  const ours: CertificateDetail[] = [];
  for (const candidate of candidates) {
    const tags = await context.clients.acm.send(new ListTagsForCertificateCommand({ CertificateArn: candidate.CertificateArn! }));
    if (!hasStackTag(tags.Tags, context.stack)) continue;
    const detail = await describeCertificate(context, candidate.CertificateArn!);
    if (detail) ours.push(detail);
  }
  return ours.find((detail) => detail.Status === 'ISSUED') ?? ours[0];
}

/** The recorded certificate if it still exists, else a tagged one for the domain. */
async function locate(context: Context): Promise<CertificateDetail | undefined> {
  const recordedArn = context.record?.data.certificateArn;
  if (recordedArn) {
    const recorded = await describeCertificate(context, recordedArn);
    if (recorded) return recorded;
  }
  return findTagged(context, context.config.domain);
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

function certificateVanished(arn: string): AuthecsError {
  return new AuthecsError(`Certificate ${arn} no longer exists`, {
    code: 'CERTIFICATE_MISSING',
    exit: 'aws',
    resource: arn,
    hint: 'Someone deleted it while authecs was waiting; run `authecs up` again to request a new one.',
  });
}

/** The CNAME records ACM wants, once every domain has one; deduplicated (names can repeat). */
function validationRecordsOf(detail: CertificateDetail): WantedRecord[] | undefined {
  const options = detail.DomainValidationOptions ?? [];
  if (options.length === 0 || options.some((option) => !option.ResourceRecord?.Name || !option.ResourceRecord.Value)) return undefined;
  const unique = new Map<string, WantedRecord>();
  for (const option of options) {
    const record = option.ResourceRecord!;
    const entry = { name: record.Name!, type: record.Type ?? 'CNAME', value: record.Value! };
    unique.set(`${normalizeDnsName(entry.name)}|${entry.type}|${normalizeDnsName(entry.value)}`, entry);
  }
  return [...unique.values()];
}

async function waitForValidationRecords(context: Context, arn: string): Promise<{ detail: CertificateDetail; records: WantedRecord[] }> {
  return pollUntil(context, {
    description: `ACM to publish the DNS validation record of ${arn}`,
    schedule: CERTIFICATE_RECORD_SCHEDULE,
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

async function isInZone(context: Context, hostedZoneId: string, record: WantedRecord): Promise<boolean> {
  const live = await recordSetsNamed(context, hostedZoneId, record.name, record.type);
  return live.some((recordSet) => holdsValue(recordSet, record.value));
}

function sameRecord(left: WantedRecord, right: WantedRecord): boolean {
  return normalizeDnsName(left.name) === normalizeDnsName(right.name) && left.type === right.type && normalizeDnsName(left.value) === normalizeDnsName(right.value);
}

function formatElapsed(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m ${seconds % 60}s` : `${seconds}s`;
}

/** Marks each wanted record ours when the record of an earlier run says we made it. */
function withOwnership(wanted: readonly WantedRecord[], recorded: readonly ValidationRecord[]): ValidationRecord[] {
  return wanted.map((record) => ({ ...record, created: recorded.some((each) => each.created && sameRecord(each, record)) }));
}

/**
 * Upserts the validation CNAMEs that are not in the zone yet, in one change, as the article does.
 * `recorded` says which of them an earlier run (or the certificate this one replaces) made.
 */
async function publishValidationRecords(context: Context, hostedZoneId: string, wanted: WantedRecord[], recorded: readonly ValidationRecord[]): Promise<ValidationRecord[]> {
  const planned: (ValidationRecord & { present: boolean })[] = [];
  for (const record of wanted) {
    const present = await isInZone(context, hostedZoneId, record);
    // Already there and not ours: another certificate of this zone shares it, so `down` leaves it.
    const ours = recorded.some((each) => each.created && sameRecord(each, record));
    planned.push({ ...record, created: present ? ours : true, present });
  }
  const validationRecords = planned.map(({ present: _present, ...record }) => record);
  // Intent first: records cannot be tagged, so the state file is the only proof they are ours.
  context.save({ data: { hostedZoneId, validationRecords } });
  const missing = planned.filter((record) => !record.present);
  if (missing.length > 0) {
    context.progress(`adding ${missing.length} DNS validation record(s) to zone ${hostedZoneId}`);
    // Not waited to INSYNC: ACM looks the record up itself, and issues minutes after it resolves
    // (ACM User Guide, "DNS validation"). Watching GetChange too would only add calls.
    await changeRecords(
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
  const domain = detail.DomainName ?? context.config.domain;
  let status = detail.Status ?? 'PENDING_VALIDATION';
  const show = progressGate();
  // Starts once the validation records are sent (or were there already): INSYNC within a minute, then issued within minutes.
  return pollUntil(context, {
    description: `certificate ${arn} for ${domain} to be ISSUED`,
    schedule: CERTIFICATE_ISSUED_SCHEDULE,
    timeoutSeconds: context.config.certificateTimeoutMinutes * 60,
    timeoutCode: 'CERTIFICATE_VALIDATION_TIMEOUT',
    timeoutHint: `Check that the validation CNAME is in the zone that is authoritative for ${domain} (its NS delegation at the registrar must point at this hosted zone), then run \`authecs up\` again to keep waiting, or raise --certificate-timeout.`,
    check: async () => {
      const current = await describeCertificate(context, arn);
      if (!current) throw certificateVanished(arn);
      status = current.Status ?? status;
      if (status === 'ISSUED') return current;
      if (UNUSABLE_STATUSES.has(status)) throw certificateFailed(current);
      return undefined;
    },
    onWaiting: (_attempt, elapsedSeconds) =>
      show(status, elapsedSeconds) ? `certificate ${status}, waiting for ACM to validate ${domain} (${formatElapsed(elapsedSeconds)} elapsed)` : undefined,
  });
}

/** Publishes the validation records and waits for ISSUED: create, settle and update all end here. */
async function issue(context: Context, arn: string, hostedZoneId: string, recorded: readonly ValidationRecord[]): Promise<CertificateOutput> {
  const published = await waitForValidationRecords(context, arn);
  let detail = published.detail;
  const validationRecords = await publishValidationRecords(context, hostedZoneId, published.records, recorded);
  if (detail.Status !== 'ISSUED') detail = await waitUntilIssued(context, detail);
  const domain = normalizeDnsName(detail.DomainName ?? context.config.domain);
  const output: CertificateOutput = { certificateArn: arn, domain, status: 'ISSUED', validationRecords, hostedZoneId };
  context.save({ data: output });
  return output;
}

/** Requests and issues a certificate; the token is saved first so a run that lost the answer reuses it. */
async function request(context: Context, want: DesiredCertificate): Promise<CertificateOutput> {
  const hostedZoneId = resolved(want.hostedZoneId, 'hosted zone ID');
  const domain = want.domain;
  const data = context.record?.data;
  // Records of the certificate this one replaces: an identical validation CNAME stays ours.
  const recorded = data?.validationRecords ?? [];
  const pending = data?.pendingRequest?.domain === domain ? data.pendingRequest : undefined;
  // A lost answer from over an hour ago: the tag still finds what that request made.
  let arn = pending ? (await findTagged(context, domain, data?.certificateArn))?.CertificateArn : undefined;
  if (!arn) {
    const token = pending?.token ?? newIdempotencyToken();
    context.save({ created: true, data: { pendingRequest: { token, domain } } });
    const response = await context.clients.acm.send(
      new RequestCertificateCommand({ DomainName: domain, ValidationMethod: want.validationMethod, IdempotencyToken: token, Tags: stackTags(context.stack) }),
    );
    arn = response.CertificateArn!;
  }
  context.save({ created: true, data: { certificateArn: arn, domain, hostedZoneId, status: 'PENDING_VALIDATION', validationRecords: [], pendingRequest: undefined } });
  return issue(context, arn, hostedZoneId, recorded);
}

/** Other live certificates for the same domain share its validation CNAME and still need it. */
async function othersNeedRecords(context: Context, domain: string, arn: string | undefined): Promise<boolean> {
  const others = (await listCertificates(context)).filter((summary) => summary.CertificateArn !== arn && normalizeDnsName(summary.DomainName ?? '') === normalizeDnsName(domain));
  return others.length > 0;
}

/** Deletes the validation records we made from a zone, unless another certificate for the domain still needs them. */
async function removeValidationRecords(context: Context, hostedZoneId: string, records: readonly ValidationRecord[], domain: string, arn: string | undefined): Promise<void> {
  const ours = records.filter((record) => record.created);
  if (ours.length === 0) return;
  if (await othersNeedRecords(context, domain, arn)) {
    context.progress(`left the DNS validation record(s) in zone ${hostedZoneId}: another certificate for ${domain} uses them`);
    return;
  }
  for (const record of ours) {
    const live = (await recordSetsNamed(context, hostedZoneId, record.name, record.type)).find((recordSet) => holdsValue(recordSet, record.value));
    if (!live) continue;
    await deleteRecordSet(context, hostedZoneId, {
      Name: record.name,
      Type: record.type as RRType,
      TTL: live.TTL ?? ARTICLE_TTL,
      ResourceRecords: live.ResourceRecords ?? [{ Value: record.value }],
    });
  }
}

/** Waits until no listener serves the certificate, then deletes it; gone counts as deleted. */
async function deleteCertificate(context: Context, arn: string): Promise<void> {
  const detail = await describeCertificate(context, arn);
  if (!detail) return;
  const holders = detail.InUseBy?.length ? await holdersOf(context, arn, detail.InUseBy) : [];
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

/** `hostedZoneId` is observed as the zone holding every validation record: undefined when one is gone (ACM could not renew). */
async function readCertificate(context: Context): Promise<CertificateLive | undefined> {
  const detail = await locate(context);
  if (!detail?.CertificateArn) return undefined;
  const data = context.record?.data;
  const status = detail.Status ?? 'unknown';
  const zone = data?.hostedZoneId || (context.hasOutput('hosted-zone') ? context.output('hosted-zone').hostedZoneId : undefined);
  const wanted = validationRecordsOf(detail);
  const validationRecords = wanted ? withOwnership(wanted, data?.validationRecords ?? []) : (data?.validationRecords ?? []);
  const missing: string[] = [];
  if (zone && wanted && status === 'ISSUED') {
    for (const record of wanted) if (!(await isInZone(context, zone, record))) missing.push(record.name);
  }
  const method = detail.DomainValidationOptions?.[0]?.ValidationMethod;
  const observed: CertificateLive['observed'] = {
    domain: normalizeDnsName(detail.DomainName ?? ''),
    ...(method ? { validationMethod: method } : {}),
    ...(zone ? { hostedZoneId: missing.length > 0 ? undefined : zone } : {}),
  };
  const inUseBy = detail.InUseBy ?? [];
  return {
    output: { certificateArn: detail.CertificateArn, domain: observed.domain!, status, validationRecords, hostedZoneId: zone ?? '' },
    observed,
    // Recorded or tagged: either way authecs requested it.
    created: true,
    settled: status === 'ISSUED',
    health: {
      healthy: status === 'ISSUED' && missing.length === 0,
      summary: inUseBy.length > 0 ? `${status}, in use by ${inUseBy.length}` : status,
      details: {
        status,
        inUseBy,
        ...(detail.FailureReason ? { failureReason: detail.FailureReason } : {}),
        // Without its validation record ACM cannot renew the certificate.
        ...(missing.length > 0 ? { missingValidationRecords: missing } : {}),
      },
    },
  };
}

export const certificateStep = defineResource<'certificate', DesiredCertificate>({
  name: 'certificate',
  title: 'ACM certificate (DNS validation)',
  articleSection: 'Request a public certificate',
  dependsOn: ['hosted-zone'],

  desired: (config, inputs) => ({
    domain: normalizeDnsName(config.domain),
    validationMethod: 'DNS',
    hostedZoneId: known(inputs['hosted-zone'], (zone) => zone.hostedZoneId) ?? UNKNOWN,
  }),
  // An ACM certificate's names and validation method are fixed at request: another means a new
  // certificate. The zone only holds the validation records, which move without one.
  effects: { domain: 'replace', validationMethod: 'replace', hostedZoneId: 'update' },

  read: readCertificate,

  /** Validation records take no tag: without a record, each is ours when the zone holds exactly what ACM asked for. */
  async recover(context) {
    const live = await readCertificate(context);
    if (!live) return undefined;
    const zone = live.output.hostedZoneId;
    const validationRecords: ValidationRecord[] = [];
    for (const record of live.output.validationRecords) validationRecords.push({ ...record, created: zone !== '' && (await isInZone(context, zone, record)) });
    return { live: { ...live, output: { ...live.output, validationRecords } } };
  },

  async create(context, want) {
    return request(context, want);
  },

  /** A new domain: the new certificate is issued first; the old one goes once no listener uses it. */
  async replace(context, want, live) {
    // Recorded before the request, so a run killed in between still deletes the old certificate later.
    context.retire(live.output);
    return request(context, want);
  },

  /** A pending certificate: publish its validation records, then wait for ISSUED. */
  async settle(context, live) {
    const arn = live.output.certificateArn;
    const detail = await describeCertificate(context, arn);
    if (!detail) throw certificateVanished(arn);
    if (UNUSABLE_STATUSES.has(detail.Status ?? '')) throw certificateFailed(detail);
    const hostedZoneId = live.output.hostedZoneId || context.output('hosted-zone').hostedZoneId;
    // Adopted from its tag: record it before the long wait.
    context.save({ created: true, data: { certificateArn: arn, domain: live.output.domain, hostedZoneId, status: detail.Status ?? 'PENDING_VALIDATION' } });
    return issue(context, arn, hostedZoneId, live.output.validationRecords);
  },

  /** Another zone, or a validation record gone: put the records (back) where ACM looks. */
  async update(context, want, live) {
    const hostedZoneId = resolved(want.hostedZoneId, 'hosted zone ID');
    const { certificateArn, domain, validationRecords } = live.output;
    const oldZone = live.output.hostedZoneId;
    let recorded = validationRecords;
    if (oldZone && oldZone !== hostedZoneId) {
      // Ours in the old zone go first; a crash here leaves them recorded, and the next run retries.
      await removeValidationRecords(context, oldZone, validationRecords, domain, certificateArn);
      recorded = [];
    }
    return issue(context, certificateArn, hostedZoneId, recorded);
  },

  /** From the record alone, and no saves: a retired certificate's delete shares the live record's save(). */
  async delete(context) {
    const data = context.record?.data;
    if (!data) return;
    const domain = data.domain ?? context.config.domain;
    let arn = data.certificateArn;
    // A run killed between the request and its answer: the tag finds what it made.
    if (!arn && data.pendingRequest) arn = (await findTagged(context, data.pendingRequest.domain))?.CertificateArn;
    if (arn) await deleteCertificate(context, arn);
    if (data.hostedZoneId) await removeValidationRecords(context, data.hostedZoneId, data.validationRecords ?? [], domain, arn);
  },
});
