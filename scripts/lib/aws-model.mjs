// ============================================================================================
// AN AWS BEHAVIOUR MODEL IN FRONT OF MOTO (issue 8, section 4).
//
// A loopback HTTP proxy: authecs (or any SDK client) points AWS_ENDPOINT_URL at it, it forwards
// every request to moto and relays the answer. On the way it recognises the service, the
// operation and its key parameters, and makes moto behave like AWS where moto is lenient:
//   - rules: it refuses what AWS refuses, with AWS's error code and HTTP status (see RULES);
//   - timing: transitional states (ALB provisioning, Route 53 PENDING, ACM PENDING_VALIDATION,
//     instance pending, service DRAINING, ENIs lingering) last a configurable time, the
//     durations seen on real AWS multiplied by `scale`;
//   - faults: seeded and reproducible throttling, 500, 503, resets before the request reaches
//     moto and resets after moto applied it (the answer lost).
// Its own look-ups go straight to moto with plain SDK calls, so they never see the faults.
// Plain ESM so that scripts/ (chaos, bench) can use it; types in aws-model.d.mts.
// ============================================================================================
import { createServer, request as httpRequest } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeServicesCommand, ListContainerInstancesCommand, ListServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeLoadBalancersCommand, DescribeRulesCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateRoleCommand, GetRoleCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { GetHostedZoneCommand } from '@aws-sdk/client-route-53';
import { destroyEmulatorClients, emulatorClients } from './aws.mjs';

/** Typical durations on real AWS, in seconds (shared/notes/aws-behaviour.md). Multiplied by `scale`. */
export const REAL_AWS_SECONDS = Object.freeze({
  // LoadBalancerAvailable waiter: 1-3 min from provisioning to active.
  albProvisioning: 120,
  // ResourceRecordSetsChanged: PENDING to INSYNC in under 60 s.
  route53Insync: 40,
  // The validation ResourceRecord appears a few seconds after RequestCertificate.
  acmRecordAppears: 5,
  // ACM issues minutes after the validation CNAME is in sync.
  acmIssueAfterCname: 180,
  // ELBv2 may not see a just-issued certificate (CertificateNotFound); 0 = off by default.
  acmVisibleToElb: 0,
  // RunInstances to running.
  instancePending: 30,
  // DeleteService: DRAINING for the deregistration delay (300 s by default).
  serviceDraining: 300,
  // ALB ENIs keep its security group in use after the ALB is deleted.
  albEniLinger: 120,
  // A service-linked role created a moment ago takes seconds to become usable.
  serviceLinkedRoleUsable: 10,
});

export const FAULT_KINDS = Object.freeze(['throttle', 'error500', 'error503', 'resetBefore', 'resetAfter']);

/**
 * Each service's own throttling error: code and HTTP status.
 * EC2: RequestLimitExceeded (EC2 Developer Guide, "Request throttling for the Amazon EC2 API"; 503 per the EC2 error-code table, server errors).
 * ELBv2, CloudFormation, IAM, STS: Throttling, 400 (query-protocol common errors).
 * Route 53: Throttling, 400, "Rate exceeded" (Route 53 Developer Guide, "Throttling for Amazon Route 53 API requests").
 * ECS, ACM, CloudWatch Logs: ThrottlingException, 400 (ACM API Reference DeleteCertificate errors; ECS common errors).
 * Cognito user pools: TooManyRequestsException, 400 -- NOT ThrottlingException (Cognito API Reference, DeleteUserPool errors).
 * Service Quotas: TooManyRequestsException, 400.
 */
export const THROTTLING = Object.freeze({
  ec2: { code: 'RequestLimitExceeded', status: 503, message: 'Request limit exceeded.' },
  elasticloadbalancing: { code: 'Throttling', status: 400, message: 'Rate exceeded' },
  cloudformation: { code: 'Throttling', status: 400, message: 'Rate exceeded' },
  iam: { code: 'Throttling', status: 400, message: 'Rate exceeded' },
  sts: { code: 'Throttling', status: 400, message: 'Rate exceeded' },
  route53: { code: 'Throttling', status: 400, message: 'Rate exceeded' },
  ecs: { code: 'ThrottlingException', status: 400, message: 'Rate exceeded' },
  acm: { code: 'ThrottlingException', status: 400, message: 'Rate exceeded' },
  logs: { code: 'ThrottlingException', status: 400, message: 'Rate exceeded' },
  'cognito-idp': { code: 'TooManyRequestsException', status: 400, message: 'Too many requests' },
  servicequotas: { code: 'TooManyRequestsException', status: 400, message: 'Too many requests' },
});

