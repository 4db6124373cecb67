import {
  ACMClient,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  ListCertificatesCommand,
  ListTagsForCertificateCommand,
  RequestCertificateCommand,
  type CertificateDetail,
} from '@aws-sdk/client-acm';
import { ChangeResourceRecordSetsCommand, GetChangeCommand, ListResourceRecordSetsCommand, Route53Client, type ResourceRecordSet } from '@aws-sdk/client-route-53';
import { DescribeListenersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { certificateStep, newIdempotencyToken } from '../../../src/steps/certificate.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import type { CertificateOutput } from '../../../src/steps/outputs.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const acm = mockClient(ACMClient);
const route53 = mockClient(Route53Client);
const elbv2 = mockClient(ElasticLoadBalancingV2Client);

const ZONE = SAMPLE_OUTPUTS['hosted-zone'].hostedZoneId;
const ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const OTHER_ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/99999999-8888-7777-6666-555555555555';
const LISTENER = SAMPLE_OUTPUTS['https-listener'].listenerArn;
const VALIDATION = { Name: '_d930b28be6c5927595552b219965053e.www.example.com.', Type: 'CNAME' as const, Value: '_c9edd76ee4a0e2a74388032f3861cc50.ykybfrwcxw.acm-validations.aws.' };
const OUR_TAGS = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];

function certificate(status: string, options: { record?: boolean; inUseBy?: string[]; failureReason?: string; arn?: string; domain?: string } = {}): { Certificate: CertificateDetail } {
  return {
    Certificate: {
      CertificateArn: options.arn ?? ARN,
      DomainName: options.domain ?? 'www.example.com',
      Status: status as CertificateDetail['Status'],
      InUseBy: options.inUseBy ?? [],
      ...(options.failureReason ? { FailureReason: options.failureReason as CertificateDetail['FailureReason'] } : {}),
      DomainValidationOptions: [
        { DomainName: 'www.example.com', ValidationMethod: 'DNS', ValidationStatus: 'PENDING_VALIDATION', ...(options.record === false ? {} : { ResourceRecord: VALIDATION }) },
      ],
    },
  };
}
function listing(...sets: ResourceRecordSet[]) {
  return { ResourceRecordSets: sets, IsTruncated: false, MaxItems: 10 };
}
const validationSet: ResourceRecordSet = { Name: VALIDATION.Name, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: VALIDATION.Value }] };
const ourRecord = { name: VALIDATION.Name, type: 'CNAME', value: VALIDATION.Value, created: true };
const issuedRecord: CertificateOutput = { certificateArn: ARN, domain: 'www.example.com', status: 'ISSUED', validationRecords: [ourRecord], hostedZoneId: ZONE };
const notFound = () => Object.assign(new Error(`Certificate with arn ${ARN} not found`), { name: 'ResourceNotFoundException' });

const changed = (id = '/change/C1') => ({ ChangeInfo: { Id: id, Status: 'INSYNC' as const, SubmittedAt: new Date() } });

