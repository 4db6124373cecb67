import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { DnsRecordOutput } from './outputs.js';
import { defineResource, isUnknown, known, UNKNOWN, type Live, type Maybe } from './resource.js';
import { resolved } from './shared/resolved.js';
import { ARTICLE_TTL, bareZoneId, changeRecordsAndWait, deleteRecordSet, holdsValue, lookUpZone, normalizeDnsName, recordSetsNamed, recordValues } from './shared/route53.js';
import type { StepContext } from './step.js';

type Context = StepContext<'dns-record'>;

/** CNAME below the apex; at the apex an alias A record, as Route 53 forbids a CNAME there. */
export type DnsRecordType = 'CNAME' | 'A-alias';

export interface DesiredDnsRecord {
  hostedZoneId: Maybe<string>;
  recordName: string;
  /** From whether the domain is the zone's apex; UNKNOWN while the zone is still to be looked up. */
  type: Maybe<DnsRecordType>;
  /** CNAME only: an alias record has no TTL of its own. */
  ttl: number;
  /** The ALB's DNS name, UNKNOWN while the ALB is still to be made. */
  value: Maybe<string>;
  /** A-alias: the ALB's CanonicalHostedZoneId (null for a CNAME). */
  aliasHostedZoneId: Maybe<string> | null;
}

/**
 * Route 53 Developer Guide, "Choosing between alias and non-alias records": "You can't create a
 * CNAME record for example.com" (the zone apex), but an alias record there can route to an ALB.
 */
export function recordTypeFor(recordName: string, zoneName: string): DnsRecordType {
  return normalizeDnsName(recordName) === normalizeDnsName(zoneName) ? 'A-alias' : 'CNAME';
}

function route53Type(type: DnsRecordType): 'CNAME' | 'A' {
  return type === 'A-alias' ? 'A' : 'CNAME';
}

/** An ALB alias may come back as dualstack.<name> (the console adds it); both reach the same ALB. */
function holdsTarget(recordSet: ResourceRecordSet, value: string): boolean {
  if (holdsValue(recordSet, value)) return true;
  const alias = recordSet.AliasTarget?.DNSName;
  return alias !== undefined && normalizeDnsName(alias).replace(/^dualstack\./, '') === normalizeDnsName(value).replace(/^dualstack\./, '');
}

function recordExists(name: string, current: ResourceRecordSet, zone: string): AuthecsError {
  return new AuthecsError(`${name} already has a ${current.Type} record pointing at ${recordValues(current).join(', ') || '(alias)'}, which authecs did not create`, {
    code: 'DNS_RECORD_EXISTS',
    exit: 'conflict',
    resource: name,
    hint: `Delete or repoint that record in Route 53 zone ${zone} yourself if it is no longer needed, or pass --domain with another name.`,
  });
}

/** The record set as `want` describes it, for CREATE and UPSERT. */
function recordSetOf(target: DnsRecordOutput): ResourceRecordSet {
  if (target.type === 'A') {
    // EvaluateTargetHealth false: the ALB is the only target, so there is nothing to fail over to.
    return { Name: target.recordName, Type: 'A', AliasTarget: { HostedZoneId: target.aliasHostedZoneId!, DNSName: target.value, EvaluateTargetHealth: false } };
  }
  return { Name: target.recordName, Type: 'CNAME', TTL: target.ttl, ResourceRecords: [{ Value: target.value }] };
}

/** The ALB's alias zone from DescribeLoadBalancers, for a record of an ALB whose output lacks it. */
async function loadBalancerZone(context: Context): Promise<string> {
  const arn = context.hasOutput('load-balancer') ? context.output('load-balancer').loadBalancerArn : undefined;
  const response = arn ? await context.clients.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] })) : undefined;
  return resolved(response?.LoadBalancers?.[0]?.CanonicalHostedZoneId, "the load balancer's CanonicalHostedZoneId");
}

async function targetOf(context: Context, want: DesiredDnsRecord): Promise<DnsRecordOutput> {
  const type = resolved(want.type, 'record type');
  const base = {
    hostedZoneId: resolved(want.hostedZoneId, 'the hosted zone ID'),
    recordName: want.recordName,
    ttl: want.ttl,
    value: resolved(want.value, "the load balancer's DNS name"),
  };
  if (type === 'CNAME') return { ...base, type: 'CNAME' };
  const aliasHostedZoneId = want.aliasHostedZoneId === null || isUnknown(want.aliasHostedZoneId) ? await loadBalancerZone(context) : want.aliasHostedZoneId;
  return { ...base, type: 'A', aliasHostedZoneId };
}

/** The type the live record has: the recorded one, else what the zone's apex says. */
function liveType(context: Context, recordName: string): DnsRecordType {
  const recorded = context.record?.data.type;
  if (recorded) return recorded === 'A' ? 'A-alias' : 'CNAME';
  return context.hasOutput('hosted-zone') ? recordTypeFor(recordName, context.output('hosted-zone').zoneName) : 'CNAME';
}

