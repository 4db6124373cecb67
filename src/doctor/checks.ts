/**
 * `authecs doctor`: read-only checks that the account is ready for `up`. Each check passes,
 * fails, or is unknown (it could not be made: say why, never guess). Nothing here changes
 * anything in the account.
 */
import { DescribeAddressesCommand, DescribeVpcsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { DescribeLoadBalancersCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetInstanceProfileCommand, GetRoleCommand, SimulatePrincipalPolicyCommand, type ContextEntry, type IAMClient } from '@aws-sdk/client-iam';
import { GetHostedZoneCommand, ListHostedZonesByNameCommand, type HostedZone, type Route53Client } from '@aws-sdk/client-route-53';
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand, type ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { awsErrorCode, classifyAwsError } from '../aws/errors.js';
import { QUOTAS, type ConditionBlock, type PolicyContext } from '../iam/actions.js';
import { buildPolicy } from '../iam/policy.js';
import { checkDelegation, normalizeName, type DnsOptions } from './dns.js';

export type CheckStatus = 'pass' | 'fail' | 'unknown';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  summary: string;
  details?: Record<string, unknown>;
}

export interface DoctorClients {
  sts: STSClient;
  iam: IAMClient;
  route53: Route53Client;
  ec2: EC2Client;
  elbv2: ElasticLoadBalancingV2Client;
  quotas: ServiceQuotasClient;
}

export interface DoctorSettings {
  region: string;
  launchType: 'EC2' | 'FARGATE';
  createNetwork: boolean;
  /** What the policy is built from (names, domain, zone); account and role are filled in here. */
  policy: PolicyContext;
}

export interface DoctorReport {
  account: string | undefined;
  principal: string | undefined;
  checks: CheckResult[];
}

const ECS_SERVICE_LINKED_ROLE = 'AWSServiceRoleForECS';
// --create-network's template: two NAT gateways, each with an Elastic IP, in one new VPC.
const NETWORK_NEEDS = { elasticIps: 2, vpcs: 1 } as const;

function reasonOf(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
  return `${awsErrorCode(error)}: ${message}`.slice(0, 300);
}

const pass = (name: string, summary: string, details?: Record<string, unknown>): CheckResult => ({ name, status: 'pass', summary, ...(details ? { details } : {}) });
const fail = (name: string, summary: string, details?: Record<string, unknown>): CheckResult => ({ name, status: 'fail', summary, ...(details ? { details } : {}) });
const unknown = (name: string, summary: string, details?: Record<string, unknown>): CheckResult => ({ name, status: 'unknown', summary, ...(details ? { details } : {}) });

// ---- the principal to simulate ----

type Principal = { kind: 'simulate'; arn: string } | { kind: 'root' } | { kind: 'other'; reason: string };

async function principalOf(callerArn: string, clients: DoctorClients): Promise<Principal> {
  const [, partition, service, , account, resource = ''] = callerArn.split(':');
  if (service === 'iam' && resource === 'root') return { kind: 'root' };
  if (service === 'iam' && (resource.startsWith('user/') || resource.startsWith('role/'))) return { kind: 'simulate', arn: callerArn };
  const assumed = /^assumed-role\/([^/]+)\//.exec(resource);
  if (service === 'sts' && assumed) {
    // The session's ARN has no path; the role's own ARN (which SimulatePrincipalPolicy needs) may.
    const roleName = assumed[1]!;
    try {
      const role = await clients.iam.send(new GetRoleCommand({ RoleName: roleName }));
      if (role.Role?.Arn) return { kind: 'simulate', arn: role.Role.Arn };
    } catch {
      // Without iam:GetRole, assume the role has no path.
    }
    return { kind: 'simulate', arn: `arn:${partition}:iam::${account}:role/${roleName}` };
  }
  return { kind: 'other', reason: `${callerArn} is neither an IAM user nor a role` };
}

// ---- permissions, through the IAM policy simulator ----

/** A resource ARN the pattern matches, for the simulator (which takes no wildcards). */
function concrete(pattern: string): string {
  return pattern.replace(/\*/g, 'authecs-doctor');
}

