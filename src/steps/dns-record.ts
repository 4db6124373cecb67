import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  waitUntilResourceRecordSetsChanged,
  type Change,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { awsErrorCode, hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import { locate as locateZone, normalizeDnsName } from './hosted-zone.js';
import type { DnsRecordOutput, StepName } from './outputs.js';
import { defineStep, type StepContext } from './step.js';

type Context = StepContext<'dns-record'>;

/** The article's record: `"Type": "CNAME", "TTL": 300`. */
export const ARTICLE_TTL = 300;

// ResourceRecordSetsChanged waiter: every 30 s (aws-behaviour.md); changes reach INSYNC in under a minute.
const CHANGE_POLL_SECONDS = 30;

/** The values of a record set, compared without case or trailing dot; an alias counts by its target. */
export function recordValues(recordSet: ResourceRecordSet): string[] {
  const values = (recordSet.ResourceRecords ?? []).map((record) => record.Value ?? '');
  if (recordSet.AliasTarget?.DNSName) values.push(recordSet.AliasTarget.DNSName);
  return values.map(normalizeDnsName);
}

export function holdsValue(recordSet: ResourceRecordSet, value: string): boolean {
  const values = recordValues(recordSet);
  return values.length === 1 && values[0] === normalizeDnsName(value);
}

/** Every record set with this exact name and type (moto can hold more than one). */
export async function recordSetsNamed<Name extends StepName>(context: StepContext<Name>, hostedZoneId: string, name: string, type = 'CNAME'): Promise<ResourceRecordSet[]> {
  const wanted = normalizeDnsName(name);
  const response = await context.clients.route53.send(
    new ListResourceRecordSetsCommand({ HostedZoneId: hostedZoneId, StartRecordName: name, StartRecordType: type as ResourceRecordSet['Type'], MaxItems: 10 }),
  );
  return (response.ResourceRecordSets ?? []).filter((recordSet) => normalizeDnsName(recordSet.Name ?? '') === wanted && recordSet.Type === type);
}

/** Sends one change batch and waits for INSYNC, as the ResourceRecordSetsChanged waiter does. */
export async function changeRecordsAndWait<Name extends StepName>(context: StepContext<Name>, hostedZoneId: string, changes: Change[], comment: string): Promise<void> {
  const response = await context.clients.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: hostedZoneId, ChangeBatch: { Comment: comment, Changes: changes } }));
  const changeId = response.ChangeInfo?.Id;
  if (!changeId || response.ChangeInfo?.Status === 'INSYNC') return;
  context.progress(`waiting for Route 53 change ${changeId.replace(/^\/change\//, '')} to be INSYNC`);
  try {
    await waitUntilResourceRecordSetsChanged(
      {
        client: context.clients.route53,
        maxWaitTime: context.waitTimeoutSeconds,
        minDelay: context.pollSeconds(CHANGE_POLL_SECONDS),
        maxDelay: context.pollSeconds(CHANGE_POLL_SECONDS),
      },
      { Id: changeId },
    );
  } catch (error) {
    throw new AuthecsError(`Route 53 change ${changeId} in zone ${hostedZoneId} did not reach INSYNC (${awsErrorCode(error)})`, {
      code: 'DNS_CHANGE_TIMEOUT',
      exit: 'timeout',
      resource: changeId,
      hint: 'Route 53 normally syncs within a minute; check the Route 53 service health, then run the command again.',
    });
  }
}

/** Deletes a record set exactly as it is live; "not found" means someone already removed it. */
export async function deleteRecordSet<Name extends StepName>(context: StepContext<Name>, hostedZoneId: string, recordSet: ResourceRecordSet): Promise<void> {
  try {
    await context.clients.route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: hostedZoneId,
        ChangeBatch: { Comment: 'authecs down', Changes: [{ Action: 'DELETE', ResourceRecordSet: recordSet }] },
      }),
    );
  } catch (error) {
    if (hasErrorCode(error, 'InvalidChangeBatch') && /not found/i.test((error as Error).message)) return;
    throw error;
  }
}

function recordExists(context: Context, name: string, current: ResourceRecordSet, zoneName = context.output('hosted-zone').zoneName): AuthecsError {
  return new AuthecsError(`${name} already has a ${current.Type} record pointing at ${recordValues(current).join(', ') || '(alias)'}, which authecs did not create`, {
    code: 'DNS_RECORD_EXISTS',
    exit: 'conflict',
    resource: name,
    hint: `Delete or repoint that record in Route 53 zone ${zoneName} yourself if it is no longer needed, or pass --domain with another name.`,
  });
}

function desired(context: Context, ttl: number = ARTICLE_TTL): DnsRecordOutput {
  return {
    hostedZoneId: context.output('hosted-zone').hostedZoneId,
    recordName: context.config.domain,
    type: 'CNAME',
    ttl,
    value: context.output('load-balancer').dnsName,
  };
}

