import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dnsRecordStep } from '../../../src/steps/dns-record.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const route53 = mockClient(Route53Client);
const ZONE = SAMPLE_OUTPUTS['hosted-zone'].hostedZoneId;
const ALB = SAMPLE_OUTPUTS['load-balancer'].dnsName;
const OLD_ALB = 'ecsauth-0000000001.eu-west-1.elb.amazonaws.com';
const OURS = { hostedZoneId: ZONE, recordName: 'www.example.com', type: 'CNAME' as const, ttl: 300, value: ALB };

function cname(value: string, name = 'www.example.com.', ttl = 300): ResourceRecordSet {
  return { Name: name, Type: 'CNAME', TTL: ttl, ResourceRecords: [{ Value: value }] };
}
function listing(...sets: ResourceRecordSet[]) {
  return { ResourceRecordSets: sets, IsTruncated: false, MaxItems: 10 };
}
const changeInfo = (status: 'PENDING' | 'INSYNC') => ({ ChangeInfo: { Id: '/change/C0123456789', Status: status, SubmittedAt: new Date() } });

describe('dns-record step', () => {
  let harness: StepHarness<'dns-record'>;
  const want = () => dnsRecordStep.desired(harness.config, harness.inputs);
  beforeEach(() => {
    route53.reset();
  });
  afterEach(() => harness?.cleanup());

  describe('create', () => {
    it("CREATEs the article's CNAME (domain -> ALB, TTL 300) after saving an intent, then waits for INSYNC", async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      let recordAtChange: unknown;
      route53.on(ChangeResourceRecordSetsCommand).callsFake(() => {
        recordAtChange = harness.state.get('dns-record');
        return changeInfo('PENDING');
      });
      route53.on(GetChangeCommand).resolvesOnce(changeInfo('PENDING')).resolves(changeInfo('INSYNC'));

      expect(await dnsRecordStep.read(harness.readContext)).toBeUndefined();
      const output = await dnsRecordStep.create(harness.context, want());

      expect(route53.commandCalls(ListResourceRecordSetsCommand)[0]!.args[0].input).toMatchObject({ HostedZoneId: ZONE, StartRecordName: 'www.example.com', StartRecordType: 'CNAME' });
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input).toEqual({
        HostedZoneId: ZONE,
        ChangeBatch: {
          Comment: 'CREATE a DNS record that points to the ALB',
          Changes: [{ Action: 'CREATE', ResourceRecordSet: { Name: 'www.example.com', Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: ALB }] } }],
        },
      });
      expect(recordAtChange).toMatchObject({ created: true, data: OURS });
      expect(route53.commandCalls(GetChangeCommand)).toHaveLength(2);
      expect(route53.commandCalls(GetChangeCommand)[0]!.args[0].input).toEqual({ Id: '/change/C0123456789' });
      expect(output).toEqual(OURS);
      expect(harness.state.get('dns-record')).toMatchObject({ created: true, data: OURS });
    });

    it('polls GetChange every 3 s for the first minute, then every 10 s: a change INSYNC after 90 s takes 24 checks', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      let changedAt = 0;
      const checks: number[] = [];
      route53.on(ChangeResourceRecordSetsCommand).callsFake(() => {
        changedAt = harness.context.now();
        return changeInfo('PENDING');
      });
      route53.on(GetChangeCommand).callsFake(() => {
        const seconds = (harness.context.now() - changedAt) / 1000;
        checks.push(seconds);
        return changeInfo(seconds >= 90 ? 'INSYNC' : 'PENDING');
      });

      await dnsRecordStep.create(harness.context, want());

      expect(checks).toEqual([...Array.from({ length: 20 }, (_, index) => index * 3), 60, 70, 80, 90]);
      expect(harness.reporter.events.filter((event) => event.type === 'wait')).toEqual([
        { type: 'wait', step: 'dns-record', description: `Route 53 change /change/C0123456789 in zone ${ZONE} to be INSYNC`, calls: 24, elapsedMs: 90_000, outcome: 'done' },
      ]);
    });

    it('times out with DNS_CHANGE_TIMEOUT and a hint when the change never reaches INSYNC', async () => {
      harness = stepHarness(dnsRecordStep, { config: { waitTimeoutMinutes: 2 } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('PENDING'));
      route53.on(GetChangeCommand).resolves(changeInfo('PENDING'));

      await expect(dnsRecordStep.create(harness.context, want())).rejects.toMatchObject({ code: 'DNS_CHANGE_TIMEOUT', exit: 'timeout', hint: expect.stringContaining('within a minute') });
      // 20 checks in the first minute, then 60, 70, ... 120 s.
      expect(route53.commandCalls(GetChangeCommand)).toHaveLength(27);
    });

    it('refuses to overwrite a CNAME authecs did not create: read and preflight stop before any change', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname('legacy.example.net')));
      route53.on(ListHostedZonesByNameCommand).resolves({ HostedZones: [{ Id: `/hostedzone/${ZONE}`, Name: 'example.com.', CallerReference: 'x' }], IsTruncated: false, MaxItems: 100 });

      await expect(dnsRecordStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'DNS_RECORD_EXISTS', exit: 'conflict' });
      const error = await dnsRecordStep.read(harness.readContext).catch((caught: unknown) => caught);

      expect(error).toMatchObject({ code: 'DNS_RECORD_EXISTS', exit: 'conflict', message: expect.stringContaining('legacy.example.net') });
      expect((error as { hint: string }).hint).toContain('--domain');
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
      expect(harness.state.get('dns-record')).toBeUndefined();
    });

    it('drops the intent\'s claim when the CREATE meets a record someone else made meanwhile', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname('legacy.example.net')));
      route53
        .on(ChangeResourceRecordSetsCommand)
        .rejects(Object.assign(new Error("Tried to create resource record set [name='www.example.com.', type='CNAME'] but it already exists"), { name: 'InvalidChangeBatch' }));

      await expect(dnsRecordStep.create(harness.context, want())).rejects.toMatchObject({ code: 'DNS_RECORD_EXISTS' });
      expect(harness.state.get('dns-record')?.created).toBe(false);
    });

    it('ignores the next name in the listing (StartRecordName returns following records too)', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname('elsewhere.example.net', 'www2.example.com.'), { Name: 'www.example.com.', Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"v"' }] }));
      route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('INSYNC'));

      await dnsRecordStep.create(harness.context, want());

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes![0]!.Action).toBe('CREATE');
    });

    it('adopts an identical record that a racing CREATE found already there', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB)));
      route53
        .on(ChangeResourceRecordSetsCommand)
        .rejects(Object.assign(new Error("Tried to create resource record set [name='www.example.com.', type='CNAME'] but it already exists"), { name: 'InvalidChangeBatch' }));

      expect(await dnsRecordStep.create(harness.context, want())).toEqual(OURS);
    });
  });

  describe('desired and diff', () => {
    it('is the article\'s CNAME from the zone and the ALB', () => {
      harness = stepHarness(dnsRecordStep);
      expect(want()).toEqual({ ...OURS, aliasHostedZoneId: null });
    });

    it('gives UNKNOWN for the value while the ALB is to be made, and for the zone while it is to be looked up', () => {
      harness = stepHarness(dnsRecordStep);
      expect(dnsRecordStep.desired(harness.config, { ...harness.inputs, 'load-balancer': UNKNOWN })).toEqual({ ...OURS, value: UNKNOWN, aliasHostedZoneId: null });
      expect(dnsRecordStep.desired(harness.config, { ...harness.inputs, 'hosted-zone': UNKNOWN }).hostedZoneId).toBe(UNKNOWN);
    });

    it('a replaced ALB is an update of the value; another domain is a replacement', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: { ...OURS, value: OLD_ALB } } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(OLD_ALB)));

      const live = (await dnsRecordStep.read(harness.readContext))!;

      expect(diffFields(want(), live.observed, dnsRecordStep.effects)).toEqual([{ field: 'value', from: OLD_ALB, to: ALB, effect: 'update' }]);
      const renamed = dnsRecordStep.desired({ ...harness.config, domain: 'app.example.com' }, harness.inputs);
      expect(diffFields(renamed, live.observed, dnsRecordStep.effects)).toEqual([
        { field: 'recordName', from: 'www.example.com', to: 'app.example.com', effect: 'replace' },
        { field: 'value', from: OLD_ALB, to: ALB, effect: 'update' },
      ]);
    });
  });

  describe('read', () => {
    it('finds our recorded CNAME (names come back with a trailing dot) so a second up changes nothing', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(`${ALB.toUpperCase()}.`)));

      const live = (await dnsRecordStep.read(harness.readContext))!;

      expect(live).toMatchObject({ created: true, output: OURS });
      expect(diffFields(want(), live.observed, dnsRecordStep.effects)).toEqual([]);
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('finds a matching CNAME it has no record of, but does not claim it', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB, 'www.example.com.', 60)));

      const live = (await dnsRecordStep.read(harness.readContext))!;

      expect(live).toMatchObject({ created: false, output: { ...OURS, ttl: 60 } });
      // Its TTL is its owner's: not compared, so no update of a record that is not ours.
      expect(diffFields(want(), live.observed, dnsRecordStep.effects)).toEqual([]);
    });

    it('resumes after a crash between the intent and the change: the record exists, so nothing to create', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: false, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB)));

      expect(await dnsRecordStep.read(harness.readContext)).toMatchObject({ created: true, output: OURS });
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('cannot look before the zone is known, and says nothing is there', async () => {
      harness = stepHarness(dnsRecordStep);
      harness.state.remove('hosted-zone');

      expect(await dnsRecordStep.read(harness.readContext)).toBeUndefined();
      expect(route53.calls()).toHaveLength(0);
    });

    it('is healthy when the CNAME points at the ALB', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB)));

      expect((await dnsRecordStep.read(harness.readContext))?.health).toEqual({ healthy: true, summary: `www.example.com -> ${ALB}`, details: { value: ALB, ttl: 300, albDnsName: ALB } });
    });

    it('reports our CNAME pointing elsewhere as unhealthy, with the live value observed', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(OLD_ALB)));

      const live = (await dnsRecordStep.read(harness.readContext))!;

      expect(live.health).toMatchObject({ healthy: false, details: { value: OLD_ALB } });
      expect(live.observed.value).toBe(OLD_ALB);
    });

    it('reports a missing record as nothing live', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing());

      expect(await dnsRecordStep.read(harness.readContext)).toBeUndefined();
    });
  });

  describe('update and replace', () => {
    it('UPSERTs its own record when the ALB was replaced: one change, no CREATE', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: { ...OURS, value: OLD_ALB } } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(OLD_ALB)));
      route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('INSYNC'));

      const live = (await dnsRecordStep.read(harness.readContext))!;
      const output = await dnsRecordStep.update!(harness.context, want(), live, diffFields(want(), live.observed, dnsRecordStep.effects));

      const calls = route53.commandCalls(ChangeResourceRecordSetsCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.args[0].input).toEqual({
        HostedZoneId: ZONE,
        ChangeBatch: {
          Comment: 'UPSERT the DNS record that points to the ALB',
          Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: 'www.example.com', Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: ALB }] } }],
        },
      });
      expect(output).toEqual(OURS);
      expect(harness.state.get('dns-record')).toMatchObject({ created: true, data: { value: ALB } });
    });

    it('will not repoint a record it adopted but did not create: read calls it a conflict, and update refuses too', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: false, complete: true, data: { ...OURS, value: OLD_ALB } } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(OLD_ALB)));

      await expect(dnsRecordStep.read(harness.readContext)).rejects.toMatchObject({ code: 'DNS_RECORD_EXISTS' });
      const adopted = { output: { ...OURS, value: OLD_ALB }, observed: { value: OLD_ALB }, created: false, health: { healthy: false, summary: '' } };
      const changes = [{ field: 'value', from: OLD_ALB, to: ALB, effect: 'update' as const }];
      await expect(dnsRecordStep.update!(harness.context, want(), adopted, changes)).rejects.toMatchObject({ code: 'DNS_RECORD_EXISTS' });
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('another domain: CREATEs the new record, then retires the old one for deletion after the run', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand, { StartRecordName: 'www.example.com' }).resolves(listing(cname(ALB)));
      route53.on(ListResourceRecordSetsCommand, { StartRecordName: 'app.example.com' }).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('INSYNC'));

      const live = (await dnsRecordStep.read(harness.readContext))!;
      const renamed = dnsRecordStep.desired({ ...harness.config, domain: 'app.example.com' }, harness.inputs);
      const output = await dnsRecordStep.replace!(harness.context, renamed, live, diffFields(renamed, live.observed, dnsRecordStep.effects));

      const changes = route53.commandCalls(ChangeResourceRecordSetsCommand).map((call) => call.args[0].input.ChangeBatch!.Changes![0]!);
      expect(changes).toEqual([{ Action: 'CREATE', ResourceRecordSet: { Name: 'app.example.com', Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: ALB }] } }]);
      expect(output).toEqual({ ...OURS, recordName: 'app.example.com' });
      expect(harness.state.get('dns-record')).toMatchObject({ created: true, data: { recordName: 'app.example.com' }, retired: [OURS] });
    });
  });

  describe('delete', () => {
    it('DELETEs exactly the recorded name, type, TTL and value', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB)));
      route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('PENDING'));

      await dnsRecordStep.delete(harness.context);

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input).toEqual({
        HostedZoneId: ZONE,
        ChangeBatch: { Comment: 'authecs down', Changes: [{ Action: 'DELETE', ResourceRecordSet: { Name: 'www.example.com', Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: ALB }] } }] },
      });
    });

    it('leaves a record someone repointed, and says so', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname('maintenance.example.net')));

      await dnsRecordStep.delete(harness.context);

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
      expect(harness.progress.some((line) => line.includes('maintenance.example.net'))).toBe(true);
    });

    it('treats a missing record as deleted', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing());

      await dnsRecordStep.delete(harness.context);

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('treats a record in a zone that no longer exists as deleted, and read finds nothing there', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).rejects(Object.assign(new Error(`No hosted zone found with ID: ${ZONE}`), { name: 'NoSuchHostedZone' }));

      expect(await dnsRecordStep.read(harness.readContext)).toBeUndefined();
      await expect(dnsRecordStep.delete(harness.context)).resolves.toBeUndefined();
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('tolerates a record that vanished between the look and the DELETE', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB)));
      route53
        .on(ChangeResourceRecordSetsCommand)
        .rejects(Object.assign(new Error("Tried to delete resource record set [name='www.example.com.', type='CNAME'] but it was not found"), { name: 'InvalidChangeBatch' }));

      await expect(dnsRecordStep.delete(harness.context)).resolves.toBeUndefined();
    });
  });

  // Route 53 Developer Guide, "Choosing between alias and non-alias records": no CNAME at the zone apex.
  describe('apex domain (Route 53 Developer Guide, "Choosing between alias and non-alias records")', () => {
    const APEX_CONFIG = { config: { domain: 'example.com' } };
    const ALB_ZONE = SAMPLE_OUTPUTS['load-balancer'].canonicalHostedZoneId!;
    const APEX = { hostedZoneId: ZONE, recordName: 'example.com', type: 'A' as const, ttl: 300, value: ALB, aliasHostedZoneId: ALB_ZONE };
    const alias = (dnsName: string, name = 'example.com.'): ResourceRecordSet => ({ Name: name, Type: 'A', AliasTarget: { HostedZoneId: ALB_ZONE, DNSName: `${dnsName}.`, EvaluateTargetHealth: false } });

    it('desired is an A-alias when the domain is the zone apex, a CNAME below it; a switch between the two is a replacement', () => {
      harness = stepHarness(dnsRecordStep, APEX_CONFIG);
      expect(want()).toEqual({ hostedZoneId: ZONE, recordName: 'example.com', type: 'A-alias', ttl: 300, value: ALB, aliasHostedZoneId: ALB_ZONE });
      expect(dnsRecordStep.desired(harness.config, { ...harness.inputs, 'hosted-zone': UNKNOWN }).type).toBe(UNKNOWN);
      const below = dnsRecordStep.desired({ ...harness.config, domain: 'www.example.com' }, harness.inputs);
      expect(below.type).toBe('CNAME');
      expect(dnsRecordStep.effects.type).toBe('replace');
    });

    it('CREATEs an alias A record to the ALB (its CanonicalHostedZoneId, EvaluateTargetHealth false), never an apex CNAME that Route 53 refuses', async () => {
      harness = stepHarness(dnsRecordStep, APEX_CONFIG);
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      // What Route 53 answers for an apex CNAME: the test fails if the step sends one.
      route53
        .on(ChangeResourceRecordSetsCommand)
        .callsFake((input: { ChangeBatch: { Changes: { ResourceRecordSet: ResourceRecordSet }[] } }) => {
          const set = input.ChangeBatch.Changes[0]!.ResourceRecordSet;
          if (set.Type === 'CNAME' && set.Name === 'example.com') {
            throw Object.assign(new Error('RRSet of type CNAME with DNS name example.com. is not permitted at apex in zone example.com.'), { name: 'InvalidChangeBatch' });
          }
          return changeInfo('INSYNC');
        });

      const output = await dnsRecordStep.create(harness.context, want());

      expect(route53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(0);
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes).toEqual([
        { Action: 'CREATE', ResourceRecordSet: { Name: 'example.com', Type: 'A', AliasTarget: { HostedZoneId: ALB_ZONE, DNSName: ALB, EvaluateTargetHealth: false } } },
      ]);
      expect(output).toEqual(APEX);
      expect(harness.state.get('dns-record')).toMatchObject({ created: true, data: APEX });
    });

    it('reads the alias back (trailing dot, dualstack. prefix) as nothing to change', async () => {
      harness = stepHarness(dnsRecordStep, { ...APEX_CONFIG, record: { created: true, complete: true, data: APEX } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(alias(`dualstack.${ALB}`)));

      const live = (await dnsRecordStep.read(harness.readContext))!;

      expect(route53.commandCalls(ListResourceRecordSetsCommand)[0]!.args[0].input).toMatchObject({ StartRecordName: 'example.com', StartRecordType: 'A' });
      expect(live.health.healthy).toBe(true);
      expect(diffFields(want(), live.observed, dnsRecordStep.effects)).toEqual([]);
    });

    it('preflight refuses an apex A record that is not ours (the user\'s own site), before any change', async () => {
      harness = stepHarness(dnsRecordStep, APEX_CONFIG);
      route53.on(ListHostedZonesByNameCommand).resolves({ HostedZones: [{ Id: `/hostedzone/${ZONE}`, Name: 'example.com.', CallerReference: 'x' }], IsTruncated: false, MaxItems: 100 });
      route53.on(ListResourceRecordSetsCommand).resolves(listing({ Name: 'example.com.', Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.10' }] }));

      await expect(dnsRecordStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'DNS_RECORD_EXISTS', exit: 'conflict' });
      expect(route53.commandCalls(ListResourceRecordSetsCommand)[0]!.args[0].input).toMatchObject({ StartRecordType: 'A' });
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('down DELETEs exactly the alias record as it is live (name, type A, alias target)', async () => {
      harness = stepHarness(dnsRecordStep, { ...APEX_CONFIG, record: { created: true, complete: true, data: APEX } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(alias(ALB)));
      route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('INSYNC'));

      await dnsRecordStep.delete(harness.context);

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes).toEqual([
        { Action: 'DELETE', ResourceRecordSet: { Name: 'example.com', Type: 'A', AliasTarget: { HostedZoneId: ALB_ZONE, DNSName: `${ALB}.`, EvaluateTargetHealth: false } } },
      ]);
    });
  });
});
