import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dnsRecordStep } from '../../../src/steps/dns-record.js';
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

      const output = await dnsRecordStep.create(harness.context);

      expect(route53.commandCalls(ListResourceRecordSetsCommand)[0]!.args[0].input).toMatchObject({ HostedZoneId: ZONE, StartRecordName: 'www.example.com', StartRecordType: 'CNAME' });
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input).toEqual({
        HostedZoneId: ZONE,
        ChangeBatch: {
          Comment: 'CREATE a DNS record that points to the ALB',
          Changes: [{ Action: 'CREATE', ResourceRecordSet: { Name: 'www.example.com', Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: ALB }] } }],
        },
      });
      expect(recordAtChange).toMatchObject({ created: true, data: OURS });
      expect(route53.commandCalls(GetChangeCommand).length).toBeGreaterThanOrEqual(2);
      expect(route53.commandCalls(GetChangeCommand)[0]!.args[0].input).toEqual({ Id: '/change/C0123456789' });
      expect(output).toEqual(OURS);
      expect(harness.state.get('dns-record')).toMatchObject({ created: true, data: OURS });
    });

    it('refuses to overwrite a CNAME authecs did not create', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname('legacy.example.net')));

      const error = await dnsRecordStep.create(harness.context).catch((caught: unknown) => caught);

      expect(error).toMatchObject({ code: 'DNS_RECORD_EXISTS', exit: 'conflict', message: expect.stringContaining('legacy.example.net') });
      expect((error as { hint: string }).hint).toContain('--domain');
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
      expect(harness.state.get('dns-record')).toBeUndefined();
    });

    it('UPSERTs its own record when the ALB was replaced', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: { ...OURS, value: OLD_ALB } } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(OLD_ALB)));
      route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('INSYNC'));

      expect(await dnsRecordStep.find(harness.context)).toBeUndefined();
      const output = await dnsRecordStep.create(harness.context);

      const change = route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes![0]!;
      expect(change).toEqual({ Action: 'UPSERT', ResourceRecordSet: { Name: 'www.example.com', Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: ALB }] } });
      expect(output.value).toBe(ALB);
      expect(harness.state.get('dns-record')).toMatchObject({ created: true, data: { value: ALB } });
    });

    it('ignores the next name in the listing (StartRecordName returns following records too)', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname('elsewhere.example.net', 'www2.example.com.'), { Name: 'www.example.com.', Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"v"' }] }));
      route53.on(ChangeResourceRecordSetsCommand).resolves(changeInfo('INSYNC'));

      await dnsRecordStep.create(harness.context);

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes![0]!.Action).toBe('CREATE');
    });

    it('adopts an identical record that a racing CREATE found already there', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolvesOnce(listing()).resolves(listing(cname(ALB)));
      route53
        .on(ChangeResourceRecordSetsCommand)
        .rejects(Object.assign(new Error("Tried to create resource record set [name='www.example.com.', type='CNAME'] but it already exists"), { name: 'InvalidChangeBatch' }));

      expect(await dnsRecordStep.create(harness.context)).toEqual(OURS);
    });
  });

  describe('find', () => {
    it('finds our recorded CNAME (names come back with a trailing dot) so a second up changes nothing', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(`${ALB.toUpperCase()}.`)));

      expect(await dnsRecordStep.find(harness.context)).toEqual({ created: true, output: OURS });
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('finds a matching CNAME it has no record of, but does not claim it', async () => {
      harness = stepHarness(dnsRecordStep);
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB)));

      expect(await dnsRecordStep.find(harness.context)).toEqual({ created: false, output: OURS });
    });

    it('resumes after a crash between the intent and the change: the record exists, so no second CREATE', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: false, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB)));

      const output = await dnsRecordStep.create(harness.context);

      expect(output).toEqual(OURS);
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
      expect(harness.state.get('dns-record')?.created).toBe(true);
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

    it('tolerates a record that vanished between the look and the DELETE', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB)));
      route53
        .on(ChangeResourceRecordSetsCommand)
        .rejects(Object.assign(new Error("Tried to delete resource record set [name='www.example.com.', type='CNAME'] but it was not found"), { name: 'InvalidChangeBatch' }));

      await expect(dnsRecordStep.delete(harness.context)).resolves.toBeUndefined();
    });
  });

  describe('inspect', () => {
    it('is healthy when the CNAME points at the ALB', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(ALB)));

      expect(await dnsRecordStep.inspect(harness.context)).toMatchObject({ present: true, healthy: true, details: { value: ALB, ttl: 300 } });
    });

    it('reports drift when the CNAME points elsewhere', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(cname(OLD_ALB)));

      const inspection = await dnsRecordStep.inspect(harness.context);

      expect(inspection).toMatchObject({ present: true, healthy: false, details: { value: OLD_ALB } });
      expect(inspection.drift).toEqual([`CNAME www.example.com points at ${OLD_ALB}, not the ALB ${ALB}`]);
    });

    it('reports a missing record', async () => {
      harness = stepHarness(dnsRecordStep, { record: { created: true, complete: true, data: OURS } });
      route53.on(ListResourceRecordSetsCommand).resolves(listing());

      expect(await dnsRecordStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
    });
  });
});
