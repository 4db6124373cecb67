import { GetHostedZoneCommand, ListHostedZonesByNameCommand, type HostedZone, type ListHostedZonesByNameCommandOutput } from '@aws-sdk/client-route-53';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { HostedZoneOutput } from './outputs.js';
import { defineStep, type StepContext } from './step.js';

type Context = StepContext<'hosted-zone'>;

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

function toOutput(zone: HostedZone): HostedZoneOutput {
  return { hostedZoneId: bareZoneId(zone.Id!), zoneName: normalizeDnsName(zone.Name!) };
}

function notFound(domain: string): AuthecsError {
  return new AuthecsError(`No public Route 53 hosted zone contains ${domain}`, {
    code: 'HOSTED_ZONE_NOT_FOUND',
    exit: 'notFound',
    resource: domain,
    hint: `Create a public hosted zone for the domain's apex (as the article assumes), or pass --hosted-zone-id (AUTH_ECS_R53HZ) with the zone to use.`,
  });
}

/** The zone named by --hosted-zone-id, checked: it must be public and hold the domain. */
async function zoneFromSetting(context: Context, hostedZoneId: string): Promise<HostedZone> {
  const { domain } = context.config;
  let zone: HostedZone | undefined;
  try {
    zone = (await context.clients.route53.send(new GetHostedZoneCommand({ Id: hostedZoneId }))).HostedZone;
  } catch (error) {
    if (!hasErrorCode(error, 'NoSuchHostedZone')) throw error;
  }
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

/** Every zone named exactly `name`, paging while the listing is still on that name. */
async function zonesNamed(context: Context, name: string): Promise<HostedZone[]> {
  const matches: HostedZone[] = [];
  let dnsName: string | undefined = name;
  let hostedZoneId: string | undefined;
  for (;;) {
    const page: ListHostedZonesByNameCommandOutput = await context.clients.route53.send(new ListHostedZonesByNameCommand({ DNSName: dnsName, ...(hostedZoneId ? { HostedZoneId: hostedZoneId } : {}) }));
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
async function zoneByName(context: Context): Promise<HostedZone | undefined> {
  const labels = normalizeDnsName(context.config.domain).split('.');
  // A zone needs at least two labels (example.com); a bare TLD cannot be delegated to it.
  for (let start = 0; start <= labels.length - 2; start += 1) {
    const candidate = labels.slice(start).join('.');
    const publicZones = (await zonesNamed(context, candidate)).filter((zone) => !zone.Config?.PrivateZone);
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

export async function locate(context: Context): Promise<HostedZone | undefined> {
  const { hostedZoneId } = context.config;
  return hostedZoneId ? zoneFromSetting(context, hostedZoneId) : zoneByName(context);
}

export const hostedZoneStep = defineStep({
  name: 'hosted-zone',
  title: 'Route 53 hosted zone',
  articleSection: 'Configure both the Route 53 hosted zone and record',
  dependsOn: [],

  async preflight(context) {
    if (!(await locate(context))) throw notFound(context.config.domain);
  },

  // authecs never creates or deletes a zone: it is the user's, as in the article.
  async find(context) {
    const zone = await locate(context);
    return zone ? { output: toOutput(zone), created: false } : undefined;
  },

  async create(context) {
    const zone = await locate(context);
    if (!zone) throw notFound(context.config.domain);
    const output = toOutput(zone);
    context.save({ created: false, data: output });
    return output;
  },

  async delete() {
    // Never delete the user's zone (the article's cleanup does; authecs does not).
  },

  async inspect(context) {
    const recordedId = context.record?.data.hostedZoneId;
    if (!recordedId) return { present: false, healthy: false, summary: 'missing' };
    let zone: HostedZone | undefined;
    let recordCount: number | undefined;
    try {
      const response = await context.clients.route53.send(new GetHostedZoneCommand({ Id: recordedId }));
      zone = response.HostedZone;
      recordCount = zone?.ResourceRecordSetCount;
    } catch (error) {
      if (!hasErrorCode(error, 'NoSuchHostedZone')) throw error;
    }
    if (!zone) return { present: false, healthy: false, summary: `${recordedId} missing`, drift: [`hosted zone ${recordedId} no longer exists`] };
    const zoneName = normalizeDnsName(zone.Name!);
    const drift = zone.Config?.PrivateZone ? [`hosted zone ${recordedId} is private`] : [];
    return {
      present: true,
      healthy: drift.length === 0,
      summary: `${zoneName} (${recordedId})`,
      ...(drift.length > 0 ? { drift } : {}),
      details: { hostedZoneId: recordedId, zoneName, ...(recordCount === undefined ? {} : { recordCount }) },
    };
  },
});