export const dnsRecordStep = defineStep({
  name: 'dns-record',
  title: 'DNS record (CNAME to the ALB)',
  articleSection: 'Configure both the Route 53 hosted zone and record',
  dependsOn: ['hosted-zone', 'load-balancer'],

  async preflight(context) {
    if (context.record?.created) return;
    const zone = await locateZone(context as unknown as StepContext<'hosted-zone'>);
    if (!zone) return; // the hosted-zone step reports it
    const live = await recordSetsNamed(context, zone.Id!.replace(/^\/hostedzone\//, ''), context.config.domain);
    const loadBalancerDns = context.hasOutput('load-balancer') ? context.output('load-balancer').dnsName : undefined;
    const other = live.find((recordSet) => !loadBalancerDns || !holdsValue(recordSet, loadBalancerDns));
    if (other) throw recordExists(context, context.config.domain, other, zone.Name!.replace(/\.$/, ''));
  },

  async find(context) {
    const target = desired(context);
    const live = await recordSetsNamed(context, target.hostedZoneId, target.recordName);
    const current = live.find((recordSet) => holdsValue(recordSet, target.value));
    if (!current) return undefined;
    // Records cannot be tagged: only our own record (intent saved before the change) says we made it.
    return { output: desired(context, current.TTL ?? ARTICLE_TTL), created: context.record?.created === true };
  },

  async create(context) {
    const target = desired(context);
    const weCreatedIt = context.record?.created === true;
    const live = await recordSetsNamed(context, target.hostedZoneId, target.recordName);
    const current = live.find((recordSet) => holdsValue(recordSet, target.value));
    if (current) {
      const output = desired(context, current.TTL ?? ARTICLE_TTL);
      context.save({ created: weCreatedIt, data: output });
      return output;
    }
    const other = live[0];
    if (other && !weCreatedIt) throw recordExists(context, target.recordName, other);
    // Ours but pointing elsewhere: the ALB was replaced, so repoint the record.
    const action = other ? 'UPSERT' : 'CREATE';
    if (other) context.progress(`repointing ${target.recordName} from ${recordValues(other).join(', ')} to ${target.value}`);

    // Intent first: a DNS record cannot be tagged, so this is the only proof that it is ours.
    context.save({ created: true, data: target });
    try {
      await changeRecordsAndWait(
        context,
        target.hostedZoneId,
        [{ Action: action, ResourceRecordSet: { Name: target.recordName, Type: 'CNAME', TTL: ARTICLE_TTL, ResourceRecords: [{ Value: target.value }] } }],
        'CREATE a DNS record that points to the ALB',
      );
    } catch (error) {
      if (!hasErrorCode(error, 'InvalidChangeBatch')) throw error;
      const now = await recordSetsNamed(context, target.hostedZoneId, target.recordName);
      // Our CREATE raced an identical record into place: that is the outcome we wanted.
      if (now.some((recordSet) => holdsValue(recordSet, target.value))) return target;
      const conflicting = now[0];
      if (conflicting) throw recordExists(context, target.recordName, conflicting);
      if (action === 'CREATE' && /already exists/i.test((error as Error).message)) {
        // Route 53 said "exists" but a fresh listing shows nothing by that name (a record deleted
        // a moment ago; moto's prefix match does this too): UPSERT makes the record we checked for.
        await changeRecordsAndWait(
          context,
          target.hostedZoneId,
          [{ Action: 'UPSERT', ResourceRecordSet: { Name: target.recordName, Type: 'CNAME', TTL: ARTICLE_TTL, ResourceRecords: [{ Value: target.value }] } }],
          'CREATE a DNS record that points to the ALB',
        );
        context.save({ data: target });
        return target;
      }
      if (/conflicting RRSet/i.test((error as Error).message)) {
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
    // The article's record, exactly: Route 53 deletes only an exact match of name, type, TTL and value.
    await deleteRecordSet(context, data.hostedZoneId, {
      Name: data.recordName,
      Type: 'CNAME',
      TTL: ours.TTL ?? data.ttl ?? ARTICLE_TTL,
      ResourceRecords: ours.ResourceRecords ?? [{ Value: data.value }],
    });
  },

  async inspect(context) {
    const data = context.record?.data;
    if (!data?.recordName || !data.hostedZoneId) return { present: false, healthy: false, summary: 'missing' };
    const live = await recordSetsNamed(context, data.hostedZoneId, data.recordName);
    const current = live[0];
    if (!current) return { present: false, healthy: false, summary: 'missing', drift: [`CNAME ${data.recordName} is missing from zone ${data.hostedZoneId}`] };
    const albDnsName = context.hasOutput('load-balancer') ? context.output('load-balancer').dnsName : data.value;
    const values = recordValues(current);
    const value = values.join(', ');
    const drift: string[] = [];
    if (albDnsName && !live.some((recordSet) => holdsValue(recordSet, albDnsName))) drift.push(`CNAME ${data.recordName} points at ${value}, not the ALB ${albDnsName}`);
    return {
      present: true,
      healthy: drift.length === 0,
      summary: `${data.recordName} -> ${value}`,
      ...(drift.length > 0 ? { drift } : {}),
      details: { value, ttl: current.TTL, ...(albDnsName ? { albDnsName } : {}) },
    };
  },
});
