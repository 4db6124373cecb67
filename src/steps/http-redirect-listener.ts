import { CreateListenerCommand, ModifyListenerCommand, type Action, type Listener } from '@aws-sdk/client-elastic-load-balancing-v2';
import { deleteListener, HTTPS_PORT, inspectedListener, locateListener, redirectDrift } from './https-listener.js';
import type { ListenerOutput } from './outputs.js';
import { defineStep, stackTags } from './step.js';

export const HTTP_PORT = 80;

// Same host, path and query, but over HTTPS: the article opens port 80 and never listens on it.
const REDIRECT_TO_HTTPS = { Protocol: 'HTTPS', Port: String(HTTPS_PORT), Host: '#{host}', Path: '/#{path}', Query: '#{query}', StatusCode: 'HTTP_301' } as const;
const DEFAULT_ACTIONS: Action[] = [{ Type: 'redirect', RedirectConfig: { ...REDIRECT_TO_HTTPS } }];

function listenerDrift(listener: Listener): string[] {
  const drift: string[] = [];
  if (listener.Protocol !== 'HTTP') drift.push(`protocol is ${listener.Protocol ?? 'unset'}, not HTTP`);
  drift.push(...redirectDrift(listener.DefaultActions, REDIRECT_TO_HTTPS));
  return drift;
}

/** The recorded listener, else the one on port 80 of our ALB (the ALB is ours, so it is too). */
export const httpRedirectListenerStep = defineStep({
  name: 'http-redirect-listener',
  title: 'HTTP to HTTPS redirect listener',
  articleSection: 'Configure the security group rules needed for web traffic access',
  dependsOn: ['load-balancer'],
  enabled: (config) => config.httpRedirect,

  async find(context) {
    const listener = await locateListener(context, HTTP_PORT, context.output('load-balancer').loadBalancerArn);
    if (!listener || listenerDrift(listener).length > 0) return undefined;
    return { output: { listenerArn: listener.ListenerArn!, port: HTTP_PORT }, created: true };
  },

  async create(context) {
    const loadBalancerArn = context.output('load-balancer').loadBalancerArn;
    const existing = await locateListener(context, HTTP_PORT, loadBalancerArn);
    const settings = { Protocol: 'HTTP' as const, Port: HTTP_PORT, DefaultActions: DEFAULT_ACTIONS };

    if (existing) {
      const listenerArn = existing.ListenerArn!;
      context.save({ created: true, data: { listenerArn, port: HTTP_PORT } });
      if (listenerDrift(existing).length > 0) {
        context.progress('updating the HTTP listener to redirect to HTTPS');
        await context.clients.elbv2.send(new ModifyListenerCommand({ ListenerArn: listenerArn, ...settings }));
      }
      return { listenerArn, port: HTTP_PORT };
    }

    // Record the intent first: a listener cannot be looked up by tag.
    context.save({ created: true, data: { port: HTTP_PORT } });
    const response = await context.clients.elbv2.send(new CreateListenerCommand({ LoadBalancerArn: loadBalancerArn, ...settings, Tags: stackTags(context.stack) }));
    const output: ListenerOutput = { listenerArn: response.Listeners![0]!.ListenerArn!, port: HTTP_PORT };
    context.save({ data: output });
    return output;
  },

  async delete(context) {
    await deleteListener(context, HTTP_PORT);
  },

  async inspect(context) {
    const listener = await inspectedListener(context, HTTP_PORT);
    if (!listener) return { present: false, healthy: false, summary: 'missing' };
    return {
      present: true,
      healthy: true,
      summary: `${listener.Protocol ?? '?'}:${listener.Port ?? '?'} redirects to HTTPS`,
      drift: listenerDrift(listener),
      details: { listenerArn: listener.ListenerArn },
    };
  },
});