/** The rules the model enforces, each with the AWS source it follows. */
export const RULES = Object.freeze([
  { id: 'unsupported-certificate', operation: 'elasticloadbalancing:CreateListener', code: 'UnsupportedCertificate', status: 400, source: 'ELBv2 API Reference, CreateListener, Errors: UnsupportedCertificate (400); aws-behaviour.md' },
  { id: 'certificate-not-found-after-issue', operation: 'elasticloadbalancing:CreateListener', code: 'CertificateNotFound', status: 400, source: 'ELBv2 API Reference, CreateListener, Errors: CertificateNotFound (400); hashicorp/terraform#10180 (timing acmVisibleToElb, off by default)' },
  { id: 'target-group-without-load-balancer', operation: 'ecs:CreateService', code: 'InvalidParameterException', status: 400, source: 'ECS API Reference, CreateService, Errors: InvalidParameterException (400); message "...does not have an associated load balancer"' },
  { id: 'certificate-in-use', operation: 'acm:DeleteCertificate', code: 'ResourceInUseException', status: 400, source: 'ACM API Reference, DeleteCertificate, Errors: ResourceInUseException (400)' },
  { id: 'security-group-dependency', operation: 'ec2:DeleteSecurityGroup', code: 'DependencyViolation', status: 400, source: 'EC2 API Reference, error codes: DependencyViolation (client error, 400); ENIs linger after DeleteLoadBalancer (aws-behaviour.md)' },
  { id: 'cluster-contains-services', operation: 'ecs:DeleteCluster', code: 'ClusterContainsServicesException', status: 400, source: 'ECS API Reference, DeleteCluster, Errors: ClusterContainsServicesException (400)' },
  { id: 'cluster-contains-instances', operation: 'ecs:DeleteCluster', code: 'ClusterContainsContainerInstancesException', status: 400, source: 'ECS API Reference, DeleteCluster, Errors: ClusterContainsContainerInstancesException (400)' },
  { id: 'user-pool-has-domain', operation: 'cognito-idp:DeleteUserPool', code: 'InvalidParameterException', status: 400, source: 'Cognito API Reference, DeleteUserPool, Errors: InvalidParameterException (400); a pool with a domain must lose it first' },
  { id: 'apex-cname', operation: 'route53:ChangeResourceRecordSets', code: 'InvalidChangeBatch', status: 400, source: 'Route 53 API Reference, ChangeResourceRecordSets, Errors: InvalidChangeBatch (400); Developer Guide "Choosing between alias and non-alias records": no CNAME at the apex' },
  { id: 'run-instances-client-token', operation: 'ec2:RunInstances', code: 'IdempotentParameterMismatch', status: 400, source: 'EC2 API Reference, "Ensuring idempotency" and error codes: IdempotentParameterMismatch; same token returns the original instance' },
  { id: 'create-service-client-token', operation: 'ecs:CreateService', code: 'InvalidParameterException', status: 400, source: 'ECS API Reference, CreateService clientToken (idempotency); mismatch answered as InvalidParameterException (400)' },
  { id: 'service-linked-role-missing', operation: 'ecs:CreateService', code: 'InvalidParameterException', status: 400, source: 'ECS API Reference, CreateCluster (service-linked role); "Unable to assume the service linked role" (issue 8 row 2)' },
  { id: 'service-linked-role-name', operation: 'iam:CreateServiceLinkedRole', code: 'InvalidInput', status: 400, source: 'IAM API Reference, CreateServiceLinkedRole, Errors: InvalidInput (400) "has been taken in this account"; ECS Developer Guide: the role is AWSServiceRoleForECS (moto names it AWSServiceRoleForecs)' },
  { id: 'alb-provisioning', operation: 'elasticloadbalancing:DescribeLoadBalancers', code: 'state provisioning', status: 200, source: 'ELBv2 LoadBalancerAvailable waiter; aws-behaviour.md timings' },
  { id: 'route53-pending', operation: 'route53:GetChange', code: 'PENDING', status: 200, source: 'Route 53 API Reference, ChangeResourceRecordSets: PENDING until INSYNC' },
  { id: 'acm-issue-after-cname', operation: 'acm:DescribeCertificate', code: 'PENDING_VALIDATION', status: 200, source: 'ACM User Guide, DNS validation: issued only after the CNAME is found' },
  { id: 'instance-pending', operation: 'ec2:DescribeInstances', code: 'pending', status: 200, source: 'EC2 instance lifecycle: pending before running' },
  { id: 'service-draining', operation: 'ecs:DescribeServices', code: 'DRAINING', status: 200, source: 'ECS API Reference, DeleteService: ACTIVE, DRAINING, INACTIVE' },
]);

// ECS's service-linked role as AWS names it (ECS Developer Guide, "Using service-linked roles for Amazon ECS").
const ECS_PRINCIPAL = 'ecs.amazonaws.com';
const ECS_ROLE = 'AWSServiceRoleForECS';
const ECS_ROLE_PATH = '/aws-service-role/ecs.amazonaws.com/';
const ECS_TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: [ECS_PRINCIPAL] }, Action: ['sts:AssumeRole'] }] });

/** An account that already has the ECS service-linked role, under AWS's name (straight to moto). */
export async function createEcsServiceLinkedRole(iam) {
  await iam.send(new CreateRoleCommand({ RoleName: ECS_ROLE, Path: ECS_ROLE_PATH, AssumeRolePolicyDocument: ECS_TRUST }));
}

// ---------------------------------------------------------------------------- PRNG

