import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DescribeAddressesCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetInstanceProfileCommand, GetRoleCommand, IAMClient, SimulatePrincipalPolicyCommand, type SimulatePrincipalPolicyCommandInput } from '@aws-sdk/client-iam';
import { GetHostedZoneCommand, ListHostedZonesByNameCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CheckResult } from '../../src/doctor/checks.js';
import { checkDelegation, decodeMessage, encodeMessage, type DnsRecord } from '../../src/doctor/dns.js';
import { EXIT_CODES } from '../../src/errors.js';

const sts = mockClient(STSClient);
const iam = mockClient(IAMClient);
const route53 = mockClient(Route53Client);
const ec2 = mockClient(EC2Client);
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const quotas = mockClient(ServiceQuotasClient);

const ACCOUNT = '123456789012';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/ci/deployer`;
const ZONE_NS = ['ns-1.awsdns-01.org', 'ns-2.awsdns-02.net', 'ns-3.awsdns-03.com', 'ns-4.awsdns-04.co.uk'];

function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: {} });
}

// ---- a loopback DNS server: the system resolver and the parent (com) name server in one ----

interface FakeDns {
  servers: string;
  port: number;
  /** What com's name server says example.com is delegated to ([] = NXDOMAIN). */
  delegation: string[];
  close(): Promise<void>;
}

async function startFakeDns(): Promise<FakeDns> {
  const socket: Socket = createSocket('udp4');
  const state = { delegation: ZONE_NS };
  socket.on('message', (data, peer) => {
    const query = decodeMessage(data);
    const name = query.question?.name.toLowerCase() ?? '';
    const answers: DnsRecord[] = [];
    const authority: DnsRecord[] = [];
    let rcode = 0;
    if (name === 'com' && query.question?.type === 2) answers.push({ name: 'com', type: 2, data: 'a.gtld-servers.test' });
    else if (name === 'a.gtld-servers.test' && query.question?.type === 1) answers.push({ name, type: 1, data: '127.0.0.1' });
    else if (name === 'example.com' && query.question?.type === 2) {
      // A referral: the delegation is in the authority section, as a real parent answers.
      if (state.delegation.length === 0) rcode = 3;
      for (const server of state.delegation) authority.push({ name: 'example.com', type: 2, data: server });
    } else rcode = 3;
    socket.send(encodeMessage({ id: query.id, response: true, rcode, ...(query.question ? { question: query.question } : {}), answers, authority }), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  return {
    servers: `127.0.0.1:${port}`,
    port,
    get delegation() {
      return state.delegation;
    },
    set delegation(value: string[]) {
      state.delegation = value;
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** A UDP port where nothing answers (DNS "cannot be reached"). */
async function deadUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

// ---- the happy account ----

function allAllowed(input: SimulatePrincipalPolicyCommandInput) {
  return {
    EvaluationResults: (input.ActionNames ?? []).map((action) => ({
      EvalActionName: action,
      EvalDecision: 'allowed' as const,
      ...(input.ResourceArns ? { ResourceSpecificResults: input.ResourceArns.map((resource) => ({ EvalResourceName: resource, EvalResourceDecision: 'allowed' as const })) } : {}),
    })),
    IsTruncated: false,
  };
}

function readyAccount(): void {
  sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/ci-run-1`, UserId: 'AROAEXAMPLE:ci-run-1' });
  iam.on(GetRoleCommand, { RoleName: 'deployer' }).resolves({ Role: { Arn: ROLE_ARN, RoleName: 'deployer', Path: '/ci/', RoleId: 'x', CreateDate: new Date() } });
  iam.on(GetRoleCommand, { RoleName: 'AWSServiceRoleForECS' }).resolves({
    Role: { Arn: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS`, RoleName: 'AWSServiceRoleForECS', Path: '/', RoleId: 'y', CreateDate: new Date() },
  });
  iam.on(SimulatePrincipalPolicyCommand).callsFake(allAllowed);
  iam.on(GetInstanceProfileCommand).resolves({
    InstanceProfile: { InstanceProfileName: 'ecsInstanceRole', Arn: 'arn', Path: '/', InstanceProfileId: 'z', CreateDate: new Date(), Roles: [{ RoleName: 'ecsInstanceRole', Arn: 'arn', Path: '/', RoleId: 'r', CreateDate: new Date() }] },
  });
  route53.on(ListHostedZonesByNameCommand).callsFake((input: { DNSName?: string }) => ({
    HostedZones: input.DNSName === 'example.com' ? [{ Id: '/hostedzone/Z1EXAMPLE', Name: 'example.com.', CallerReference: 'c', Config: { PrivateZone: false } }] : [],
  }));
  route53.on(GetHostedZoneCommand).resolves({ HostedZone: { Id: '/hostedzone/Z1EXAMPLE', Name: 'example.com.', CallerReference: 'c' }, DelegationSet: { NameServers: ZONE_NS } });
  quotas.on(GetServiceQuotaCommand).callsFake((input: { QuotaCode?: string }) => ({ Quota: { QuotaCode: input.QuotaCode, Value: input.QuotaCode === 'L-53DA6B97' ? 50 : 5 } }));
  elbv2.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ LoadBalancerName: 'other', Type: 'application' }, { LoadBalancerName: 'nlb', Type: 'network' }] });
  ec2.on(DescribeAddressesCommand).resolves({ Addresses: [{ Domain: 'vpc', AllocationId: 'eipalloc-1' }] });
  ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-1' }] });
}

interface DoctorOutput {
  command: string;
  ok: boolean;
  account: string | null;
  principal: string | null;
  checks: CheckResult[];
}

let dns: FakeDns;
let cwd: string;

beforeAll(async () => {
  dns = await startFakeDns();
});

afterAll(async () => {
  await dns.close();
});

beforeEach(() => {
  for (const mock of [sts, iam, route53, ec2, elbv2, quotas]) mock.reset();
  dns.delegation = ZONE_NS;
  cwd = mkdtempSync(join(tmpdir(), 'authecs-doctor-'));
});

afterEach(() => rmSync(cwd, { recursive: true, force: true }));

async function doctor(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; json?: DoctorOutput }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await main(args, {
    cwd,
    env: { HOME: cwd, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'eu-west-1', AUTHECS_DNS_SERVERS: dns.servers, AUTHECS_DNS_PORT: String(dns.port), ...env },
    stdout,
    stderr,
    stdin,
  });
  return { code, stdout: out, stderr: err, ...(args.includes('--json') ? { json: JSON.parse(out) as DoctorOutput } : {}) };
}

const check = (output: DoctorOutput | undefined, name: string): CheckResult => {
  const found = output?.checks.find((one) => one.name === name);
  if (!found) throw new Error(`no check ${name} in ${JSON.stringify(output)}`);
  return found;
};

describe('authecs doctor', () => {
  it('passes every check on a ready account and exits 0, with one JSON document', async () => {
    readyAccount();
    const result = await doctor(['--json', 'doctor', '--domain', 'www.example.com', '--create-network']);
    expect(result.code, result.stderr).toBe(EXIT_CODES.success);
    expect(result.json).toMatchObject({ command: 'doctor', ok: true, account: ACCOUNT, principal: ROLE_ARN });
    expect(result.json!.checks.map((one) => [one.name, one.status])).toEqual([
      ['credentials', 'pass'],
      ['permissions', 'pass'],
      ['hosted-zone', 'pass'],
      ['instance-profile', 'pass'],
      ['service-linked-role', 'pass'],
      ['quota-elastic-ips', 'pass'],
      ['quota-vpcs', 'pass'],
      ['quota-application-load-balancers', 'pass'],
    ]);
    expect(check(result.json, 'credentials').summary).toContain(`account ${ACCOUNT}`);
    expect(check(result.json, 'credentials').summary).toContain('region eu-west-1');
    expect(check(result.json, 'hosted-zone').summary).toContain('example.com is delegated');
    expect(check(result.json, 'quota-elastic-ips').details).toMatchObject({ quota: 5, used: 1, need: 2 });
    // The assumed role was simulated by its own ARN (with its path), never the session's.
    const simulated = iam.commandCalls(SimulatePrincipalPolicyCommand).map((call) => call.args[0].input.PolicySourceArn);
    expect(new Set(simulated)).toEqual(new Set([ROLE_ARN]));
    // Read-only: no call that changes anything.
    const operations = [sts, iam, route53, ec2, elbv2, quotas].flatMap((mock) => mock.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name));
    expect(operations.filter((name) => !/^(Get|List|Describe|Simulate)/.test(name))).toEqual([]);
  });

  it('simulates each grant with the stack tag and CreateAction in its context', async () => {
    readyAccount();
    await doctor(['--json', 'doctor', '--domain', 'www.example.com']);
    const inputs = iam.commandCalls(SimulatePrincipalPolicyCommand).map((call) => call.args[0].input);
    const terminate = inputs.find((input) => input.ActionNames?.includes('ec2:TerminateInstances'))!;
    expect(terminate.ContextEntries).toEqual([{ ContextKeyName: 'aws:ResourceTag/authecs:stack', ContextKeyType: 'string', ContextKeyValues: ['ecsauth'] }]);
    expect(terminate.ResourceArns).toEqual([`arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/authecs-doctor`]);
    const tagging = inputs.find((input) => input.ActionNames?.includes('elasticloadbalancing:AddTags'))!;
    expect(tagging.ContextEntries?.map((entry) => entry.ContextKeyName).sort()).toEqual(['aws:RequestTag/authecs:stack', 'elasticloadbalancing:CreateAction']);
  });

  it('human output: one line per check, and a verdict', async () => {
    readyAccount();
    const result = await doctor(['doctor', '--domain', 'www.example.com']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/✔ pass {4}credentials/);
    expect(result.stdout).toContain('Ready: no check failed.');
  });

  it('fails, with exit 13 (notReady), on denied actions, a wrong delegation, a missing profile and a full quota', async () => {
    readyAccount();
    iam.on(SimulatePrincipalPolicyCommand).callsFake((input: SimulatePrincipalPolicyCommandInput) => {
      const result = allAllowed(input);
      for (const evaluation of result.EvaluationResults) {
        if (evaluation.EvalActionName === 'ec2:RunInstances' || evaluation.EvalActionName === 'acm:RequestCertificate') {
          Object.assign(evaluation, { EvalDecision: 'implicitDeny', ResourceSpecificResults: (evaluation.ResourceSpecificResults ?? []).map((one) => ({ ...one, EvalResourceDecision: 'implicitDeny' })) });
        }
      }
      return result;
    });
    dns.delegation = ['ns-9.old-provider.example'];
    iam.on(GetInstanceProfileCommand).rejects(awsError('NoSuchEntityException', 'Instance Profile ecsInstanceRole cannot be found.'));
    quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 1 } });
    const result = await doctor(['--json', 'doctor', '--domain', 'www.example.com']);
    expect(result.code).toBe(EXIT_CODES.notReady);
    expect(result.json!.ok).toBe(false);
    expect(check(result.json, 'permissions')).toMatchObject({ status: 'fail' });
    expect(check(result.json, 'permissions').summary).toMatch(/2 of \d+ actions denied for .*: acm:RequestCertificate, ec2:RunInstances/);
    expect(check(result.json, 'hosted-zone')).toMatchObject({ status: 'fail' });
    expect(check(result.json, 'hosted-zone').summary).toContain('ns-9.old-provider.example');
    expect(check(result.json, 'instance-profile')).toMatchObject({ status: 'fail' });
    expect(check(result.json, 'quota-application-load-balancers')).toMatchObject({ status: 'fail', details: { quota: 1, used: 1, need: 1 } });
    const human = await doctor(['doctor', '--domain', 'www.example.com']);
    expect(human.code).toBe(EXIT_CODES.notReady);
    expect(human.stdout).toMatch(/✖ fail {4}permissions/);
    expect(human.stdout).toContain('Not ready: 4 checks failed (permissions, hosted-zone, instance-profile, quota-application-load-balancers).');
  });

  it('fails the delegation when the parent says the zone does not exist', async () => {
    readyAccount();
    dns.delegation = [];
    const result = await doctor(['--json', 'doctor', '--domain', 'www.example.com']);
    expect(check(result.json, 'hosted-zone')).toMatchObject({ status: 'fail' });
    expect(check(result.json, 'hosted-zone').summary).toContain('NXDOMAIN');
  });

  it('says unknown, and still exits 0, when it cannot simulate, reach DNS, read quotas or roles', async () => {
    readyAccount();
    iam.on(SimulatePrincipalPolicyCommand).rejects(awsError('AccessDenied', 'not authorized to perform: iam:SimulatePrincipalPolicy'));
    iam.on(GetRoleCommand, { RoleName: 'AWSServiceRoleForECS' }).rejects(awsError('AccessDenied', 'not authorized to perform: iam:GetRole'));
    quotas.on(GetServiceQuotaCommand).rejects(awsError('AccessDeniedException', 'no servicequotas'));
    iam.on(GetInstanceProfileCommand).rejects(awsError('AccessDenied', 'not authorized to perform: iam:GetInstanceProfile'));
    const port = await deadUdpPort();
    const result = await doctor(['--json', 'doctor', '--domain', 'www.example.com'], { AUTHECS_DNS_SERVERS: `127.0.0.1:${port}` });
    expect(result.code, result.stderr).toBe(EXIT_CODES.success);
    expect(check(result.json, 'permissions')).toMatchObject({ status: 'unknown' });
    expect(check(result.json, 'permissions').summary).toMatch(/^unknown: could not simulate \(AccessDenied: /);
    expect(check(result.json, 'hosted-zone')).toMatchObject({ status: 'unknown' });
    expect(check(result.json, 'hosted-zone').summary).toContain('could not be checked');
    expect(check(result.json, 'service-linked-role')).toMatchObject({ status: 'unknown' });
    expect(check(result.json, 'instance-profile')).toMatchObject({ status: 'unknown' });
    expect(check(result.json, 'instance-profile').summary).toContain('could not read instance profile ecsInstanceRole (AccessDenied');
    expect(check(result.json, 'quota-application-load-balancers').summary).toContain('could not read the quota');
    const human = await doctor(['doctor', '--domain', 'www.example.com'], { AUTHECS_DNS_SERVERS: `127.0.0.1:${port}` });
    expect(human.stdout).toMatch(/\? unknown permissions +unknown: could not simulate/);
  });

  it('falls back to the default quota when none was ever applied', async () => {
    readyAccount();
    quotas.on(GetServiceQuotaCommand).rejects(awsError('NoSuchResourceException'));
    quotas.on(GetAWSDefaultServiceQuotaCommand).resolves({ Quota: { Value: 50 } });
    const result = await doctor(['--json', 'doctor']);
    expect(check(result.json, 'quota-application-load-balancers')).toMatchObject({ status: 'pass', details: { quota: 50 } });
    // No --domain: nothing to check, and that is not a failure.
    expect(check(result.json, 'hosted-zone')).toMatchObject({ status: 'unknown' });
    expect(result.code).toBe(0);
  });

  it('a missing service-linked role passes when the caller may create it, fails when it may not', async () => {
    readyAccount();
    iam.on(GetRoleCommand, { RoleName: 'AWSServiceRoleForECS' }).rejects(awsError('NoSuchEntityException'));
    const creatable = await doctor(['--json', 'doctor']);
    expect(check(creatable.json, 'service-linked-role')).toMatchObject({ status: 'pass' });
    expect(check(creatable.json, 'service-linked-role').summary).toContain('may create it');
    iam.on(SimulatePrincipalPolicyCommand, { ActionNames: ['iam:CreateServiceLinkedRole'] }).resolves({ EvaluationResults: [{ EvalActionName: 'iam:CreateServiceLinkedRole', EvalDecision: 'implicitDeny' }] });
    const denied = await doctor(['--json', 'doctor']);
    expect(check(denied.json, 'service-linked-role')).toMatchObject({ status: 'fail' });
    expect(denied.code).toBe(EXIT_CODES.notReady);
  });

  it('counts our own ALB as no extra need, and skips the instance profile for Fargate', async () => {
    readyAccount();
    quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 1 } });
    elbv2.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ LoadBalancerName: 'ecsauth', Type: 'application' }] });
    const result = await doctor(['--json', 'doctor', '--launch-type', 'FARGATE']);
    expect(check(result.json, 'quota-application-load-balancers')).toMatchObject({ status: 'pass', details: { used: 1, need: 0 } });
    expect(check(result.json, 'instance-profile').summary).toContain('not needed');
    expect(iam.commandCalls(GetInstanceProfileCommand)).toHaveLength(0);
  });

  it('fails credentials (and leaves the rest unknown) when STS rejects them, exit 13', async () => {
    sts.on(GetCallerIdentityCommand).rejects(awsError('InvalidClientTokenId', 'The security token included in the request is invalid.'));
    const result = await doctor(['--json', 'doctor', '--domain', 'www.example.com']);
    expect(result.code).toBe(EXIT_CODES.notReady);
    expect(check(result.json, 'credentials')).toMatchObject({ status: 'fail' });
    expect(result.json!.checks.filter((one) => one.name !== 'credentials').every((one) => one.status === 'unknown')).toBe(true);
  });

  it('a root caller passes permissions without simulating; an unparseable caller is unknown', async () => {
    readyAccount();
    sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:root` });
    const root = await doctor(['--json', 'doctor']);
    expect(check(root.json, 'permissions')).toMatchObject({ status: 'pass' });
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand)).toHaveLength(0);
    sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:federated-user/bob` });
    const federated = await doctor(['--json', 'doctor']);
    expect(check(federated.json, 'permissions').summary).toMatch(/^unknown: could not simulate/);
  });

  it('needs a region, and rejects a bad --domain, as usage errors', async () => {
    const noRegion = await doctor(['doctor'], { AWS_REGION: '' });
    expect(noRegion.code).toBe(EXIT_CODES.usage);
    expect(noRegion.stderr).toContain('--region');
    const badDomain = await doctor(['doctor', '--domain', 'not a domain']);
    expect(badDomain.code).toBe(EXIT_CODES.usage);
  });
});

describe('checkDelegation', () => {
  it('reads the referral the parent name server gives', async () => {
    const result = await checkDelegation('example.com', { servers: [dns.servers], port: dns.port, timeoutMs: 1000 });
    expect(result).toEqual({ status: 'delegated', parent: 'com', parentServer: 'a.gtld-servers.test', nameServers: [...ZONE_NS].sort() });
  });
});
