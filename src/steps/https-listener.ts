import {
  CreateListenerCommand,
  DeleteListenerCommand,
  DescribeListenersCommand,
  ModifyListenerCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
  type Listener,
  type RedirectActionConfig,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { hasErrorCode } from '../aws/errors.js';
import { retryWhileInUse } from './shared/poll.js';
import type { HttpsListenerOutput } from './outputs.js';
import { defineStep, stackTags, type StepContext } from './step.js';

type Context = StepContext<'https-listener'>;

export const HTTPS_PORT = 443;

// ACM may refuse a certificate for a short while after it turns ISSUED.
const CERTIFICATE_RETRY = { codes: ['UnsupportedCertificate', 'UnsupportedCertificateException'], intervalSeconds: 10, timeoutSeconds: 5 * 60 };

/** The listener, or undefined when it (or its load balancer) is gone. */
export async function describeListener(elbv2: ElasticLoadBalancingV2Client, listenerArn: string): Promise<Listener | undefined> {
  try {
    const response = await elbv2.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] }));
    return response.Listeners?.[0];
  } catch (error) {
    if (hasErrorCode(error, 'ListenerNotFoundException', 'ListenerNotFound', 'LoadBalancerNotFoundException', 'LoadBalancerNotFound')) return undefined;
    throw error;
  }
}

/** Every listener on a load balancer, across pages; none when the load balancer is gone. */
export async function listListeners(elbv2: ElasticLoadBalancingV2Client, loadBalancerArn: string): Promise<Listener[]> {
  const listeners: Listener[] = [];
  let marker: string | undefined;
  do {
    try {
      const response = await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, ...(marker ? { Marker: marker } : {}) }));
      listeners.push(...(response.Listeners ?? []));
      marker = response.NextMarker;
    } catch (error) {
      if (hasErrorCode(error, 'LoadBalancerNotFoundException', 'LoadBalancerNotFound')) return [];
      throw error;
    }
  } while (marker);
  return listeners;
}

/**
 * The listener on `port` of our load balancer. moto accepts a second listener on the same
 * port, so we always look before creating; the ALB is ours, so a listener on it is ours.
 */
export async function listenerOnPort(elbv2: ElasticLoadBalancingV2Client, loadBalancerArn: string, port: number): Promise<Listener | undefined> {
  const listeners = await listListeners(elbv2, loadBalancerArn);
  return listeners.find((listener) => listener.Port === port);
}

// AWS fills in the placeholders a redirect leaves out, so compare with them in place.
const REDIRECT_DEFAULTS: Required<Pick<RedirectActionConfig, 'Protocol' | 'Port' | 'Host' | 'Path' | 'Query'>> = {
  Protocol: '#{protocol}',
  Port: '#{port}',
  Host: '#{host}',
  Path: '/#{path}',
  Query: '#{query}',
};

/** How a listener's default actions differ from a single redirect; empty when they match. */
export function redirectDrift(actions: Action[] | undefined, expected: RedirectActionConfig): string[] {
  if (!actions || actions.length !== 1 || actions[0]?.Type !== 'redirect' || !actions[0].RedirectConfig) {
    const types = (actions ?? []).map((action) => action.Type).join(', ') || 'none';
    return [`default action is ${types}, not a single redirect`];
  }
  const actual = actions[0].RedirectConfig;
  const drift: string[] = [];
  for (const field of ['Protocol', 'Port', 'Host', 'Path', 'Query'] as const) {
    const want = expected[field] ?? REDIRECT_DEFAULTS[field];
    const have = actual[field] ?? REDIRECT_DEFAULTS[field];
    if (have !== want) drift.push(`redirect ${field.toLowerCase()} is ${have}, not ${want}`);
  }
  if (actual.StatusCode !== expected.StatusCode) drift.push(`redirect status is ${actual.StatusCode ?? 'unset'}, not ${expected.StatusCode}`);
  return drift;
}

interface Desired {
  loadBalancerArn: string;
  certificateArn: string;
  sslPolicy: string;
  defaultActions: Action[];
}

function desired(context: Context): Desired {
  return {
    loadBalancerArn: context.output('load-balancer').loadBalancerArn,
    certificateArn: context.output('certificate').certificateArn,
    sslPolicy: context.config.sslPolicy,
    // The article's default action: anything the host rule does not match goes to the site's name.
    defaultActions: [
      {
        Type: 'redirect',
        RedirectConfig: { Protocol: 'HTTPS', Port: String(HTTPS_PORT), Host: context.config.domain, StatusCode: 'HTTP_301' },
      },
    ],
  };
}

function defaultCertificateOf(listener: Listener): string | undefined {
  const certificates = listener.Certificates ?? [];
  return (certificates.find((certificate) => certificate.IsDefault) ?? certificates[0])?.CertificateArn;
}

/** What differs from the listener `up` makes; checks only what we know (inspect may lack inputs). */
function listenerDrift(listener: Listener, want: { certificateArn?: string; sslPolicy: string; domain: string }): string[] {
  const drift: string[] = [];
  if (listener.Protocol !== 'HTTPS') drift.push(`protocol is ${listener.Protocol ?? 'unset'}, not HTTPS`);
  if (listener.SslPolicy !== want.sslPolicy) drift.push(`TLS policy is ${listener.SslPolicy ?? 'unset'}, not ${want.sslPolicy}`);
  const certificateArn = defaultCertificateOf(listener);
  if (want.certificateArn && certificateArn !== want.certificateArn) drift.push(`certificate is ${certificateArn ?? 'missing'}, not ${want.certificateArn}`);
  drift.push(...redirectDrift(listener.DefaultActions, { Protocol: 'HTTPS', Port: String(HTTPS_PORT), Host: want.domain, StatusCode: 'HTTP_301' }));
  return drift;
}

