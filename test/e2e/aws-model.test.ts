/**
 * The AWS behaviour model proves each of its rules with plain SDK calls through the proxy: what
 * moto accepts and AWS refuses is refused, transitional states last, and faults are seeded.
 * It needs moto (one per file, as in the rest of test/e2e), not authecs.
 */
import { ACMClient, DeleteCertificateCommand, DescribeCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { CognitoIdentityProviderClient, CreateUserPoolCommand, CreateUserPoolDomainCommand, DeleteUserPoolCommand, DeleteUserPoolDomainCommand, ListUserPoolsCommand } from '@aws-sdk/client-cognito-identity-provider';
import { CreateSecurityGroupCommand, EC2Client, DeleteSecurityGroupCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeVpcsCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateLogGroupCommand, GetLogEventsCommand, PutRetentionPolicyCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterContainerInstanceCommand,
  DeregisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
  StartTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AttachRolePolicyCommand, CreateRoleCommand, CreateServiceLinkedRoleCommand, GetRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { ChangeResourceRecordSetsCommand, GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { destroyEmulatorClients, emulatorClients, seedFixtures, type EmulatorClients, type Fixtures } from '../support/fixtures.js';
import { unpullableImage } from '../support/agent-stand-in.js';
import { circuitBreakerThreshold, drawFor, RETENTION_DAYS, startAwsModel, THROTTLING, type AwsModel, type AwsModelOptions } from '../support/aws-model/index.js';
import { skipE2e, startMotoOrFail, type MotoServer } from '../support/moto.js';

/** The AWS error an SDK call rejected with: its name and HTTP status. */
async function awsError(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    const failure = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: failure.name, status: failure.$metadata?.httpStatusCode, message: failure.message };
  }
  throw new Error('expected the call to fail');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

describe.skipIf(skipE2e)('AWS behaviour model', () => {
  let moto: MotoServer;
  let direct: EmulatorClients;
  let fixtures: Fixtures;
  let model: AwsModel | undefined;
  let via: EmulatorClients | undefined;

  // Every duration at 1/1000 of AWS unless a test says otherwise (ALB: 0.12 s, ACM: 0.18 s).
  const start = async (options: Omit<AwsModelOptions, 'upstream'> = {}) => {
    await model?.stop();
    if (via) destroyEmulatorClients(via);
    model = await startAwsModel({ upstream: moto.endpoint, scale: 0.001, ...options });
    via = emulatorClients(model.endpoint);
    return { model, via };
  };

  beforeAll(async () => {
    moto = await startMotoOrFail();
    direct = emulatorClients(moto.endpoint);
  });
  afterAll(async () => {
    await model?.stop();
    if (via) destroyEmulatorClients(via);
    destroyEmulatorClients(direct);
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    fixtures = await seedFixtures(direct);
  });

  async function loadBalancer(clients: EmulatorClients, name = 'lb') {
    const group = await clients.ec2.send(new CreateSecurityGroupCommand({ GroupName: `${name}-sg`, Description: 'alb', VpcId: fixtures.vpcId }));
    const created = await clients.elbv2.send(new CreateLoadBalancerCommand({ Name: name, Subnets: [...fixtures.publicSubnets], SecurityGroups: [group.GroupId!] }));
    return { arn: created.LoadBalancers![0]!.LoadBalancerArn!, groupId: group.GroupId!, state: created.LoadBalancers![0]!.State?.Code };
  }

  async function certificateWithValidation(clients: EmulatorClients) {
    const { CertificateArn } = await clients.acm.send(new RequestCertificateCommand({ DomainName: fixtures.domain, ValidationMethod: 'DNS' }));
    const record = await until('the validation record', async () => {
      const described = await clients.acm.send(new DescribeCertificateCommand({ CertificateArn }));
      return described.Certificate?.DomainValidationOptions?.[0]?.ResourceRecord;
    });
    return { arn: CertificateArn!, record };
  }

  const upsertCname = (clients: EmulatorClients, name: string, value: string) =>
    clients.route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: fixtures.hostedZoneId,
        ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: name, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: value }] } }] },
      }),
    );

  it('HTTPS CreateListener on a certificate that is not ISSUED gets UnsupportedCertificate; ISSUED only after its CNAME, then ok', async () => {
    const { via, model } = await start({ timings: { acmIssueAfterCname: 300 } }); // 0.3 s after the CNAME
    const balancer = await loadBalancer(via);
    const certificate = await certificateWithValidation(via);
    // moto says ISSUED after 1 s; the model holds it back: no CNAME yet.
    await delay(1200);
    const pending = await via.acm.send(new DescribeCertificateCommand({ CertificateArn: certificate.arn }));
    expect(pending.Certificate?.Status).toBe('PENDING_VALIDATION');
    const listener = () =>
      via.elbv2.send(
        new CreateListenerCommand({
          LoadBalancerArn: balancer.arn,
          Protocol: 'HTTPS',
          Port: 443,
          Certificates: [{ CertificateArn: certificate.arn }],
          DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }],
        }),
      );
    expect(await awsError(listener())).toMatchObject({ name: 'UnsupportedCertificate', status: 400 });

    await upsertCname(via, certificate.record.Name!, certificate.record.Value!);
    await until('ISSUED', async () => {
      const described = await via.acm.send(new DescribeCertificateCommand({ CertificateArn: certificate.arn }));
      return described.Certificate?.Status === 'ISSUED' ? true : undefined;
    });
    const created = await listener();
    expect(created.Listeners?.[0]?.ListenerArn).toBeTruthy();
    expect(model.enforcedRules()['unsupported-certificate']).toBe(1);
    expect(model.enforcedRules()['acm-issue-after-cname'], 'a held-back state is logged once per resource').toBe(1);

    // ResourceInUseException while the listener uses it; ok once the listener is gone.
    expect(await awsError(via.acm.send(new DeleteCertificateCommand({ CertificateArn: certificate.arn })))).toMatchObject({ name: 'ResourceInUseException', status: 400 });
    await via.elbv2.send(new DeleteListenerCommand({ ListenerArn: created.Listeners![0]!.ListenerArn }));
    await via.acm.send(new DeleteCertificateCommand({ CertificateArn: certificate.arn }));
  });

  it('CertificateNotFound for a while right after ISSUED when acmVisibleToElb is set', async () => {
    const { via } = await start({ timings: { acmIssueAfterCname: 0, route53Insync: 0, acmRecordAppears: 0, acmVisibleToElb: 1500 } });
    const balancer = await loadBalancer(via);
    const certificate = await certificateWithValidation(via);
    await upsertCname(via, certificate.record.Name!, certificate.record.Value!);
    const create = () =>
      via.elbv2.send(
        new CreateListenerCommand({
          LoadBalancerArn: balancer.arn,
          Protocol: 'HTTPS',
          Port: 443,
          Certificates: [{ CertificateArn: certificate.arn }],
          DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }],
        }),
      );
    // The SDK models code CertificateNotFound as CertificateNotFoundException.
    expect(await awsError(create())).toMatchObject({ name: 'CertificateNotFoundException', status: 400 });
    await delay(1600);
    expect((await create()).Listeners).toHaveLength(1);
  });

  it('an ALB stays provisioning, a Route 53 change stays PENDING, for their scaled durations', async () => {
    const { via, model } = await start({ scale: 0.01 }); // ALB 1.2 s, Route 53 0.4 s
    expect(model.timingsMs.albProvisioning).toBe(1200);
    const balancer = await loadBalancer(via);
    expect(balancer.state).toBe('provisioning');
    const state = async () => (await via.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [balancer.arn] }))).LoadBalancers?.[0]?.State?.Code;
    expect(await state()).toBe('provisioning');
    expect((await direct.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [balancer.arn] }))).LoadBalancers?.[0]?.State?.Code).toBe('active');
    const change = await upsertCname(via, `www.${fixtures.zoneName}`, balancer.arn.length ? 'target.example.net' : '');
    expect(change.ChangeInfo?.Status).toBe('PENDING');
    expect((await via.route53.send(new GetChangeCommand({ Id: change.ChangeInfo!.Id }))).ChangeInfo?.Status).toBe('PENDING');
    await delay(1300);
    expect(await state()).toBe('active');
    expect((await via.route53.send(new GetChangeCommand({ Id: change.ChangeInfo!.Id }))).ChangeInfo?.Status).toBe('INSYNC');
    expect(model.enforcedRules()).toMatchObject({ 'alb-provisioning': 1, 'route53-pending': 1 });
    expect(model.enforced.map((entry) => entry.operation)).toContain('elasticloadbalancing:CreateLoadBalancer');
  });

  it('refuses a CNAME at the zone apex with InvalidChangeBatch; a CNAME below it is fine', async () => {
    const { via } = await start();
    expect(await awsError(upsertCname(via, fixtures.zoneName, 'target.example.net'))).toMatchObject({ name: 'InvalidChangeBatch', status: 400 });
    expect((await upsertCname(via, `www.${fixtures.zoneName}`, 'target.example.net')).ChangeInfo?.Id).toBeTruthy();
  });

  it('DeleteSecurityGroup: DependencyViolation while the ALB exists and for a while after it is deleted', async () => {
    const { via, model } = await start({ timings: { albEniLinger: 1000 } }); // 1 s
    const balancer = await loadBalancer(via);
    const remove = () => via.ec2.send(new DeleteSecurityGroupCommand({ GroupId: balancer.groupId }));
    expect(await awsError(remove())).toMatchObject({ name: 'DependencyViolation', status: 400 });
    await via.elbv2.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: balancer.arn }));
    expect(await awsError(remove())).toMatchObject({ name: 'DependencyViolation', status: 400 });
    await delay(1100);
    await remove();
    expect(model.enforcedRules()['security-group-dependency']).toBe(2);
  });

  it('a Cognito pool with a domain cannot be deleted (InvalidParameterException); without it, it can', async () => {
    const { via } = await start();
    const pool = (await via.cognito.send(new CreateUserPoolCommand({ PoolName: 'p' }))).UserPool!;
    await via.cognito.send(new CreateUserPoolDomainCommand({ UserPoolId: pool.Id, Domain: 'model-test-prefix' }));
    expect(await awsError(via.cognito.send(new DeleteUserPoolCommand({ UserPoolId: pool.Id })))).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    await via.cognito.send(new DeleteUserPoolDomainCommand({ UserPoolId: pool.Id, Domain: 'model-test-prefix' }));
    await via.cognito.send(new DeleteUserPoolCommand({ UserPoolId: pool.Id }));
  });

  // moto lists thousands of AMIs: read them once.
  let image: string | undefined;
  async function imageId() {
    image ??= ((await direct.ec2.send(new DescribeImagesCommand({}))).Images ?? [])[0]!.ImageId!;
    return image;
  }

  it('RunInstances honours its client token: the original instance (even terminated), IdempotentParameterMismatch with other parameters', async () => {
    const { via } = await start({ scale: 0.01 }); // pending for 0.3 s
    const ImageId = await imageId();
    const input = { ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' as const, SubnetId: fixtures.privateSubnets[0], ClientToken: 'token-1' };
    const first = (await via.ec2.send(new RunInstancesCommand(input))).Instances![0]!;
    expect(first.State?.Name).toBe('pending');
    const again = (await via.ec2.send(new RunInstancesCommand(input))).Instances![0]!;
    expect(again.InstanceId).toBe(first.InstanceId);
    await via.ec2.send(new TerminateInstancesCommand({ InstanceIds: [first.InstanceId!] }));
    const afterTermination = (await via.ec2.send(new RunInstancesCommand(input))).Instances![0]!;
    expect(afterTermination.InstanceId).toBe(first.InstanceId);
    expect(afterTermination.State?.Name).toMatch(/terminated|shutting-down/);
    expect(await awsError(via.ec2.send(new RunInstancesCommand({ ...input, InstanceType: 't3.small' })))).toMatchObject({ name: 'IdempotentParameterMismatch', status: 400 });
    const all = ((await direct.ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    expect(all).toHaveLength(1);
  });

  it('an instance stays pending for its scaled duration', async () => {
    const { via } = await start({ scale: 0.01 });
    const launched = (await via.ec2.send(new RunInstancesCommand({ ImageId: await imageId(), MinCount: 1, MaxCount: 1, SubnetId: fixtures.privateSubnets[0] }))).Instances![0]!;
    const stateOf = async () => (await via.ec2.send(new DescribeInstancesCommand({ InstanceIds: [launched.InstanceId!] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
    expect(await stateOf()).toBe('pending');
    await delay(400);
    expect(await stateOf()).toBe('running');
  });

  /** A cluster, a task definition and a target group behind a listener (or not). */
  async function ecsSetup(clients: EmulatorClients, attach: boolean) {
    await clients.ecs.send(new CreateClusterCommand({ clusterName: 'c' }));
    await clients.ecs.send(new RegisterTaskDefinitionCommand({ family: 'f', containerDefinitions: [{ name: 'web', image: 'nginx', memory: 128, portMappings: [{ containerPort: 80 }] }] }));
    const group = (await clients.elbv2.send(new CreateTargetGroupCommand({ Name: 'tg', Protocol: 'HTTP', Port: 80, VpcId: fixtures.vpcId }))).TargetGroups![0]!;
    if (attach) {
      const balancer = await loadBalancer(direct, 'svc-lb');
      await direct.elbv2.send(new CreateListenerCommand({ LoadBalancerArn: balancer.arn, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: group.TargetGroupArn }] }));
    }
    return {
      cluster: 'c',
      serviceName: 's',
      taskDefinition: 'f',
      desiredCount: 1,
      loadBalancers: [{ targetGroupArn: group.TargetGroupArn, containerName: 'web', containerPort: 80 }],
    };
  }

  it('CreateService: the service-linked role is missing until CreateServiceLinkedRole, and usable only a moment later', async () => {
    const { via } = await start({ timings: { serviceLinkedRoleUsable: 500 } }); // 0.5 s
    const input = await ecsSetup(via, true);
    const missing = await awsError(via.ecs.send(new CreateServiceCommand(input)));
    expect(missing).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect(missing.message).toContain('Unable to assume the service linked role');
    await via.iam.send(new CreateServiceLinkedRoleCommand({ AWSServiceName: 'ecs.amazonaws.com' }));
    expect((await awsError(via.ecs.send(new CreateServiceCommand(input)))).message).toContain('Unable to assume the service linked role');
    await delay(600);
    expect((await via.ecs.send(new CreateServiceCommand(input))).service?.status).toBe('ACTIVE');
    // Under AWS's name (moto alone says AWSServiceRoleForecs), and a second create is InvalidInput.
    expect((await direct.iam.send(new GetRoleCommand({ RoleName: 'AWSServiceRoleForECS' }))).Role?.Path).toBe('/aws-service-role/ecs.amazonaws.com/');
    const again = await awsError(via.iam.send(new CreateServiceLinkedRoleCommand({ AWSServiceName: 'ecs.amazonaws.com' })));
    expect(again).toMatchObject({ name: 'InvalidInputException', status: 400 });
    expect(again.message).toContain('has been taken in this account');
  });

  it('CreateService with a target group that no listener or rule uses: InvalidParameterException', async () => {
    const { via } = await start({ serviceLinkedRole: 'present' });
    const input = await ecsSetup(via, false);
    const refused = await awsError(via.ecs.send(new CreateServiceCommand(input)));
    expect(refused).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect(refused.message).toContain('does not have an associated load balancer');
  });

  it('CreateService honours its client token; DeleteCluster refuses while the service drains or instances are registered', async () => {
    const { via } = await start({ serviceLinkedRole: 'present', timings: { serviceDraining: 800 } }); // 0.8 s
    const input = { ...(await ecsSetup(via, true)), clientToken: 'svc-token-1' };
    const first = (await via.ecs.send(new CreateServiceCommand(input))).service!;
    const again = (await via.ecs.send(new CreateServiceCommand(input))).service!;
    expect(again.serviceArn).toBe(first.serviceArn);
    expect(await awsError(via.ecs.send(new CreateServiceCommand({ ...input, desiredCount: 3 })))).toMatchObject({ name: 'InvalidParameterException', status: 400 });

    const host = (await direct.ec2.send(new RunInstancesCommand({ ImageId: await imageId(), MinCount: 1, MaxCount: 1, SubnetId: fixtures.privateSubnets[0] }))).Instances![0]!;
    const registered = await direct.ecs.send(
      new RegisterContainerInstanceCommand({
        cluster: 'c',
        instanceIdentityDocument: JSON.stringify({ instanceId: host.InstanceId, region: 'eu-west-1', accountId: '123456789012' }),
        instanceIdentityDocumentSignature: 'test',
      }),
    );
    await via.ecs.send(new DeleteServiceCommand({ cluster: 'c', service: 's', force: true }));
    const status = async () => (await via.ecs.send(new DescribeServicesCommand({ cluster: 'c', services: ['s'] }))).services?.[0]?.status;
    expect(await status()).toBe('DRAINING');
    expect(await awsError(via.ecs.send(new DeleteClusterCommand({ cluster: 'c' })))).toMatchObject({ name: 'ClusterContainsServicesException', status: 400 });
    await delay(900);
    expect(await status()).toBe('INACTIVE');
    expect(await awsError(via.ecs.send(new DeleteClusterCommand({ cluster: 'c' })))).toMatchObject({ name: 'ClusterContainsContainerInstancesException', status: 400 });
    await direct.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'c', containerInstance: registered.containerInstance!.containerInstanceArn, force: true }));
    await via.ecs.send(new DeleteClusterCommand({ cluster: 'c' }));
  });

  it('throttles with each service’s own code and status', async () => {
    const { model } = await start({ faults: { throttle: 1 } });
    // One attempt, so the fault surfaces instead of being retried.
    const once = { region: 'eu-west-1', endpoint: model.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 };
    const clients = [new EC2Client(once), new ElasticLoadBalancingV2Client(once), new ECSClient(once), new ACMClient(once), new CognitoIdentityProviderClient(once), new Route53Client(once)] as const;
    const [ec2, elbv2, ecs, acm, cognito, route53] = clients;
    try {
      expect(await awsError(ec2.send(new DescribeVpcsCommand({})))).toMatchObject({ name: THROTTLING.ec2!.code, status: 503 });
      expect(await awsError(elbv2.send(new DescribeLoadBalancersCommand({})))).toMatchObject({ name: 'Throttling', status: 400 });
      expect(await awsError(ecs.send(new DeleteClusterCommand({ cluster: 'x' })))).toMatchObject({ name: 'ThrottlingException', status: 400 });
      expect(await awsError(acm.send(new DescribeCertificateCommand({ CertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/x' })))).toMatchObject({ name: 'ThrottlingException', status: 400 });
      expect(await awsError(cognito.send(new ListUserPoolsCommand({ MaxResults: 1 })))).toMatchObject({ name: 'TooManyRequestsException', status: 400 });
      expect(await awsError(route53.send(new GetChangeCommand({ Id: 'C1' })))).toMatchObject({ name: 'Throttling', status: 400 });
    } finally {
      for (const client of clients) client.destroy();
    }
    expect(model.counts.byKind.throttle).toBe(6);
    expect(model.counts.byOperation['ec2:DescribeVpcs']).toEqual({ throttle: 1 });
  });

  it('a lost answer is applied once: the SDK retries CreateUserPool after the reset and two pools exist (no idempotency token)', async () => {
    const { via, model } = await start({ faults: { plan: [{ operation: 'CreateUserPool', kind: 'resetAfter' }, { operation: 'ListUserPools', kind: 'resetBefore' }] } });
    await via.cognito.send(new CreateUserPoolCommand({ PoolName: 'lost' }));
    const pools = (await direct.cognito.send(new ListUserPoolsCommand({ MaxResults: 10 }))).UserPools ?? [];
    // The first attempt reached moto and was applied; its answer was lost; the retry made another.
    expect(pools.filter((pool) => pool.Name === 'lost')).toHaveLength(2);
    // A reset before moto: nothing applied, the retry answers.
    expect(((await via.cognito.send(new ListUserPoolsCommand({ MaxResults: 10 }))).UserPools ?? []).length).toBe(2);
    expect(model.counts.byKind).toMatchObject({ resetAfter: 1, resetBefore: 1 });
    expect(model.counts.byOperation).toEqual({ 'cognito-idp:CreateUserPool': { resetAfter: 1 }, 'cognito-idp:ListUserPools': { resetBefore: 1 } });
  });

  it('a lost RunInstances answer is applied once: the SDK retries with the same client token and gets the same instance', async () => {
    const { via } = await start({ faults: { plan: [{ operation: 'RunInstances', kind: 'resetAfter' }] } });
    const launched = await via.ec2.send(new RunInstancesCommand({ ImageId: await imageId(), MinCount: 1, MaxCount: 1, SubnetId: fixtures.privateSubnets[0] }));
    const all = ((await direct.ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    expect(all.map((instance) => instance.InstanceId)).toEqual([launched.Instances![0]!.InstanceId]);
  });

  it('faults are seeded: the same seed gives the same faults on the same calls, another seed others', async () => {
    const fates = (seed: number) => Array.from({ length: 200 }, (_, index) => drawFor(seed, 'ec2:DescribeInstances', index + 1) < 0.1);
    expect(fates(7)).toEqual(fates(7));
    expect(fates(7)).not.toEqual(fates(8));
    const run = async (seed: number) => {
      const { via, model } = await start({ seed, faults: { error500: 0.2, error503: 0.2 } });
      for (let index = 0; index < 20; index += 1) await via.ec2.send(new DescribeVpcsCommand({})).catch(() => undefined);
      return { ...model.counts.byKind };
    };
    const first = await run(42);
    expect(first.error500 + first.error503).toBeGreaterThan(0);
    expect(await run(42)).toEqual(first);
  });

  // ---------------------------------------------------------------- issue 10: logs, execution role, health checks, rollouts

  const ROLE_ARN = 'arn:aws:iam::123456789012:role/authecs/ecsauth-eu-west-1-ecs-execution';
  const SECRET_ARN = 'arn:aws:ssm:eu-west-1:123456789012:parameter/app/db-password';
  /** A task definition as authecs registers it (task-definition.ts registrationInput). */
  const authecsTaskDefinition = (launchType: 'EC2' | 'FARGATE', extra: { executionRoleArn?: string; secrets?: boolean } = {}): RegisterTaskDefinitionCommandInput => ({
    family: 'ecsauthservice',
    networkMode: launchType === 'FARGATE' ? 'awsvpc' : 'bridge',
    requiresCompatibilities: [launchType],
    ...(launchType === 'FARGATE' ? { cpu: '256', memory: '512' } : {}),
    ...(extra.executionRoleArn ? { executionRoleArn: extra.executionRoleArn } : {}),
    containerDefinitions: [
      {
        name: 'web',
        image: 'nginx:1.27',
        essential: true,
        ...(launchType === 'EC2' ? { memory: 512 } : {}),
        portMappings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }],
        environment: [{ name: 'FOO', value: 'bar' }],
        ...(extra.secrets ? { secrets: [{ name: 'DB_PASSWORD', valueFrom: SECRET_ARN }] } : {}),
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/authecs/ecsauth', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'authecs' } },
      },
    ],
  });

  it('RegisterTaskDefinition: ClientException for Fargate awslogs without an execution role, and for secrets without one on either launch type; authecs’s task definitions pass', async () => {
    const { via, model } = await start();
    const register = (input: RegisterTaskDefinitionCommandInput) => via.ecs.send(new RegisterTaskDefinitionCommand(input));
    const awslogs = await awsError(register(authecsTaskDefinition('FARGATE')));
    expect(awslogs).toMatchObject({ name: 'ClientException', status: 400, message: 'Fargate requires task definition to have execution role ARN to support log driver awslogs.' });
    // Secrets without the role, on EC2 and on Fargate (there without awslogs, which the first rule would refuse).
    const withoutLogs = (input: RegisterTaskDefinitionCommandInput) => ({ ...input, containerDefinitions: input.containerDefinitions!.map(({ logConfiguration: _none, ...container }) => container) });
    for (const input of [authecsTaskDefinition('EC2', { secrets: true }), withoutLogs(authecsTaskDefinition('FARGATE', { secrets: true }))]) {
      const secrets = await awsError(register(input));
      expect(secrets, input.requiresCompatibilities![0]).toMatchObject({ name: 'ClientException', status: 400, message: "When you are specifying container secrets, you must also specify a value for 'executionRoleArn'." });
    }
    // What authecs sends: Fargate always with the role; EC2 with it when there are secrets, and without it (awslogs on EC2 uses the instance role) when not.
    expect((await register(authecsTaskDefinition('FARGATE', { executionRoleArn: ROLE_ARN, secrets: true }))).taskDefinition?.revision).toBe(1);
    expect((await register(authecsTaskDefinition('EC2', { executionRoleArn: ROLE_ARN, secrets: true }))).taskDefinition?.revision).toBe(2);
    expect((await register(authecsTaskDefinition('EC2'))).taskDefinition?.revision).toBe(3);
    expect(model.enforcedRules()).toEqual({ 'fargate-awslogs-needs-execution-role': 1, 'secrets-need-execution-role': 2 });
  });

  it('Create/ModifyTargetGroup: ValidationError when the timeout is not below the interval (given, defaulted or current) or a threshold is outside 2-10; authecs’s health checks pass', async () => {
    const { via, model } = await start();
    const create = (name: string, health: Record<string, number>) =>
      via.elbv2.send(new CreateTargetGroupCommand({ Name: name, Protocol: 'HTTP', Port: 80, VpcId: fixtures.vpcId, HealthCheckPath: '/healthz', ...health }));
    // moto takes an interval of 5 with the HTTP default timeout; AWS's default (6 s) is longer.
    expect(await awsError(create('tg-short', { HealthCheckIntervalSeconds: 5 }))).toMatchObject({ name: 'ValidationError', status: 400, message: 'Health check interval must be greater than the timeout.' });
    expect(await awsError(create('tg-healthy-1', { HealthyThresholdCount: 1 }))).toMatchObject({ name: 'ValidationError', status: 400 });
    const high = await awsError(create('tg-unhealthy-11', { UnhealthyThresholdCount: 11 }));
    expect(high.message).toBe("1 validation error detected: Value '11' at 'unhealthyThresholdCount' failed to satisfy constraint: Member must have value less than or equal to 10");
    // authecs: timeout = min(5, interval - 1), thresholds from the settings (2-10).
    const group = (await create('tg-authecs', { HealthCheckIntervalSeconds: 30, HealthCheckTimeoutSeconds: 5, HealthyThresholdCount: 5, UnhealthyThresholdCount: 2 })).TargetGroups![0]!;
    await via.elbv2.send(new ModifyTargetGroupCommand({ TargetGroupArn: group.TargetGroupArn, HealthCheckIntervalSeconds: 6, HealthCheckTimeoutSeconds: 5, HealthyThresholdCount: 2, UnhealthyThresholdCount: 10 }));
    // A Modify that leaves the timeout out is checked against the group's current one (5 s); moto checks nothing here.
    const modify = await awsError(via.elbv2.send(new ModifyTargetGroupCommand({ TargetGroupArn: group.TargetGroupArn, HealthCheckIntervalSeconds: 5 })));
    expect(modify).toMatchObject({ name: 'ValidationError', status: 400, message: 'Health check interval must be greater than the timeout.' });
    expect(await awsError(via.elbv2.send(new ModifyTargetGroupCommand({ TargetGroupArn: group.TargetGroupArn, HealthyThresholdCount: 11 })))).toMatchObject({ name: 'ValidationError', status: 400 });
    expect(model.enforcedRules()).toEqual({ 'health-check-timeout-below-interval': 2, 'health-check-ranges': 3 });
  });

  it('PutRetentionPolicy: InvalidParameterException for a retentionInDays not in AWS’s list; authecs’s 30 days pass. GetLogEvents names a missing stream as AWS does', async () => {
    const { via } = await start();
    await via.logs.send(new CreateLogGroupCommand({ logGroupName: '/authecs/ecsauth' }));
    const refused = await awsError(via.logs.send(new PutRetentionPolicyCommand({ logGroupName: '/authecs/ecsauth', retentionInDays: 15 })));
    expect(refused).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect(refused.message).toContain("Value '15' at 'retentionInDays'");
    expect(RETENTION_DAYS).toContain(30);
    await via.logs.send(new PutRetentionPolicyCommand({ logGroupName: '/authecs/ecsauth', retentionInDays: 30 }));
    // A task that never started has no stream: the group exists, the stream does not.
    const events = (logGroupName: string) => awsError(via.logs.send(new GetLogEventsCommand({ logGroupName, logStreamName: 'authecs/web/0123', startFromHead: false })));
    expect(await events('/authecs/ecsauth')).toMatchObject({ name: 'ResourceNotFoundException', message: 'The specified log stream does not exist.' });
    expect(await events('/authecs/other')).toMatchObject({ name: 'ResourceNotFoundException', message: 'The specified log group does not exist.' });
  });

  it('IAM eventual consistency (iamRoleVisible, off by default): calls on a role made a moment ago get NoSuchEntity for the scaled time', async () => {
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    const policy = 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy';
    const { via: byDefault } = await start();
    await byDefault.iam.send(new CreateRoleCommand({ RoleName: 'at-once', AssumeRolePolicyDocument: trust }));
    await byDefault.iam.send(new AttachRolePolicyCommand({ RoleName: 'at-once', PolicyArn: policy }));

    const { via, model } = await start({ timings: { iamRoleVisible: 500 } }); // 0.5 s
    await via.iam.send(new CreateRoleCommand({ RoleName: 'later', AssumeRolePolicyDocument: trust, Path: '/authecs/' }));
    const missing = await awsError(via.iam.send(new AttachRolePolicyCommand({ RoleName: 'later', PolicyArn: policy })));
    expect(missing).toMatchObject({ name: 'NoSuchEntityException', status: 404, message: 'The role with name later cannot be found.' });
    expect((await awsError(via.iam.send(new GetRoleCommand({ RoleName: 'later' })))).name).toBe('NoSuchEntityException');
    await delay(600);
    await via.iam.send(new AttachRolePolicyCommand({ RoleName: 'later', PolicyArn: policy }));
    await via.iam.send(new PutRolePolicyCommand({ RoleName: 'later', PolicyName: 'authecs-secrets', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ssm:GetParameters', Resource: SECRET_ARN }] }) }));
    expect(model.enforcedRules()['iam-role-not-yet-visible']).toBe(2);
  });

  it('a rollout whose tasks cannot start: IN_PROGRESS, then FAILED by the circuit breaker at its threshold and rolled back (TaskFailedToStart, service events); a pullable one passes as moto answers', async () => {
    // The test plays the agent stand-in: it places and fails the tasks itself, straight on moto.
    const { via, model } = await start({ serviceLinkedRole: 'present', timings: { circuitBreakerTrips: 600 } }); // 0.6 s
    await via.ecs.send(new CreateClusterCommand({ clusterName: 'c' }));
    const definition = (image: string) => ({ family: 'f', containerDefinitions: [{ name: 'web', image, memory: 128, portMappings: [{ containerPort: 80, hostPort: 80 }] }] });
    const good = (await via.ecs.send(new RegisterTaskDefinitionCommand(definition('nginx:1.27')))).taskDefinition!.taskDefinitionArn!;
    const better = (await via.ecs.send(new RegisterTaskDefinitionCommand(definition('nginx:1.28')))).taskDefinition!.taskDefinitionArn!;
    const bad = (await via.ecs.send(new RegisterTaskDefinitionCommand(definition('nginx:no-such-tag')))).taskDefinition!.taskDefinitionArn!;
    const host = (await direct.ec2.send(new RunInstancesCommand({ ImageId: await imageId(), MinCount: 1, MaxCount: 1, SubnetId: fixtures.privateSubnets[0] }))).Instances![0]!;
    const instance = (
      await direct.ecs.send(
        new RegisterContainerInstanceCommand({
          cluster: 'c',
          instanceIdentityDocument: JSON.stringify({ instanceId: host.InstanceId, region: 'eu-west-1', accountId: '123456789012' }),
          instanceIdentityDocumentSignature: 'test',
        }),
      )
    ).containerInstance!.containerInstanceArn!;
    const service = { cluster: 'c', service: 's' };
    await via.ecs.send(
      new CreateServiceCommand({ cluster: 'c', serviceName: 's', taskDefinition: good, desiredCount: 1, launchType: 'EC2', deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } } }),
    );
    const place = (taskDefinition: string, group = 'service:s') =>
      direct.ecs.send(new StartTaskCommand({ cluster: 'c', taskDefinition, containerInstances: [instance], group })).then((started) => started.tasks![0]!.taskArn!);
    await place(good);
    const describe = async () => (await via.ecs.send(new DescribeServicesCommand({ cluster: 'c', services: ['s'] }))).services![0]!;

    // A pullable image: moto's answer as it is (one deployment, the service's task definition).
    await via.ecs.send(new UpdateServiceCommand({ ...service, taskDefinition: better }));
    expect((await describe()).deployments).toHaveLength(1);
    await via.ecs.send(new UpdateServiceCommand({ ...service, taskDefinition: good }));

    const updated = (await via.ecs.send(new UpdateServiceCommand({ ...service, taskDefinition: bad }))).service!;
    expect(updated.deployments!.map((deployment) => [deployment.status, deployment.taskDefinition, deployment.rolloutState])).toEqual([
      ['PRIMARY', bad, 'IN_PROGRESS'],
      ['ACTIVE', good, 'COMPLETED'],
    ]);
    const completedId = updated.deployments![1]!.id;
    const reason = unpullableImage('nginx:no-such-tag')!;
    expect(reason).toBe('CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/nginx:no-such-tag: not found');
    const failed: string[] = [];
    for (let attempt = 0; attempt < circuitBreakerThreshold(1); attempt += 1) {
      const taskArn = await place(bad);
      await direct.ecs.send(new StopTaskCommand({ cluster: 'c', task: taskArn, reason }));
      failed.push(taskArn);
    }
    // Another group's stopped task: not the service's.
    const other = await place(good, 'family:f');
    await direct.ecs.send(new StopTaskCommand({ cluster: 'c', task: other, reason: 'done' }));

    // At the threshold, but before the scaled time: still in progress.
    const early = await describe();
    expect(early.deployments!.map((deployment) => [deployment.status, deployment.rolloutState, deployment.failedTasks])).toEqual([
      ['PRIMARY', 'IN_PROGRESS', 3],
      ['ACTIVE', 'COMPLETED', 0],
    ]);
    expect(early.runningCount).toBe(1);
    await delay(700);
    const tripped = await describe();
    expect(tripped.deployments!.map((deployment) => [deployment.status, deployment.taskDefinition, deployment.rolloutState, deployment.rolloutStateReason])).toEqual([
      ['PRIMARY', good, 'IN_PROGRESS', `ECS deployment circuit breaker: rolling back to deploymentId ${completedId}.`],
      ['ACTIVE', bad, 'FAILED', 'ECS deployment circuit breaker: tasks failed to start.'],
    ]);
    expect(tripped.taskDefinition).toBe(good);
    expect(tripped.events!.map((event) => event.message)).toEqual([
      `(service s) rolling back to deployment ${completedId}.`,
      `(service s) (deployment ${updated.deployments![0]!.id}) deployment failed: tasks failed to start.`,
    ]);
    // The rollback is applied (moto now runs the old revision); the next look finds it complete.
    expect((await direct.ecs.send(new DescribeServicesCommand({ cluster: 'c', services: ['s'] }))).services![0]!.taskDefinition).toBe(good);
    const settled = await describe();
    expect(settled.deployments!.map((deployment) => [deployment.status, deployment.taskDefinition, deployment.rolloutState])).toEqual([['PRIMARY', good, 'COMPLETED']]);

    // ListTasks honours serviceName; DescribeTasks says TaskFailedToStart and gives no exit code.
    const stopped = (await via.ecs.send(new ListTasksCommand({ cluster: 'c', serviceName: 's', desiredStatus: 'STOPPED' }))).taskArns ?? [];
    expect([...stopped].sort()).toEqual([...failed].sort());
    const tasks = (await via.ecs.send(new DescribeTasksCommand({ cluster: 'c', tasks: failed }))).tasks ?? [];
    expect(tasks.map((task) => [task.stopCode, task.stoppedReason, task.containers?.[0]?.exitCode, task.containers?.[0]?.reason])).toEqual(failed.map(() => ['TaskFailedToStart', reason, undefined, reason]));
    expect(model.enforcedRules()).toMatchObject({ 'deployment-circuit-breaker': expect.any(Number), 'task-failed-to-start': 3 });
  });
});
