import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { DnsRecordOutput } from './outputs.js';
import { defineResource, known, UNKNOWN, type Live, type Maybe } from './resource.js';
import { resolved } from './shared/resolved.js';
import { ARTICLE_TTL, bareZoneId, changeRecordsAndWait, deleteRecordSet, holdsValue, lookUpZone, normalizeDnsName, recordSetsNamed, recordValues } from './shared/route53.js';
import type { StepContext } from './step.js';

type Context = StepContext<'dns-record'>;

export interface DesiredDnsRecord {
  hostedZoneId: Maybe<string>;
  recordName: string;
  type: 'CNAME';
  ttl: number;
  /** The ALB's DNS name, UNKNOWN while the ALB is still to be made. */
  value: Maybe<string>;
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
  return { Name: target.recordName, Type: 'CNAME', TTL: target.ttl, ResourceRecords: [{ Value: target.value }] };
}

function targetOf(want: DesiredDnsRecord): DnsRecordOutput {
  return {
    hostedZoneId: resolved(want.hostedZoneId, 'the hosted zone ID'),
    recordName: want.recordName,
    type: 'CNAME',
    ttl: want.ttl,
    value: resolved(want.value, "the load balancer's DNS name"),
  };
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
    const now = await recordSetsNamed(context, target.hostedZoneId, target.recordName);
    if (now.some((recordSet) => holdsValue(recordSet, target.value))) return target;
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
      throw new AuthecsError(`${target.recordName} already has another record type, so a CNAME cannot be added: ${(error as Error).message}`, {
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

export const dnsRecordStep = defineResource<'dns-record', DesiredDnsRecord>({
  name: 'dns-record',
  title: 'DNS record (CNAME to the ALB)',
  articleSection: 'Configure both the Route 53 hosted zone and record',
  dependsOn: ['hosted-zone', 'load-balancer'],

  desired: (config, inputs) => ({
    hostedZoneId: known(inputs['hosted-zone'], (zone) => zone.hostedZoneId) ?? UNKNOWN,
    recordName: normalizeDnsName(config.domain),
    type: 'CNAME',
    ttl: ARTICLE_TTL,
    value: known(inputs['load-balancer'], (loadBalancer) => normalizeDnsName(loadBalancer.dnsName)) ?? UNKNOWN,
  }),
  // Route 53 API Reference, Change: UPSERT updates a record set matched by name and type (value
  // and TTL in place); another name or zone is another record set.
  effects: { hostedZoneId: 'replace', recordName: 'replace', type: 'replace', ttl: 'update', value: 'update' },

  async preflight(context) {
    if (context.record?.created) return;
    const zone = await lookUpZone(context.clients.route53, { domain: context.config.domain, hostedZoneId: context.config.hostedZoneId });
    if (!zone) return; // the hosted-zone step reports it
    const live = await recordSetsNamed(context, bareZoneId(zone.Id!), context.config.domain);
    const loadBalancerDns = context.hasOutput('load-balancer') ? context.output('load-balancer').dnsName : undefined;
    const other = live.find((recordSet) => !loadBalancerDns || !holdsValue(recordSet, loadBalancerDns));
    if (other) throw recordExists(context.config.domain, other, normalizeDnsName(zone.Name!));
  },

  /** Ours as it is now (so drift shows), else a CNAME already pointing at the ALB (adopted, not claimed); anything else there is a conflict. */
  async read(context) {
    const data = context.record?.data;
    const ours = context.record?.created === true;
    const hostedZoneId = data?.hostedZoneId ?? (context.hasOutput('hosted-zone') ? context.output('hosted-zone').hostedZoneId : undefined);
    const recordName = data?.recordName ?? context.config.domain;
    if (!hostedZoneId) return undefined;
    const sets = await recordSetsNamed(context, hostedZoneId, recordName);
    const loadBalancerDns = context.hasOutput('load-balancer') ? context.output('load-balancer').dnsName : undefined;
    const expected = ours ? data?.value : loadBalancerDns;
    const current = (expected ? sets.find((recordSet) => holdsValue(recordSet, expected)) : undefined) ?? (ours ? sets[0] : undefined);
    if (!current) {
      const other = sets[0];
      if (other) throw recordExists(recordName, other, zoneLabel(context, hostedZoneId));
      return undefined;
    }
    const value = recordValues(current).join(', ');
    const ttl = current.TTL ?? ARTICLE_TTL;
    const output: DnsRecordOutput = { hostedZoneId, recordName, type: 'CNAME', ttl, value };
    const pointsAtAlb = loadBalancerDns ? holdsValue(current, loadBalancerDns) : undefined;
    const observed: Live<'dns-record', DesiredDnsRecord>['observed'] = {
      hostedZoneId,
      recordName: normalizeDnsName(current.Name ?? recordName),
      type: 'CNAME',
      value,
      // The TTL of a record someone else made is theirs to choose.
      ...(ours ? { ttl: current.TTL } : {}),
    };
    return {
      output,
      observed,
      created: ours,
      health: {
        healthy: pointsAtAlb !== false,
        summary: `${recordName} -> ${value}`,
        details: { value, ttl: current.TTL, ...(loadBalancerDns ? { albDnsName: loadBalancerDns } : {}) },
      },
    };
  },

  async create(context, want) {
    return createRecord(context, targetOf(want));
  },

  /** A new value or TTL: one UPSERT of our own record (the ALB was replaced, or drift). */
  async update(context, want, live, changes) {
    const target = targetOf(want);
    // Only the record's owner repoints it: authecs adopted it because it already pointed at the ALB.
    if (!live.created) throw recordExists(target.recordName, recordSetOf(live.output), zoneLabel(context, target.hostedZoneId));
    if (changes.some((change) => change.field === 'value')) context.progress(`repointing ${target.recordName} from ${live.output.value} to ${target.value}`);
    await changeRecordsAndWait(context, target.hostedZoneId, [{ Action: 'UPSERT', ResourceRecordSet: recordSetOf(target) }], 'UPSERT the DNS record that points to the ALB');
    context.save({ data: target });
    return target;
  },

  /** Another name or zone: the new record first, then the old one goes once the run has succeeded. */
  async replace(context, want, live) {
    const output = await createRecord(context, targetOf(want));
    if (live.created) context.retire(live.output);
    return output;
  },

  async delete(context) {
    const data = context.record?.data;
    if (!data?.recordName || !data.hostedZoneId || !data.value) return;
    const live = await recordSetsNamed(context, data.hostedZoneId, data.recordName);
    const ours = live.find((recordSet) => holdsValue(recordSet, data.value!));
    if (!ours) {
      const other = live[0];
      // Someone repointed it since: it is theirs now, so leave it.
      if (other) context.progress(`left ${data.recordName} in place: it now points at ${recordValues(other).join(', ')}, not ${data.value}`);
      return;
    }
    // Route 53 deletes only an exact match of name, type, TTL and value.
    await deleteRecordSet(context, data.hostedZoneId, {
      Name: data.recordName,
      Type: 'CNAME',
      TTL: ours.TTL ?? data.ttl ?? ARTICLE_TTL,
      ResourceRecords: ours.ResourceRecords ?? [{ Value: data.value }],
    });
  },
});
