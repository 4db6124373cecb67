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
import { httpRedirectListenerStep } from '../../../src/steps/http-redirect-listener.js';
import { SAMPLE_OUTPUTS, articleConfig, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const ALB_ARN = SAMPLE_OUTPUTS['load-balancer'].loadBalancerArn;
const LISTENER_ARN = SAMPLE_OUTPUTS['http-redirect-listener'].listenerArn;
const REDIRECT = { Protocol: 'HTTPS', Port: '443', Host: '#{host}', Path: '/#{path}', Query: '#{query}', StatusCode: 'HTTP_301' } as const;

const error = (name: string, message = name) => Object.assign(new Error(message), { name });

function port80(overrides: Partial<Listener> = {}): Listener {
  return { ListenerArn: LISTENER_ARN, LoadBalancerArn: ALB_ARN, Port: 80, Protocol: 'HTTP', DefaultActions: [{ Type: 'redirect', RedirectConfig: { ...REDIRECT } }], ...overrides };
}

const httpsListener: Listener = { ListenerArn: SAMPLE_OUTPUTS['https-listener'].listenerArn, LoadBalancerArn: ALB_ARN, Port: 443, Protocol: 'HTTPS' };

describe('http-redirect-listener step', () => {
  let harness: StepHarness<'http-redirect-listener'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it('is enabled by default and skipped with --no-http-redirect', () => {
    expect(httpRedirectListenerStep.enabled?.(articleConfig())).toBe(true);
    expect(httpRedirectListenerStep.enabled?.(articleConfig({ httpRedirect: false }))).toBe(false);
  });

  it('creates an HTTP:80 listener that redirects every request to HTTPS 443 with a 301, tagged', async () => {
    harness = stepHarness(httpRedirectListenerStep);
    elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpsListener] });
    let recordAtCreate: unknown;
    elbv2.on(CreateListenerCommand).callsFake(() => {
      recordAtCreate = harness.state.get('http-redirect-listener');
      return { Listeners: [port80()] };
    });

    const output = await httpRedirectListenerStep.create(harness.context);

    expect(elbv2.commandCalls(CreateListenerCommand)[0]!.args[0].input).toEqual({
      LoadBalancerArn: ALB_ARN,
      Protocol: 'HTTP',
      Port: 80,
      DefaultActions: [{ Type: 'redirect', RedirectConfig: REDIRECT }],
      Tags: [
        { Key: 'authecs:stack', Value: 'ecsauth' },
        { Key: 'managed-by', Value: 'authecs' },
      ],
    });
    expect(recordAtCreate).toMatchObject({ created: true, data: { port: 80 } });
    expect(output).toEqual({ listenerArn: LISTENER_ARN, port: 80 });
    expect(harness.state.get('http-redirect-listener')).toMatchObject({ created: true, data: { listenerArn: LISTENER_ARN, port: 80 } });
  });

  it('adopts the port-80 listener already on our ALB (found across pages) instead of creating a duplicate', async () => {
    harness = stepHarness(httpRedirectListenerStep);
    elbv2
      .on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN })
      .resolvesOnce({ Listeners: [httpsListener], NextMarker: 'page-2' })
      .resolves({ Listeners: [port80()] });

    const found = await httpRedirectListenerStep.find(harness.context);

    expect(found).toEqual({ created: true, output: { listenerArn: LISTENER_ARN, port: 80 } });
    expect(elbv2.commandCalls(DescribeListenersCommand)[1]!.args[0].input).toMatchObject({ Marker: 'page-2' });
    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
  });

  it('create after a crash adopts the listener and records its ARN', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: false, data: { port: 80 } } });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [port80()] });

    const output = await httpRedirectListenerStep.create(harness.context);

    expect(output.listenerArn).toBe(LISTENER_ARN);
    expect(harness.state.get('http-redirect-listener')).toMatchObject({ created: true, data: { listenerArn: LISTENER_ARN } });
    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
  });

  it('repairs a port-80 listener that forwards instead of redirecting', async () => {
    harness = stepHarness(httpRedirectListenerStep);
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [port80({ DefaultActions: [{ Type: 'forward', TargetGroupArn: SAMPLE_OUTPUTS['target-group'].targetGroupArn }] })] });
    elbv2.on(ModifyListenerCommand).resolves({});

    expect(await httpRedirectListenerStep.find(harness.context)).toBeUndefined();
    await httpRedirectListenerStep.create(harness.context);

    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyListenerCommand)[0]!.args[0].input).toEqual({
      ListenerArn: LISTENER_ARN,
      Protocol: 'HTTP',
      Port: 80,
      DefaultActions: [{ Type: 'redirect', RedirectConfig: REDIRECT }],
    });
  });

  it('accepts the redirect as AWS returns it when only the defaults differ in spelling (absent placeholders)', async () => {
    harness = stepHarness(httpRedirectListenerStep);
    elbv2.on(DescribeListenersCommand).resolves({
      Listeners: [port80({ DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }] })],
    });

    expect(await httpRedirectListenerStep.find(harness.context)).toBeDefined();
  });

  it('delete removes the recorded listener and tolerates one already gone', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['http-redirect-listener'] } });
    elbv2.on(DeleteListenerCommand).rejects(error('ListenerNotFoundException'));

    await expect(httpRedirectListenerStep.delete(harness.context)).resolves.toBeUndefined();
    expect(elbv2.commandCalls(DeleteListenerCommand)[0]!.args[0].input).toEqual({ ListenerArn: LISTENER_ARN });
  });

  it('delete after a crash before the ARN was recorded removes the port-80 listener only', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: false, data: { port: 80 } } });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [httpsListener, port80()] });
    elbv2.on(DeleteListenerCommand).resolves({});

    await httpRedirectListenerStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteListenerCommand).map((call) => call.args[0].input.ListenerArn)).toEqual([LISTENER_ARN]);
  });

  it('inspect reports a missing listener', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['http-redirect-listener'] } });
    elbv2.on(DescribeListenersCommand).rejects(error('ListenerNotFoundException'));

    expect(await httpRedirectListenerStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
  });

  it('inspect reports drift when the listener no longer redirects to HTTPS', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['http-redirect-listener'] } });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [port80({ DefaultActions: [{ Type: 'redirect', RedirectConfig: { ...REDIRECT, Protocol: 'HTTP', Port: '8080' } }] })] });

    const inspection = await httpRedirectListenerStep.inspect(harness.context);

    expect(inspection).toMatchObject({ present: true });
    expect(inspection.drift).toEqual(['redirect protocol is HTTP, not HTTPS', 'redirect port is 8080, not 443']);
  });

  it('inspect of a matching listener shows no drift', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['http-redirect-listener'] } });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [port80()] });

    expect(await httpRedirectListenerStep.inspect(harness.context)).toMatchObject({ present: true, healthy: true, drift: [] });
  });
});
