import {
  DeleteListenerCommand,
  DescribeListenersCommand,
  paginateDescribeListeners,
  type Action,
  type ElasticLoadBalancingV2Client,
  type Listener,
  type RedirectActionStatusCodeEnum,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { hasErrorCode } from '../../aws/errors.js';
import type { StepOutputs } from '../outputs.js';
import type { StepContext } from '../step.js';

export const HTTPS_PORT = 443;

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
  try {
    for await (const page of paginateDescribeListeners({ client: elbv2 }, { LoadBalancerArn: loadBalancerArn })) listeners.push(...(page.Listeners ?? []));
  } catch (error) {
    if (hasErrorCode(error, 'LoadBalancerNotFoundException', 'LoadBalancerNotFound')) return [];
    throw error;
  }
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

type ListenerContext = StepContext<'https-listener'> | StepContext<'http-redirect-listener'>;

/** The recorded listener, else the one on this port of our ALB (a run killed before it recorded the ARN). */
export async function locateListener(context: ListenerContext, port: number): Promise<Listener | undefined> {
  const recordedArn = context.record?.data.listenerArn;
  if (recordedArn) {
    const recorded = await describeListener(context.clients.elbv2, recordedArn);
    if (recorded) return recorded;
  }
  const loadBalancerArn = context.hasOutput('load-balancer') ? context.output('load-balancer').loadBalancerArn : context.record?.data.loadBalancerArn;
  return loadBalancerArn ? listenerOnPort(context.clients.elbv2, loadBalancerArn, port) : undefined;
}

/** Deletes one listener; gone counts as deleted (its rules go with it). */
export async function deleteListenerArn(elbv2: ElasticLoadBalancingV2Client, listenerArn: string): Promise<void> {
  try {
    await elbv2.send(new DeleteListenerCommand({ ListenerArn: listenerArn }));
  } catch (error) {
    if (!hasErrorCode(error, 'ListenerNotFoundException', 'ListenerNotFound')) throw error;
  }
}

/** From the record alone (retired or disabled: no current inputs); without an ARN, the one on that port of the recorded ALB. */
export async function deleteListener(context: ListenerContext, port: number): Promise<void> {
  const data = context.record?.data;
  let listenerArn = data?.listenerArn;
  if (!listenerArn) {
    // Records written before loadBalancerArn was recorded: fall back to the current ALB.
    const loadBalancerArn = data?.loadBalancerArn ?? (context.hasOutput('load-balancer') ? context.output('load-balancer').loadBalancerArn : undefined);
    if (loadBalancerArn) listenerArn = (await listenerOnPort(context.clients.elbv2, loadBalancerArn, data?.port ?? port))?.ListenerArn;
  }
  if (listenerArn) await deleteListenerArn(context.clients.elbv2, listenerArn);
}

export function defaultCertificateOf(listener: Listener): string | undefined {
  const certificates = listener.Certificates ?? [];
  return (certificates.find((certificate) => certificate.IsDefault) ?? certificates[0])?.CertificateArn;
}

// ---------------------------------------------------------------------------------------------
// Default actions, normalised so that a wish and a live listener compare equal

export interface RedirectAction {
  type: 'redirect';
  protocol: string;
  port: string;
  host: string;
  path: string;
  query: string;
  statusCode: RedirectActionStatusCodeEnum;
}

/** Any default action other than a single redirect: compared by its types only. */
export interface OtherAction {
  type: string;
}

export type DefaultAction = RedirectAction | OtherAction;

// AWS fills in the placeholders a redirect leaves out, so compare with them in place.
const REDIRECT_DEFAULTS = { protocol: '#{protocol}', port: '#{port}', host: '#{host}', path: '/#{path}', query: '#{query}' } as const;

/** A redirect with AWS's placeholders filled in for the parts left out. */
export function redirectAction(redirect: Partial<Omit<RedirectAction, 'type' | 'statusCode'>> & { statusCode: RedirectActionStatusCodeEnum }): RedirectAction {
  return { type: 'redirect', ...REDIRECT_DEFAULTS, ...redirect };
}

export function isRedirect(action: DefaultAction | undefined): action is RedirectAction {
  return action?.type === 'redirect' && 'statusCode' in action;
}

/** A listener's default actions in the desired form. */
export function normaliseDefaultActions(actions: readonly Action[] | undefined): DefaultAction {
  const only = actions?.length === 1 ? actions[0] : undefined;
  const config = only?.Type === 'redirect' ? only.RedirectConfig : undefined;
  if (!config?.StatusCode) return { type: (actions ?? []).map((action) => action.Type).join(', ') || 'none' };
  return redirectAction({
    ...(config.Protocol ? { protocol: config.Protocol } : {}),
    ...(config.Port ? { port: config.Port } : {}),
    ...(config.Host ? { host: config.Host } : {}),
    ...(config.Path ? { path: config.Path } : {}),
    ...(config.Query ? { query: config.Query } : {}),
    statusCode: config.StatusCode,
  });
}

/** The ELBv2 default actions for a desired redirect, every part spelled out. */
export function redirectActions(action: RedirectAction): Action[] {
  return [
    {
      Type: 'redirect',
      RedirectConfig: { Protocol: action.protocol, Port: action.port, Host: action.host, Path: action.path, Query: action.query, StatusCode: action.statusCode },
    },
  ];
}

/**
 * A listener's replacement. On another ALB the new listener comes first and the old one is
 * retired (recorded before the create, so a run killed in between still deletes it later); on
 * the same ALB and port there is room for one listener only, so the old one goes first.
 */
export async function replaceListener<Name extends 'https-listener' | 'http-redirect-listener'>(
  context: StepContext<Name>,
  want: { loadBalancerArn: unknown; port: number },
  live: { observed: { loadBalancerArn?: unknown; port?: number }; output: StepOutputs[Name] },
  create: () => Promise<StepOutputs[Name]>,
): Promise<StepOutputs[Name]> {
  if (live.observed.loadBalancerArn === want.loadBalancerArn && live.observed.port === want.port) {
    await deleteListenerArn(context.clients.elbv2, live.output.listenerArn);
    return create();
  }
  context.retire(live.output);
  return create();
}
