import {
  CreateListenerCommand,
  DescribeSSLPoliciesCommand,
  DeleteListenerCommand,
  DescribeListenersCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  type Listener,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ARTICLE_SSL_POLICY, MODERN_SSL_POLICY } from '../../../src/config/schema.js';
import { httpsListenerStep } from '../../../src/steps/https-listener.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const ALB_ARN = SAMPLE_OUTPUTS['load-balancer'].loadBalancerArn;
const CERT_ARN = SAMPLE_OUTPUTS.certificate.certificateArn;
const LISTENER_ARN = SAMPLE_OUTPUTS['https-listener'].listenerArn;
const OTHER_CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/99999999-9999-9999-9999-999999999999';

const error = (name: string, message = name) => Object.assign(new Error(message), { name });

function liveListener(overrides: Partial<Listener> = {}): Listener {
  return {
    ListenerArn: LISTENER_ARN,
    LoadBalancerArn: ALB_ARN,
    Port: 443,
    Protocol: 'HTTPS',
    Certificates: [{ CertificateArn: CERT_ARN }],
    SslPolicy: MODERN_SSL_POLICY,
    // As AWS returns it: Path and Query filled in with their placeholders.
    DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', Host: 'www.example.com', Path: '/#{path}', Query: '#{query}', StatusCode: 'HTTP_301' } }],
    ...overrides,
  };
}

const httpListener: Listener = {
  ListenerArn: `${LISTENER_ARN}-http`,
  LoadBalancerArn: ALB_ARN,
  Port: 80,
  Protocol: 'HTTP',
  DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
};

// The default action as authecs sends it: every part of the redirect spelled out.
const REDIRECT = { Protocol: 'HTTPS', Port: '443', Host: 'www.example.com', Path: '/#{path}', Query: '#{query}', StatusCode: 'HTTP_301' } as const;
const OUTPUT = { listenerArn: LISTENER_ARN, port: 443, certificateArn: CERT_ARN, sslPolicy: MODERN_SSL_POLICY, loadBalancerArn: ALB_ARN };
const NEW_ALB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ecsauth/0000000000000002';