/** FNV-1a, 32 bit: a stable number from a string. */
function fnv(text) {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** mulberry32: a small deterministic PRNG. */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One uniform draw for the nth call of an operation. Keyed by (seed, operation, n) rather than
 * by arrival order, so concurrent requests interleaving differently still get the same fates.
 */
export function drawFor(seed, operation, nth) {
  return mulberry32(fnv(`${seed}|${operation}|${nth}`))();
}

// ---------------------------------------------------------------------------- protocol

const TARGET_PREFIXES = [
  ['CertificateManager.', 'acm'],
  ['AWSCognitoIdentityProviderService.', 'cognito-idp'],
  ['AmazonEC2ContainerServiceV20141113.', 'ecs'],
  ['Logs_20140328.', 'logs'],
  ['ServiceQuotasV20190624.', 'servicequotas'],
];
const QUERY_VERSIONS = { '2016-11-15': 'ec2', '2015-12-01': 'elasticloadbalancing', '2010-05-15': 'cloudformation', '2010-05-08': 'iam', '2011-06-15': 'sts' };
const XMLNS = {
  elasticloadbalancing: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/',
  cloudformation: 'http://cloudformation.amazonaws.com/doc/2010-05-15/',
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
  route53: 'https://route53.amazonaws.com/doc/2013-04-01/',
};

/** What a request is: service, operation, protocol and parsed parameters. */
export function describeRequest(method, url, headers, body) {
  const target = String(headers['x-amz-target'] ?? '');
  const path = url.split('?')[0] ?? '';
  if (target) {
    const prefix = TARGET_PREFIXES.find(([start]) => target.startsWith(start));
    const service = prefix ? prefix[1] : target.split('.')[0] ?? 'unknown';
    let json = {};
    try {
      json = body.length ? JSON.parse(body) : {};
    } catch {
      json = {};
    }
    return { service, operation: target.slice(target.indexOf('.') + 1), protocol: 'json', json, query: new URLSearchParams(), xml: '' };
  }
  if (path.startsWith('/2013-04-01/')) {
    return { service: 'route53', operation: route53Operation(method, path), protocol: 'rest-xml', json: {}, query: new URLSearchParams(url.split('?')[1] ?? ''), xml: body };
  }
  const query = new URLSearchParams(method === 'GET' ? (url.split('?')[1] ?? '') : body);
  const scope = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(String(headers.authorization ?? ''));
  const service = scope?.[1] ?? QUERY_VERSIONS[query.get('Version') ?? ''] ?? 'unknown';
  return { service, operation: query.get('Action') ?? `${method} ${path}`, protocol: service === 'ec2' ? 'ec2' : 'query', json: {}, query, xml: '' };
}

function route53Operation(method, path) {
  if (/\/hostedzone\/[^/]+\/rrset\/?$/.test(path)) return method === 'POST' ? 'ChangeResourceRecordSets' : 'ListResourceRecordSets';
  if (/\/change\/[^/]+$/.test(path)) return 'GetChange';
  if (/\/hostedzonesbyname\/?$/.test(path)) return 'ListHostedZonesByName';
  if (/\/hostedzone\/[^/]+\/?$/.test(path)) return method === 'DELETE' ? 'DeleteHostedZone' : 'GetHostedZone';
  if (/\/hostedzone\/?$/.test(path)) return method === 'POST' ? 'CreateHostedZone' : 'ListHostedZones';
  return `${method} ${path}`;
}

const xmlEscape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An error answer in the protocol's own shape, as the SDK parses it. */
export function errorResponse(info, status, code, message) {
  const requestId = randomUUID();
  if (info.protocol === 'json') {
    return { status, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': code, 'x-amzn-requestid': requestId }, body: JSON.stringify({ __type: code, message }) };
  }
  if (info.protocol === 'ec2') {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
    return { status, headers: { 'content-type': 'text/xml' }, body };
  }
  const xmlns = XMLNS[info.service] ?? '';
  const type = status >= 500 ? 'Receiver' : 'Sender';
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${xmlns}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
}

/** Route 53 change batch: [{ action, name, type, values }]. */
export function parseChangeBatch(xml) {
  const changes = [];
  for (const match of xml.matchAll(/<Change>([\s\S]*?)<\/Change>/g)) {
    const block = match[1] ?? '';
    const pick = (tag) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(block)?.[1] ?? '';
    const values = [...block.matchAll(/<Value>([^<]*)<\/Value>/g)].map((value) => value[1] ?? '');
    changes.push({ action: pick('Action'), name: pick('Name'), type: pick('Type'), values });
  }
  return changes;
}

export const dnsName = (name) => String(name ?? '').trim().toLowerCase().replace(/\.$/, '');

/** Query params minus the ones that must not count in an idempotency comparison. */
function fingerprint(entries) {
  return createHash('sha256').update(JSON.stringify(entries.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0)))).digest('hex');
}

/** After the `<key>value</key>` that names a resource, replace `from` by `to` before the next one. */
function rewriteAfter(xml, keyTag, shouldRewrite, from, to) {
  const opener = `<${keyTag}>`;
  let output = '';
  let cursor = 0;
  const positions = [];
  for (let at = xml.indexOf(opener); at !== -1; at = xml.indexOf(opener, at + 1)) positions.push(at);
  positions.forEach((at, index) => {
    const end = xml.indexOf(`</${keyTag}>`, at);
    const id = xml.slice(at + opener.length, end);
    const limit = positions[index + 1] ?? xml.length;
    output += xml.slice(cursor, at);
    let segment = xml.slice(at, limit);
    if (shouldRewrite(id)) segment = segment.replace(from, to);
    output += segment;
    cursor = limit;
  });
  return output + xml.slice(cursor);
}

// ---------------------------------------------------------------------------- the model