function toOutput(listenerArn: string, want: Desired): HttpsListenerOutput {
  return { listenerArn, port: HTTPS_PORT, certificateArn: want.certificateArn, sslPolicy: want.sslPolicy };
}

/** The recorded listener, else the one on port 443 of our ALB. */
type ListenerContext = StepContext<'https-listener'> | StepContext<'http-redirect-listener'>;

/** The recorded listener if it still exists, else the one on this port of the given ALB. */
export async function locateListener(context: ListenerContext, port: number, loadBalancerArn: string | undefined): Promise<Listener | undefined> {
  const recordedArn = context.record?.data.listenerArn;
  if (recordedArn) {
    const recorded = await describeListener(context.clients.elbv2, recordedArn);
    if (recorded) return recorded;
  }
  return loadBalancerArn ? listenerOnPort(context.clients.elbv2, loadBalancerArn, port) : undefined;
}

/**
 * For status: the recorded listener (gone means missing), or, for a record without an ARN
 * (a run killed between the intent and the answer), the one on this port of our ALB.
 */
export async function inspectedListener(context: ListenerContext, port: number): Promise<Listener | undefined> {
  const recordedArn = context.record?.data.listenerArn;
  if (recordedArn) return describeListener(context.clients.elbv2, recordedArn);
  return context.hasOutput('load-balancer') ? listenerOnPort(context.clients.elbv2, context.output('load-balancer').loadBalancerArn, port) : undefined;
}

/**
 * Deletes the recorded listener; a record without an ARN (a run killed between the intent and
 * the answer) means the listener on that port of our ALB is the one we made. Gone is deleted.
 */
export async function deleteListener(context: ListenerContext, port: number): Promise<void> {
  let listenerArn = context.record?.data.listenerArn;
  if (!listenerArn && context.hasOutput('load-balancer')) {
    listenerArn = (await listenerOnPort(context.clients.elbv2, context.output('load-balancer').loadBalancerArn, port))?.ListenerArn;
  }
  if (!listenerArn) return;
  try {
    await context.clients.elbv2.send(new DeleteListenerCommand({ ListenerArn: listenerArn }));
  } catch (error) {
    if (!hasErrorCode(error, 'ListenerNotFoundException', 'ListenerNotFound')) throw error;
  }
}

export const httpsListenerStep = defineStep({
  name: 'https-listener',
  title: 'HTTPS listener',
  articleSection: 'Create an HTTPS listener and listener rule on the ALB',
  dependsOn: ['load-balancer', 'certificate'],

  async find(context) {
    const want = desired(context);
    const listener = await locateListener(context, HTTPS_PORT, want.loadBalancerArn);
    if (!listener || listenerDrift(listener, { ...want, domain: context.config.domain }).length > 0) return undefined;
    return { output: toOutput(listener.ListenerArn!, want), created: true };
  },

  async create(context) {
    const want = desired(context);
    const existing = await locateListener(context, HTTPS_PORT, want.loadBalancerArn);
    const settings = {
      Protocol: 'HTTPS' as const,
      Port: HTTPS_PORT,
      Certificates: [{ CertificateArn: want.certificateArn }],
      SslPolicy: want.sslPolicy,
      DefaultActions: want.defaultActions,
    };

    if (existing) {
      const listenerArn = existing.ListenerArn!;
      context.save({ created: true, data: { listenerArn, port: HTTPS_PORT } });
      if (listenerDrift(existing, { ...want, domain: context.config.domain }).length > 0) {
        // Drift repair: put back the certificate, policy and redirect `up` would have set.
        context.progress('updating the HTTPS listener to the expected certificate, TLS policy and default action');
        await retryWhileInUse(
          context,
          { description: 'update the HTTPS listener with the new certificate', ...CERTIFICATE_RETRY, call: () => context.clients.elbv2.send(new ModifyListenerCommand({ ListenerArn: listenerArn, ...settings })) },
          hasErrorCode,
        );
      }
      const output = toOutput(listenerArn, want);
      context.save({ data: output });
      return output;
    }

    // A listener cannot be found by tag cheaply, so record the intent before the call.
    context.save({ created: true, data: { port: HTTPS_PORT, certificateArn: want.certificateArn, sslPolicy: want.sslPolicy } });
    const response = await retryWhileInUse(
      context,
      {
        description: 'create the HTTPS listener with the newly issued certificate',
        ...CERTIFICATE_RETRY,
        call: () => context.clients.elbv2.send(new CreateListenerCommand({ LoadBalancerArn: want.loadBalancerArn, ...settings, Tags: stackTags(context.stack) })),
      },
      hasErrorCode,
    );
    const output = toOutput(response.Listeners![0]!.ListenerArn!, want);
    context.save({ data: output });
    return output;
  },

  async delete(context) {
    await deleteListener(context, HTTPS_PORT);
  },

  async inspect(context) {
    const listener = await inspectedListener(context, HTTPS_PORT);
    if (!listener) return { present: false, healthy: false, summary: 'missing' };
    const certificateArn = context.hasOutput('certificate') ? context.output('certificate').certificateArn : context.record?.data.certificateArn;
    const drift = listenerDrift(listener, { certificateArn, sslPolicy: context.config.sslPolicy, domain: context.config.domain });
    return {
      present: true,
      healthy: true,
      summary: `${listener.Protocol ?? '?'}:${listener.Port ?? '?'} ${listener.SslPolicy ?? ''}`.trim(),
      drift,
      details: { sslPolicy: listener.SslPolicy, certificateArn: defaultCertificateOf(listener), listenerArn: listener.ListenerArn },
    };
  },
});