describe('https-listener step', () => {
  let harness: StepHarness<'https-listener'>;
  const want = () => httpsListenerStep.desired(harness.config, harness.inputs);
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  describe('desired and diff', () => {
    it('is the article\'s HTTPS:443 listener with the certificate, the TLS policy and the redirect, normalised', () => {
      harness = stepHarness(httpsListenerStep);
      expect(want()).toEqual({
        loadBalancerArn: ALB_ARN,
        port: 443,
        protocol: 'HTTPS',
        certificateArn: CERT_ARN,
        sslPolicy: MODERN_SSL_POLICY,
        defaultAction: { type: 'redirect', protocol: 'HTTPS', port: '443', host: 'www.example.com', path: '/#{path}', query: '#{query}', statusCode: 'HTTP_301' },
      });
    });

    it('gives UNKNOWN for the certificate while it is to be made, and for the ALB while it is to be made', () => {
      harness = stepHarness(httpsListenerStep);
      expect(httpsListenerStep.desired(harness.config, { ...harness.inputs, certificate: UNKNOWN }).certificateArn).toBe(UNKNOWN);
      expect(httpsListenerStep.desired(harness.config, { ...harness.inputs, 'load-balancer': UNKNOWN })).toMatchObject({ loadBalancerArn: UNKNOWN, certificateArn: CERT_ARN });
    });

    it('a new TLS policy is an update of sslPolicy; another ALB is a replacement', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: OUTPUT } });
      elbv2.on(DescribeListenersCommand, { ListenerArns: [LISTENER_ARN] }).resolves({ Listeners: [liveListener()] });

      const live = (await httpsListenerStep.read(harness.readContext))!;

      expect(diffFields(want(), live.observed, httpsListenerStep.effects)).toEqual([]);
      const article = httpsListenerStep.desired(articleConfig({ sslPolicy: ARTICLE_SSL_POLICY }), harness.inputs);
      expect(diffFields(article, live.observed, httpsListenerStep.effects)).toEqual([{ field: 'sslPolicy', from: MODERN_SSL_POLICY, to: ARTICLE_SSL_POLICY, effect: 'update' }]);
      const moved = httpsListenerStep.desired(harness.config, { ...harness.inputs, 'load-balancer': { ...SAMPLE_OUTPUTS['load-balancer'], loadBalancerArn: NEW_ALB } });
      expect(diffFields(moved, live.observed, httpsListenerStep.effects)).toEqual([{ field: 'loadBalancerArn', from: ALB_ARN, to: NEW_ALB, effect: 'replace' }]);
    });

    it('a redirect AWS returns with its placeholders left out compares equal', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: OUTPUT } });
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener({ DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', Host: 'www.example.com', StatusCode: 'HTTP_301' } }] })] });

      const live = (await httpsListenerStep.read(harness.readContext))!;

      expect(diffFields(want(), live.observed, httpsListenerStep.effects)).toEqual([]);
    });

    it('sees each drift as a change: policy, certificate and default action', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: OUTPUT } });
      elbv2.on(DescribeListenersCommand).resolves({
        Listeners: [liveListener({ SslPolicy: ARTICLE_SSL_POLICY, Certificates: [{ CertificateArn: OTHER_CERT }], DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }] })],
      });

      const live = (await httpsListenerStep.read(harness.readContext))!;

      expect(diffFields(want(), live.observed, httpsListenerStep.effects).map((change) => [change.field, change.effect])).toEqual([
        ['certificateArn', 'update'],
        ['sslPolicy', 'update'],
        ['defaultAction', 'update'],
      ]);
    });
  });

  describe('create', () => {
    it("creates the article's HTTPS:443 listener with the certificate, a TLS 1.3 policy and the redirect default action", async () => {
      harness = stepHarness(httpsListenerStep);
      elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpListener] });
      let recordAtCreate: unknown;
      elbv2.on(CreateListenerCommand).callsFake(() => {
        recordAtCreate = harness.state.get('https-listener');
        return { Listeners: [liveListener()] };
      });

      expect(await httpsListenerStep.read(harness.readContext)).toBeUndefined();
      const output = await httpsListenerStep.create(harness.context, want());

      const calls = elbv2.commandCalls(CreateListenerCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.args[0].input).toEqual({
        LoadBalancerArn: ALB_ARN,
        Protocol: 'HTTPS',
        Port: 443,
        Certificates: [{ CertificateArn: CERT_ARN }],
        SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
        DefaultActions: [{ Type: 'redirect', RedirectConfig: REDIRECT }],
        Tags: [
          { Key: 'authecs:stack', Value: 'ecsauth' },
          { Key: 'managed-by', Value: 'authecs' },
        ],
      });
      // The intent was on disk before the call, so a kill mid-call leaves a record for `down`.
      expect(recordAtCreate).toMatchObject({ created: true, data: { port: 443, loadBalancerArn: ALB_ARN } });
      expect(output).toEqual(OUTPUT);
      expect(harness.state.get('https-listener')).toMatchObject({ created: true, data: output });
    });

    it("uses the article's ELBSecurityPolicy-2016-08 when selected", async () => {
      harness = stepHarness(httpsListenerStep, { config: { sslPolicy: ARTICLE_SSL_POLICY } });
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
      elbv2.on(CreateListenerCommand).resolves({ Listeners: [liveListener({ SslPolicy: ARTICLE_SSL_POLICY })] });

      const output = await httpsListenerStep.create(harness.context, want());

      expect(elbv2.commandCalls(CreateListenerCommand)[0]!.args[0].input.SslPolicy).toBe('ELBSecurityPolicy-2016-08');
      expect(output.sslPolicy).toBe('ELBSecurityPolicy-2016-08');
    });

    it('read adopts the 443 listener a killed run left on our ALB, so nothing is created', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: false, data: { port: 443 } } });
      elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpListener, liveListener()] });

      const live = (await httpsListenerStep.read(harness.readContext))!;

      expect(live).toMatchObject({ created: true, output: OUTPUT });
      expect(diffFields(want(), live.observed, httpsListenerStep.effects)).toEqual([]);
      expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
      expect(elbv2.commandCalls(ModifyListenerCommand)).toHaveLength(0);
    });

    it('create still looks on the ALB first (no idempotency token) and repairs a listener it finds there instead of adding a second', async () => {
      harness = stepHarness(httpsListenerStep);
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener({ SslPolicy: ARTICLE_SSL_POLICY })] });
      elbv2.on(ModifyListenerCommand).resolves({});

      const output = await httpsListenerStep.create(harness.context, want());

      expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
      expect(elbv2.commandCalls(ModifyListenerCommand)[0]!.args[0].input).toMatchObject({ ListenerArn: LISTENER_ARN, SslPolicy: MODERN_SSL_POLICY });
      expect(output).toEqual(OUTPUT);
    });

    it('looks the listener up by its recorded ARN first', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
      elbv2.on(DescribeListenersCommand, { ListenerArns: [LISTENER_ARN] }).resolves({ Listeners: [liveListener()] });

      const live = await httpsListenerStep.read(harness.readContext);

      expect(live?.output.listenerArn).toBe(LISTENER_ARN);
      expect(elbv2.commandCalls(DescribeListenersCommand)).toHaveLength(1);
    });

    it('read cannot look before the ALB exists, and says nothing is there', async () => {
      harness = stepHarness(httpsListenerStep);
      harness.state.remove('load-balancer');

      expect(await httpsListenerStep.read(harness.readContext)).toBeUndefined();
      expect(elbv2.calls()).toHaveLength(0);
    });

    it('retries while ACM still calls a just-issued certificate unsupported', async () => {
      harness = stepHarness(httpsListenerStep);
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
      elbv2
        .on(CreateListenerCommand)
        .rejectsOnce(error('UnsupportedCertificate', 'The certificate must have a fully-qualified domain name'))
        .rejectsOnce(error('UnsupportedCertificate'))
        .resolves({ Listeners: [liveListener()] });

      const output = await httpsListenerStep.create(harness.context, want());

      expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(3);
      expect(output.listenerArn).toBe(LISTENER_ARN);
    });

    it('gives up on an unsupported certificate after about five minutes', async () => {
      harness = stepHarness(httpsListenerStep);
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
      elbv2.on(CreateListenerCommand).rejects(error('UnsupportedCertificate'));

      await expect(httpsListenerStep.create(harness.context, want())).rejects.toMatchObject({ exit: 'timeout', code: 'WAIT_TIMEOUT' });
      // At 0, 10, ..., 300 s: every 10 s for 5 minutes, then stop.
      expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(31);
    });

    it('does not retry other errors', async () => {
      harness = stepHarness(httpsListenerStep);
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
      elbv2.on(CreateListenerCommand).rejects(error('InvalidConfigurationRequestException', 'A listener already exists on this port for this load balancer'));

      await expect(httpsListenerStep.create(harness.context, want())).rejects.toMatchObject({ name: 'InvalidConfigurationRequestException' });
      expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(1);
    });

    // Terraform retries CertificateNotFound for minutes: hashicorp/terraform#10180, hashicorp/terraform-provider-aws#17505.
    it('retries CertificateNotFound for a certificate ISSUED a moment ago (hashicorp/terraform#10180, terraform-provider-aws#17505)', async () => {
      harness = stepHarness(httpsListenerStep);
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
      elbv2
        .on(CreateListenerCommand)
        .rejectsOnce(error('CertificateNotFoundException', `Certificate '${CERT_ARN}' not found`))
        .rejectsOnce(error('CertificateNotFoundException', `Certificate '${CERT_ARN}' not found`))
        .resolves({ Listeners: [liveListener()] });

      const output = await httpsListenerStep.create(harness.context, want());

      expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(3);
      expect(output.listenerArn).toBe(LISTENER_ARN);
    });

    it('gives up on CertificateNotFound after the bound (about five minutes), with the last error', async () => {
      harness = stepHarness(httpsListenerStep);
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
      elbv2.on(CreateListenerCommand).rejects(error('CertificateNotFoundException', `Certificate '${CERT_ARN}' not found`));

      await expect(httpsListenerStep.create(harness.context, want())).rejects.toMatchObject({ exit: 'timeout', message: expect.stringContaining('CertificateNotFoundException') });
      expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(31);
    });
  });

  describe('update and replace', () => {
    it('a new TLS policy: exactly one ModifyListener with the policy only, and no create', async () => {
      harness = stepHarness(httpsListenerStep, { config: { sslPolicy: ARTICLE_SSL_POLICY }, record: { created: true, complete: true, data: OUTPUT } });
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener()] });
      elbv2.on(ModifyListenerCommand).resolves({ Listeners: [liveListener({ SslPolicy: ARTICLE_SSL_POLICY })] });

      const live = (await httpsListenerStep.read(harness.readContext))!;
      const output = await httpsListenerStep.update!(harness.context, want(), live, diffFields(want(), live.observed, httpsListenerStep.effects));

      const calls = elbv2.commandCalls(ModifyListenerCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.args[0].input).toEqual({ ListenerArn: LISTENER_ARN, SslPolicy: ARTICLE_SSL_POLICY });
      expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
      expect(output).toEqual({ ...OUTPUT, sslPolicy: ARTICLE_SSL_POLICY });
      expect(harness.state.get('https-listener')).toMatchObject({ data: { sslPolicy: ARTICLE_SSL_POLICY } });
    });

    it('a new certificate: ModifyListener with the certificate only, retried while ACM calls it unsupported', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: OUTPUT } });
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener({ Certificates: [{ CertificateArn: OTHER_CERT }] })] });
      elbv2.on(ModifyListenerCommand).rejectsOnce(error('UnsupportedCertificate')).resolves({});

      const live = (await httpsListenerStep.read(harness.readContext))!;
      await httpsListenerStep.update!(harness.context, want(), live, diffFields(want(), live.observed, httpsListenerStep.effects));

      const calls = elbv2.commandCalls(ModifyListenerCommand);
      expect(calls).toHaveLength(2);
      expect(calls[1]!.args[0].input).toEqual({ ListenerArn: LISTENER_ARN, Certificates: [{ CertificateArn: CERT_ARN }] });
    });

    it('a new certificate: ModifyListener retried on CertificateNotFound too (terraform-provider-aws#17505)', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: OUTPUT } });
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener({ Certificates: [{ CertificateArn: OTHER_CERT }] })] });
      elbv2.on(ModifyListenerCommand).rejectsOnce(error('CertificateNotFoundException', `Certificate '${CERT_ARN}' not found`)).resolves({});

      const live = (await httpsListenerStep.read(harness.readContext))!;
      await httpsListenerStep.update!(harness.context, want(), live, diffFields(want(), live.observed, httpsListenerStep.effects));

      expect(elbv2.commandCalls(ModifyListenerCommand)).toHaveLength(2);
    });

    it('a changed default action: ModifyListener with the redirect only', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: OUTPUT } });
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener({ DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }] })] });
      elbv2.on(ModifyListenerCommand).resolves({});

      const live = (await httpsListenerStep.read(harness.readContext))!;
      await httpsListenerStep.update!(harness.context, want(), live, diffFields(want(), live.observed, httpsListenerStep.effects));

      expect(elbv2.commandCalls(ModifyListenerCommand).map((call) => call.args[0].input)).toEqual([{ ListenerArn: LISTENER_ARN, DefaultActions: [{ Type: 'redirect', RedirectConfig: REDIRECT }] }]);
    });

    it('another ALB: creates the listener there first, then retires the old one for deletion after the run', async () => {
      harness = stepHarness(httpsListenerStep, { outputs: { 'load-balancer': { ...SAMPLE_OUTPUTS['load-balancer'], loadBalancerArn: NEW_ALB } }, record: { created: true, complete: true, data: OUTPUT } });
      const NEW_LISTENER = `${NEW_ALB.replace(':loadbalancer/', ':listener/')}/1111111111111111`;
      elbv2.on(DescribeListenersCommand, { ListenerArns: [LISTENER_ARN] }).resolves({ Listeners: [liveListener()] });
      elbv2.on(DescribeListenersCommand, { LoadBalancerArn: NEW_ALB }).resolves({ Listeners: [] });
      elbv2.on(CreateListenerCommand).resolves({ Listeners: [liveListener({ ListenerArn: NEW_LISTENER, LoadBalancerArn: NEW_ALB })] });

      const live = (await httpsListenerStep.read(harness.readContext))!;
      const changes = diffFields(want(), live.observed, httpsListenerStep.effects);
      const output = await httpsListenerStep.replace!(harness.context, want(), live, changes);

      expect(changes.map((change) => change.field)).toEqual(['loadBalancerArn']);
      expect(elbv2.commandCalls(CreateListenerCommand)[0]!.args[0].input.LoadBalancerArn).toBe(NEW_ALB);
      expect(elbv2.commandCalls(DeleteListenerCommand)).toHaveLength(0);
      expect(output).toEqual({ ...OUTPUT, listenerArn: NEW_LISTENER, loadBalancerArn: NEW_ALB });
      expect(harness.state.get('https-listener')).toMatchObject({ data: { listenerArn: NEW_LISTENER }, retired: [OUTPUT] });
    });
  });

  describe('delete', () => {
    it('removes the recorded listener', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
      elbv2.on(DeleteListenerCommand).resolves({});

      await httpsListenerStep.delete(harness.context);

      expect(elbv2.commandCalls(DeleteListenerCommand)[0]!.args[0].input).toEqual({ ListenerArn: LISTENER_ARN });
    });

    it('treats an already-deleted listener as done', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
      elbv2.on(DeleteListenerCommand).rejects(error('ListenerNotFoundException', 'One or more listeners not found'));

      await expect(httpsListenerStep.delete(harness.context)).resolves.toBeUndefined();
    });

    it('finds the listener of a run killed before it recorded the ARN, on the recorded ALB', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: false, data: { port: 443, loadBalancerArn: ALB_ARN } } });
      harness.state.remove('load-balancer');
      elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpListener, liveListener()] });
      elbv2.on(DeleteListenerCommand).resolves({});

      await httpsListenerStep.delete(harness.context);

      expect(elbv2.commandCalls(DeleteListenerCommand).map((call) => call.args[0].input.ListenerArn)).toEqual([LISTENER_ARN]);
    });

    it('propagates other errors', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
      elbv2.on(DeleteListenerCommand).rejects(error('AccessDenied'));

      await expect(httpsListenerStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDenied' });
    });
  });

  describe('health', () => {
    it('a missing listener reads as nothing live', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
      elbv2.on(DescribeListenersCommand, { ListenerArns: [LISTENER_ARN] }).rejects(error('ListenerNotFoundException'));
      elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [] });

      expect(await httpsListenerStep.read(harness.readContext)).toBeUndefined();
    });

    it('reports policy and certificate in details', async () => {
      harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
      elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener()] });

      expect((await httpsListenerStep.read(harness.readContext))?.health).toEqual({
        healthy: true,
        summary: `HTTPS:443 ${MODERN_SSL_POLICY}`,
        details: { sslPolicy: MODERN_SSL_POLICY, certificateArn: CERT_ARN, listenerArn: LISTENER_ARN },
      });
    });
  });

  // ELBv2 API Reference, DescribeSSLPolicies (SSLPolicyNotFound); moto answers an unknown name with an empty list.
  describe('preflight: the TLS policy exists (ELBv2 API Reference, DescribeSSLPolicies)', () => {
    it('passes for a policy DescribeSSLPolicies knows, asking for that name only', async () => {
      harness = stepHarness(httpsListenerStep);
      elbv2.on(DescribeSSLPoliciesCommand).resolves({ SslPolicies: [{ Name: MODERN_SSL_POLICY }] });

      await expect(httpsListenerStep.preflight!(harness.readContext)).resolves.toBeUndefined();
      expect(elbv2.commandCalls(DescribeSSLPoliciesCommand)[0]!.args[0].input).toEqual({ Names: [MODERN_SSL_POLICY] });
    });

    it('refuses an unknown policy name (SSLPolicyNotFound, or an empty answer) before anything is created', async () => {
      harness = stepHarness(httpsListenerStep, { config: { sslPolicy: 'ELBSecurityPolicy-TLS13-9-9-2099-01' } });
      elbv2.on(DescribeSSLPoliciesCommand).rejectsOnce(error('SSLPolicyNotFoundException', 'The specified SSL policy does not exist.')).resolves({ SslPolicies: [] });

      for (let attempt = 0; attempt < 2; attempt += 1) {
        await expect(httpsListenerStep.preflight!(harness.readContext)).rejects.toMatchObject({
          code: 'SSL_POLICY_NOT_FOUND',
          exit: 'usage',
          message: expect.stringContaining('ELBSecurityPolicy-TLS13-9-9-2099-01'),
          hint: expect.stringContaining('describe-ssl-policies'),
        });
      }
      expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
    });
  });
});