export async function startAwsModel(options) {
  const upstream = new URL(options.upstream);
  let seed = options.seed ?? 1;

  /** Whether any listener's default action or rule forwards to the target group (as AWS associates it). */
  async function forwardedTo(targetGroupArn) {
    const balancers = (await lookups.elbv2.send(new DescribeLoadBalancersCommand({})).catch(() => ({ LoadBalancers: [] }))).LoadBalancers ?? [];
    const forwards = (actions) =>
      (actions ?? []).some((action) => action.TargetGroupArn === targetGroupArn || (action.ForwardConfig?.TargetGroups ?? []).some((group) => group.TargetGroupArn === targetGroupArn));
    for (const balancer of balancers) {
      const listeners = (await lookups.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: balancer.LoadBalancerArn })).catch(() => ({ Listeners: [] }))).Listeners ?? [];
      for (const listener of listeners) {
        if (forwards(listener.DefaultActions)) return true;
        const rules = (await lookups.elbv2.send(new DescribeRulesCommand({ ListenerArn: listener.ListenerArn })).catch(() => ({ Rules: [] }))).Rules ?? [];
        if (rules.some((rule) => forwards(rule.Actions))) return true;
      }
    }
    return false;
  }
  const scale = options.scale ?? 1;
  let real = { ...REAL_AWS_SECONDS, ...(options.timings ?? {}) };
  const ms = (key) => real[key] * scale * 1000;
  let faults = { throttle: 0, error500: 0, error503: 0, resetBefore: 0, resetAfter: 0, ...(options.faults ?? {}) };
  const faultable = (key) => {
    const operation = key.split(':')[1] ?? key;
    const listed = (list) => list.includes(operation) || list.includes(key);
    if (faults.operations && !listed(faults.operations)) return false;
    return !listed(faults.exclude ?? []);
  };
  let disabled = new Set(options.disableRules ?? []);
  let serviceLinkedRole = options.serviceLinkedRole ?? 'missing';
  const lookups = emulatorClients(upstream.origin, options.region);
  const now = () => Date.now();

  let state;
  const freshState = () => ({
    calls: new Map(),
    loadBalancers: new Map(), // arn -> activeAt
    changes: new Map(), // change id -> insyncAt
    cnames: new Map(), // dns name -> insyncAt
    certificates: new Map(), // arn -> { requestedAt, names?: string[], issuedAt?: number }
    instances: new Map(), // id -> runningAt
    lingering: new Map(), // security group -> until
    draining: new Map(), // service arn -> { cluster, until }
    runTokens: new Map(), // ClientToken -> { fingerprint, body }
    serviceTokens: new Map(), // clientToken -> { fingerprint, body }
    roleCreatedAt: undefined,
    held: new Set(), // "rule resource" pairs already logged, so a held-back state is logged once
  });
  state = freshState();
  const counts = { total: 0, byKind: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])), byOperation: {} };
  const clearCounts = () => {
    counts.total = 0;
    for (const kind of FAULT_KINDS) counts.byKind[kind] = 0;
    for (const key of Object.keys(counts.byOperation)) delete counts.byOperation[key];
  };
  const enforced = [];
  const errors = [];

  const enforce = (rule, info, detail) => {
    enforced.push({ rule, operation: `${info.service}:${info.operation}`, at: new Date().toISOString(), detail });
    if (enforced.length > 5000) enforced.splice(0, enforced.length - 5000);
  };
  const on = (rule) => !disabled.has(rule);
  // A state held back by a timing rule: logged the first time for each resource.
  const held = (rule, info, resource) => {
    const key = `${rule} ${resource}`;
    if (state.held.has(key)) return;
    state.held.add(key);
    enforce(rule, info, `${resource} held back`);
  };
  const refuse = (rule, info, status, code, message) => {
    enforce(rule, info, `${code}: ${message}`);
    return errorResponse(info, status, code, message);
  };

  // --- ACM: the model's view of a certificate's status.
  async function certificateStatus(arn) {
    const certificate = state.certificates.get(arn);
    if (!certificate) return undefined;
    if (certificate.issuedAt !== undefined) return now() >= certificate.issuedAt ? 'ISSUED' : 'PENDING_VALIDATION';
    if (!certificate.names) {
      try {
        const described = await lookups.acm.send(new DescribeCertificateCommand({ CertificateArn: arn }));
        learnValidationNames(arn, described.Certificate?.DomainValidationOptions ?? []);
      } catch (error) {
        errors.push(`DescribeCertificate ${arn}: ${error?.name}`);
      }
    }
    const names = certificate.names ?? [];
    if (names.length === 0) return 'PENDING_VALIDATION';
    const synced = names.map((name) => state.cnames.get(name));
    if (synced.some((at) => at === undefined)) return 'PENDING_VALIDATION';
    certificate.issuedAt = Math.max(...synced) + ms('acmIssueAfterCname');
    return now() >= certificate.issuedAt ? 'ISSUED' : 'PENDING_VALIDATION';
  }
  function learnValidationNames(arn, options) {
    const certificate = state.certificates.get(arn);
    if (!certificate || certificate.names) return;
    const names = options.map((option) => option.ResourceRecord?.Name).filter(Boolean).map(dnsName);
    if (names.length > 0 && names.length === options.length) certificate.names = names;
  }

  async function listenerCertificates() {
    const arns = new Set();
    const balancers = (await lookups.elbv2.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
    for (const balancer of balancers) {
      const listeners = (await lookups.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: balancer.LoadBalancerArn }))).Listeners ?? [];
      for (const listener of listeners) for (const certificate of listener.Certificates ?? []) if (certificate.CertificateArn) arns.add(certificate.CertificateArn);
    }
    return { arns, balancers };
  }

  async function ecsRoleExists() {
    const roles = (await lookups.iam.send(new ListRolesCommand({ PathPrefix: '/aws-service-role/ecs.amazonaws.com/' }))).Roles ?? [];
    return roles.some((role) => role.RoleName === 'AWSServiceRoleForECS' || (role.Path ?? '').startsWith('/aws-service-role/ecs.amazonaws.com/'));
  }

  /** Rules checked before the request goes to moto: an error answer, or undefined to forward. */
  async function before(info) {
    const { service, operation, query, json } = info;
    if (service === 'elasticloadbalancing' && (operation === 'CreateListener' || operation === 'ModifyListener')) {
      const arns = [...query.entries()].filter(([key]) => /^Certificates\.member\.\d+\.CertificateArn$/.test(key)).map(([, value]) => value);
      for (const arn of arns) {
        const status = await certificateStatus(arn);
        if (status === undefined) continue;
        // ELBv2 API Reference, CreateListener errors: UnsupportedCertificate, HTTP 400.
        if (status !== 'ISSUED' && on('unsupported-certificate')) {
          return refuse('unsupported-certificate', info, 400, 'UnsupportedCertificate', `The certificate '${arn}' must have a fully-qualified domain name, a supported signature, and a supported key size.`);
        }
        const visibleAt = (state.certificates.get(arn)?.issuedAt ?? 0) + ms('acmVisibleToElb');
        // ELBv2 API Reference, CreateListener errors: CertificateNotFound, HTTP 400 (terraform#10180: seen right after ISSUED).
        if (now() < visibleAt && on('certificate-not-found-after-issue')) {
          return refuse('certificate-not-found-after-issue', info, 400, 'CertificateNotFound', `Certificate '${arn}' not found`);
        }
      }
    }
    if (service === 'elasticloadbalancing' && operation === 'DeleteLoadBalancer') {
      // Remember the ALB's groups now: after the delete, its ENIs linger for a while.
      try {
        const arn = query.get('LoadBalancerArn');
        const described = (await lookups.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }))).LoadBalancers ?? [];
        info.albGroups = described.flatMap((balancer) => balancer.SecurityGroups ?? []);
      } catch {
        info.albGroups = [];
      }
    }
    if (service === 'ec2' && operation === 'DeleteSecurityGroup' && on('security-group-dependency')) {
      const groupId = query.get('GroupId');
      const until = groupId ? state.lingering.get(groupId) : undefined;
      const balancers = (await lookups.elbv2.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
      const inUse = balancers.some((balancer) => (balancer.SecurityGroups ?? []).includes(groupId));
      // EC2 API Reference, error codes: DependencyViolation (400); ENIs of a deleted ALB keep the group in use for minutes.
      if (inUse || (until !== undefined && now() < until)) {
        return refuse('security-group-dependency', info, 400, 'DependencyViolation', `resource ${groupId} has a dependent object`);
      }
    }
    if (service === 'ec2' && operation === 'RunInstances') {
      const token = query.get('ClientToken');
      if (token) {
        const print = fingerprint([...query.entries()].filter(([key]) => key !== 'ClientToken'));
        const earlier = state.runTokens.get(token);
        if (earlier && earlier.fingerprint !== print && on('run-instances-client-token')) {
          // EC2 error codes: IdempotentParameterMismatch (400) for the same token with other parameters.
          return refuse('run-instances-client-token', info, 400, 'IdempotentParameterMismatch', `Arguments on this idempotent request are inconsistent with arguments used in previous request(s).`);
        }
        if (earlier && on('run-instances-client-token')) {
          enforce('run-instances-client-token', info, `token ${token}: the original reservation`);
          return { status: 200, headers: { 'content-type': 'text/xml' }, body: await withCurrentInstanceStates(earlier.body) };
        }
        info.clientToken = token;
        info.fingerprint = print;
      }
    }
    if (service === 'iam' && operation === 'CreateServiceLinkedRole' && query.get('AWSServiceName') === ECS_PRINCIPAL && on('service-linked-role-name')) {
      const exists = await lookups.iam.send(new GetRoleCommand({ RoleName: ECS_ROLE })).then(
        () => true,
        () => false,
      );
      // IAM API Reference, CreateServiceLinkedRole errors: InvalidInput (400) when the role already exists.
      if (exists) return refuse('service-linked-role-name', info, 400, 'InvalidInput', `Service role name ${ECS_ROLE} has been taken in this account, please try a different suffix.`);
      // moto would name it AWSServiceRoleForecs: create it under AWS's name and path instead.
      info.forwardBody = new URLSearchParams({ Action: 'CreateRole', Version: '2010-05-08', RoleName: ECS_ROLE, Path: ECS_ROLE_PATH, AssumeRolePolicyDocument: ECS_TRUST, Description: query.get('Description') ?? '' }).toString();
    }
    if (service === 'ecs' && operation === 'CreateService') {
      const token = typeof json.clientToken === 'string' ? json.clientToken : undefined;
      if (token) {
        const { clientToken: _ignored, ...rest } = json;
        const print = fingerprint(Object.entries(rest).map(([key, value]) => [key, JSON.stringify(value)]));
        const earlier = state.serviceTokens.get(token);
        if (earlier && earlier.fingerprint !== print && on('create-service-client-token')) {
          return refuse('create-service-client-token', info, 400, 'InvalidParameterException', 'The client token was already used with different parameters.');
        }
        if (earlier && on('create-service-client-token')) {
          enforce('create-service-client-token', info, `token ${token}: the original service`);
          return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: earlier.body };
        }
        info.clientToken = token;
        info.fingerprint = print;
      }
      if (serviceLinkedRole === 'missing' && on('service-linked-role-missing')) {
        const exists = await ecsRoleExists().catch(() => false);
        const usableAt = (state.roleCreatedAt ?? 0) + ms('serviceLinkedRoleUsable');
        // ECS: without AWSServiceRoleForECS, CreateService fails with this InvalidParameterException (issue 8 row 2).
        if (!exists || now() < usableAt) {
          return refuse('service-linked-role-missing', info, 400, 'InvalidParameterException', 'Unable to assume the service linked role. Please verify that the ECS service linked role exists.');
        }
      }
      if (on('target-group-without-load-balancer')) {
        for (const balancer of Array.isArray(json.loadBalancers) ? json.loadBalancers : []) {
          const arn = balancer?.targetGroupArn;
          if (typeof arn !== 'string') continue;
          const group = (await lookups.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] })).catch(() => ({ TargetGroups: [] }))).TargetGroups?.[0];
          // ECS API Reference, CreateService errors: InvalidParameterException (400). moto does not update
          // a group's LoadBalancerArns when ModifyRule moves a rule to it, so the listeners are asked too.
          if (group && (group.LoadBalancerArns ?? []).length === 0 && !(await forwardedTo(arn))) {
            return refuse('target-group-without-load-balancer', info, 400, 'InvalidParameterException', `The target group with targetGroupArn ${arn} does not have an associated load balancer.`);
          }
        }
      }
    }
    if (service === 'ecs' && operation === 'DeleteCluster') {
      const cluster = String(json.cluster ?? 'default');
      const clusterName = cluster.split('/').pop();
      if (on('cluster-contains-services')) {
        const draining = [...state.draining.values()].some((entry) => entry.cluster === clusterName && now() < entry.until);
        const serviceArns = (await lookups.ecs.send(new ListServicesCommand({ cluster })).catch(() => ({ serviceArns: [] }))).serviceArns ?? [];
        let active = false;
        if (serviceArns.length) {
          const services = (await lookups.ecs.send(new DescribeServicesCommand({ cluster, services: serviceArns }))).services ?? [];
          active = services.some((service) => service.status === 'ACTIVE' || service.status === 'DRAINING');
        }
        // ECS API Reference, DeleteCluster errors: ClusterContainsServicesException (400).
        if (draining || active) {
          return refuse('cluster-contains-services', info, 400, 'ClusterContainsServicesException', 'The Cluster cannot be deleted while Services are active.');
        }
      }
      if (on('cluster-contains-instances')) {
        const instances = (await lookups.ecs.send(new ListContainerInstancesCommand({ cluster })).catch(() => ({ containerInstanceArns: [] }))).containerInstanceArns ?? [];
        // ECS API Reference, DeleteCluster errors: ClusterContainsContainerInstancesException (400).
        if (instances.length > 0) {
          return refuse('cluster-contains-instances', info, 400, 'ClusterContainsContainerInstancesException', 'The Cluster cannot be deleted while Container Instances are active or draining.');
        }
      }
    }
    if (service === 'acm' && operation === 'DeleteCertificate' && on('certificate-in-use')) {
      const arn = String(json.CertificateArn ?? '');
      const { arns } = await listenerCertificates().catch(() => ({ arns: new Set() }));
      // ACM API Reference, DeleteCertificate errors: ResourceInUseException (400).
      if (arns.has(arn)) return refuse('certificate-in-use', info, 400, 'ResourceInUseException', `Certificate ${arn} in account 123456789012 is in use.`);
    }
    if (service === 'cognito-idp' && operation === 'DeleteUserPool' && on('user-pool-has-domain')) {
      const pool = await lookups.cognito.send(new DescribeUserPoolCommand({ UserPoolId: String(json.UserPoolId ?? '') })).catch(() => undefined);
      // Cognito API Reference, DeleteUserPool errors: InvalidParameterException (400).
      if (pool?.UserPool?.Domain) {
        return refuse('user-pool-has-domain', info, 400, 'InvalidParameterException', 'User pool cannot be deleted. It has a domain configured that should be deleted first.');
      }
    }
    if (service === 'route53' && info.operation === 'ChangeResourceRecordSets') {
      const zoneId = /\/hostedzone\/([^/]+)\/rrset/.exec(info.path ?? '')?.[1] ?? '';
      info.changes = parseChangeBatch(info.xml);
      if (on('apex-cname')) {
        const zone = await lookups.route53.send(new GetHostedZoneCommand({ Id: zoneId })).catch(() => undefined);
        const apex = dnsName(zone?.HostedZone?.Name);
        const bad = info.changes.find((change) => change.type === 'CNAME' && change.action !== 'DELETE' && apex && dnsName(change.name) === apex);
        // Route 53 API Reference, ChangeResourceRecordSets errors: InvalidChangeBatch (400).
        if (bad) return refuse('apex-cname', info, 400, 'InvalidChangeBatch', `RRSet of type CNAME with DNS name ${apex}. is not permitted at apex in zone ${apex}.`);
      }
    }
    return undefined;
  }

  async function withCurrentInstanceStates(body) {
    const ids = [...body.matchAll(/<instanceId>([^<]+)<\/instanceId>/g)].map((match) => match[1]);
    if (ids.length === 0) return body;
    let described = [];
    try {
      described = ((await lookups.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }))).Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    } catch {
      return body;
    }
    const stateOf = new Map(described.map((instance) => [instance.InstanceId, instance.State]));
    return body.replace(
      /<instanceId>([^<]+)<\/instanceId>([\s\S]*?)<instanceState>\s*<code>\d+<\/code>\s*<name>[a-z-]+<\/name>\s*<\/instanceState>/g,
      (whole, id, between) => {
        const current = stateOf.get(id);
        return current ? `<instanceId>${id}</instanceId>${between}<instanceState><code>${current.Code}</code><name>${current.Name}</name></instanceState>` : whole;
      },
    );
  }

  /** Learn from moto's answer, and dress its states in the model's timing. */
  async function after(info, response) {
    const { service, operation } = info;
    const ok = response.status >= 200 && response.status < 300;
    let body = response.body;
    const t = now();
    if (service === 'elasticloadbalancing') {
      if (operation === 'CreateLoadBalancer' && ok) {
        for (const match of body.matchAll(/<LoadBalancerArn>([^<]+)<\/LoadBalancerArn>/g)) if (!state.loadBalancers.has(match[1])) state.loadBalancers.set(match[1], t + ms('albProvisioning'));
      }
      if (operation === 'DeleteLoadBalancer' && ok) {
        for (const group of info.albGroups ?? []) state.lingering.set(group, t + ms('albEniLinger'));
      }
      if ((operation === 'CreateLoadBalancer' || operation === 'DescribeLoadBalancers') && ok && on('alb-provisioning')) {
        const provisioning = (arn) => t < (state.loadBalancers.get(arn) ?? 0);
        body = rewriteAfter(body, 'LoadBalancerArn', provisioning, /<Code>active<\/Code>/, '<Code>provisioning</Code>');
        for (const arn of state.loadBalancers.keys()) if (provisioning(arn) && body.includes(arn)) held('alb-provisioning', info, arn);
      }
    }
    if (service === 'route53' && ok) {
      if (operation === 'ChangeResourceRecordSets') {
        const id = /<Id>([^<]+)<\/Id>/.exec(body)?.[1];
        const insyncAt = t + ms('route53Insync');
        if (id) state.changes.set(id.replace(/^\/change\//, ''), insyncAt);
        for (const change of info.changes ?? []) {
          if (change.type !== 'CNAME') continue;
          if (change.action === 'DELETE') state.cnames.delete(dnsName(change.name));
          else state.cnames.set(dnsName(change.name), insyncAt);
        }
      }
      if ((operation === 'ChangeResourceRecordSets' || operation === 'GetChange') && on('route53-pending')) {
        const id = (/<Id>([^<]+)<\/Id>/.exec(body)?.[1] ?? '').replace(/^\/change\//, '');
        if (t < (state.changes.get(id) ?? 0)) {
          body = body.replace(/<Status>INSYNC<\/Status>/, '<Status>PENDING</Status>');
          held('route53-pending', info, id);
        }
      }
    }
    if (service === 'acm' && ok) {
      let parsed;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = undefined;
      }
      if (operation === 'RequestCertificate' && parsed?.CertificateArn && !state.certificates.has(parsed.CertificateArn)) {
        state.certificates.set(parsed.CertificateArn, { requestedAt: t });
      }
      if (operation === 'DescribeCertificate' && parsed?.Certificate && state.certificates.has(parsed.Certificate.CertificateArn)) {
        const certificate = parsed.Certificate;
        const record = state.certificates.get(certificate.CertificateArn);
        learnValidationNames(certificate.CertificateArn, certificate.DomainValidationOptions ?? []);
        if (on('acm-issue-after-cname')) {
          const status = await certificateStatus(certificate.CertificateArn);
          if (status !== 'ISSUED' && certificate.Status === 'ISSUED') {
            certificate.Status = 'PENDING_VALIDATION';
            delete certificate.IssuedAt;
            for (const option of certificate.DomainValidationOptions ?? []) option.ValidationStatus = 'PENDING_VALIDATION';
            held('acm-issue-after-cname', info, certificate.CertificateArn);
          }
          if (t < record.requestedAt + ms('acmRecordAppears')) for (const option of certificate.DomainValidationOptions ?? []) delete option.ResourceRecord;
        }
        body = JSON.stringify(parsed);
      }
      if (operation === 'ListCertificates' && Array.isArray(parsed?.CertificateSummaryList) && on('acm-issue-after-cname')) {
        for (const summary of parsed.CertificateSummaryList) {
          if (!state.certificates.has(summary.CertificateArn)) continue;
          if ((await certificateStatus(summary.CertificateArn)) !== 'ISSUED' && summary.Status === 'ISSUED') summary.Status = 'PENDING_VALIDATION';
        }
        body = JSON.stringify(parsed);
      }
    }
    if (service === 'ec2' && ok) {
      if (operation === 'RunInstances') {
        for (const match of body.matchAll(/<instanceId>([^<]+)<\/instanceId>/g)) if (!state.instances.has(match[1])) state.instances.set(match[1], t + ms('instancePending'));
        if (info.clientToken) state.runTokens.set(info.clientToken, { fingerprint: info.fingerprint, body });
      }
      if ((operation === 'RunInstances' || operation === 'DescribeInstances') && on('instance-pending')) {
        const pending = (id) => t < (state.instances.get(id) ?? 0);
        const original = body;
        body = rewriteAfter(body, 'instanceId', pending, /<code>16<\/code>(\s*)<name>running<\/name>/, '<code>0</code>$1<name>pending</name>');
        if (body !== original) for (const id of state.instances.keys()) if (pending(id) && body.includes(id)) held('instance-pending', info, id);
      }
    }
    if (service === 'iam' && operation === 'CreateServiceLinkedRole' && ok && info.query.get('AWSServiceName') === ECS_PRINCIPAL) {
      state.roleCreatedAt = t;
      if (info.forwardBody) body = body.replace(/CreateRoleResponse/g, 'CreateServiceLinkedRoleResponse').replace(/CreateRoleResult/g, 'CreateServiceLinkedRoleResult');
    }
    if (service === 'ecs' && ok) {
      let parsed;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = undefined;
      }
      if (operation === 'CreateService' && info.clientToken) state.serviceTokens.set(info.clientToken, { fingerprint: info.fingerprint, body });
      if (operation === 'DeleteService' && parsed?.service?.serviceArn) {
        const cluster = String(parsed.service.clusterArn ?? info.json.cluster ?? 'default').split('/').pop();
        if (!state.draining.has(parsed.service.serviceArn)) state.draining.set(parsed.service.serviceArn, { cluster, until: t + ms('serviceDraining') });
        if (on('service-draining')) {
          parsed.service.status = 'DRAINING';
          body = JSON.stringify(parsed);
        }
      }
      if (operation === 'DescribeServices' && Array.isArray(parsed?.services) && on('service-draining')) {
        for (const service of parsed.services) {
          const entry = state.draining.get(service.serviceArn);
          if (entry && t < entry.until && service.status === 'INACTIVE') {
            service.status = 'DRAINING';
            held('service-draining', info, service.serviceArn);
          }
        }
        body = JSON.stringify(parsed);
      }
    }
    return { ...response, body };
  }

  // --- faults
  function chooseFault(key, nth) {
    const planned = (faults.plan ?? []).find((entry) => entry.operation === key.split(':')[1] && (entry.call ?? 1) === nth && (!entry.service || entry.service === key.split(':')[0]));
    if (planned) return planned.kind;
    if (!faultable(key)) return undefined;
    const draw = drawFor(seed, key, nth);
    let cumulative = 0;
    for (const kind of FAULT_KINDS) {
      cumulative += faults[kind] ?? 0;
      if (draw < cumulative) return kind;
    }
    return undefined;
  }
  function count(kind, key) {
    counts.total += 1;
    counts.byKind[kind] += 1;
    counts.byOperation[key] ??= {};
    counts.byOperation[key][kind] = (counts.byOperation[key][kind] ?? 0) + 1;
  }

  function forward(method, url, headers, body) {
    return new Promise((resolve, reject) => {
      const forwardedHeaders = { ...headers, host: upstream.host, 'content-length': String(body.length) };
      delete forwardedHeaders['transfer-encoding'];
      delete forwardedHeaders.connection;
      const outgoing = httpRequest({ host: upstream.hostname, port: upstream.port, method, path: url, headers: forwardedHeaders }, (answer) => {
        const chunks = [];
        answer.on('data', (chunk) => chunks.push(chunk));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks).toString('utf8') }));
        answer.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  function send(outgoing, response) {
    const headers = {};
    for (const [key, value] of Object.entries(response.headers ?? {})) {
      if (value === undefined || ['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'server'].includes(key.toLowerCase())) continue;
      headers[key] = value;
    }
    const payload = Buffer.from(response.body, 'utf8');
    headers['content-length'] = String(payload.length);
    outgoing.writeHead(response.status, headers);
    outgoing.end(payload);
  }

  const server = createServer((incoming, outgoing) => {
    const chunks = [];
    incoming.on('data', (chunk) => chunks.push(chunk));
    incoming.on('end', () => {
      handle(incoming, outgoing, Buffer.concat(chunks)).catch((error) => {
        errors.push(`${incoming.method} ${incoming.url}: ${error?.stack ?? error}`);
        if (!outgoing.headersSent) {
          outgoing.writeHead(502, { 'content-type': 'text/plain' });
          outgoing.end(`aws-model: ${error?.message ?? error}`);
        } else outgoing.destroy();
      });
    });
  });

  async function handle(incoming, outgoing, raw) {
    const method = incoming.method ?? 'GET';
    const url = incoming.url ?? '/';
    // moto's own API (reset, state) passes untouched.
    if (url.startsWith('/moto-api')) {
      const answer = await forward(method, url, incoming.headers, raw);
      send(outgoing, answer);
      return;
    }
    const body = raw.toString('utf8');
    const info = describeRequest(method, url, incoming.headers, body);
    info.path = url.split('?')[0];
    const key = `${info.service}:${info.operation}`;
    const nth = (state.calls.get(key) ?? 0) + 1;
    state.calls.set(key, nth);

    const fault = chooseFault(key, nth);
    if (fault === 'resetBefore') {
      count(fault, key);
      incoming.socket.destroy();
      return;
    }
    if (fault === 'throttle') {
      count(fault, key);
      const throttling = THROTTLING[info.service] ?? { code: 'Throttling', status: 400, message: 'Rate exceeded' };
      send(outgoing, errorResponse(info, throttling.status, throttling.code, throttling.message));
      return;
    }
    if (fault === 'error500' || fault === 'error503') {
      count(fault, key);
      const status = fault === 'error500' ? 500 : 503;
      const code = info.protocol === 'json' ? (status === 500 ? 'InternalFailure' : 'ServiceUnavailable') : status === 500 ? 'InternalError' : 'ServiceUnavailable';
      send(outgoing, errorResponse(info, status, code, status === 500 ? 'We encountered an internal error. Please try again.' : 'Service is unavailable. Please try again.'));
      return;
    }

    let response;
    try {
      response = await before(info);
    } catch (error) {
      // A failed look-up must not become an answer AWS would not give: forward unchecked.
      errors.push(`${key} rule check: ${error?.name ?? 'Error'}: ${error?.message ?? error}`);
    }
    if (!response) {
      const answer = await forward(method, url, incoming.headers, info.forwardBody === undefined ? raw : Buffer.from(info.forwardBody, 'utf8'));
      response = await after(info, answer);
    }
    if (fault === 'resetAfter') {
      // moto applied it; the client never hears.
      count(fault, key);
      incoming.socket.destroy();
      return;
    }
    send(outgoing, response);
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve(undefined));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    get seed() {
      return seed;
    },
    scale,
    /** Effective durations in milliseconds. */
    get timingsMs() {
      return Object.fromEntries(Object.keys(real).map((key) => [key, ms(key)]));
    },
    counts,
    enforced,
    errors,
    rules: RULES,
    /** Rule ids that refused or rewrote something, with how often. */
    enforcedRules() {
      const tally = {};
      for (const entry of enforced) tally[entry.rule] = (tally[entry.rule] ?? 0) + 1;
      return tally;
    },
    calls(operation) {
      if (operation.includes(':')) return state.calls.get(operation) ?? 0;
      let total = 0;
      for (const [key, value] of state.calls) if (key.endsWith(`:${operation}`)) total += value;
      return total;
    },
    /** Forget everything since the start (after POST /moto-api/reset): state, fault counts, the log. */
    reset() {
      state = freshState();
      clearCounts();
      enforced.length = 0;
    },
    /** Change rules, timings or faults from now on (e.g. per test). */
    configure(changes) {
      if (changes.timings) real = { ...real, ...changes.timings };
      if (changes.faults) faults = { throttle: 0, error500: 0, error503: 0, resetBefore: 0, resetAfter: 0, ...changes.faults };
      if (changes.serviceLinkedRole) serviceLinkedRole = changes.serviceLinkedRole;
      if (changes.disableRules) disabled = new Set(changes.disableRules);
      if (changes.seed !== undefined) seed = changes.seed;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
      destroyEmulatorClients(lookups);
    },
  };
}
