import { CreateListenerCommand, ModifyListenerCommand, type Listener } from '@aws-sdk/client-elastic-load-balancing-v2';
import { AuthecsError } from '../errors.js';
import type { ListenerOutput } from './outputs.js';
import { canonical, defineResource, diffFields, known, UNKNOWN, type Effect, type Live, type Maybe } from './resource.js';
import {
  deleteListener,
  replaceListener,
  HTTPS_PORT,
  isRedirect,
  listenerOnPort,
  locateListener,
  normaliseDefaultActions,
  redirectAction,
  redirectActions,
  type DefaultAction,
} from './shared/listeners.js';
import { resolved } from './shared/resolved.js';
import { stackTags } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'http-redirect-listener'>;

export const HTTP_PORT = 80;

export interface DesiredHttpRedirectListener {
  loadBalancerArn: Maybe<string>;
  port: number;
  protocol: 'HTTP';
  defaultAction: DefaultAction;
}

type RedirectLive = Live<'http-redirect-listener', DesiredHttpRedirectListener>;

// Same host, path and query, but over HTTPS: the article opens port 80 and never listens on it.
const REDIRECT_TO_HTTPS = redirectAction({ protocol: 'HTTPS', port: String(HTTPS_PORT), statusCode: 'HTTP_301' });

// ELBv2 API Reference, ModifyListener: replaces the default actions in place. A listener belongs
// to one load balancer, so another ALB needs a new one; port and protocol are its identity here.
const EFFECTS: { readonly [Field in keyof DesiredHttpRedirectListener]-?: Effect } = {
  loadBalancerArn: 'replace',
  port: 'replace',
  protocol: 'replace',
  defaultAction: 'update',
};

function settingsOf(want: DesiredHttpRedirectListener) {
  const defaultAction = want.defaultAction;
  if (!isRedirect(defaultAction)) throw new AuthecsError('The HTTP listener only ever wants a redirect default action', { code: 'DESIRED_INVALID', exit: 'internal' });
  return {
    loadBalancerArn: resolved(want.loadBalancerArn, 'load balancer ARN'),
    listener: { Protocol: 'HTTP' as const, Port: want.port, DefaultActions: redirectActions(defaultAction) },
  };
}

function observe(listener: Listener): RedirectLive['observed'] {
  return {
    loadBalancerArn: listener.LoadBalancerArn,
    port: listener.Port,
    protocol: listener.Protocol as 'HTTP',
    defaultAction: normaliseDefaultActions(listener.DefaultActions),
  };
}

async function create(context: Context, want: DesiredHttpRedirectListener): Promise<ListenerOutput> {
  const { loadBalancerArn, listener } = settingsOf(want);
  // CreateListener has no idempotency token and moto takes a second listener on a port: look first.
  const existing = await listenerOnPort(context.clients.elbv2, loadBalancerArn, want.port);
  if (existing) {
    const output: ListenerOutput = { listenerArn: existing.ListenerArn!, port: want.port, loadBalancerArn };
    context.save({ created: true, data: output });
    if (diffFields(want, observe(existing), EFFECTS).length > 0) {
      context.progress('updating the HTTP listener to redirect to HTTPS');
      await context.clients.elbv2.send(new ModifyListenerCommand({ ListenerArn: output.listenerArn, ...listener }));
    }
    return output;
  }
  // Record the intent first: a listener cannot be looked up by tag.
  context.save({ created: true, data: { port: want.port, loadBalancerArn } });
  const response = await context.clients.elbv2.send(new CreateListenerCommand({ LoadBalancerArn: loadBalancerArn, ...listener, Tags: stackTags(context.stack) }));
  const output: ListenerOutput = { listenerArn: response.Listeners![0]!.ListenerArn!, port: want.port, loadBalancerArn };
  context.save({ data: output });
  return output;
}

export const httpRedirectListenerStep = defineResource<'http-redirect-listener', DesiredHttpRedirectListener>({
  name: 'http-redirect-listener',
  title: 'HTTP to HTTPS redirect listener',
  articleSection: 'Configure the security group rules needed for web traffic access',
  dependsOn: ['load-balancer'],
  // ELBv2 API Reference, DeleteLoadBalancer: "Deleting a load balancer also deletes its listeners."
  deletedWith: 'load-balancer',
  enabled: (config) => config.httpRedirect,

  desired: (_config, inputs) => ({
    loadBalancerArn: known(inputs['load-balancer'], (loadBalancer) => loadBalancer.loadBalancerArn) ?? UNKNOWN,
    port: HTTP_PORT,
    protocol: 'HTTP',
    defaultAction: REDIRECT_TO_HTTPS,
  }),
  effects: EFFECTS,

  /** The recorded listener, else the one on port 80 of our ALB (the ALB is ours, so it is too). */
  async read(context) {
    const listener = await locateListener(context, HTTP_PORT);
    if (!listener?.ListenerArn) return undefined;
    const observed = observe(listener);
    const redirects = canonical(observed.defaultAction) === canonical(REDIRECT_TO_HTTPS);
    return {
      output: { listenerArn: listener.ListenerArn, port: listener.Port ?? HTTP_PORT, ...(listener.LoadBalancerArn ? { loadBalancerArn: listener.LoadBalancerArn } : {}) },
      observed,
      created: true,
      health: {
        healthy: true,
        summary: `${listener.Protocol ?? '?'}:${listener.Port ?? '?'} ${redirects ? 'redirects to HTTPS' : `default action ${observed.defaultAction?.type ?? 'none'}`}`,
        details: { listenerArn: listener.ListenerArn },
      },
    };
  },

  async create(context, want) {
    return create(context, want);
  },

  /** One ModifyListener with the redirect: the only field that changes in place. */
  async update(context, want, live) {
    const { loadBalancerArn, listener } = settingsOf(want);
    await context.clients.elbv2.send(new ModifyListenerCommand({ ListenerArn: live.output.listenerArn, DefaultActions: listener.DefaultActions }));
    const output: ListenerOutput = { listenerArn: live.output.listenerArn, port: want.port, loadBalancerArn };
    context.save({ data: output });
    return output;
  },

  replace: (context, want, live) => replaceListener(context, want, live, () => create(context, want)),

  /** From the record alone: --no-http-redirect deletes it with no current inputs needed. */
  async delete(context) {
    await deleteListener(context, HTTP_PORT);
  },
});
