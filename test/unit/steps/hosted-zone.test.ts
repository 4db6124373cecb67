import { GetHostedZoneCommand, ListHostedZonesByNameCommand, Route53Client, type HostedZone } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostedZoneStep } from '../../../src/steps/hosted-zone.js';
import { diffFields } from '../../../src/steps/resource.js';
import { isWithinZone } from '../../../src/steps/shared/route53.js';
import { articleConfig, stepHarness, type StepHarness } from '../../support/step-harness.js';

const route53 = mockClient(Route53Client);

function zone(id: string, name: string, privateZone = false): HostedZone {
  return { Id: `/hostedzone/${id}`, Name: name, CallerReference: id, Config: { PrivateZone: privateZone }, ResourceRecordSetCount: 2 };
}

const noSuchZone = () => Object.assign(new Error('No hosted zone found with ID: ZNOPE'), { name: 'NoSuchHostedZone' });

describe('hosted-zone step', () => {
  let harness: StepHarness<'hosted-zone'>;
  beforeEach(() => {
    route53.reset();
    route53.on(ListHostedZonesByNameCommand).resolves({ HostedZones: [], IsTruncated: false, MaxItems: 100 });
  });
  afterEach(() => harness?.cleanup());

  describe('lookup by name', () => {
    it('finds the public zone for the apex, as the article\'s list-hosted-zones-by-name does, and never creates one', async () => {
      harness = stepHarness(hostedZoneStep);
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'example.com' }).resolves({ HostedZones: [zone('Z0APEX', 'example.com.')], IsTruncated: false, MaxItems: 100 });

      const found = await hostedZoneStep.read(harness.readContext);

      expect(found).toMatchObject({ created: false, output: { hostedZoneId: 'Z0APEX', zoneName: 'example.com' }, observed: { domain: 'www.example.com', hostedZoneId: undefined } });
      const asked = route53.commandCalls(ListHostedZonesByNameCommand).map((call) => call.args[0].input.DNSName);
      expect(asked).toEqual(['www.example.com', 'example.com']);
    });

    it('prefers the longest matching zone (a delegated subdomain) over the apex, though every candidate name is asked at once', async () => {
      harness = stepHarness(hostedZoneStep, { config: { domain: 'www.app.example.com' } });
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'app.example.com' }).resolves({ HostedZones: [zone('Z0SUB', 'app.example.com.')], IsTruncated: false, MaxItems: 100 });
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'example.com' }).resolves({ HostedZones: [zone('Z0APEX', 'example.com.')], IsTruncated: false, MaxItems: 100 });

      const found = await hostedZoneStep.read(harness.readContext);

      expect(found?.output).toEqual({ hostedZoneId: 'Z0SUB', zoneName: 'app.example.com' });
      // One round trip: all three names are asked together, not one after another until a match.
      expect(route53.commandCalls(ListHostedZonesByNameCommand).map((call) => call.args[0].input.DNSName)).toEqual(['www.app.example.com', 'app.example.com', 'example.com']);
    });

    it('skips private zones and zones whose name only shares a suffix, not a label boundary', async () => {
      harness = stepHarness(hostedZoneStep, { config: { domain: 'www.app.example.com' } });
      // AWS lists from DNSName onwards, so other names follow the exact ones.
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'www.app.example.com' }).resolves({ HostedZones: [zone('Z0NEAR', 'xwww.app.example.com.')], IsTruncated: false, MaxItems: 100 });
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'app.example.com' }).resolves({ HostedZones: [zone('Z0PRIV', 'app.example.com.', true), zone('Z0OTHER', 'b.example.com.')], IsTruncated: false, MaxItems: 100 });
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'example.com' }).resolves({ HostedZones: [zone('Z0APEX', 'EXAMPLE.com.')], IsTruncated: false, MaxItems: 100 });

      const found = await hostedZoneStep.read(harness.readContext);

      expect(found?.output).toEqual({ hostedZoneId: 'Z0APEX', zoneName: 'example.com' });
    });

    it('accepts a zone that equals the domain', async () => {
      harness = stepHarness(hostedZoneStep, { config: { domain: 'example.com' } });
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'example.com' }).resolves({ HostedZones: [zone('Z0APEX', 'example.com.')], IsTruncated: false, MaxItems: 100 });

      expect((await hostedZoneStep.read(harness.readContext))?.output.hostedZoneId).toBe('Z0APEX');
      // A bare TLD is never asked for.
      expect(route53.commandCalls(ListHostedZonesByNameCommand).map((call) => call.args[0].input.DNSName)).toEqual(['example.com']);
    });

    it('pages while the listing is still on the same name', async () => {
      harness = stepHarness(hostedZoneStep);
      route53
        .on(ListHostedZonesByNameCommand, { DNSName: 'example.com' })
        .resolves({ HostedZones: [zone('Z0PRIV', 'example.com.', true)], IsTruncated: true, NextDNSName: 'example.com.', NextHostedZoneId: 'Z0PUB', MaxItems: 1 });
      route53
        .on(ListHostedZonesByNameCommand, { DNSName: 'example.com.', HostedZoneId: 'Z0PUB' })
        .resolves({ HostedZones: [zone('Z0PUB', 'example.com.')], IsTruncated: false, MaxItems: 1 });

      expect((await hostedZoneStep.read(harness.readContext))?.output.hostedZoneId).toBe('Z0PUB');
    });

    it('refuses to guess between two public zones with the same name', async () => {
      harness = stepHarness(hostedZoneStep);
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'example.com' }).resolves({ HostedZones: [zone('Z0ONE', 'example.com.'), zone('Z0TWO', 'example.com.')], IsTruncated: false, MaxItems: 100 });

      await expect(hostedZoneStep.read(harness.readContext)).rejects.toMatchObject({ code: 'HOSTED_ZONE_AMBIGUOUS', hint: expect.stringContaining('--hosted-zone-id') });
    });

    it('finds nothing, and create() then fails with a hint to create the zone or pass --hosted-zone-id', async () => {
      harness = stepHarness(hostedZoneStep);

      expect(await hostedZoneStep.read(harness.readContext)).toBeUndefined();
      const error = await hostedZoneStep.create(harness.context, hostedZoneStep.desired(harness.config, harness.inputs)).catch((caught: unknown) => caught);

      expect(error).toMatchObject({ code: 'HOSTED_ZONE_NOT_FOUND', exit: 'notFound' });
      expect((error as { hint: string }).hint).toMatch(/public hosted zone/);
      expect((error as { hint: string }).hint).toContain('--hosted-zone-id');
      expect((error as { hint: string }).hint).toContain('AUTH_ECS_R53HZ');
      expect(harness.state.get('hosted-zone')).toBeUndefined();
    });

    it('create() records a zone that appeared as not created', async () => {
      harness = stepHarness(hostedZoneStep);
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'example.com' }).resolves({ HostedZones: [zone('Z0APEX', 'example.com.')], IsTruncated: false, MaxItems: 100 });

      await hostedZoneStep.create(harness.context, hostedZoneStep.desired(harness.config, harness.inputs));

      expect(harness.state.get('hosted-zone')).toMatchObject({ created: false, data: { hostedZoneId: 'Z0APEX', zoneName: 'example.com' } });
    });
  });

  describe('--hosted-zone-id', () => {
    it('uses the given zone after checking it, without listing zones', async () => {
      harness = stepHarness(hostedZoneStep, { config: { hostedZoneId: '/hostedzone/Z0GIVEN' } });
      route53.on(GetHostedZoneCommand, { Id: 'Z0GIVEN' }).resolves({ HostedZone: zone('Z0GIVEN', 'example.com.'), DelegationSet: { NameServers: [] } });

      expect(await hostedZoneStep.read(harness.readContext)).toMatchObject({ created: false, output: { hostedZoneId: 'Z0GIVEN', zoneName: 'example.com' }, observed: { hostedZoneId: 'Z0GIVEN' } });
      expect(route53.commandCalls(ListHostedZonesByNameCommand)).toHaveLength(0);
    });

    it('rejects a private zone', async () => {
      harness = stepHarness(hostedZoneStep, { config: { hostedZoneId: 'Z0GIVEN' } });
      route53.on(GetHostedZoneCommand).resolves({ HostedZone: zone('Z0GIVEN', 'example.com.', true) });

      await expect(hostedZoneStep.read(harness.readContext)).rejects.toMatchObject({ code: 'HOSTED_ZONE_PRIVATE', exit: 'usage' });
    });

    it('rejects a zone that does not hold the domain', async () => {
      harness = stepHarness(hostedZoneStep, { config: { hostedZoneId: 'Z0GIVEN' } });
      route53.on(GetHostedZoneCommand).resolves({ HostedZone: zone('Z0GIVEN', 'ample.com.') });

      await expect(hostedZoneStep.read(harness.readContext)).rejects.toMatchObject({ code: 'HOSTED_ZONE_MISMATCH', exit: 'usage' });
    });

    it('reports a zone ID that does not exist', async () => {
      harness = stepHarness(hostedZoneStep, { config: { hostedZoneId: 'Z0NOPE' } });
      route53.on(GetHostedZoneCommand).rejects(noSuchZone());

      await expect(hostedZoneStep.read(harness.readContext)).rejects.toMatchObject({ code: 'HOSTED_ZONE_NOT_FOUND', exit: 'notFound', hint: expect.stringContaining('--hosted-zone-id') });
    });
  });

  it('delete never touches the zone', async () => {
    harness = stepHarness(hostedZoneStep, { record: { created: false, complete: true, data: { hostedZoneId: 'Z0APEX', zoneName: 'example.com' } } });

    await hostedZoneStep.delete(harness.context);

    expect(route53.calls()).toHaveLength(0);
  });

  describe('read (health and re-pointing)', () => {
    const recorded = { created: false, complete: true, data: { hostedZoneId: 'Z0APEX', zoneName: 'example.com' } };

    it('reports the recorded zone as healthy, and sees no change while the settings still pick it', async () => {
      harness = stepHarness(hostedZoneStep, { record: recorded });
      route53.on(GetHostedZoneCommand).resolves({ HostedZone: zone('Z0APEX', 'example.com.') });
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'example.com' }).resolves({ HostedZones: [zone('Z0APEX', 'example.com.')], IsTruncated: false, MaxItems: 100 });

      const live = (await hostedZoneStep.read(harness.readContext))!;

      expect(live.health).toEqual({ healthy: true, summary: 'example.com (Z0APEX)', details: { hostedZoneId: 'Z0APEX', zoneName: 'example.com', recordCount: 2 } });
      expect(diffFields(hostedZoneStep.desired(harness.config, harness.inputs), live.observed, hostedZoneStep.effects)).toEqual([]);
    });

    it('--hosted-zone-id naming another zone re-runs the lookup (replace), and create then records the new zone', async () => {
      harness = stepHarness(hostedZoneStep, { record: recorded, config: { hostedZoneId: 'Z0OTHER' } });
      route53.on(GetHostedZoneCommand, { Id: 'Z0APEX' }).resolves({ HostedZone: zone('Z0APEX', 'example.com.') });
      route53.on(GetHostedZoneCommand, { Id: 'Z0OTHER' }).resolves({ HostedZone: zone('Z0OTHER', 'example.com.') });

      const want = hostedZoneStep.desired(harness.config, harness.inputs);
      const live = (await hostedZoneStep.read(harness.readContext))!;

      expect(live.output.hostedZoneId).toBe('Z0APEX');
      expect(diffFields(want, live.observed, hostedZoneStep.effects)).toEqual([{ field: 'hostedZoneId', from: 'Z0APEX', to: 'Z0OTHER', effect: 'replace' }]);
      expect(await hostedZoneStep.create(harness.context, want)).toEqual({ hostedZoneId: 'Z0OTHER', zoneName: 'example.com' });
      expect(harness.state.get('hosted-zone')).toMatchObject({ created: false, data: { hostedZoneId: 'Z0OTHER' } });
      expect(route53.calls().map((call) => call.args[0].constructor.name)).not.toContain('CreateHostedZoneCommand');
    });

    it('a new --domain whose longest public zone is another one re-runs the lookup', async () => {
      harness = stepHarness(hostedZoneStep, { record: recorded, config: { domain: 'www.app.example.com' } });
      route53.on(GetHostedZoneCommand).resolves({ HostedZone: zone('Z0APEX', 'example.com.') });
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'app.example.com' }).resolves({ HostedZones: [zone('Z0SUB', 'app.example.com.')], IsTruncated: false, MaxItems: 100 });

      const live = (await hostedZoneStep.read(harness.readContext))!;

      expect(diffFields(hostedZoneStep.desired(harness.config, harness.inputs), live.observed, hostedZoneStep.effects)).toEqual([
        { field: 'hostedZoneId', from: 'Z0APEX', to: undefined, effect: 'replace' },
      ]);
    });

    it('finds the zone by name again when the recorded one is gone', async () => {
      harness = stepHarness(hostedZoneStep, { record: recorded });
      route53.on(GetHostedZoneCommand).rejects(noSuchZone());
      route53.on(ListHostedZonesByNameCommand, { DNSName: 'example.com' }).resolves({ HostedZones: [zone('Z0NEW', 'example.com.')], IsTruncated: false, MaxItems: 100 });

      expect((await hostedZoneStep.read(harness.readContext))?.output.hostedZoneId).toBe('Z0NEW');
    });

    it('reports a recorded zone that turned private as unhealthy', async () => {
      harness = stepHarness(hostedZoneStep, { record: recorded });
      route53.on(GetHostedZoneCommand).resolves({ HostedZone: zone('Z0APEX', 'example.com.', true) });

      expect((await hostedZoneStep.read(harness.readContext))?.health).toMatchObject({ healthy: false, summary: 'example.com (Z0APEX) is private' });
    });
  });

  it('desired is the lookup inputs: the domain and --hosted-zone-id (undefined when not given)', () => {
    expect(hostedZoneStep.desired(articleConfig(), {})).toEqual({ domain: 'www.example.com', hostedZoneId: undefined });
    expect(hostedZoneStep.desired(articleConfig({ hostedZoneId: 'Z0GIVEN' }), {})).toEqual({ domain: 'www.example.com', hostedZoneId: 'Z0GIVEN' });
  });

  it('preflight stops up when no zone holds the domain', async () => {
    harness = stepHarness(hostedZoneStep);

    await expect(hostedZoneStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'HOSTED_ZONE_NOT_FOUND' });
  });

  it('matches names on label boundaries only', () => {
    expect(isWithinZone('www.example.com', 'example.com.')).toBe(true);
    expect(isWithinZone('example.com', 'Example.COM.')).toBe(true);
    expect(isWithinZone('www.myexample.com', 'example.com')).toBe(false);
    expect(isWithinZone('example.com', 'www.example.com')).toBe(false);
  });
});
