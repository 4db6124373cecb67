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
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
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

const OUTPUT = { listenerArn: LISTENER_ARN, port: 80, loadBalancerArn: ALB_ARN };
const NORMALISED = { type: 'redirect', protocol: 'HTTPS', port: '443', host: '#{host}', path: '/#{path}', query: '#{query}', statusCode: 'HTTP_301' };

describe('http-redirect-listener step', () => {
  let harness: StepHarness<'http-redirect-listener'>;
  const want = () => httpRedirectListenerStep.desired(harness.config, harness.inputs);
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it('is enabled by default and skipped with --no-http-redirect', () => {
    expect(httpRedirectListenerStep.enabled?.(articleConfig())).toBe(true);
    expect(httpRedirectListenerStep.enabled?.(articleConfig({ httpRedirect: false }))).toBe(false);
  });

  it('desired is HTTP:80 on the ALB redirecting to HTTPS, with UNKNOWN for an ALB still to be made', () => {
    harness = stepHarness(httpRedirectListenerStep);
    expect(want()).toEqual({ loadBalancerArn: ALB_ARN, port: 80, protocol: 'HTTP', defaultAction: NORMALISED });
    expect(httpRedirectListenerStep.desired(harness.config, { 'load-balancer': UNKNOWN }).loadBalancerArn).toBe(UNKNOWN);
  });

  it('creates an HTTP:80 listener that redirects every request to HTTPS 443 with a 301, tagged', async () => {
    harness = stepHarness(httpRedirectListenerStep);
    elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpsListener] });
    let recordAtCreate: unknown;
    elbv2.on(CreateListenerCommand).callsFake(() => {
      recordAtCreate = harness.state.get('http-redirect-listener');
      return { Listeners: [port80()] };
    });

    expect(await httpRedirectListenerStep.read(harness.readContext)).toBeUndefined();
    const output = await httpRedirectListenerStep.create(harness.context, want());

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
    // The ALB is in the intent, so `down` can find the listener from the record alone.
    expect(recordAtCreate).toMatchObject({ created: true, data: { port: 80, loadBalancerArn: ALB_ARN } });
    expect(output).toEqual(OUTPUT);
    expect(harness.state.get('http-redirect-listener')).toMatchObject({ created: true, data: OUTPUT });
  });

  it('read adopts the port-80 listener already on our ALB (found across pages), so nothing is created', async () => {
    harness = stepHarness(httpRedirectListenerStep);
    elbv2
      .on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN })
      .resolvesOnce({ Listeners: [httpsListener], NextMarker: 'page-2' })
      .resolves({ Listeners: [port80()] });

    const live = (await httpRedirectListenerStep.read(harness.readContext))!;

    expect(live).toMatchObject({ created: true, output: OUTPUT, health: { healthy: true, summary: 'HTTP:80 redirects to HTTPS' } });
    expect(diffFields(want(), live.observed, httpRedirectListenerStep.effects)).toEqual([]);
    expect(elbv2.commandCalls(DescribeListenersCommand)[1]!.args[0].input).toMatchObject({ Marker: 'page-2' });
    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
  });

  it('create still looks first (no idempotency token): a listener a killed run left is recorded, not duplicated', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: false, data: { port: 80 } } });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [port80()] });

    const output = await httpRedirectListenerStep.create(harness.context, want());

    expect(output.listenerArn).toBe(LISTENER_ARN);
    expect(harness.state.get('http-redirect-listener')).toMatchObject({ created: true, data: { listenerArn: LISTENER_ARN } });
    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyListenerCommand)).toHaveLength(0);
  });

  it('a port-80 listener that forwards instead of redirecting is an update: exactly one ModifyListener with the redirect, no create', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: true, data: OUTPUT } });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [port80({ DefaultActions: [{ Type: 'forward', TargetGroupArn: SAMPLE_OUTPUTS['target-group'].targetGroupArn }] })] });
    elbv2.on(ModifyListenerCommand).resolves({});

    const live = (await httpRedirectListenerStep.read(harness.readContext))!;
    const changes = diffFields(want(), live.observed, httpRedirectListenerStep.effects);
    expect(changes).toEqual([{ field: 'defaultAction', from: { type: 'forward' }, to: NORMALISED, effect: 'update' }]);
    expect(live.health.summary).toBe('HTTP:80 default action forward');
    const output = await httpRedirectListenerStep.update!(harness.context, want(), live, changes);

    expect(elbv2.commandCalls(CreateListenerCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyListenerCommand).map((call) => call.args[0].input)).toEqual([{ ListenerArn: LISTENER_ARN, DefaultActions: [{ Type: 'redirect', RedirectConfig: REDIRECT }] }]);
    expect(output).toEqual(OUTPUT);
  });

  it('a redirect to another port is drift with the field, the old and the new value', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: true, data: OUTPUT } });
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [port80({ DefaultActions: [{ Type: 'redirect', RedirectConfig: { ...REDIRECT, Protocol: 'HTTP', Port: '8080' } }] })] });

    const live = (await httpRedirectListenerStep.read(harness.readContext))!;

    expect(diffFields(want(), live.observed, httpRedirectListenerStep.effects)).toEqual([
      { field: 'defaultAction', from: { ...NORMALISED, protocol: 'HTTP', port: '8080' }, to: NORMALISED, effect: 'update' },
    ]);
  });

  it('accepts the redirect as AWS returns it when only the defaults differ in spelling (absent placeholders)', async () => {
    harness = stepHarness(httpRedirectListenerStep);
    elbv2.on(DescribeListenersCommand).resolves({
      Listeners: [port80({ DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }] })],
    });

    const live = (await httpRedirectListenerStep.read(harness.readContext))!;

    expect(diffFields(want(), live.observed, httpRedirectListenerStep.effects)).toEqual([]);
  });

  it('another ALB is a replacement: the new listener first, the old one retired', async () => {
    const NEW_ALB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ecsauth/0000000000000002';
    const NEW_LISTENER = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/ecsauth/0000000000000002/2222222222222222';
    harness = stepHarness(httpRedirectListenerStep, { outputs: { 'load-balancer': { ...SAMPLE_OUTPUTS['load-balancer'], loadBalancerArn: NEW_ALB } }, record: { created: true, complete: true, data: OUTPUT } });
    elbv2.on(DescribeListenersCommand, { ListenerArns: [LISTENER_ARN] }).resolves({ Listeners: [port80()] });
    elbv2.on(DescribeListenersCommand, { LoadBalancerArn: NEW_ALB }).resolves({ Listeners: [] });
    elbv2.on(CreateListenerCommand).resolves({ Listeners: [port80({ ListenerArn: NEW_LISTENER, LoadBalancerArn: NEW_ALB })] });

    const live = (await httpRedirectListenerStep.read(harness.readContext))!;
    const changes = diffFields(want(), live.observed, httpRedirectListenerStep.effects);
    expect(changes).toEqual([{ field: 'loadBalancerArn', from: ALB_ARN, to: NEW_ALB, effect: 'replace' }]);
    const output = await httpRedirectListenerStep.replace!(harness.context, want(), live, changes);

    expect(output).toEqual({ listenerArn: NEW_LISTENER, port: 80, loadBalancerArn: NEW_ALB });
    expect(harness.state.get('http-redirect-listener')).toMatchObject({ data: { listenerArn: NEW_LISTENER }, retired: [OUTPUT] });
    expect(elbv2.commandCalls(DeleteListenerCommand)).toHaveLength(0);
  });

  it('delete removes the recorded listener and tolerates one already gone', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['http-redirect-listener'] } });
    elbv2.on(DeleteListenerCommand).rejects(error('ListenerNotFoundException'));

    await expect(httpRedirectListenerStep.delete(harness.context)).resolves.toBeUndefined();
    expect(elbv2.commandCalls(DeleteListenerCommand)[0]!.args[0].input).toEqual({ ListenerArn: LISTENER_ARN });
  });

  it('--no-http-redirect: delete works from the record alone, with no ALB output and no settings', async () => {
    harness = stepHarness(httpRedirectListenerStep, { config: { httpRedirect: false }, record: { created: true, complete: true, data: OUTPUT } });
    harness.state.remove('load-balancer');
    elbv2.on(DeleteListenerCommand).resolves({});

    await httpRedirectListenerStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteListenerCommand).map((call) => call.args[0].input)).toEqual([{ ListenerArn: LISTENER_ARN }]);
    expect(elbv2.commandCalls(DescribeListenersCommand)).toHaveLength(0);
  });

  it('delete after a crash before the ARN was recorded removes the port-80 listener only', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: false, data: { port: 80, loadBalancerArn: ALB_ARN } } });
    elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpsListener, port80()] });
    elbv2.on(DeleteListenerCommand).resolves({});

    await httpRedirectListenerStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteListenerCommand).map((call) => call.args[0].input.ListenerArn)).toEqual([LISTENER_ARN]);
  });

  it('a missing listener reads as nothing live', async () => {
    harness = stepHarness(httpRedirectListenerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['http-redirect-listener'] } });
    elbv2.on(DescribeListenersCommand, { ListenerArns: [LISTENER_ARN] }).rejects(error('ListenerNotFoundException'));
    elbv2.on(DescribeListenersCommand, { LoadBalancerArn: ALB_ARN }).resolves({ Listeners: [httpsListener] });

    expect(await httpRedirectListenerStep.read(harness.readContext)).toBeUndefined();
  });
});
