import type { HostedZone } from '@aws-sdk/client-route-53';
import type { Config } from '../config/schema.js';
import type { HostedZoneOutput } from './outputs.js';
import { defineResource, type Live } from './resource.js';
import { bareZoneId, getZone, lookUpZone, normalizeDnsName, zoneNotFound, type ZoneLookup } from './shared/route53.js';

/** The lookup's inputs, not the zone: the zone is the user's and authecs never makes or deletes one. */
export interface DesiredHostedZone {
  domain: string;
  hostedZoneId: string | undefined;
}

function toOutput(zone: HostedZone): HostedZoneOutput {
  return { hostedZoneId: bareZoneId(zone.Id!), zoneName: normalizeDnsName(zone.Name!) };
}

function desiredOf(config: Config): DesiredHostedZone {
  return { domain: config.domain, hostedZoneId: config.hostedZoneId };
}

function lookupOf(want: DesiredHostedZone): ZoneLookup {
  return { domain: want.domain, hostedZoneId: want.hostedZoneId };
}

function live(zone: HostedZone, observed: Partial<DesiredHostedZone>): Live<'hosted-zone', DesiredHostedZone> {
  const output = toOutput(zone);
  const privateZone = zone.Config?.PrivateZone === true;
  return {
    output,
    observed,
    created: false,
    health: {
      healthy: !privateZone,
      summary: privateZone ? `${output.zoneName} (${output.hostedZoneId}) is private` : `${output.zoneName} (${output.hostedZoneId})`,
      details: { ...output, ...(zone.ResourceRecordSetCount === undefined ? {} : { recordCount: zone.ResourceRecordSetCount }) },
    },
  };
}

export const hostedZoneStep = defineResource<'hosted-zone', DesiredHostedZone>({
  name: 'hosted-zone',
  title: 'Route 53 hosted zone',
  articleSection: 'Configure both the Route 53 hosted zone and record',
  dependsOn: [],

  desired: desiredOf,
  // Another zone is a new lookup, never an edit: "replace" re-runs it so dependents re-point.
  effects: { domain: 'replace', hostedZoneId: 'replace' },

  async preflight(context) {
    if (!(await lookUpZone(context.clients.route53, lookupOf(desiredOf(context.config))))) throw zoneNotFound(context.config.domain);
  },

  /** The recorded zone; when today's settings pick another, its ID shows as the old value so the lookup runs again. */
  async read(context) {
    const want = desiredOf(context.config);
    const current = await lookUpZone(context.clients.route53, lookupOf(want));
    const recordedId = context.record?.data.hostedZoneId;
    const recorded = recordedId ? await getZone(context.clients.route53, recordedId) : undefined;
    if (!recorded) return current ? live(current, { ...want }) : undefined;
    if (current && bareZoneId(current.Id!) === bareZoneId(recorded.Id!)) return live(recorded, { ...want });
    return live(recorded, { hostedZoneId: bareZoneId(recorded.Id!) });
  },

  // A lookup, not a creation: no zone means the user has to make one (or pass --hosted-zone-id).
  async create(context, want) {
    const zone = await lookUpZone(context.clients.route53, lookupOf(want));
    if (!zone) throw zoneNotFound(want.domain);
    const output = toOutput(zone);
    context.save({ created: false, data: output });
    return output;
  },

  async delete() {
    // Never delete the user's zone (the article's cleanup does; authecs does not).
  },
});