function contextEntries(condition: ConditionBlock | undefined): ContextEntry[] {
  const entries: ContextEntry[] = [];
  for (const [operator, block] of Object.entries(condition ?? {})) {
    for (const [key, raw] of Object.entries(block)) {
      const values = (Array.isArray(raw) ? raw : [raw]).map((value) => value.replace(/\*/g, 'x'));
      const list = operator.startsWith('ForAllValues') || operator.startsWith('ForAnyValue');
      // A single call carries one CreateAction (or tag value): the first one listed stands for all.
      entries.push({ ContextKeyName: key, ContextKeyType: list ? 'stringList' : 'string', ContextKeyValues: list ? values : [values[0]!] });
    }
  }
  return entries;
}

interface Simulated {
  allowed: string[];
  denied: { action: string; decision: string; resource?: string }[];
}

async function simulate(clients: DoctorClients, principal: string, actions: string[], resources: string[], condition: ConditionBlock | undefined): Promise<Simulated> {
  const result: Simulated = { allowed: [], denied: [] };
  const resourceArns = resources.includes('*') ? undefined : resources.map(concrete);
  let marker: string | undefined;
  do {
    const response = await clients.iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: principal,
        ActionNames: actions,
        ...(resourceArns ? { ResourceArns: resourceArns } : {}),
        ContextEntries: contextEntries(condition),
        ...(marker ? { Marker: marker } : {}),
      }),
    );
    for (const evaluation of response.EvaluationResults ?? []) {
      const action = evaluation.EvalActionName ?? '?';
      const perResource = evaluation.ResourceSpecificResults ?? [];
      const refused = perResource.find((one) => one.EvalResourceDecision !== 'allowed');
      if (perResource.length > 0 ? refused === undefined : evaluation.EvalDecision === 'allowed') result.allowed.push(action);
      else result.denied.push({ action, decision: refused?.EvalResourceDecision ?? evaluation.EvalDecision ?? 'implicitDeny', ...(refused?.EvalResourceName ? { resource: refused.EvalResourceName } : {}) });
    }
    marker = response.IsTruncated ? response.Marker : undefined;
  } while (marker);
  return result;
}

async function checkPermissions(clients: DoctorClients, principal: Principal, context: PolicyContext): Promise<CheckResult> {
  const name = 'permissions';
  if (principal.kind === 'root') return pass(name, 'the root user is allowed every action (but should not run authecs: use a role with `authecs iam-policy`)');
  if (principal.kind === 'other') return unknown(name, `unknown: could not simulate (${principal.reason})`);
  const built = buildPolicy(context, { includeDoctor: false });
  let allowed = 0;
  const denied: Simulated['denied'] = [];
  for (const question of built.simulations) {
    try {
      const result = await simulate(clients, principal.arn, question.actions, question.resources, question.condition);
      allowed += result.allowed.length;
      denied.push(...result.denied);
    } catch (error) {
      return unknown(name, `unknown: could not simulate (${reasonOf(error)})`, { principal: principal.arn });
    }
  }
  const total = allowed + denied.length;
  const deniedActions = [...new Set(denied.map((one) => one.action))];
  if (deniedActions.length === 0) return pass(name, `all ${built.actions.length} actions of \`authecs iam-policy\` allowed for ${principal.arn} (${total} simulated)`, { principal: principal.arn });
  return fail(name, `${deniedActions.length} of ${built.actions.length} actions denied for ${principal.arn}: ${deniedActions.slice(0, 8).join(', ')}${deniedActions.length > 8 ? ', …' : ''}`, {
    principal: principal.arn,
    denied,
    hint: 'Attach the policy `authecs iam-policy` prints (with the same settings) to this role or user.',
  });
}

// ---- the hosted zone and its delegation ----

