import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  type Change,
  type HostedZone,
  type ListHostedZonesByNameCommandOutput,
  type ListResourceRecordSetsCommandOutput,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { hasErrorCode } from '../../aws/errors.js';
import { AuthecsError } from '../../errors.js';
import type { StepName } from '../outputs.js';
import type { StepContext } from '../step.js';
import { DNS_CHANGE_SCHEDULE, pollUntil } from './poll.js';

/** The article's record: `"Type": "CNAME", "TTL": 300`. */
export const ARTICLE_TTL = 300;

/** Route 53 names end with a dot and may use any casing; compare them without either. */
export function normalizeDnsName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

export function bareZoneId(id: string): string {
  return id.replace(/^\/hostedzone\//, '');
}

/** Whether `domain` is the zone's apex or a name below it, on a label boundary. */
export function isWithinZone(domain: string, zoneName: string): boolean {
  const name = normalizeDnsName(domain);
  const zone = normalizeDnsName(zoneName);
  return name === zone || name.endsWith(`.${zone}`);
}

// ---------------------------------------------------------------------------------------------
// Zone lookup

/** What picks the zone: --hosted-zone-id when given, else the domain's longest public suffix zone. */
export interface ZoneLookup {
  domain: string;
  hostedZoneId?: string | undefined;
}

export function zoneNotFound(domain: string): AuthecsError {
  return new AuthecsError(`No public Route 53 hosted zone contains ${domain}`, {
    code: 'HOSTED_ZONE_NOT_FOUND',
    exit: 'notFound',
    resource: domain,
    hint: `Create a public hosted zone for the domain's apex (as the article assumes), or pass --hosted-zone-id (AUTH_ECS_R53HZ) with the zone to use.`,
  });
}

/** The zone with this ID, or undefined when it does not exist. */
export async function getZone(route53: Route53Client, hostedZoneId: string): Promise<HostedZone | undefined> {
  try {
    return (await route53.send(new GetHostedZoneCommand({ Id: bareZoneId(hostedZoneId) }))).HostedZone;
  } catch (error) {
    if (hasErrorCode(error, 'NoSuchHostedZone')) return undefined;
    throw error;
  }
}

/** The zone named by --hosted-zone-id, checked: it must be public and hold the domain. */
async function zoneFromSetting(route53: Route53Client, domain: string, hostedZoneId: string): Promise<HostedZone> {
  const zone = await getZone(route53, hostedZoneId);
  if (!zone) {
    throw new AuthecsError(`Hosted zone ${hostedZoneId} does not exist`, {
      code: 'HOSTED_ZONE_NOT_FOUND',
      exit: 'notFound',
      resource: hostedZoneId,
      hint: 'Check --hosted-zone-id (AUTH_ECS_R53HZ), or leave it out to use the public zone whose name is the longest suffix of --domain.',
    });
  }
  if (zone.Config?.PrivateZone) {
    throw new AuthecsError(`Hosted zone ${hostedZoneId} (${normalizeDnsName(zone.Name!)}) is private; the site and ACM validation need a public zone`, {
      code: 'HOSTED_ZONE_PRIVATE',
      exit: 'usage',
      resource: hostedZoneId,
      hint: 'Pass --hosted-zone-id (AUTH_ECS_R53HZ) with a public hosted zone, or leave it out to have authecs find one.',
    });
  }
  if (!isWithinZone(domain, zone.Name!)) {
    throw new AuthecsError(`${domain} is not within hosted zone ${hostedZoneId} (${normalizeDnsName(zone.Name!)})`, {
      code: 'HOSTED_ZONE_MISMATCH',
      exit: 'usage',
      resource: hostedZoneId,
      hint: 'Pass --hosted-zone-id (AUTH_ECS_R53HZ) with the zone that holds --domain, or change --domain.',
    });
  }
  return zone;
}

/**
 * Every zone named exactly `name`, paging while the listing is still on that name. The SDK has
 * no paginator for ListHostedZonesByName (it pages by DNSName and HostedZoneId), hence the loop.
 */
async function zonesNamed(route53: Route53Client, name: string): Promise<HostedZone[]> {
  const matches: HostedZone[] = [];
  let dnsName: string | undefined = name;
  let hostedZoneId: string | undefined;
  for (;;) {
    const page: ListHostedZonesByNameCommandOutput = await route53.send(new ListHostedZonesByNameCommand({ DNSName: dnsName, ...(hostedZoneId ? { HostedZoneId: hostedZoneId } : {}) }));
    const zones = page.HostedZones ?? [];
    // The listing is sorted and starts at `name`, so the first other name ends the matches.
    const named = zones.filter((zone) => normalizeDnsName(zone.Name ?? '') === name);
    matches.push(...named);
    if (named.length < zones.length || !page.IsTruncated || !page.NextDNSName) return matches;
    if (normalizeDnsName(page.NextDNSName) !== name) return matches;
    dnsName = page.NextDNSName;
    hostedZoneId = page.NextHostedZoneId;
  }
}

/** The longest public zone whose name is a suffix of the domain (the domain itself counts). */
async function zoneByName(route53: Route53Client, domain: string): Promise<HostedZone | undefined> {
  const labels = normalizeDnsName(domain).split('.');
  // A zone needs at least two labels (example.com); a bare TLD cannot be delegated to it.
  const candidates = labels.slice(0, -1).map((_, start) => labels.slice(start).join('.'));
  // Every candidate is asked at once: one round trip on the plan's path instead of one per label.
  const found = await Promise.all(candidates.map(async (candidate) => (await zonesNamed(route53, candidate)).filter((zone) => !zone.Config?.PrivateZone)));
  for (const [index, publicZones] of found.entries()) {
    const candidate = candidates[index]!;
    if (publicZones.length > 1) {
      throw new AuthecsError(`There are ${publicZones.length} public hosted zones named ${candidate}: ${publicZones.map((zone) => bareZoneId(zone.Id!)).join(', ')}`, {
        code: 'HOSTED_ZONE_AMBIGUOUS',
        exit: 'usage',
        resource: candidate,
        hint: 'Pass --hosted-zone-id (AUTH_ECS_R53HZ) with the one the domain is delegated to (its NS records are at the registrar).',
      });
    }
    if (publicZones[0]) return publicZones[0];
  }
  return undefined;
}

/** The zone the settings pick; undefined when no public zone holds the domain. */
export async function lookUpZone(route53: Route53Client, lookup: ZoneLookup): Promise<HostedZone | undefined> {
  return lookup.hostedZoneId ? zoneFromSetting(route53, lookup.domain, lookup.hostedZoneId) : zoneByName(route53, lookup.domain);
}

// ---------------------------------------------------------------------------------------------
// Records

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

/**
 * Every record set with this exact name and type (moto can hold more than one). One page is
 * enough: the listing starts at the name and type, and MaxItems covers the duplicates.
 */
export async function recordSetsNamed<Name extends StepName>(context: StepContext<Name>, hostedZoneId: string, name: string, type = 'CNAME'): Promise<ResourceRecordSet[]> {
  const wanted = normalizeDnsName(name);
  let response: ListResourceRecordSetsCommandOutput;
  try {
    response = await context.clients.route53.send(
      new ListResourceRecordSetsCommand({ HostedZoneId: hostedZoneId, StartRecordName: name, StartRecordType: type as ResourceRecordSet['Type'], MaxItems: 10 }),
    );
  } catch (error) {
    // A deleted zone took its records with it (e.g. the records of a zone the user replaced).
    if (hasErrorCode(error, 'NoSuchHostedZone')) return [];
    throw error;
  }
  return (response.ResourceRecordSets ?? []).filter((recordSet) => normalizeDnsName(recordSet.Name ?? '') === wanted && recordSet.Type === type);
}

/** Sends one change batch; returns its change ID unless Route 53 answered INSYNC at once. */
export async function changeRecords<Name extends StepName>(context: StepContext<Name>, hostedZoneId: string, changes: Change[], comment: string): Promise<string | undefined> {
  const response = await context.clients.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: hostedZoneId, ChangeBatch: { Comment: comment, Changes: changes } }));
  const changeId = response.ChangeInfo?.Id;
  return changeId && response.ChangeInfo?.Status !== 'INSYNC' ? changeId : undefined;
}

/** Sends one change batch and waits for INSYNC (GetChange), as the ResourceRecordSetsChanged waiter does. */
export async function changeRecordsAndWait<Name extends StepName>(context: StepContext<Name>, hostedZoneId: string, changes: Change[], comment: string): Promise<void> {
  const changeId = await changeRecords(context, hostedZoneId, changes, comment);
  if (!changeId) return;
  context.progress(`waiting for Route 53 change ${changeId.replace(/^\/change\//, '')} to be INSYNC`);
  await pollUntil(context, {
    description: `Route 53 change ${changeId} in zone ${hostedZoneId} to be INSYNC`,
    schedule: DNS_CHANGE_SCHEDULE,
    timeoutCode: 'DNS_CHANGE_TIMEOUT',
    timeoutHint: 'Route 53 normally syncs within a minute; check the Route 53 service health, then run the command again.',
    timeoutResource: changeId,
    check: async () => ((await context.clients.route53.send(new GetChangeCommand({ Id: changeId }))).ChangeInfo?.Status === 'INSYNC' ? true : undefined),
  });
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
    if (hasErrorCode(error, 'NoSuchHostedZone')) return;
    throw error;
  }
}
