import { CreateListenerCommand, DescribeSSLPoliciesCommand, ModifyListenerCommand, type Listener, type ModifyListenerCommandInput } from '@aws-sdk/client-elastic-load-balancing-v2';
import { hasErrorCode } from '../aws/errors.js';
import { MODERN_SSL_POLICY } from '../config/schema.js';
import { AuthecsError } from '../errors.js';
import type { HttpsListenerOutput } from './outputs.js';
import { defineResource, diffFields, known, UNKNOWN, type Effect, type Live, type Maybe } from './resource.js';
import {
  defaultCertificateOf,
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
import { retryWhileInUse } from './shared/poll.js';
import { resolved } from './shared/resolved.js';
import { stackTags } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'https-listener'>;

// ELBv2 may refuse or not yet see a certificate for a while after it turns ISSUED: UnsupportedCertificate,
// or CertificateNotFound, which Terraform retries for minutes (hashicorp/terraform#10180, terraform-provider-aws#17505).
const CERTIFICATE_RETRY = {
  codes: ['UnsupportedCertificate', 'UnsupportedCertificateException', 'CertificateNotFound', 'CertificateNotFoundException'],
  intervalSeconds: 10,
  timeoutSeconds: 5 * 60,
};

export interface DesiredHttpsListener {
  loadBalancerArn: Maybe<string>;
  port: number;
  protocol: 'HTTPS';
  certificateArn: Maybe<string>;
  sslPolicy: string;
  defaultAction: DefaultAction;
}

type HttpsLive = Live<'https-listener', DesiredHttpsListener>;

// ELBv2 API Reference, ModifyListener: replaces the certificate, security policy and default
// actions of the listener in place. A listener belongs to one load balancer, so another ALB
// needs a new listener; port and protocol are its identity here (one HTTPS listener on 443).
const EFFECTS: { readonly [Field in keyof DesiredHttpsListener]-?: Effect } = {
  loadBalancerArn: 'replace',
  port: 'replace',
  protocol: 'replace',
  certificateArn: 'update',
  sslPolicy: 'update',
  defaultAction: 'update',
};

/** The wish with every dependency known, as create/update/replace need it. */
function settingsOf(want: DesiredHttpsListener) {
  const defaultAction = want.defaultAction;
  if (!isRedirect(defaultAction)) throw new AuthecsError('The HTTPS listener only ever wants a redirect default action', { code: 'DESIRED_INVALID', exit: 'internal' });
  return {
    loadBalancerArn: resolved(want.loadBalancerArn, 'load balancer ARN'),
    certificateArn: resolved(want.certificateArn, 'certificate ARN'),
    listener: {
      Protocol: 'HTTPS' as const,
      Port: want.port,
      Certificates: [{ CertificateArn: resolved(want.certificateArn, 'certificate ARN') }],
      SslPolicy: want.sslPolicy,
      DefaultActions: redirectActions(defaultAction),
    },
  };
}

function toOutput(listenerArn: string, loadBalancerArn: string, want: { port: number; certificateArn: string; sslPolicy: string }): HttpsListenerOutput {
  return { listenerArn, port: want.port, certificateArn: want.certificateArn, sslPolicy: want.sslPolicy, loadBalancerArn };
}

/** ModifyListener, retried while ACM still calls a just-issued certificate unsupported. */
async function modify(context: Context, input: ModifyListenerCommandInput): Promise<void> {
  await retryWhileInUse(
    context,
    { description: 'update the HTTPS listener with the new certificate', ...CERTIFICATE_RETRY, call: () => context.clients.elbv2.send(new ModifyListenerCommand(input)) },
    hasErrorCode,
  );
}

async function create(context: Context, want: DesiredHttpsListener): Promise<HttpsListenerOutput> {
  const { loadBalancerArn, certificateArn, listener } = settingsOf(want);
  const output = (listenerArn: string) => toOutput(listenerArn, loadBalancerArn, { port: want.port, certificateArn, sslPolicy: want.sslPolicy });
  // CreateListener has no idempotency token and moto takes a second listener on a port: look first.
  const existing = await listenerOnPort(context.clients.elbv2, loadBalancerArn, want.port);
  if (existing) {
    context.save({ created: true, data: { listenerArn: existing.ListenerArn!, port: want.port, loadBalancerArn } });
    if (diffFields(want, observe(existing), EFFECTS).length > 0) {
      context.progress('updating the HTTPS listener already on port 443 to the expected certificate, TLS policy and default action');
      await modify(context, { ListenerArn: existing.ListenerArn!, ...listener });
    }
    context.save({ data: output(existing.ListenerArn!) });
    return output(existing.ListenerArn!);
  }
  // A listener cannot be found by tag cheaply, so record the intent before the call.
  context.save({ created: true, data: { port: want.port, loadBalancerArn, certificateArn, sslPolicy: want.sslPolicy } });
  const response = await retryWhileInUse(
    context,
    {
      description: 'create the HTTPS listener with the newly issued certificate',
      ...CERTIFICATE_RETRY,
      call: () => context.clients.elbv2.send(new CreateListenerCommand({ LoadBalancerArn: loadBalancerArn, ...listener, Tags: stackTags(context.stack) })),
    },
    hasErrorCode,
  );
  const result = output(response.Listeners![0]!.ListenerArn!);
  context.save({ data: result });
  return result;
}

function observe(listener: Listener): HttpsLive['observed'] {
  return {
    loadBalancerArn: listener.LoadBalancerArn,
    port: listener.Port,
    protocol: listener.Protocol as 'HTTPS',
    certificateArn: defaultCertificateOf(listener),
    sslPolicy: listener.SslPolicy,
    defaultAction: normaliseDefaultActions(listener.DefaultActions),
  };
}

export const httpsListenerStep = defineResource<'https-listener', DesiredHttpsListener>({
  name: 'https-listener',
  title: 'HTTPS listener',
  articleSection: 'Create an HTTPS listener and listener rule on the ALB',
  dependsOn: ['load-balancer', 'certificate'],
  // ELBv2 API Reference, DeleteLoadBalancer: "Deleting a load balancer also deletes its listeners."
  deletedWith: 'load-balancer',

  desired: (config, inputs) => ({
    loadBalancerArn: known(inputs['load-balancer'], (loadBalancer) => loadBalancer.loadBalancerArn) ?? UNKNOWN,
    port: HTTPS_PORT,
    protocol: 'HTTPS',
    certificateArn: known(inputs.certificate, (certificate) => certificate.certificateArn) ?? UNKNOWN,
    sslPolicy: config.sslPolicy,
    // The article's default action: anything the host rule does not match goes to the site's name.
    defaultAction: redirectAction({ protocol: 'HTTPS', port: String(HTTPS_PORT), host: config.domain, statusCode: 'HTTP_301' }),
  }),
  effects: EFFECTS,

  /** The TLS policy must exist: CreateListener would refuse it only after the ALB and certificate are made. */
  async preflight(context) {
    const name = context.config.sslPolicy;
    let found = false;
    try {
      const response = await context.clients.elbv2.send(new DescribeSSLPoliciesCommand({ Names: [name] }));
      found = (response?.SslPolicies ?? []).some((policy) => policy.Name === name);
    } catch (error) {
      // ELBv2 API Reference, DescribeSSLPolicies: SSLPolicyNotFound for an unknown name.
      if (!hasErrorCode(error, 'SSLPolicyNotFound', 'SSLPolicyNotFoundException')) throw error;
    }
    if (found) return;
    throw new AuthecsError(`The TLS policy ${name} (--ssl-policy) does not exist in ${context.config.region}`, {
      code: 'SSL_POLICY_NOT_FOUND',
      exit: 'usage',
      resource: name,
      hint: `Pass --ssl-policy with a policy that \`aws elbv2 describe-ssl-policies --query 'SslPolicies[].Name'\` lists, or leave it out for ${MODERN_SSL_POLICY}.`,
    });
  },

  /** The recorded listener, else the one on port 443 of our ALB (the ALB is ours, so it is too). */
  async read(context) {
    const listener = await locateListener(context, HTTPS_PORT);
    if (!listener?.ListenerArn) return undefined;
    const certificateArn = defaultCertificateOf(listener);
    return {
      output: {
        listenerArn: listener.ListenerArn,
        port: listener.Port ?? HTTPS_PORT,
        certificateArn: certificateArn ?? '',
        sslPolicy: listener.SslPolicy ?? '',
        ...(listener.LoadBalancerArn ? { loadBalancerArn: listener.LoadBalancerArn } : {}),
      },
      observed: observe(listener),
      created: true,
      health: {
        healthy: true,
        summary: `${listener.Protocol ?? '?'}:${listener.Port ?? '?'} ${listener.SslPolicy ?? ''}`.trim(),
        details: { sslPolicy: listener.SslPolicy, certificateArn, listenerArn: listener.ListenerArn },
      },
    };
  },

  async create(context, want) {
    return create(context, want);
  },

  /** One ModifyListener with only the fields that changed. */
  async update(context, want, live, changes) {
    const { loadBalancerArn, certificateArn, listener } = settingsOf(want);
    const fields = new Set(changes.map((change) => change.field));
    const listenerArn = live.output.listenerArn;
    await modify(context, {
      ListenerArn: listenerArn,
      ...(fields.has('certificateArn') ? { Certificates: listener.Certificates } : {}),
      ...(fields.has('sslPolicy') ? { SslPolicy: listener.SslPolicy } : {}),
      ...(fields.has('defaultAction') ? { DefaultActions: listener.DefaultActions } : {}),
    });
    const output = toOutput(listenerArn, loadBalancerArn, { port: want.port, certificateArn, sslPolicy: want.sslPolicy });
    context.save({ data: output });
    return output;
  },

  replace: (context, want, live) => replaceListener(context, want, live, () => create(context, want)),

  async delete(context) {
    await deleteListener(context, HTTPS_PORT);
  },
});