async function findZone(clients: DoctorClients, context: PolicyContext): Promise<{ zone: HostedZone | undefined; privateOnly: boolean }> {
  if (context.hostedZoneId) {
    const response = await clients.route53.send(new GetHostedZoneCommand({ Id: context.hostedZoneId }));
    return { zone: response.HostedZone, privateOnly: false };
  }
  const domain = context.domain!;
  const candidates: HostedZone[] = [];
  const labels = domain.split('.');
  // Every suffix of the domain with two labels or more is a zone it could live in.
  for (let start = 0; start < labels.length - 1; start += 1) {
    const name = labels.slice(start).join('.');
    const response = await clients.route53.send(new ListHostedZonesByNameCommand({ DNSName: name, MaxItems: 10 }));
    candidates.push(...(response.HostedZones ?? []).filter((zone) => normalizeName(zone.Name ?? '') === name));
  }
  const publicZones = candidates.filter((zone) => !zone.Config?.PrivateZone);
  publicZones.sort((a, b) => (b.Name ?? '').length - (a.Name ?? '').length);
  return { zone: publicZones[0], privateOnly: publicZones.length === 0 && candidates.length > 0 };
}

async function checkHostedZone(clients: DoctorClients, context: PolicyContext, dns: DnsOptions): Promise<CheckResult> {
  const name = 'hosted-zone';
  if (!context.domain && !context.hostedZoneId) return unknown(name, 'unknown: no --domain given, so there is no hosted zone to check');
  let found: Awaited<ReturnType<typeof findZone>>;
  try {
    found = await findZone(clients, context);
  } catch (error) {
    if (awsErrorCode(error) === 'NoSuchHostedZone') return fail(name, `hosted zone ${context.hostedZoneId} does not exist`);
    return unknown(name, `unknown: could not look up the hosted zone (${reasonOf(error)})`);
  }
  const { zone } = found;
  if (!zone) {
    return fail(name, found.privateOnly ? `only a private hosted zone matches ${context.domain}; ACM validation and visitors need a public one` : `no public hosted zone in this account is a suffix of ${context.domain}`);
  }
  const zoneName = normalizeName(zone.Name ?? '');
  if (zone.Config?.PrivateZone) return fail(name, `hosted zone ${zoneName} (${zone.Id}) is private; ACM validation and visitors need a public one`);
  let nameServers: string[];
  try {
    const response = await clients.route53.send(new GetHostedZoneCommand({ Id: zone.Id }));
    nameServers = (response.DelegationSet?.NameServers ?? []).map(normalizeName).sort();
  } catch (error) {
    return unknown(name, `unknown: public zone ${zoneName} found, but its name servers could not be read (${reasonOf(error)})`);
  }
  const details = { zone: zoneName, hostedZoneId: zone.Id, nameServers };
  const delegation = await checkDelegation(zoneName, dns);
  if (delegation.status === 'unreachable') return unknown(name, `unknown: public zone ${zoneName} found; its delegation could not be checked (${delegation.reason})`, details);
  if (delegation.status === 'not-delegated') {
    return fail(name, `public zone ${zoneName} is not delegated: ${delegation.reason}. Set the parent's NS records (at the registrar) to ${nameServers.join(', ')}`, details);
  }
  const missing = nameServers.filter((server) => !delegation.nameServers.includes(server));
  const extra = delegation.nameServers.filter((server) => !nameServers.includes(server));
  if (missing.length === 0 && extra.length === 0) return pass(name, `public zone ${zoneName} is delegated: ${delegation.parent}'s name servers answer with its ${nameServers.length} name servers`, details);
  return fail(name, `public zone ${zoneName} is not the one delegated: ${delegation.parent} (${delegation.parentServer}) names ${delegation.nameServers.join(', ')}, the zone has ${nameServers.join(', ')}`, {
    ...details,
    delegatedTo: delegation.nameServers,
  });
}

// ---- instance profile and service-linked role ----

