import {
  CreateListenerCommand,
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
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

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

describe('https-listener step', () => {
  let harness: StepHarness<'https-listener'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it("creates the article's HTTPS:443 listener with the certificate, a TLS 1.3 policy and the redirect default action", async () => {
    harness = stepHarness(httpsListenerStep);
    elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpListener] });
    let recordAtCreate: unknown;
    elbv2.on(CreateListenerCommand).callsFake(() => {
      recordAtCreate = harness.state.get('https-listener');
      return { Listeners: [liveListener()] };
    });

    const output = await httpsListenerStep.create(harness.context);

    const calls = elbv2.commandCalls(CreateListenerCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({
      LoadBalancerArn: ALB_ARN,
      Protocol: 'HTTPS',
      Port: 443,
      Certificates: [{ CertificateArn: CERT_ARN }],
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', Host: 'www.example.com', StatusCode: 'HTTP_301' } }],
      Tags: [
        { Key: 'authecs:stack', Value: 'ecsauth' },
        { Key: 'managed-by', Value: 'authecs' },
      ],
    });
    // The intent was on disk before the call, so a kill mid-call leaves a record for `down`.
    expect(recordAtCreate).toMatchObject({ created: true, data: { port: 443 } });
    expect(output).toEqual({ listenerArn: LISTENER_ARN, port: 443, certificateArn: CERT_ARN, sslPolicy: MODERN_SSL_POLICY });
    expect(harness.state.get('https-listener')).toMatchObject({ created: true, data: output });
  });

  it("uses the article's ELBSecurityPolicy-2016-08 when selected", async () => {
    harness = stepHarness(httpsListenerStep, { config: { sslPolicy: ARTICLE_SSL_POLICY } });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
    elbv2.on(CreateListenerCommand).resolves({ Listeners: [liveListener({ SslPolicy: ARTICLE_SSL_POLICY })] });

    const output = await httpsListenerStep.create(harness.context);

    expect(elbv2.commandCalls(CreateListenerCommand)[0]!.args[0].input.SslPolicy).toBe('ELBSecurityPolicy-2016-08');
    expect(output.sslPolicy).toBe('ELBSecurityPolicy-2016-08');
  });

  it('adopts the 443 listener a killed run left on our ALB instead of creating a second one', async () => {
    harness = stepHarness(httpsListenerStep, { record: { created: true, complete: false, data: { port: 443 } } });
    elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpListener, liveListener()] });

    const found = await httpsListenerStep.find(harness.context);
    const output = await httpsListenerStep.create(harness.context);

    expect(found).toEqual({ created: true, output: { listenerArn: LISTENER_ARN, port: 443, certificateArn: CERT_ARN, sslPolicy: MODERN_SSL_POLICY } });
    expect(output.listenerArn).toBe(LISTENER_ARN);
    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyListenerCommand)).toHaveLength(0);
  });

  it('looks the listener up by its recorded ARN first', async () => {
    harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
    elbv2.on(DescribeListenersCommand, { ListenerArns: [LISTENER_ARN] }).resolves({ Listeners: [liveListener()] });

    const found = await httpsListenerStep.find(harness.context);

    expect(found?.output.listenerArn).toBe(LISTENER_ARN);
    expect(elbv2.commandCalls(DescribeListenersCommand)).toHaveLength(1);
  });

  it('repairs a drifted policy and certificate with ModifyListener, never a second CreateListener', async () => {
    harness = stepHarness(httpsListenerStep);
    const drifted = liveListener({ SslPolicy: ARTICLE_SSL_POLICY, Certificates: [{ CertificateArn: OTHER_CERT }] });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [drifted] });
    elbv2.on(ModifyListenerCommand).resolves({ Listeners: [liveListener()] });

    expect(await httpsListenerStep.find(harness.context)).toBeUndefined();
    const output = await httpsListenerStep.create(harness.context);

    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyListenerCommand)[0]!.args[0].input).toEqual({
      ListenerArn: LISTENER_ARN,
      Protocol: 'HTTPS',
      Port: 443,
      Certificates: [{ CertificateArn: CERT_ARN }],
      SslPolicy: MODERN_SSL_POLICY,
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', Host: 'www.example.com', StatusCode: 'HTTP_301' } }],
    });
    expect(output).toMatchObject({ listenerArn: LISTENER_ARN, sslPolicy: MODERN_SSL_POLICY, certificateArn: CERT_ARN });
    expect(harness.state.get('https-listener')).toMatchObject({ created: true, data: { listenerArn: LISTENER_ARN } });
  });

  it("find asks for a repair when only the TLS policy differs (e.g. the article's policy left from an earlier run)", async () => {
    harness = stepHarness(httpsListenerStep);
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener({ SslPolicy: ARTICLE_SSL_POLICY })] });

    expect(await httpsListenerStep.find(harness.context)).toBeUndefined();
  });

  it('find asks for a repair when only the certificate differs', async () => {
    harness = stepHarness(httpsListenerStep);
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener({ Certificates: [{ CertificateArn: OTHER_CERT }] })] });

    expect(await httpsListenerStep.find(harness.context)).toBeUndefined();
  });

  it('treats a changed default action as drift to repair', async () => {
    harness = stepHarness(httpsListenerStep);
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener({ DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }] })] });
    elbv2.on(ModifyListenerCommand).resolves({});

    expect(await httpsListenerStep.find(harness.context)).toBeUndefined();
    await httpsListenerStep.create(harness.context);

    expect(elbv2.commandCalls(ModifyListenerCommand)).toHaveLength(1);
  });

  it('retries while ACM still calls a just-issued certificate unsupported', async () => {
    harness = stepHarness(httpsListenerStep);
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
    elbv2
      .on(CreateListenerCommand)
      .rejectsOnce(error('UnsupportedCertificate', 'The certificate must have a fully-qualified domain name'))
      .rejectsOnce(error('UnsupportedCertificate'))
      .resolves({ Listeners: [liveListener()] });

    const output = await httpsListenerStep.create(harness.context);

    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(3);
    expect(output.listenerArn).toBe(LISTENER_ARN);
  });

  it('gives up on an unsupported certificate after about five minutes', async () => {
    harness = stepHarness(httpsListenerStep);
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
    elbv2.on(CreateListenerCommand).rejects(error('UnsupportedCertificate'));

    await expect(httpsListenerStep.create(harness.context)).rejects.toMatchObject({ exit: 'timeout', code: 'WAIT_TIMEOUT' });
    // At 0, 10, ..., 300 s: every 10 s for 5 minutes, then stop.
    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(31);
  });

  it('does not retry other errors', async () => {
    harness = stepHarness(httpsListenerStep);
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
    elbv2.on(CreateListenerCommand).rejects(error('CertificateNotFoundException', 'Supplied certificate was not found'));

    await expect(httpsListenerStep.create(harness.context)).rejects.toMatchObject({ name: 'CertificateNotFoundException' });
    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(1);
  });

  it('delete removes the recorded listener', async () => {
    harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
    elbv2.on(DeleteListenerCommand).resolves({});

    await httpsListenerStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteListenerCommand)[0]!.args[0].input).toEqual({ ListenerArn: LISTENER_ARN });
  });

  it('delete treats an already-deleted listener as done', async () => {
    harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
    elbv2.on(DeleteListenerCommand).rejects(error('ListenerNotFoundException', 'One or more listeners not found'));

    await expect(httpsListenerStep.delete(harness.context)).resolves.toBeUndefined();
  });

  it('delete finds the listener of a run killed before it recorded the ARN', async () => {
    harness = stepHarness(httpsListenerStep, { record: { created: true, complete: false, data: { port: 443 } } });
    elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpListener, liveListener()] });
    elbv2.on(DeleteListenerCommand).resolves({});

    await httpsListenerStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteListenerCommand).map((call) => call.args[0].input.ListenerArn)).toEqual([LISTENER_ARN]);
  });

  it('delete propagates other errors', async () => {
    harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
    elbv2.on(DeleteListenerCommand).rejects(error('AccessDenied'));

    await expect(httpsListenerStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('inspect reports a missing listener', async () => {
    harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
    elbv2.on(DescribeListenersCommand, { ListenerArns: [LISTENER_ARN] }).rejects(error('ListenerNotFoundException'));
    elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [] });

    expect(await httpsListenerStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false, summary: 'missing' });
  });

  it('inspect reports policy and certificate in details, and no drift when they match', async () => {
    harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [liveListener()] });

    const inspection = await httpsListenerStep.inspect(harness.context);

    expect(inspection).toMatchObject({ present: true, healthy: true, drift: [], details: { sslPolicy: MODERN_SSL_POLICY, certificateArn: CERT_ARN } });
  });

  it('inspect lists each drift: policy, certificate and default action', async () => {
    harness = stepHarness(httpsListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['https-listener'] } });
    elbv2.on(DescribeListenersCommand).resolves({
      Listeners: [
        liveListener({
          SslPolicy: ARTICLE_SSL_POLICY,
          Certificates: [{ CertificateArn: OTHER_CERT }],
          DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', Host: 'evil.example.net', StatusCode: 'HTTP_302' } }],
        }),
      ],
    });

    const { drift } = await httpsListenerStep.inspect(harness.context);

    expect(drift).toEqual([
      `TLS policy is ${ARTICLE_SSL_POLICY}, not ${MODERN_SSL_POLICY}`,
      `certificate is ${OTHER_CERT}, not ${CERT_ARN}`,
      'redirect host is evil.example.net, not www.example.com',
      'redirect status is HTTP_302, not HTTP_301',
    ]);
  });
});
