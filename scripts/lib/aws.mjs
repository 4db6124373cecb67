// SDK clients pointed at the emulator, with dummy credentials, for the harness and the demo.
// authecs itself never uses these: it is a subprocess and finds moto only through AWS_ENDPOINT_URL.
import { ACMClient } from '@aws-sdk/client-acm';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';

export const TEST_REGION = 'eu-west-1';
export const TEST_DOMAIN = 'www.example.com';
export const DUMMY_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** The environment a user pointing authecs at moto would set: endpoint, dummy credentials, region. */
export function emulatorEnvironment(endpoint, region = TEST_REGION) {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'testing',
    AWS_REGION: region,
    // Never ask the EC2 instance metadata service for credentials or a region.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

export function emulatorClients(endpoint, region = TEST_REGION) {
  const common = { region, endpoint, credentials: DUMMY_CREDENTIALS, maxAttempts: 2 };
  return {
    acm: new ACMClient(common),
    cloudformation: new CloudFormationClient(common),
    cognito: new CognitoIdentityProviderClient(common),
    ec2: new EC2Client(common),
    ecs: new ECSClient(common),
    elbv2: new ElasticLoadBalancingV2Client(common),
    iam: new IAMClient(common),
    logs: new CloudWatchLogsClient(common),
    route53: new Route53Client(common),
    // moto serves every bucket on one host: bucket names go in the path.
    s3: new S3Client({ ...common, forcePathStyle: true }),
  };
}

export function destroyEmulatorClients(clients) {
  for (const client of Object.values(clients)) client.destroy();
}