function zoneLabel(context: Context, hostedZoneId: string): string {
  return context.hasOutput('hosted-zone') ? context.output('hosted-zone').zoneName : hostedZoneId;
}

/** CREATE after the intent save: a record cannot be tagged, so the state file is the only proof it is ours. */
async function createRecord(context: Context, target: DnsRecordOutput): Promise<DnsRecordOutput> {
  context.save({ created: true, data: target });
  try {
    await changeRecordsAndWait(context, target.hostedZoneId, [{ Action: 'CREATE', ResourceRecordSet: recordSetOf(target) }], 'CREATE a DNS record that points to the ALB');
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidChangeBatch')) throw error;
    const now = await recordSetsNamed(context, target.hostedZoneId, target.recordName, target.type);
    if (now.some((recordSet) => holdsTarget(recordSet, target.value))) return target;
    const conflicting = now[0];
    if (conflicting) {
      // Not ours after all: drop the claim the intent made, so no later run overwrites it.
      context.save({ created: false, data: {} });
      throw recordExists(target.recordName, conflicting, zoneLabel(context, target.hostedZoneId));
    }
    if (/already exists/i.test((error as Error).message)) {
      // Route 53 said "exists" but a fresh listing shows nothing by that name (a record deleted
      // a moment ago; moto's prefix match does this too): UPSERT makes the record we checked for.
      await changeRecordsAndWait(context, target.hostedZoneId, [{ Action: 'UPSERT', ResourceRecordSet: recordSetOf(target) }], 'CREATE a DNS record that points to the ALB');
      context.save({ data: target });
      return target;
    }
    if (/conflicting RRSet/i.test((error as Error).message)) {
      context.save({ created: false, data: {} });
      throw new AuthecsError(`${target.recordName} already has another record type, so a ${target.type === 'A' ? 'alias A record' : 'CNAME'} cannot be added: ${(error as Error).message}`, {
        code: 'DNS_RECORD_EXISTS',
        exit: 'conflict',
        resource: target.recordName,
        hint: 'A CNAME cannot share its name with other records. Remove them in Route 53, or pass --domain with another name.',
      });
    }
    throw error;
  }
  context.save({ data: target });
  return target;
}

/** Ours as it is now (so drift shows), else a record already pointing at the ALB (adopted, not claimed); anything else there is a conflict. */
async function readRecord(context: Context): Promise<Live<'dns-record', DesiredDnsRecord> | undefined> {
  const data = context.record?.data;
  const ours = context.record?.created === true;
  const hostedZoneId = data?.hostedZoneId ?? (context.hasOutput('hosted-zone') ? context.output('hosted-zone').hostedZoneId : undefined);
  const recordName = data?.recordName ?? context.config.domain;
  if (!hostedZoneId) return undefined;
  const type = liveType(context, recordName);
  const sets = await recordSetsNamed(context, hostedZoneId, recordName, route53Type(type));
  const loadBalancerDns = context.hasOutput('load-balancer') ? context.output('load-balancer').dnsName : undefined;
  const expected = ours ? data?.value : loadBalancerDns;
  const current = (expected ? sets.find((recordSet) => holdsTarget(recordSet, expected)) : undefined) ?? (ours ? sets[0] : undefined);
  if (!current) {
    const other = sets[0];
    if (other) throw recordExists(recordName, other, zoneLabel(context, hostedZoneId));
    return undefined;
  }
  const value = recordValues(current).join(', ');
  const ttl = current.TTL ?? ARTICLE_TTL;
  const aliasHostedZoneId = current.AliasTarget?.HostedZoneId;
  const output: DnsRecordOutput = { hostedZoneId, recordName, type: route53Type(type), ttl, value, ...(type === 'A-alias' && aliasHostedZoneId ? { aliasHostedZoneId } : {}) };
  const pointsAtAlb = loadBalancerDns ? holdsTarget(current, loadBalancerDns) : undefined;
  const observed: Live<'dns-record', DesiredDnsRecord>['observed'] = {
    hostedZoneId,
    recordName: normalizeDnsName(current.Name ?? recordName),
    type,
    // An alias to the ALB observes as the ALB's name, with or without the dualstack. prefix.
    value: loadBalancerDns && pointsAtAlb ? normalizeDnsName(loadBalancerDns) : value,
    aliasHostedZoneId: type === 'A-alias' ? (aliasHostedZoneId ?? null) : null,
    // The TTL of a record someone else made is theirs to choose; an alias has none.
    ...(ours && type === 'CNAME' ? { ttl: current.TTL } : {}),
  };
  return {
    output,
    observed,
    created: ours,
    health: {
      healthy: pointsAtAlb !== false,
      summary: `${recordName} -> ${value}${type === 'A-alias' ? ' (alias A)' : ''}`,
      details: { value, ...(type === 'A-alias' ? { type: 'A' } : {}), ttl: current.TTL, ...(loadBalancerDns ? { albDnsName: loadBalancerDns } : {}) },
    },
  };
}

