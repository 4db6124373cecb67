import type { ACMClient } from '@aws-sdk/client-acm';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { S3Client } from '@aws-sdk/client-s3';

export declare const TEST_REGION: string;
export declare const TEST_DOMAIN: string;
export declare const DUMMY_CREDENTIALS: { accessKeyId: string; secretAccessKey: string };

export interface EmulatorClients {
  acm: ACMClient;
  cloudformation: CloudFormationClient;
  cognito: CognitoIdentityProviderClient;
  ec2: EC2Client;
  ecs: ECSClient;
  elbv2: ElasticLoadBalancingV2Client;
  iam: IAMClient;
  logs: CloudWatchLogsClient;
  route53: Route53Client;
  s3: S3Client;
}

export declare function emulatorEnvironment(endpoint: string, region?: string): Record<string, string>;
export declare function emulatorClients(endpoint: string, region?: string): EmulatorClients;
export declare function destroyEmulatorClients(clients: EmulatorClients): void;