async function checkInstanceProfile(clients: DoctorClients, settings: DoctorSettings): Promise<{ result: CheckResult; roles: string[] }> {
  const name = 'instance-profile';
  const profile = settings.policy.instanceProfile;
  if (settings.launchType !== 'EC2') return { result: pass(name, `not needed: the launch type is ${settings.launchType}`), roles: [] };
  try {
    const response = await clients.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profile }));
    const roles = (response.InstanceProfile?.Roles ?? []).map((role) => role.RoleName ?? '?');
    if (roles.length === 0) return { result: fail(name, `instance profile ${profile} holds no role, so the container instances could not join the cluster`), roles };
    return { result: pass(name, `instance profile ${profile} exists, with role ${roles.join(', ')}`, { roles }), roles };
  } catch (error) {
    if (awsErrorCode(error) === 'NoSuchEntity' || awsErrorCode(error) === 'NoSuchEntityException') {
      return { result: fail(name, `instance profile ${profile} does not exist: create ecsInstanceRole as AWS's ECS guide describes, or pass --instance-profile`), roles: [] };
    }
    return { result: unknown(name, `unknown: could not read instance profile ${profile} (${reasonOf(error)})`), roles: [] };
  }
}

async function checkServiceLinkedRole(clients: DoctorClients, principal: Principal | undefined, context: PolicyContext): Promise<CheckResult> {
  const name = 'service-linked-role';
  try {
    const response = await clients.iam.send(new GetRoleCommand({ RoleName: ECS_SERVICE_LINKED_ROLE }));
    return pass(name, `${ECS_SERVICE_LINKED_ROLE} exists (${response.Role?.Arn ?? 'ARN not shown'})`);
  } catch (error) {
    if (awsErrorCode(error) !== 'NoSuchEntity' && awsErrorCode(error) !== 'NoSuchEntityException') return unknown(name, `unknown: could not read role ${ECS_SERVICE_LINKED_ROLE} (${reasonOf(error)})`);
  }
  const absent = `${ECS_SERVICE_LINKED_ROLE} does not exist yet; ECS creates it when the first service is made`;
  if (principal?.kind === 'root') return pass(name, `${absent}, and the root user may`);
  if (principal?.kind !== 'simulate') return unknown(name, `${absent}; whether the caller may create it is unknown`);
  const roleArn = `arn:${context.partition}:iam::${context.account}:role/aws-service-role/ecs.amazonaws.com/${ECS_SERVICE_LINKED_ROLE}`;
  try {
    const result = await simulate(clients, principal.arn, ['iam:CreateServiceLinkedRole'], [roleArn], { StringEquals: { 'iam:AWSServiceName': 'ecs.amazonaws.com' } });
    if (result.denied.length === 0) return pass(name, `${absent}, and the caller may create it (iam:CreateServiceLinkedRole allowed)`);
    return fail(name, `${absent}, but the caller may not create it (iam:CreateServiceLinkedRole denied): create it once with \`aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com\``);
  } catch (error) {
    return unknown(name, `${absent}; unknown whether the caller may create it: could not simulate (${reasonOf(error)})`);
  }
}

// ---- quotas ----

type QuotaKey = keyof typeof QUOTAS;

async function quotaValue(clients: DoctorClients, key: QuotaKey): Promise<number | undefined> {
  const { serviceCode, quotaCode } = QUOTAS[key];
  try {
    return (await clients.quotas.send(new GetServiceQuotaCommand({ ServiceCode: serviceCode, QuotaCode: quotaCode }))).Quota?.Value;
  } catch (error) {
    // A quota never raised may have no applied value: the default then holds.
    if (awsErrorCode(error) !== 'NoSuchResourceException') throw error;
    return (await clients.quotas.send(new GetAWSDefaultServiceQuotaCommand({ ServiceCode: serviceCode, QuotaCode: quotaCode }))).Quota?.Value;
  }
}

