import { ACMClient } from '@aws-sdk/client-acm';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { Route53Client } from '@aws-sdk/client-route-53';
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
}

// Adaptive retry backs off on throttling across a 15-minute run with many parallel callers.
const RETRY = { retryMode: 'adaptive', maxAttempts: 10 } as const;

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
  const clients: AwsClients = {
    ec2: new EC2Client(common),
    elbv2: new ElasticLoadBalancingV2Client(common),
    acm: new ACMClient(common),
    route53: new Route53Client(common),
    cognito: new CognitoIdentityProviderClient(common),
    ecs: new ECSClient(common),
    cloudformation: new CloudFormationClient(common),
    iam: new IAMClient(common),
  };
  for (const client of Object.values(clients)) instrument(client as unknown as MiddlewareClient, options);
  return clients;
}

export function destroyClients(clients: AwsClients): void {
  for (const client of Object.values(clients)) (client as { destroy(): void }).destroy();
}
