import { createHash } from 'node:crypto';
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
import { certificateIdempotencyToken, certificateStep } from '../../../src/steps/certificate.js';
import type { CertificateOutput } from '../../../src/steps/outputs.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

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

function certificate(status: string, options: { record?: boolean; inUseBy?: string[]; failureReason?: string; arn?: string } = {}): { Certificate: CertificateDetail } {
  return {
    Certificate: {
      CertificateArn: options.arn ?? ARN,
      DomainName: 'www.example.com',
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

describe('certificate step', () => {
  let harness: StepHarness<'certificate'>;
  beforeEach(() => {
    acm.reset();
    route53.reset();
    elbv2.reset();
    acm.on(ListCertificatesCommand).resolves({ CertificateSummaryList: [] });
  });
  afterEach(() => harness?.cleanup());

  describe('create', () => {
    it('requests the DNS-validated certificate, UPSERTs its validation CNAME (TTL 300) and waits for ISSUED', async () => {
      harness = stepHarness(certificateStep);
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
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

      const output = await certificateStep.create(harness.context);

      const request = acm.commandCalls(RequestCertificateCommand)[0]!.args[0].input;
      expect(request).toEqual({
        DomainName: 'www.example.com',
        ValidationMethod: 'DNS',
        IdempotencyToken: `authecs${createHash('sha256').update('ecsauthwww.example.com').digest('hex').slice(0, 25)}`,
        Tags: OUR_TAGS,
      });
      expect(request.IdempotencyToken).toMatch(/^\w{1,32}$/);
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
      expect(harness.progress).toContain('certificate PENDING_VALIDATION, waiting for ACM to validate www.example.com (0s elapsed)');
      expect(acm.commandCalls(ListCertificatesCommand)[0]!.args[0].input).toEqual({ CertificateStatuses: ['PENDING_VALIDATION', 'ISSUED'] });
    });

    it('sends each distinct validation record once', async () => {
      harness = stepHarness(certificateStep);
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      const twice = certificate('ISSUED');
      twice.Certificate.DomainValidationOptions!.push({ DomainName: '*.www.example.com', ResourceRecord: { ...VALIDATION, Name: VALIDATION.Name.toUpperCase() } });
      acm.on(DescribeCertificateCommand).resolves(twice);
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC', SubmittedAt: new Date() } });

      const output = await certificateStep.create(harness.context);

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes).toHaveLength(1);
      expect(output.validationRecords).toHaveLength(1);
    });

    it('records a validation CNAME that was already in the zone as not created, and does not rewrite it', async () => {
      harness = stepHarness(certificateStep);
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      const output = await certificateStep.create(harness.context);

      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
      expect(output.validationRecords).toEqual([{ ...ourRecord, created: false }]);
    });

    it('resumes with the recorded ARN: no second request, and its own record stays "created"', async () => {
      harness = stepHarness(certificateStep, {
        record: { created: true, complete: false, data: { certificateArn: ARN, domain: 'www.example.com', hostedZoneId: ZONE, validationRecords: [ourRecord] } },
      });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      const output = await certificateStep.create(harness.context);

      expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(0);
      expect(acm.commandCalls(ListCertificatesCommand)).toHaveLength(0);
      expect(output.validationRecords).toEqual([ourRecord]);
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
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing());
      route53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC', SubmittedAt: new Date() } });

      const output = await certificateStep.create(harness.context);

      expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(0);
      expect(output.certificateArn).toBe(ARN);
      expect(acm.commandCalls(ListTagsForCertificateCommand).map((call) => call.args[0].input.CertificateArn)).toEqual([OTHER_ARN, ARN]);
    });

    it('stops with the failure reason when ACM fails the certificate', async () => {
      harness = stepHarness(certificateStep);
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      acm.on(DescribeCertificateCommand).resolvesOnce(certificate('PENDING_VALIDATION')).resolves(certificate('FAILED', { failureReason: 'CAA_ERROR' }));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      await expect(certificateStep.create(harness.context)).rejects.toMatchObject({ code: 'CERTIFICATE_FAILED', exit: 'aws', message: expect.stringContaining('CAA_ERROR') });
    });

    it('times out after --certificate-timeout with a hint about NS delegation and re-running up', async () => {
      harness = stepHarness(certificateStep, { config: { certificateTimeoutMinutes: 3 } });
      acm.on(RequestCertificateCommand).resolves({ CertificateArn: ARN });
      acm.on(DescribeCertificateCommand).resolves(certificate('PENDING_VALIDATION'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      const error = await certificateStep.create(harness.context).catch((caught: unknown) => caught);

      expect(error).toMatchObject({ code: 'CERTIFICATE_VALIDATION_TIMEOUT', exit: 'timeout' });
      expect((error as { hint: string }).hint).toMatch(/NS delegation/);
      expect((error as { hint: string }).hint).toContain('authecs up');
      // Every 60 s for 3 minutes, with the status and elapsed time each time.
      expect(harness.progress.filter((line) => line.startsWith('certificate PENDING_VALIDATION'))).toEqual([
        'certificate PENDING_VALIDATION, waiting for ACM to validate www.example.com (0s elapsed)',
        'certificate PENDING_VALIDATION, waiting for ACM to validate www.example.com (1m 0s elapsed)',
        'certificate PENDING_VALIDATION, waiting for ACM to validate www.example.com (2m 0s elapsed)',
      ]);
      // The ARN stays recorded, so the next `up` keeps waiting on the same certificate.
      expect(harness.state.get<CertificateOutput>('certificate')?.data.certificateArn).toBe(ARN);
    });
  });

  describe('find', () => {
    it('returns the issued certificate when its validation record is in the zone', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      expect(await certificateStep.find(harness.context)).toEqual({ created: true, output: issuedRecord });
      expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(0);
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    });

    it('is undefined while pending, or when the validation record is gone (renewal would fail)', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolvesOnce(certificate('PENDING_VALIDATION')).resolves(certificate('ISSUED'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing());

      expect(await certificateStep.find(harness.context)).toBeUndefined();
      expect(await certificateStep.find(harness.context)).toBeUndefined();
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
      expect(harness.state.get('certificate')?.data).toMatchObject({ certificateArn: undefined, validationRecords: [theirs] });
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

  describe('inspect', () => {
    it('reports ISSUED as healthy, with status and users', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('ISSUED', { inUseBy: [LISTENER] }));
      route53.on(ListResourceRecordSetsCommand).resolves(listing(validationSet));

      const inspection = await certificateStep.inspect(harness.context);

      expect(inspection).toMatchObject({ present: true, healthy: true, details: { status: 'ISSUED', inUseBy: [LISTENER] } });
      expect(inspection.drift).toBeUndefined();
    });

    it('reports a pending certificate as unhealthy and a missing validation record as drift', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).resolves(certificate('PENDING_VALIDATION'));
      route53.on(ListResourceRecordSetsCommand).resolves(listing());

      const inspection = await certificateStep.inspect(harness.context);

      expect(inspection).toMatchObject({ present: true, healthy: false, summary: 'PENDING_VALIDATION' });
      expect(inspection.drift).toEqual([`validation record ${VALIDATION.Name} is missing from zone ${ZONE} (ACM cannot renew)`]);
    });

    it('reports a certificate that is gone', async () => {
      harness = stepHarness(certificateStep, { record: { created: true, complete: true, data: issuedRecord } });
      acm.on(DescribeCertificateCommand).rejects(notFound());

      expect(await certificateStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
    });
  });

  it('derives a stable idempotency token ACM accepts', () => {
    const token = certificateIdempotencyToken('ecsauth', 'www.example.com');
    expect(token).toMatch(/^\w{1,32}$/);
    expect(token).toHaveLength(32);
    expect(certificateIdempotencyToken('ecsauth', 'www.example.com')).toBe(token);
    expect(certificateIdempotencyToken('other', 'www.example.com')).not.toBe(token);
  });
});