describe('certificate step', () => {
  let harness: StepHarness<'certificate'>;
  const want = () => certificateStep.desired(harness.config, harness.inputs);
  beforeEach(() => {
    acm.reset();
    route53.reset();
    elbv2.reset();
    acm.on(ListCertificatesCommand).resolves({ CertificateSummaryList: [] });
  });
  afterEach(() => harness?.cleanup());

  describe('desired and diff', () => {
    it('is the domain, DNS validation and the zone for the validation records', () => {
      harness = stepHarness(certificateStep);
      expect(want()).toEqual({ domain: 'www.example.com', validationMethod: 'DNS', hostedZoneId: ZONE });
    });

    it('gives UNKNOWN for the zone while the zone lookup is still to run', () => {
      harness = stepHarness(certificateStep);
      expect(certificateStep.desired(harness.config, { ...harness.inputs, 'hosted-zone': UNKNOWN })).toEqual({ domain: 'www.example.com', validationMethod: 'DNS', hostedZoneId: UNKNOWN });
    });

    it('another domain is a replacement; another zone is an update', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      const live = (await certificateStep.read(harness.readContext))!;

      expect(diffFields(want(), live.observed, certificateStep.effects)).toEqual([]);
      expect(diffFields(certificateStep.desired(articleConfig({ domain: 'app.example.com' }), harness.inputs), live.observed, certificateStep.effects)).toEqual([
        { field: 'domain', from: 'www.example.com', to: 'app.example.com', effect: 'replace' },
      ]);
      const moved = certificateStep.desired(harness.config, { 'hosted-zone': { hostedZoneId: 'Z0NEWZONE', zoneName: 'example.com' } });
      expect(diffFields(moved, live.observed, certificateStep.effects)).toEqual([{ field: 'hostedZoneId', from: ZONE, to: 'Z0NEWZONE', effect: 'update' }]);
    });
  });

  describe('create', () => {
    it('requests the DNS-validated certificate with a fresh token saved first, UPSERTs its validation CNAME (TTL 300) and waits for ISSUED', async () => {
      harness = stepHarness(certificateStep);
      let recordAtRequest: CertificateOutput | undefined;
      acm.on(RequestCertificateCommand).callsFake(() => {
        recordAtRequest = harness.state.get<CertificateOutput>('certificate')?.data;
        return { CertificateArn: ARN };
      });
      let recordAtFirstDescribe: unknown;
      acm
        .on(DescribeCertificateCommand)
        .callsFakeOnce(() => {
          recordAtFirstDescribe = harness.state.get('certificate');
          return certificate('PENDING_VALIDATION', { record: false });
        })
        .resolvesOnce(certificate('PENDING_VALIDATION'))
        .resolvesOnce(certificate('PENDING_VALIDATION'))
        .resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      let recordAtUpsert: unknown;
      route53.on(ChangeResourceRecordSetsCommand).callsFake(() => {
        recordAtUpsert = harness.state.get('certificate');
        return { ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } };
      });
      route53.on(GetChangeCommand).resolves({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC', SubmittedAt: new Date() } });

      expect(await certificateStep.read(harness.readContext)).toBeUndefined();
      const output = await certificateStep.create(harness.context, want());

      const request = acm.commandCalls(RequestCertificateCommand)[0]!.args[0].input;
      expect(request).toEqual({ DomainName: 'www.example.com', ValidationMethod: 'DNS', IdempotencyToken: expect.stringMatching(/^\w{32}$/), Tags: OUR_TAGS });
      // The token is on disk before the call, so a run that loses the answer asks with the same one.
      expect(recordAtRequest?.pendingRequest).toEqual({ token: request.IdempotencyToken, domain: 'www.example.com' });
      // The ARN is on disk before anything else is asked of ACM.
      expect(recordAtFirstDescribe).toMatchObject({ created: true, data: { certificateArn: ARN, hostedZoneId: ZONE } });
      expect(recordAtUpsert).toMatchObject({ data: { validationRecords: [ourRecord] } });
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input).toEqual({
        HostedZoneId: ZONE,
        ChangeBatch: {
          Comment: 'UPSERT the ACM DNS validation records',
          Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: VALIDATION.Name, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: VALIDATION.Value }] } }],
        },
      });
      expect(route53.commandCalls(ListResourceRecordSetsCommand)[0]!.args[0].input).toMatchObject({ HostedZoneId: ZONE, StartRecordName: VALIDATION.Name, StartRecordType: 'CNAME' });
      expect(output).toEqual(issuedRecord);
      expect(harness.state.get('certificate')).toMatchObject({ created: true, data: issuedRecord });
      expect(harness.state.get<CertificateOutput>('certificate')?.data.pendingRequest).toBeUndefined();
      expect(harness.progress).toContain('certificate PENDING_VALIDATION, waiting for ACM to validate www.example.com (0s elapsed)');
      expect(acm.commandCalls(ListCertificatesCommand)[0]!.args[0].input).toEqual({ CertificateStatuses: ['PENDING_VALIDATION', 'ISSUED'] });
    });

    it('up, down, up within the hour: the second request has another token, so ACM makes a new certificate', async () => {
      harness = stepHarness(certificateStep);
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      await certificateStep.create(harness.context, want());
      harness.state.remove('certificate');
      await certificateStep.create(harness.context, want());

      const tokens = acm.commandCalls(RequestCertificateCommand).map((call) => call.args[0].input.IdempotencyToken);
      expect(tokens).toHaveLength(2);
      expect(tokens[0]).not.toBe(tokens[1]);
      expect(newIdempotencyToken()).toMatch(/^\w{32}$/);
    });

    it('a run that lost the answer asks again with the recorded token', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: false, data: { pendingRequest: { token: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', domain: 'www.example.com' } } } });
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      expect(await certificateStep.read(harness.readContext)).toBeUndefined();
      await certificateStep.create(harness.context, want());

      expect(acm.commandCalls(RequestCertificateCommand)[0]!.args[0].input.IdempotencyToken).toBe('a1b2c3d4e5f60718293a4b5c6d7e8f90');
    });

    it('sends each distinct validation record once', async () => {
      harness = stepHarness(certificateStep);
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      const twice = certificate('ISSUED');
      twice.Certificate.DomainValidationOptions!.push({ DomainName: '*.www.example.com', ResourceRecord: { ...VALIDATION, Name: VALIDATION.Name.toUpperCase() } });
      acm.on(DescribeCertificateCommand).resolves(twice);
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).resolves(changed());

      const output = await certificateStep.create(harness.context, want());

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes).toHaveLength(1);
      expect(output.validationRecords).toHaveLength(1);
    });

    it('records a validation CNAME that was already in the zone as not created, and does not rewrite it', async () => {
      harness = stepHarness(certificateStep);
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      const output = await certificateStep.create(harness.context, want());

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
      expect(output.validationRecords).toEqual([{ ...ourRecord, created: false }]);
    });

    it('sends the validation record without watching GetChange (ACM looks it up itself), then polls DescribeCertificate every 5 s for 4 minutes and every 15 s after: 53 calls for a 5-minute validation', async () => {
      harness = stepHarness(certificateStep);
      const seconds = (since: number) => (harness.context.now() - since) / 1000;
      let changedAt: number | undefined;
      const issuedChecks: number[] = [];
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      acm.on(DescribeCertificateCommand).callsFake(() => {
        if (changedAt === undefined) return certificate('PENDING_VALIDATION');
        issuedChecks.push(seconds(changedAt));
        return certificate(seconds(changedAt) >= 300 ? 'ISSUED' : 'PENDING_VALIDATION');
      });
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).callsFake(() => {
        changedAt = harness.context.now();
        return { ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } };
      });

      const output = await certificateStep.create(harness.context, want());

      expect(output.status).toBe('ISSUED');
      expect(route53.commandCalls(GetChangeCommand)).toHaveLength(0);
      const fast = Array.from({ length: 48 }, (_, index) => index * 5);
      const slow = Array.from({ length: 5 }, (_, index) => 240 + index * 15);
      expect(issuedChecks).toEqual([...fast, ...slow]);
      const waits = harness.reporter.events.filter((event) => event.type === 'wait');
      expect(waits).toEqual([
        { type: 'wait', step: 'certificate', description: `ACM to publish the DNS validation record of ${ARN}`, calls: 1, elapsedMs: 0, outcome: 'done' },
        { type: 'wait', step: 'certificate', description: `certificate ${ARN} for www.example.com to be ISSUED`, calls: 53, elapsedMs: 300_000, outcome: 'done' },
      ]);
    });

    it('stops with the failure reason when ACM fails the certificate', async () => {
      harness = stepHarness(certificateStep);
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      acm.on(DescribeCertificateCommand).resolvesOnce(certificate('PENDING_VALIDATION')).resolves(certificate('FAILED', { failureReason: 'CAA_ERROR' }));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      await expect(certificateStep.create(harness.context, want())).rejects.toMatchObject({ code: 'CERTIFICATE_FAILED', exit: 'aws', message: expect.stringContaining('CAA_ERROR') });
    });

    it('times out after --certificate-timeout with a hint about NS delegation and re-running up', async () => {
      harness = stepHarness(certificateStep, { config: { certificateTimeoutMinutes: 3 } });
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      acm.on(DescribeCertificateCommand).resolves(certificate('PENDING_VALIDATION'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      const error = await certificateStep.create(harness.context, want()).catch((caught: unknown) => caught);

      expect(error).toMatchObject({ code: 'CERTIFICATE_VALIDATION_TIMEOUT', exit: 'timeout' });
      expect((error as { hint: string }).hint).toMatch(/NS delegation/);
      expect((error as { hint: string }).hint).toContain('authecs up');
      // Polled every 5 s for the 3 minutes (checks at 0, 5, ... 180 s), after the one that found the record;
      // the status line once a minute, with the elapsed time.
      expect(acm.commandCalls(DescribeCertificateCommand)).toHaveLength(1 + 37);
      expect(harness.progress.filter((line) => line.startsWith('certificate PENDING_VALIDATION'))).toEqual([
        'certificate PENDING_VALIDATION, waiting for ACM to validate www.example.com (0s elapsed)',
        'certificate PENDING_VALIDATION, waiting for ACM to validate www.example.com (1m 0s elapsed)',
        'certificate PENDING_VALIDATION, waiting for ACM to validate www.example.com (2m 0s elapsed)',
      ]);
      expect(harness.reporter.events.filter((event) => event.type === 'wait' && event.description.includes('to be ISSUED'))).toEqual([
        { type: 'wait', step: 'certificate', description: `certificate ${ARN} for www.example.com to be ISSUED`, calls: 37, elapsedMs: 180_000, outcome: 'timed-out' },
      ]);
      // The ARN stays recorded, so the next `up` keeps waiting on the same certificate.
      expect(harness.state.get<CertificateOutput>('certificate')?.data.certificateArn).toBe(ARN);
    });
  });

  describe('read and settle', () => {
    it('returns the issued certificate, settled and healthy, when its validation record is in the zone', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED', { inUseBy: [LISTENER] }));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      const live = await certificateStep.read(harness.readContext);

      expect(live).toMatchObject({ created: true, settled: true, output: issuedRecord, observed: { domain: 'www.example.com', validationMethod: 'DNS', hostedZoneId: ZONE } });
      expect(live?.health).toEqual({ healthy: true, summary: 'ISSUED, in use by 1', details: { status: 'ISSUED', inUseBy: [LISTENER] } });
      expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(0);
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('sees a missing validation record (ACM could not renew) as a zone to update, and update puts it back without a new certificate', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).resolves(changed());

      const live = (await certificateStep.read(harness.readContext))!;
      const changes = diffFields(want(), live.observed, certificateStep.effects);

      expect(live.health).toMatchObject({ healthy: false, details: { missingValidationRecords: [VALIDATION.Name] } });
      expect(changes).toEqual([{ field: 'hostedZoneId', from: undefined, to: ZONE, effect: 'update' }]);
      const output = await certificateStep.update!(harness.context, want(), live, changes);

      expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(0);
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand).map((call) => call.args[0].input.ChangeBatch!.Changes![0]!.Action)).toEqual(['UPSERT']);
      expect(output).toEqual(issuedRecord);
    });

    it('another zone: UPSERTs into the new zone and DELETEs its own record from the old one, with no new certificate', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand, { HostedZoneId: ZONE }).resolves(listing(validationSet));
      route53.on(ListResourceRecordSetsCommand, { HostedZoneId: 'Z0NEWZONE' }).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).resolves(changed());

      const live = (await certificateStep.read(harness.readContext))!;
      const moved = certificateStep.desired(harness.config, { 'hosted-zone': { hostedZoneId: 'Z0NEWZONE', zoneName: 'example.com' } });
      const output = await certificateStep.update!(harness.context, moved, live, diffFields(moved, live.observed, certificateStep.effects));

      const changes = route53.commandCalls(ChangeResourceRecordSetsCommand).map((call) => [call.args[0].input.HostedZoneId, call.args[0].input.ChangeBatch!.Changes![0]!.Action]);
      expect(changes).toEqual([
        [ZONE, 'DELETE'],
        ['Z0NEWZONE', 'UPSERT'],
      ]);
      expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(0);
      expect(output).toEqual({ ...issuedRecord, hostedZoneId: 'Z0NEWZONE' });
      expect(harness.state.get('certificate')).toMatchObject({ data: { hostedZoneId: 'Z0NEWZONE', validationRecords: [ourRecord] } });
    });

    it('a pending certificate is not settled; settle() publishes its validation record and waits for ISSUED, with no second request', async () => {
      harness = stepHarness(certificateStep, {
        record: { created: true, complete: false, data: { certificateArn: ARN, domain: 'www.example.com', hostedZoneId: ZONE, validationRecords: [ourRecord] } },
      });
      acm.on(DescribeCertificateCommand).resolvesOnce(certificate('PENDING_VALIDATION')).resolvesOnce(certificate('PENDING_VALIDATION')).resolvesOnce(certificate('PENDING_VALIDATION')).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      const live = (await certificateStep.read(harness.readContext))!;
      expect(live).toMatchObject({ settled: false, health: { healthy: false, summary: 'PENDING_VALIDATION' } });
      expect(diffFields(want(), live.observed, certificateStep.effects)).toEqual([]);
      const output = await certificateStep.settle!(harness.context, live);

      expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(0);
      expect(acm.commandCalls(ListCertificatesCommand)).toHaveLength(0);
      // Its own validation record stays "created", so `down` removes it.
      expect(output).toEqual(issuedRecord);
      expect(harness.state.get('certificate')).toMatchObject({ data: { status: 'ISSUED' } });
    });

    it('settle() stops with the failure reason for a failed certificate', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: false, data: { ...issuedRecord, status: 'FAILED' } } });
      acm.on(DescribeCertificateCommand).resolves(certificate('FAILED', { failureReason: 'CAA_ERROR' }));

      const live = (await certificateStep.read(harness.readContext))!;
      expect(live).toMatchObject({ settled: false, health: { healthy: false, details: { failureReason: 'CAA_ERROR' } } });
      await expect(certificateStep.settle!(harness.context, live)).rejects.toMatchObject({ code: 'CERTIFICATE_FAILED' });
    });

    it('adopts a certificate a killed run requested (tagged, not recorded) instead of requesting another', async () => {
      harness = stepHarness(certificateStep);
      acm.on(ListCertificatesCommand).resolves({
        CertificateSummaryList: [
          { CertificateArn: OTHER_ARN, DomainName: 'www.example.com', Status: 'ISSUED' },
          { CertificateArn: ARN, DomainName: 'www.example.com', Status: 'PENDING_VALIDATION' },
          { CertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/x', DomainName: 'api.example.com', Status: 'ISSUED' },
        ],
      });
      acm.on(ListTagsForCertificateCommand, { CertificateArn: OTHER_ARN }).resolves({ Tags: [{ Key: 'team', Value: 'web' }] });
      acm.on(ListTagsForCertificateCommand, { CertificateArn: ARN }).resolves({ Tags: OUR_TAGS });
      acm.on(DescribeCertificateCommand).resolvesOnce(certificate('PENDING_VALIDATION')).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).resolves(changed());

      const live = (await certificateStep.read(harness.readContext))!;
      const output = await certificateStep.settle!(harness.context, live);

      expect(live).toMatchObject({ created: true, settled: false, output: { certificateArn: ARN } });
      expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(0);
      expect(output.certificateArn).toBe(ARN);
      expect(harness.state.get('certificate')).toMatchObject({ created: true, data: { certificateArn: ARN, status: 'ISSUED' } });
      expect(acm.commandCalls(ListTagsForCertificateCommand).map((call) => call.args[0].input.CertificateArn)).toEqual([OTHER_ARN, ARN]);
    });

    it('finds nothing when the recorded certificate is gone and none is tagged', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).rejects(notFound());

      expect(await certificateStep.read(harness.readContext)).toBeUndefined();
    });
  });

  describe('replace', () => {
    it('another domain: records the old certificate as retired first, then requests and validates the new one (a kill in between orphans nothing)', async () => {
      harness = stepHarness(certificateStep, { config: { domain: 'app.example.com' }, record: { created: true, complete: true, data: issuedRecord } });
      const NEW_VALIDATION = { ...VALIDATION, Name: '_aaaa.app.example.com.' };
      const issuedNew = certificate('ISSUED', { arn: OTHER_ARN, domain: 'app.example.com' });
      issuedNew.Certificate.DomainValidationOptions = [{ DomainName: 'app.example.com', ValidationMethod: 'DNS', ResourceRecord: NEW_VALIDATION }];
      acm.on(DescribeCertificateCommand, { CertificateArn: ARN }).resolves(certificate('ISSUED'));
      acm.on(DescribeCertificateCommand, { CertificateArn: OTHER_ARN }).resolves(issuedNew);
      acm.on(RequestCertificateCommand).callsFake(() => {
        // Record, then move on: the old certificate is already down for deletion after the run.
        expect(harness.state.get('certificate')).toMatchObject({ data: { certificateArn: ARN } });
        expect(harness.state.get('certificate')?.retired).toEqual([issuedRecord]);
        return { CertificateArn: OTHER_ARN };
      });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));
      route53.on(ListResourceRecordSetsCommand, { StartRecordName: NEW_VALIDATION.Name }).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).resolves(changed());

      const live = (await certificateStep.read(harness.readContext))!;
      const changes = diffFields(want(), live.observed, certificateStep.effects);
      expect(changes).toEqual([{ field: 'domain', from: 'www.example.com', to: 'app.example.com', effect: 'replace' }]);
      const output = await certificateStep.replace!(harness.context, want(), live, changes);

      expect(acm.commandCalls(RequestCertificateCommand)[0]!.args[0].input).toMatchObject({ DomainName: 'app.example.com', ValidationMethod: 'DNS' });
      expect(output).toMatchObject({ certificateArn: OTHER_ARN, domain: 'app.example.com', status: 'ISSUED' });
      const record = harness.state.get<CertificateOutput>('certificate')!;
      expect(record.data).toMatchObject({ certificateArn: OTHER_ARN, domain: 'app.example.com' });
      expect(record.retired).toEqual([issuedRecord]);
      expect(acm.commandCalls(DeleteCertificateCommand)).toHaveLength(0);
    });
  });

  describe('delete', () => {
    it('waits until no listener uses the certificate, deletes it through ResourceInUse, then removes the validation records it created', async () => {
      const theirs = { name: '_other.www.example.com.', type: 'CNAME', value: '_x.acm-validations.aws.', created: false };
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: { ...issuedRecord, validationRecords: [ourRecord, theirs] } } });
      acm
        .on(DescribeCertificateCommand)
        .resolvesOnce(certificate('ISSUED', { inUseBy: [LISTENER] }))
        .resolvesOnce(certificate('ISSUED', { inUseBy: [LISTENER] }))
        .resolves(certificate('ISSUED'));
      acm.on(DeleteCertificateCommand).rejectsOnce(Object.assign(new Error('in use'), { name: 'ResourceInUseException' })).resolves({});
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [{ ListenerArn: LISTENER, Certificates: [{ CertificateArn: ARN }] }] });
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));
      route53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: '/change/C2', Status: 'PENDING', SubmittedAt: new Date() } });
      const before = JSON.stringify(harness.state.get('certificate')?.data);

      await certificateStep.delete(harness.context);

      expect(acm.commandCalls(DescribeCertificateCommand)).toHaveLength(3);
      expect(acm.commandCalls(DeleteCertificateCommand)).toHaveLength(2);
      expect(acm.commandCalls(DeleteCertificateCommand)[0]!.args[0].input).toEqual({ CertificateArn: ARN });
      const changes = route53.commandCalls(ChangeResourceRecordSetsCommand).map((call) => call.args[0].input);
      expect(changes).toEqual([
        {
          HostedZoneId: ZONE,
          ChangeBatch: { Comment: 'authecs down', Changes: [{ Action: 'DELETE', ResourceRecordSet: { Name: VALIDATION.Name, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: VALIDATION.Value }] } }] },
        },
      ]);
      // Works from the record alone and writes nothing: a retired certificate shares the live record's save().
      expect(JSON.stringify(harness.state.get('certificate')?.data)).toBe(before);
    });

    it('treats a certificate and records that are already gone as deleted', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).rejects(notFound());
      route53.on(ListResourceRecordSetsCommand).resolves(listing());

      await certificateStep.delete(harness.context);

      expect(acm.commandCalls(DeleteCertificateCommand)).toHaveLength(0);
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('tolerates ResourceNotFoundException from DeleteCertificate and a record that vanished before its DELETE', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      acm.on(DeleteCertificateCommand).rejects(notFound());
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));
      route53.on(ChangeResourceRecordSetsCommand).rejects(Object.assign(new Error('Tried to delete resource record set but it was not found'), { name: 'InvalidChangeBatch' }));

      await expect(certificateStep.delete(harness.context)).resolves.toBeUndefined();
    });

    it('leaves the validation records while another certificate for the domain still needs them', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      acm.on(DeleteCertificateCommand).resolves({});
      acm.on(ListCertificatesCommand).resolves({ CertificateSummaryList: [{ CertificateArn: OTHER_ARN, DomainName: 'www.example.com', Status: 'ISSUED' }] });

      await certificateStep.delete(harness.context);

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
      expect(harness.progress.some((line) => line.includes('another certificate'))).toBe(true);
    });

    it('deletes the tagged certificate of a run that lost the RequestCertificate answer', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: false, data: { pendingRequest: { token: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', domain: 'www.example.com' } } } });
      acm.on(ListCertificatesCommand).resolves({ CertificateSummaryList: [{ CertificateArn: ARN, DomainName: 'www.example.com', Status: 'PENDING_VALIDATION' }] });
      acm.on(ListTagsForCertificateCommand).resolves({ Tags: OUR_TAGS });
      acm.on(DescribeCertificateCommand).resolves(certificate('PENDING_VALIDATION'));
      acm.on(DeleteCertificateCommand).resolves({});

      await certificateStep.delete(harness.context);

      expect(acm.commandCalls(DeleteCertificateCommand)[0]!.args[0].input).toEqual({ CertificateArn: ARN });
    });

    it('times out with a hint when a listener never lets go', async () => {
      harness = stepHarness(certificateStep, { config: { waitTimeoutMinutes: 1 }, record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED', { inUseBy: [LISTENER] }));
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [{ ListenerArn: LISTENER, Certificates: [{ CertificateArn: ARN }] }] });

      await expect(certificateStep.delete(harness.context)).rejects.toMatchObject({ code: 'CERTIFICATE_IN_USE', exit: 'timeout' });
      expect(acm.commandCalls(DeleteCertificateCommand)).toHaveLength(0);
    });

    it('does not wait for a listener that is already gone, though ACM still lists it in InUseBy', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED', { inUseBy: [LISTENER] }));
      acm.on(DeleteCertificateCommand).resolves({});
      elbv2.on(DescribeListenersCommand).rejects(Object.assign(new Error('gone'), { name: 'ListenerNotFoundException' }));
      route53.on(ListResourceRecordSetsCommand).resolves(listing());

      await certificateStep.delete(harness.context);

      expect(elbv2.commandCalls(DescribeListenersCommand)[0]!.args[0].input).toEqual({ ListenerArns: [LISTENER] });
      expect(acm.commandCalls(DeleteCertificateCommand)).toHaveLength(1);
    });
  });
});
