/**
 * The article's stack, EC2 launch type, end to end against moto: up, status, up again (no
 * change), down, down again. Every check reads moto with plain SDK calls, not authecs's code.
 */
import { readFileSync, statSync, existsSync } from 'node:fs';
import { DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeUserPoolClientCommand, DescribeUserPoolCommand, DescribeUserPoolDomainCommand } from '@aws-sdk/client-cognito-identity-provider';
import { DescribeInstanceAttributeCommand, DescribeLaunchTemplateVersionsCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ListContainerInstancesCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { describeRun } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { authecsRecords, readInventory, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const DOMAIN = 'www.example.com';
const dot = (name: string | undefined) => (name ?? '').replace(/\.$/, '').toLowerCase();

describe.skipIf(skipE2e)('EC2 launch type: up, status, up again, down', () => {
  const e2e = setupE2e({ fresh: 'file' });
  let baseline: Record<string, string[]> = {};
  let domainPrefix = '';
  let afterFirstUp: Record<string, string[]> = {};
  let albGroupId = '';

  it('up on a clean emulator creates every resource of the article with its parameters', { timeout: 120_000 }, async () => {
    const { clients, fixtures } = e2e;
    baseline = await snapshot(clients);
    const run = await e2e.authecs(['up', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    const result = run.json!;
    expect(result).toMatchObject({ ok: true, changed: true, url: `https://${DOMAIN}/`, stateFile: e2e.statePath() });
    expect(Array.isArray(result.mutations) && result.mutations.length > 0).toBe(true);
    // Where the time went: the chain of steps that set the run's length, and the time it waited on AWS.
    expect(result).toMatchObject({ makespanMs: expect.any(Number), waitingMs: expect.any(Number) });
    const path = result.criticalPath as { step: string; startedMs: number; durationMs: number }[];
    expect(path.length).toBeGreaterThan(1);
    expect(path[0]!.step).toBe('plan');
    for (const step of path) expect(step).toMatchObject({ step: expect.any(String), startedMs: expect.any(Number), durationMs: expect.any(Number) });
    await e2e.standIn.settle();

    const inventory = await readInventory(clients);

    // Security groups (--ingress isolated, the default): the ALB has its own group, open on 443 and 80
    // to the world; the network's group (the instances') admits only port 80, and only from the ALB group.
    expect(inventory.loadBalancers).toHaveLength(1);
    const alb = inventory.loadBalancers[0]!;
    const albGroup = inventory.securityGroupDetails.find((group) => group.name === 'ecsauth-alb');
    expect(albGroup, 'the ALB security group ecsauth-alb').toMatchObject({ vpcId: fixtures.vpcId, stack: 'ecsauth' });
    albGroupId = albGroup!.id;
    expect(albGroupId).not.toBe(fixtures.securityGroupId);
    expect(alb.SecurityGroups).toEqual([albGroupId]);
    const described = (await clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [albGroupId] }))).SecurityGroups?.[0];
    expect(described?.Description).toBe('authecs: load balancer of ecsauth');
    const rulesOn = (groupId: string) =>
      inventory.ingressRules
        .filter((rule) => rule.groupId === groupId)
        .map((rule) => `${rule.protocol} ${rule.fromPort}-${rule.toPort} from ${rule.cidr}`)
        .sort();
    expect(rulesOn(albGroupId)).toEqual(['tcp 443-443 from 0.0.0.0/0', 'tcp 80-80 from 0.0.0.0/0']);
    expect(rulesOn(fixtures.securityGroupId), 'the instances admit only the app port, only from the ALB group').toEqual([`tcp 80-80 from ${albGroupId}`]);

    // The ALB: internet-facing, application, in the two public subnets.
    expect(alb).toMatchObject({ LoadBalancerName: 'ecsauth', Scheme: 'internet-facing', Type: 'application', VpcId: fixtures.vpcId });
    expect((alb.AvailabilityZones ?? []).map((zone) => zone.SubnetId).sort()).toEqual([...fixtures.publicSubnets].sort());

    // The site CNAME: TTL 300, pointing at the ALB's DNS name.
    const records = authecsRecords(inventory);
    const cname = records.filter((record) => dot(record.Name) === DOMAIN);
    expect(cname).toHaveLength(1);
    expect(cname[0]).toMatchObject({ Type: 'CNAME', TTL: 300 });
    expect(cname[0]!.ResourceRecords?.map((value) => dot(value.Value))).toEqual([dot(alb.DNSName)]);

    // The certificate, DNS-validated, with its validation record in the zone.
    const certificates = inventory.certificates.filter((certificate) => certificate.domain === DOMAIN);
    expect(certificates).toHaveLength(1);
    const certificateArn = certificates[0]!.arn;
    const certificate = (await clients.acm.send(new DescribeCertificateCommand({ CertificateArn: certificateArn }))).Certificate!;
    expect(certificate.Status).toBe('ISSUED');
    const validation = certificate.DomainValidationOptions?.[0]?.ResourceRecord;
    expect(validation?.Name).toBeTruthy();
    const validationRecord = records.filter((record) => dot(record.Name) === dot(validation!.Name) && record.Type === validation!.Type);
    expect(validationRecord).toHaveLength(1);
    expect(validationRecord[0]!.ResourceRecords?.map((value) => dot(value.Value))).toEqual([dot(validation!.Value)]);
    expect(records, 'only the CNAME and the validation record were added to the zone').toHaveLength(2);

    // HTTPS:443 listener: the certificate, the modern TLS policy, default action a 301 redirect to the site.
    const https = inventory.listeners.filter((listener) => listener.Port === 443);
    expect(https).toHaveLength(1);
    expect(https[0]).toMatchObject({ Protocol: 'HTTPS', SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06', LoadBalancerArn: alb.LoadBalancerArn });
    expect(https[0]!.Certificates?.map((entry) => entry.CertificateArn)).toEqual([certificateArn]);
    expect(https[0]!.DefaultActions).toHaveLength(1);
    expect(https[0]!.DefaultActions![0]).toMatchObject({ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', Host: DOMAIN, StatusCode: 'HTTP_301' } });
    // authecs's addition: HTTP:80 only redirects to HTTPS.
    const http = inventory.listeners.filter((listener) => listener.Port === 80);
    expect(http).toHaveLength(1);
    expect(http[0]).toMatchObject({ Protocol: 'HTTP' });
    expect(http[0]!.DefaultActions![0]).toMatchObject({ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } });

    // The user pool: email as username, case-insensitive, email auto-verified.
    expect(inventory.userPools).toHaveLength(1);
    const poolId = inventory.userPools[0]!.id;
    const pool = (await clients.cognito.send(new DescribeUserPoolCommand({ UserPoolId: poolId }))).UserPool!;
    expect(pool.Name).toBe('ecsauth_Pool');
    expect(pool.UsernameAttributes).toEqual(['email']);
    expect(pool.UsernameConfiguration?.CaseSensitive).toBe(false);
    expect(pool.AutoVerifiedAttributes).toContain('email');
    // --sign-up invite-only (the default): no self sign-up, so only users someone adds get past the ALB.
    expect(pool.AdminCreateUserConfig?.AllowAdminCreateUserOnly).toBe(true);

    // The app client: code flow, openid, the ALB's callback, Cognito as IdP, a generated secret.
    expect(inventory.appClients).toHaveLength(1);
    const clientId = inventory.appClients[0]!.clientId;
    const appClient = (await clients.cognito.send(new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: clientId }))).UserPoolClient!;
    expect(appClient).toMatchObject({
      ClientName: 'ecsauth_AppClient',
      AllowedOAuthFlows: ['code'],
      CallbackURLs: [`https://${DOMAIN}/oauth2/idpresponse`],
      SupportedIdentityProviders: ['COGNITO'],
      AllowedOAuthFlowsUserPoolClient: true,
    });
    expect(appClient.AllowedOAuthScopes).toContain('openid');
    expect(appClient.ClientSecret).toBeTruthy();

    // The hosted-UI domain, on this pool.
    domainPrefix = pool.Domain ?? '';
    expect(domainPrefix).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/);
    const domain = (await clients.cognito.send(new DescribeUserPoolDomainCommand({ Domain: domainPrefix }))).DomainDescription;
    expect(domain).toMatchObject({ UserPoolId: poolId, Domain: domainPrefix });

    // The target group: HTTP 80, instance targets, in the VPC.
    expect(inventory.targetGroups).toHaveLength(1);
    const group = inventory.targetGroups[0]!;
    expect(group).toMatchObject({ TargetGroupName: 'ecsauth-tg', Protocol: 'HTTP', Port: 80, TargetType: 'instance', VpcId: fixtures.vpcId });

    // Two rules: the host rule on HTTPS, and the parking rule on HTTP that attached the target group early.
    expect(inventory.rules.map((rule) => rule.Priority).sort()).toEqual(['20', '50000']);
    const parking = inventory.rules.find((rule) => rule.Priority === '50000')!;
    expect(parking.ListenerArn, 'the parking rule is on the HTTP listener').toBe(inventory.listeners.find((listener) => listener.Port === 80)!.ListenerArn);
    expect(parking.Conditions).toEqual([expect.objectContaining({ Field: 'source-ip', SourceIpConfig: { Values: ['255.255.255.255/32'] } })]);
    expect(parking.Actions).toEqual([expect.objectContaining({ Type: 'forward', Order: 1, TargetGroupArn: group.TargetGroupArn })]);

    // The host rule: priority 20, host header, authenticate with Cognito (order 1), then forward (order 2).
    const rule = inventory.rules.find((candidate) => candidate.Priority === '20')!;
    expect(rule.ListenerArn, 'the rule is on the HTTPS listener').toBe(https[0]!.ListenerArn);
    expect(rule.Conditions).toEqual([expect.objectContaining({ Field: 'host-header' })]);
    const hostValues = rule.Conditions![0]!.HostHeaderConfig?.Values ?? rule.Conditions![0]!.Values;
    expect(hostValues).toEqual([DOMAIN]);
    const actions = [...(rule.Actions ?? [])].sort((left, right) => (left.Order ?? 0) - (right.Order ?? 0));
    expect(actions).toHaveLength(2);
    expect(actions[0]).toMatchObject({
      Type: 'authenticate-cognito',
      Order: 1,
      AuthenticateCognitoConfig: {
        UserPoolArn: pool.Arn,
        UserPoolClientId: clientId,
        UserPoolDomain: domainPrefix,
        SessionCookieName: 'AWSELBAuthSessionCookie',
        Scope: 'openid',
        OnUnauthenticatedRequest: 'authenticate',
      },
    });
    expect(actions[1]).toMatchObject({ Type: 'forward', Order: 2 });
    const forwardTo = actions[1]!.TargetGroupArn ?? actions[1]!.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn;
    expect(forwardTo).toBe(group.TargetGroupArn);

    // The cluster with its two container instances (registered by the agent stand-in).
    expect(inventory.activeClusters).toEqual(['ecsauth']);
    const containerInstanceArns = (await clients.ecs.send(new ListContainerInstancesCommand({ cluster: 'ecsauth' }))).containerInstanceArns ?? [];
    expect(containerInstanceArns).toHaveLength(2);
    expect(inventory.containerInstances.map((instance) => instance.ec2InstanceId).sort()).toEqual(inventory.instances.map((instance) => instance.InstanceId).sort());

    // The capacity: two instances in the private subnets, from a launch template with the instance
    // profile, the key pair and an ECS_CLUSTER line. (moto does not copy the template's instance
    // profile onto the instance, so the profile is checked on the template.)
    expect(inventory.instances).toHaveLength(2);
    expect(inventory.keyPairs).toEqual(['ecsauth']);
    expect(inventory.launchTemplates).toHaveLength(1);
    const templateId = inventory.launchTemplates[0]!.split(' ')[1];
    const templateData = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId, Versions: ['$Latest'] }))).LaunchTemplateVersions?.[0]
      ?.LaunchTemplateData;
    expect(templateData?.IamInstanceProfile?.Name ?? templateData?.IamInstanceProfile?.Arn).toMatch(/ecsInstanceRole$/);
    expect(templateData?.KeyName).toBe('ecsauth');
    expect(new Set([...fixtures.privateSubnets, ...inventory.instances.map((instance) => instance.SubnetId)]).size, 'spread over both private subnets').toBe(2);
    for (const instance of inventory.instances) {
      expect(fixtures.privateSubnets).toContain(instance.SubnetId);
      expect(instance.KeyName).toBe('ecsauth');
      const userData = (await clients.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instance.InstanceId, Attribute: 'userData' }))).UserData?.Value;
      expect(Buffer.from(userData ?? '', 'base64').toString('utf8')).toMatch(/ECS_CLUSTER=ecsauth(\s|$)/);
    }

    // The task definition: family ecsauthservice, container web, the sample image, 80:80.
    expect(inventory.taskDefinitions).toHaveLength(1);
    const taskDefinition = (await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: inventory.taskDefinitions[0] }))).taskDefinition!;
    expect(taskDefinition.family).toBe('ecsauthservice');
    expect(taskDefinition.containerDefinitions).toHaveLength(1);
    expect(taskDefinition.containerDefinitions![0]).toMatchObject({ name: 'web', image: 'amazon/amazon-ecs-sample' });
    expect(taskDefinition.containerDefinitions![0]!.portMappings).toEqual([expect.objectContaining({ containerPort: 80, hostPort: 80 })]);

    // The service: desired 2, on the target group, container web port 80.
    const service = (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'ecsauth', services: ['ecsauthservice'] }))).services?.[0];
    expect(service).toMatchObject({ serviceName: 'ecsauthservice', status: 'ACTIVE', desiredCount: 2, launchType: 'EC2', taskDefinition: taskDefinition.taskDefinitionArn });
    expect(service!.loadBalancers).toEqual([expect.objectContaining({ targetGroupArn: group.TargetGroupArn, containerName: 'web', containerPort: 80 })]);

    // The state file: mode 0600, and no client secret in it.
    const statePath = e2e.statePath();
    expect(statSync(statePath).mode & 0o777).toBe(0o600);
    const stateText = readFileSync(statePath, 'utf8');
    expect(stateText).not.toContain(appClient.ClientSecret!);
    expect(stateText).not.toMatch(/"clientSecret"/i);
    // No direct hosted-UI sign-up link (it would end in the ALB's 401: no state, no nonce); the site is the way in.
    expect(result.signUpUrl).toBeUndefined();
    expect(String(result.signInDomain)).toMatch(/^https:\/\/[a-z0-9-]+\.auth\.eu-west-1\.amazoncognito\.com$/);
    // The sign-out link: Cognito's /logout, back to --sign-out-url (an allowed sign-out URL of the client).
    expect(appClient.LogoutURLs).toEqual([`https://${DOMAIN}/signed-out`]);
    expect(result.signUp).toBe('invite-only');
    expect(result.signOutUrl).toBe(`${String(result.signInDomain)}/logout?client_id=${clientId}&logout_uri=${encodeURIComponent(`https://${DOMAIN}/signed-out`)}`);
    expect(run.stdout).not.toContain('/signup?');
    expect(run.stdout).not.toContain(appClient.ClientSecret!);
    expect(run.stderr).not.toContain(appClient.ClientSecret!);

    afterFirstUp = await snapshot(clients, { domainPrefixes: [domainPrefix] });
  });

  it('status --json reports every resource present and healthy, and exits 0', async () => {
    const run = await e2e.authecs(['status', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.json?.ok).toBe(true);
    const rows = run.json?.resources as { step: string; present: boolean; healthy: boolean; drift: string[] }[];
    expect(rows.map((row) => row.step).sort()).toEqual(
      [
        'network', 'hosted-zone', 'load-balancer-security-group', 'security-group-ingress', 'load-balancer', 'dns-record', 'certificate', 'https-listener', 'http-redirect-listener',
        'user-pool', 'app-client', 'user-pool-domain', 'target-group', 'host-rule', 'parking-rule', 'cluster', 'key-pair', 'capacity', 'log-group', 'task-definition', 'service',
      ].sort(),
    );
    for (const row of rows) expect(row, row.step).toMatchObject({ present: true, healthy: true, drift: [] });
  });

  it('a second up makes no mutating call and leaves moto exactly as it was', async () => {
    const run = await e2e.authecs(['up', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.json?.mutations).toEqual([]);
    expect(run.json?.changed).toBe(false);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes: [domainPrefix] })).toEqual(afterFirstUp);
  });

  it('down --yes leaves only the fixtures; a second down is a no-op', { timeout: 120_000 }, async () => {
    const run = await e2e.authecs(['down', '--yes', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.json?.ok).toBe(true);
    // The ALB goes at once and takes its listeners and rules with it: no call of their own.
    const operations = (run.json?.mutations as { operation: string }[]).map((mutation) => mutation.operation);
    expect(operations).not.toContain('DeleteListener');
    expect(operations).not.toContain('DeleteRule');
    expect(operations.indexOf('DeleteLoadBalancer')).toBeLessThan(operations.indexOf('DeleteTargetGroup'));
    await e2e.standIn.settle();
    // Everything authecs made is gone (ALB, its security group, TG, certificate, both DNS records, ingress rules, pool,
    // client, domain, ACTIVE cluster, running instances, ACTIVE task definition, key pair, launch
    // template); the hosted zone, the network stack and the instance profile are untouched.
    expect(await snapshot(e2e.clients, { domainPrefixes: [domainPrefix] })).toEqual(baseline);
    expect(existsSync(e2e.statePath())).toBe(false);
    // The ALB group is gone, and the network's group holds no rule authecs added.
    const after = await readInventory(e2e.clients);
    expect(albGroupId).not.toBe('');
    expect(after.securityGroups).not.toContain(albGroupId);
    expect(after.securityGroupDetails.filter((group) => group.stack !== undefined)).toEqual([]);
    expect(after.ingressRules.filter((rule) => rule.groupId === e2e.fixtures.securityGroupId)).toEqual([]);

    const again = await e2e.authecs(['down', '--yes', '--json']);
    expect(again.code, describeRun(again)).toBe(0);
    expect(again.json?.mutations ?? []).toEqual([]);
    expect(await snapshot(e2e.clients, { domainPrefixes: [domainPrefix] })).toEqual(baseline);
  });
});