export const dnsRecordStep = defineResource<'dns-record', DesiredDnsRecord>({
  name: 'dns-record',
  title: 'DNS record (CNAME to the ALB)',
  articleSection: 'Configure both the Route 53 hosted zone and record',
  dependsOn: ['hosted-zone', 'load-balancer'],

  desired: (config, inputs) => {
    const recordName = normalizeDnsName(config.domain);
    const type = known(inputs['hosted-zone'], (zone) => recordTypeFor(recordName, zone.zoneName)) ?? UNKNOWN;
    const aliasHostedZoneId = isUnknown(type) ? UNKNOWN : type === 'A-alias' ? (known(inputs['load-balancer'], (loadBalancer) => loadBalancer.canonicalHostedZoneId ?? UNKNOWN) ?? UNKNOWN) : null;
    return {
      hostedZoneId: known(inputs['hosted-zone'], (zone) => zone.hostedZoneId) ?? UNKNOWN,
      recordName,
      type,
      ttl: ARTICLE_TTL,
      value: known(inputs['load-balancer'], (loadBalancer) => normalizeDnsName(loadBalancer.dnsName)) ?? UNKNOWN,
      aliasHostedZoneId,
    };
  },
  // Route 53 API Reference, Change: UPSERT updates a record set matched by name and type (value,
  // TTL and alias target in place); another name, zone or type is another record set.
  effects: { hostedZoneId: 'replace', recordName: 'replace', type: 'replace', ttl: 'update', value: 'update', aliasHostedZoneId: 'update' },

  async preflight(context) {
    if (context.record?.created) return;
    const zone = await lookUpZone(context.clients.route53, { domain: context.config.domain, hostedZoneId: context.config.hostedZoneId });
    if (!zone) return; // the hosted-zone step reports it
    const type = route53Type(recordTypeFor(context.config.domain, zone.Name!));
    const live = await recordSetsNamed(context, bareZoneId(zone.Id!), context.config.domain, type);
    const loadBalancerDns = context.hasOutput('load-balancer') ? context.output('load-balancer').dnsName : undefined;
    const other = live.find((recordSet) => !loadBalancerDns || !holdsTarget(recordSet, loadBalancerDns));
    if (other) throw recordExists(context.config.domain, other, normalizeDnsName(zone.Name!));
  },

  read: readRecord,

  /** No record to prove it is ours (a record takes no tag): it is when it points at the stack's own ALB. */
  async recover(context) {
    const live = await readRecord(context);
    if (!live) return undefined;
    const loadBalancerDns = context.hasOutput('load-balancer') ? context.output('load-balancer').dnsName : undefined;
    const pointsAtOurAlb = loadBalancerDns !== undefined && live.observed.value === normalizeDnsName(loadBalancerDns);
    return { live: pointsAtOurAlb ? { ...live, created: true } : live };
  },

  async create(context, want) {
    return createRecord(context, await targetOf(context, want));
  },

  /** A new value or TTL: one UPSERT of our own record (the ALB was replaced, or drift). */
  async update(context, want, live, changes) {
    const target = await targetOf(context, want);
    // Only the record's owner repoints it: authecs adopted it because it already pointed at the ALB.
    if (!live.created) throw recordExists(target.recordName, recordSetOf(live.output), zoneLabel(context, target.hostedZoneId));
    if (changes.some((change) => change.field === 'value')) context.progress(`repointing ${target.recordName} from ${live.output.value} to ${target.value}`);
    await changeRecordsAndWait(context, target.hostedZoneId, [{ Action: 'UPSERT', ResourceRecordSet: recordSetOf(target) }], 'UPSERT the DNS record that points to the ALB');
    context.save({ data: target });
    return target;
  },

  /** Another name or zone: the new record first, then the old one goes once the run has succeeded. */
  async replace(context, want, live) {
    // Recorded before the create, so a run killed in between still deletes the old record later.
    if (live.created) context.retire(live.output);
    return createRecord(context, await targetOf(context, want));
  },

  async delete(context) {
    const data = context.record?.data;
    if (!data?.recordName || !data.hostedZoneId || !data.value) return;
    const type = data.type ?? 'CNAME';
    const live = await recordSetsNamed(context, data.hostedZoneId, data.recordName, type);
    const ours = live.find((recordSet) => holdsTarget(recordSet, data.value!));
    if (!ours) {
      const other = live[0];
      // Someone repointed it since: it is theirs now, so leave it.
      if (other) context.progress(`left ${data.recordName} in place: it now points at ${recordValues(other).join(', ')}, not ${data.value}`);
      return;
    }
    // Route 53 deletes only an exact match: name, type and TTL and value, or name, type and alias target.
    if (type === 'A') {
      await deleteRecordSet(context, data.hostedZoneId, { Name: data.recordName, Type: 'A', AliasTarget: ours.AliasTarget });
      return;
    }
    await deleteRecordSet(context, data.hostedZoneId, {
      Name: data.recordName,
      Type: 'CNAME',
      TTL: ours.TTL ?? data.ttl ?? ARTICLE_TTL,
      ResourceRecords: ours.ResourceRecords ?? [{ Value: data.value }],
    });
  },
});
