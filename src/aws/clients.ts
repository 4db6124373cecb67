import { ACMClient } from '@aws-sdk/client-acm';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { Route53Client } from '@aws-sdk/client-route-53';
import { interruptedError } from '../errors.js';
import type { Reporter } from '../report/reporter.js';
import { isMutatingOperation, describeResource } from './mutations.js';

export interface AwsClients {
  ec2: EC2Client;
  elbv2: ElasticLoadBalancingV2Client;
  acm: ACMClient;
  route53: Route53Client;
  cognito: CognitoIdentityProviderClient;
  ecs: ECSClient;
  cloudformation: CloudFormationClient;
  /** The stack's log group, and `authecs logs`. */
  logs: CloudWatchLogsClient;
  /** ECS's service-linked role and the instance profile (global service; the region only picks the endpoint). */
  iam: IAMClient;
}

export interface ClientOptions {
  region: string;
  profile?: string;
  /** One setting points every client at an emulator (moto, LocalStack) or a private endpoint. */
  endpointUrl?: string;
  reporter?: Reporter;
  /** Which step is running, for the mutation log; set by the engine through AsyncLocalStorage. */
  currentStep?: () => string | undefined;
  /** True once a graceful stop was asked for: no new call goes out (the ones in flight finish). */
  stopped?: () => boolean;
  /** Counts the changing calls in flight, so a stop knows whether it must wait for one. */
  inFlight?: { changes: number };
}

// Adaptive retry backs off on throttling across a 15-minute run with many parallel callers.
const RETRY: { retryMode: 'adaptive'; maxAttempts: number } = { retryMode: 'adaptive', maxAttempts: 10 };

/**
 * Creates with no idempotency token (aws-behaviour.md): if the answer is lost after AWS applied
 * one, an automatic retry makes a second resource. These go out once; the engine looks the
 * resource up by tag, name or recorded intent before it tries again (src/engine/actions.ts).
 */
export const SENT_ONCE = new Set([
  'CreateUserPool',
  'CreateUserPoolClient',
  'CreateUserPoolDomain',
  'CreateKeyPair',
  'CreateRule',
  'RegisterTaskDefinition',
  'CreateSecurityGroup',
  'AuthorizeSecurityGroupIngress',
  'ChangeResourceRecordSets',
  'CreateServiceLinkedRole',
  // These have a token or are idempotent on AWS, but emulators ignore tokens and duplicate names;
  // read() finds what a lost answer made (by tag and name) just as well.
  'RequestCertificate',
  'CreateLoadBalancer',
  'CreateListener',
  'CreateTargetGroup',
  'CreateLaunchTemplateVersion',
]);

interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (next: (args: { input: object }) => Promise<{ output: object }>, context: { commandName?: string; clientName?: string }) => (args: { input: object }) => Promise<{ output: object }>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

function serviceNameOf(clientName: string | undefined): string {
  return (clientName ?? 'aws').replace(/Client$/, '').replace('ElasticLoadBalancingV2', 'elbv2').replace('CognitoIdentityProvider', 'cognito-idp').toLowerCase();
}

/** Records every call: the reporter shows calls with --verbose and lists mutations in --json. */
function instrument(client: MiddlewareClient, options: ClientOptions): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const service = serviceNameOf(context.clientName);
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const started = Date.now();
      try {
        const result = await next(args);
        options.reporter?.emit({ type: 'aws-call', service, operation, elapsedMs: Date.now() - started });
        if (isMutatingOperation(operation)) {
          const step = options.currentStep?.();
          options.reporter?.emit({
            type: 'mutation',
            service,
            operation,
            resource: describeResource(operation, args.input as Record<string, unknown>, result.output as Record<string, unknown>),
            ...(step ? { step } : {}),
          });
        }
        return result;
      } catch (error) {
        options.reporter?.emit({ type: 'aws-call', service, operation, elapsedMs: Date.now() - started, error: (error as Error).name });
        throw error;
      }
    },
    { step: 'initialize', name: 'authecsCallRecorder' },
  );
}

export function createClients(options: ClientOptions): AwsClients {
  const common = {
    region: options.region,
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
    ...RETRY,
  };
  const make = (settings: typeof common): AwsClients => ({
    ec2: new EC2Client(settings),
    elbv2: new ElasticLoadBalancingV2Client(settings),
    acm: new ACMClient(settings),
    route53: new Route53Client(settings),
    cognito: new CognitoIdentityProviderClient(settings),
    ecs: new ECSClient(settings),
    cloudformation: new CloudFormationClient(settings),
    logs: new CloudWatchLogsClient(settings),
    iam: new IAMClient(settings),
  });
  const clients = make(common);
  const once = make({ ...common, maxAttempts: 1 });
  for (const [service, client] of Object.entries(clients) as [keyof AwsClients, SendingClient][]) {
    const single = once[service] as unknown as SendingClient;
    instrument(client as unknown as MiddlewareClient, options);
    instrument(single as unknown as MiddlewareClient, options);
    // The class's send, looked up at each call (test doubles replace it on the prototype).
    const send = (target: SendingClient, command: { constructor: { name: string } }, rest: unknown[]) =>
      (Object.getPrototypeOf(target) as SendingClient).send.call(target, command, ...rest);
    client.send = (command: { constructor: { name: string }; input?: unknown }, ...rest: unknown[]) => {
      if (options.stopped?.()) return Promise.reject(interruptedError());
      const operation = command.constructor.name.replace(/Command$/, '');
      const shared = sharedReads.get(clients);
      if (shared && rest.length === 0 && READ.test(operation)) return sharedRead(shared, `${service}:${operation}:${keyOf(command.input)}`, () => send(client, command, rest));
      const sending = send(SENT_ONCE.has(operation) ? single : client, command, rest);
      const counter = options.inFlight;
      if (!counter || !isMutatingOperation(operation)) return sending;
      counter.changes += 1;
      return Promise.resolve(sending).finally(() => (counter.changes -= 1));
    };
    retryless.set(client, single);
  }
  return clients;
}

const READ = /^(Describe|Get|List)/;

// While a plan reads (nothing changes then), one answer serves every identical read: the hosted
// zone, the network stack and the instance profile are each asked for by a read and a check.
const sharedReads = new WeakMap<AwsClients, Map<string, Promise<unknown>>>();

/** Runs `work` (reads and checks only) with identical reads sent once; each caller gets its own copy of the answer. */
export async function sharingReads<Result>(clients: AwsClients, work: () => Promise<Result>): Promise<Result> {
  if (sharedReads.has(clients)) return work();
  sharedReads.set(clients, new Map());
  try {
    return await work();
  } finally {
    sharedReads.delete(clients);
  }
}

function sharedRead(shared: Map<string, Promise<unknown>>, key: string, sending: () => Promise<unknown>): Promise<unknown> {
  let answer = shared.get(key);
  if (!answer) {
    answer = sending();
    shared.set(key, answer);
  }
  return answer.then((output) => structuredClone(output));
}

function keyOf(input: unknown): string {
  try {
    return JSON.stringify(input) ?? '';
  } catch {
    return `unshared:${Math.random()}`;
  }
}

interface SendingClient {
  send(command: { constructor: { name: string } }, ...rest: unknown[]): Promise<unknown>;
  destroy(): void;
}

// The single-attempt twin of each client, destroyed with it.
const retryless = new WeakMap<object, SendingClient>();

export function destroyClients(clients: AwsClients): void {
  for (const client of Object.values(clients)) {
    (client as { destroy(): void }).destroy();
    retryless.get(client)?.destroy();
  }
}
