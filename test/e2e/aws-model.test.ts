/**
 * The AWS behaviour model proves each of its rules with plain SDK calls through the proxy: what
 * moto accepts and AWS refuses is refused, transitional states last, and faults are seeded.
 * It needs moto (one per file, as in the rest of test/e2e), not authecs.
 */
import { ACMClient, DeleteCertificateCommand, DescribeCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { CognitoIdentityProviderClient, CreateUserPoolCommand, CreateUserPoolDomainCommand, DeleteUserPoolCommand, DeleteUserPoolDomainCommand, ListUserPoolsCommand } from '@aws-sdk/client-cognito-identity-provider';
import { CreateSecurityGroupCommand, EC2Client, DeleteSecurityGroupCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeVpcsCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  RegisterContainerInstanceCommand,
  DeregisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateServiceLinkedRoleCommand, GetRoleCommand } from '@aws-sdk/client-iam';
import { ChangeResourceRecordSetsCommand, GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { destroyEmulatorClients, emulatorClients, seedFixtures, type EmulatorClients, type Fixtures } from '../support/fixtures.js';
import { drawFor, startAwsModel, THROTTLING, type AwsModel, type AwsModelOptions } from '../support/aws-model/index.js';
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
});