async function usage(clients: DoctorClients, key: QuotaKey, context: PolicyContext): Promise<{ used: number; need: number }> {
  if (key === 'elasticIps') {
    const response = await clients.ec2.send(new DescribeAddressesCommand({}));
    return { used: (response.Addresses ?? []).filter((address) => address.Domain !== 'standard').length, need: NETWORK_NEEDS.elasticIps };
  }
  if (key === 'vpcs') {
    let used = 0;
    let token: string | undefined;
    do {
      const response = await clients.ec2.send(new DescribeVpcsCommand({ MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
      used += response.Vpcs?.length ?? 0;
      token = response.NextToken;
    } while (token);
    return { used, need: NETWORK_NEEDS.vpcs };
  }
  let used = 0;
  let ours = false;
  let marker: string | undefined;
  do {
    const response = await clients.elbv2.send(new DescribeLoadBalancersCommand({ PageSize: 400, ...(marker ? { Marker: marker } : {}) }));
    for (const balancer of response.LoadBalancers ?? []) {
      if (balancer.Type !== 'application') continue;
      used += 1;
      if (balancer.LoadBalancerName === context.loadBalancerName) ours = true;
    }
    marker = response.NextMarker;
  } while (marker);
  // A second `up` reuses its ALB.
  return { used, need: ours ? 0 : 1 };
}

async function checkQuota(clients: DoctorClients, key: QuotaKey, context: PolicyContext): Promise<CheckResult> {
  const quota = QUOTAS[key];
  const name = `quota-${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
  let value: number | undefined;
  try {
    value = await quotaValue(clients, key);
  } catch (error) {
    return unknown(name, `unknown: could not read the quota "${quota.title}" (${reasonOf(error)})`);
  }
  if (value === undefined) return unknown(name, `unknown: Service Quotas gave no value for "${quota.title}"`);
  let counted: { used: number; need: number };
  try {
    counted = await usage(clients, key, context);
  } catch (error) {
    return unknown(name, `unknown: quota "${quota.title}" is ${value}, but current usage could not be read (${reasonOf(error)})`);
  }
  const details = { quota: value, used: counted.used, need: counted.need, serviceCode: quota.serviceCode, quotaCode: quota.quotaCode };
  const text = `"${quota.title}": ${counted.used} of ${value} used, ${counted.need} more needed`;
  return counted.used + counted.need <= value ? pass(name, text, details) : fail(name, `${text}: ask for a higher quota in Service Quotas (${quota.serviceCode} ${quota.quotaCode})`, details);
}

// ---- all of it ----

export async function runDoctor(clients: DoctorClients, settings: DoctorSettings, dns: DnsOptions = {}): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  let identity: { Account?: string | undefined; Arn?: string | undefined };
  try {
    identity = await clients.sts.send(new GetCallerIdentityCommand({}));
  } catch (error) {
    const classified = classifyAwsError(error);
    checks.push(fail('credentials', `the credentials do not work: ${classified.message}`, { code: classified.code }));
    for (const name of ['permissions', 'hosted-zone', 'instance-profile', 'service-linked-role']) checks.push(unknown(name, 'unknown: skipped, as no call can be made without working credentials'));
    return { account: undefined, principal: undefined, checks };
  }
  const account = identity.Account;
  checks.push(pass('credentials', `account ${account ?? '?'} as ${identity.Arn ?? '?'}, region ${settings.region}`, { account, arn: identity.Arn, region: settings.region }));
  const principal = identity.Arn ? await principalOf(identity.Arn, clients) : undefined;

  const profile = await checkInstanceProfile(clients, settings);
  const context: PolicyContext = {
    ...settings.policy,
    account: account ?? settings.policy.account,
    // Simulate passing the role the profile really holds.
    instanceRole: profile.roles[0] ?? settings.policy.instanceRole,
  };
  checks.push(principal ? await checkPermissions(clients, principal, context) : unknown('permissions', 'unknown: could not simulate (the caller has no ARN)'));
  checks.push(await checkHostedZone(clients, context, dns));
  checks.push(profile.result);
  checks.push(await checkServiceLinkedRole(clients, principal, context));
  const quotas: QuotaKey[] = settings.createNetwork ? ['elasticIps', 'vpcs', 'applicationLoadBalancers'] : ['applicationLoadBalancers'];
  for (const key of quotas) checks.push(await checkQuota(clients, key, context));
  return { account, principal: principal?.kind === 'simulate' ? principal.arn : identity.Arn, checks };
}
