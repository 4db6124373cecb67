// ============================================================================================
// AN AWS BEHAVIOUR MODEL IN FRONT OF MOTO (issue 8, section 4).
//
// A loopback HTTP proxy: authecs (or any SDK client) points AWS_ENDPOINT_URL at it, it forwards
// every request to moto and relays the answer. On the way it recognises the service, the
// operation and its key parameters, and makes moto behave like AWS where moto is lenient:
//   - rules: it refuses what AWS refuses, with AWS's error code and HTTP status (see RULES);
//   - timing: transitional states (ALB provisioning, Route 53 PENDING, ACM PENDING_VALIDATION,
//     instance pending, service DRAINING, ENIs lingering; a new service's tasks starting and
//     passing a health check, off by default) last a configurable time, the durations seen on
//     real AWS multiplied by `scale`;
//   - ECS deployments: a rollout whose tasks cannot start (agent-stand-in.mjs fails them) stays
//     IN_PROGRESS, then the deployment circuit breaker fails it and rolls the service back, as
//     DescribeServices shows it on AWS (moto reports every deployment COMPLETED at once);
//   - faults: seeded and reproducible throttling, 500, 503, resets before the request reaches
//     moto and resets after moto applied it (the answer lost).
// Its own look-ups go straight to moto with plain SDK calls, so they never see the faults.
// Plain ESM so that scripts/ (chaos, bench) can use it; types in aws-model.d.mts.
// ============================================================================================
import { createServer, request as httpRequest } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  ListServicesCommand,
  ListTasksCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeLoadBalancersCommand, DescribeRulesCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateRoleCommand, GetRoleCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { GetHostedZoneCommand } from '@aws-sdk/client-route-53';
import { unpullableImage } from './agent-stand-in.mjs';
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
  // A new service's tasks from placement to RUNNING (about 20 s); 0 = off by default. With
  // `healthChecks`, the deployment completes that many target-group intervals later.
  taskStart: 0,
  // ALB ENIs keep its security group in use after the ALB is deleted.
  albEniLinger: 120,
  // A service-linked role created a moment ago takes seconds to become usable.
  serviceLinkedRoleUsable: 10,
  // IAM is eventually consistent: calls on a role made a moment ago may answer NoSuchEntity (the
  // SDK's IAM RoleExists waiter "Polls IAM.Client.get_role() every 1 seconds" for it; ECS on a new
  // role: hashicorp/terraform#2869). 0 = off by default; a test turns it on.
  iamRoleVisible: 0,
  // A deployment whose tasks cannot start is failed by the circuit breaker minutes after it began
  // (public field reports of bad-image deploys: 3 to 12 min), once enough tasks failed.
  circuitBreakerTrips: 180,
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
  { id: 'user-pool-sign-in-locked', operation: 'cognito-idp:DescribeUserPool', code: 'sign-in settings kept', status: 200, source: 'Cognito Developer Guide, "Updating user pool and app client configuration", Settings you can\'t change: UsernameAttributes/AliasAttributes and UsernameConfiguration (moto\'s UpdateUserPool drops them)' },
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
  { id: 'service-starting', operation: 'ecs:CreateService, DescribeServices', code: 'IN_PROGRESS', status: 200, source: 'ALB User Guide, "Health checks for your target groups": a new target must pass one health check; ECS Deployment.rolloutState IN_PROGRESS until then (timing taskStart and option healthChecks, off by default)' },
  { id: 'fargate-awslogs-needs-execution-role', operation: 'ecs:RegisterTaskDefinition', code: 'ClientException', status: 400, source: 'ECS Developer Guide, "Amazon ECS task execution IAM role": Fargate tasks that send logs with awslogs need it; message as in aws/aws-cdk#1279' },
  { id: 'secrets-need-execution-role', operation: 'ecs:RegisterTaskDefinition', code: 'ClientException', status: 400, source: 'ECS Developer Guide, "Amazon ECS task execution IAM role": a task definition referencing Secrets Manager or Parameter Store needs it (either launch type); message as in fabfuel/ecs-deploy#87' },
  { id: 'health-check-timeout-below-interval', operation: 'elasticloadbalancing:CreateTargetGroup, ModifyTargetGroup', code: 'ValidationError', status: 400, source: 'ELBv2 API Reference, CreateTargetGroup (interval and timeout defaults); message as in terraform-linters/tflint-ruleset-aws#404' },
  { id: 'health-check-ranges', operation: 'elasticloadbalancing:CreateTargetGroup, ModifyTargetGroup', code: 'ValidationError', status: 400, source: 'ELBv2 API Reference, CreateTargetGroup: interval 5-300, timeout 2-120, healthy and unhealthy thresholds 2-10' },
  { id: 'retention-in-days', operation: 'logs:PutRetentionPolicy', code: 'InvalidParameterException', status: 400, source: 'CloudWatch Logs API Reference, PutRetentionPolicy: retentionInDays "Possible values are: 1, 3, 5, ... 3653"' },
  { id: 'iam-role-not-yet-visible', operation: 'iam:GetRole, AttachRolePolicy, PutRolePolicy, UpdateAssumeRolePolicy', code: 'NoSuchEntity', status: 404, source: 'IAM eventual consistency: boto3 IAM waiter RoleExists polls GetRole until the role is found; NoSuchEntity is 404 (timing iamRoleVisible, off by default)' },
  { id: 'deployment-circuit-breaker', operation: 'ecs:DescribeServices', code: 'FAILED', status: 200, source: 'ECS API Reference, ServiceDeploymentCircuitBreaker (threshold 0.5 x desired, 3 to 200) and Deployment.rolloutState; ECS Developer Guide, "How the Amazon ECS deployment circuit breaker detects failures"' },
  { id: 'task-failed-to-start', operation: 'ecs:DescribeTasks', code: 'TaskFailedToStart', status: 200, source: 'ECS API Reference, Task.stopCode (TaskFailedToStart); moto sets no stopCode' },
  { id: 'list-tasks-by-service', operation: 'ecs:ListTasks', code: 'serviceName', status: 200, source: 'ECS API Reference, ListTasks serviceName filter; moto ignores it' },
  { id: 'log-stream-not-found', operation: 'logs:GetLogEvents', code: 'ResourceNotFoundException', status: 400, source: 'GetLogEvents on a missing stream of an existing group: "The specified log stream does not exist." (prefect-archive/prefect-aws#177); moto says the group is missing' },
]);

// CloudWatch Logs API Reference, PutRetentionPolicy: retentionInDays, the only values it takes.
export const RETENTION_DAYS = Object.freeze([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]);

// Stopped reasons of tasks that never reached RUNNING (ECS: stopCode TaskFailedToStart).
const FAILED_TO_START = /^(CannotPullContainerError|ResourceInitializationError|CannotStartContainerError)\b/;

// ELBv2 API Reference, CreateTargetGroup: health check defaults by protocol and target type.
function healthCheckDefaults(protocol, targetType) {
  if (targetType === 'lambda') return { interval: 35, timeout: 30 };
  if (protocol === 'GENEVE') return { interval: 10, timeout: 5 };
  return { interval: 30, timeout: protocol === 'HTTP' ? 6 : 10 };
}

/** ECS API Reference, ServiceDeploymentCircuitBreaker: "minimum threshold of 3 and a maximum threshold of 200", "0.5 * desired task count". */
export function circuitBreakerThreshold(desiredCount) {
  return Math.min(200, Math.max(3, Math.ceil(0.5 * (desiredCount ?? 0))));
}

// The IAM calls on a role that eventual consistency can answer with NoSuchEntity (iamRoleVisible).
const ROLE_CALLS = new Set(['GetRole', 'AttachRolePolicy', 'PutRolePolicy', 'UpdateAssumeRolePolicy']);

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
  let healthChecks = options.healthChecks ?? 0;
  let serviceLinkedRole = options.serviceLinkedRole ?? 'missing';
  const lookups = emulatorClients(upstream.origin, options.region);
  const now = () => Date.now();

  let state;
  const freshState = () => ({
    calls: new Map(),
    /** Each request's service:Operation with its start and end (Date.now()), for the benchmark's timelines. */
    trace: [],
    loadBalancers: new Map(), // arn -> activeAt
    changes: new Map(), // change id -> insyncAt
    cnames: new Map(), // dns name -> insyncAt
    certificates: new Map(), // arn -> { requestedAt, names?: string[], issuedAt?: number }
    instances: new Map(), // id -> runningAt
    lingering: new Map(), // security group -> until
    draining: new Map(), // service arn -> { cluster, until }
    starting: new Map(), // service arn -> { runningAt, healthyAt } of a new service (service-starting)
    signIn: new Map(), // user pool id -> its sign-in settings at creation (user-pool-sign-in-locked)
    runTokens: new Map(), // ClientToken -> { fingerprint, body }
    serviceTokens: new Map(), // clientToken -> { fingerprint, body }
    roleCreatedAt: undefined,
    roles: new Map(), // IAM role name -> createdAt
    deploymentSettings: new Map(), // service arn -> the deploymentConfiguration last sent (moto keeps none)
    rollouts: new Map(), // service arn -> a rollout whose tasks cannot start (see plannedRollout)
    serviceEvents: new Map(), // service arn -> events the model adds, newest first
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

  // --- ECS: a rollout whose tasks cannot start, and the deployment circuit breaker.
  let deploymentCounter = 0;
  const deploymentId = () => `ecs-svc/${Date.now()}${String((deploymentCounter += 1) % 1e6).padStart(6, '0')}`;
  const shortArn = (arn) => String(arn ?? '').split('/').pop();

  /** The service's tasks, described (AWS groups them as service:<name>; the stand-in starts them so). */
  async function serviceTasks(cluster, serviceName) {
    const arns = (await lookups.ecs.send(new ListTasksCommand({ cluster }))).taskArns ?? [];
    const tasks = [];
    for (let index = 0; index < arns.length; index += 100) {
      tasks.push(...((await lookups.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns.slice(index, index + 100) }))).tasks ?? []));
    }
    return tasks.filter((task) => task.group === `service:${serviceName}`);
  }

  /**
   * Before UpdateService: the rollout the model will play, when the new task definition has an
   * image the agent stand-in cannot pull and the stand-in schedules the service (EC2). Any other
   * update passes through as moto answers it, and ends a rollout the model was playing.
   */
  async function plannedRollout(json) {
    const cluster = String(json.cluster ?? 'default');
    const serviceName = String(json.service ?? '').split('/').pop();
    const current = (await lookups.ecs.send(new DescribeServicesCommand({ cluster, services: [serviceName] }))).services?.[0];
    if (!current?.serviceArn) return undefined;
    const plan = { serviceArn: current.serviceArn, track: undefined };
    const next = typeof json.taskDefinition === 'string' ? json.taskDefinition : json.forceNewDeployment ? current.taskDefinition : undefined;
    if (!next || current.launchType !== 'EC2') return plan;
    const definition = (await lookups.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: next }))).taskDefinition;
    const cannotPull = (definition?.containerDefinitions ?? []).some((container) => unpullableImage(container.image));
    if (!cannotPull || !definition?.taskDefinitionArn) return plan;
    const earlier = state.rollouts.get(current.serviceArn);
    const primary = (current.deployments ?? []).find((deployment) => deployment.status === 'PRIMARY');
    // Failures of an earlier attempt at the same revision do not count again.
    const earlierFailures = (await serviceTasks(cluster, serviceName)).filter((task) => task.taskDefinitionArn === definition.taskDefinitionArn).map((task) => task.taskArn);
    plan.track = {
      serviceArn: current.serviceArn,
      cluster,
      serviceName,
      // The last completed deployment: a rollout still in progress never completed.
      from: earlier && !earlier.failedAt ? earlier.from : current.taskDefinition,
      fromId: earlier ? (earlier.failedAt ? (earlier.rollbackId ?? earlier.fromId) : earlier.fromId) : (primary?.id ?? deploymentId()),
      fromCreatedAt: earlier ? earlier.fromCreatedAt : (primary?.createdAt?.getTime() ?? now()),
      to: definition.taskDefinitionArn,
      desiredCount: json.desiredCount ?? current.desiredCount ?? 0,
      circuitBreaker: (json.deploymentConfiguration ?? state.deploymentSettings.get(current.serviceArn))?.deploymentCircuitBreaker,
      earlierFailures: new Set(earlierFailures),
      failedTasks: 0,
    };
    return plan;
  }

  /** Counts the rollout's tasks; trips the circuit breaker (and rolls back on moto) when AWS would. */
  async function rolloutFacts(rollout, info) {
    if (rollout.rolledBackAt) return undefined;
    const tasks = await serviceTasks(rollout.cluster, rollout.serviceName);
    // moto walks lastStatus on every describe; desiredStatus is what holds.
    const running = (definition) => tasks.filter((task) => task.desiredStatus === 'RUNNING' && (!definition || task.taskDefinitionArn === definition)).length;
    rollout.failedTasks = tasks.filter(
      (task) => task.taskDefinitionArn === rollout.to && task.desiredStatus === 'STOPPED' && FAILED_TO_START.test(task.stoppedReason ?? '') && !rollout.earlierFailures.has(task.taskArn),
    ).length;
    const t = now();
    // A rollback is a deployment of its own: complete at the earliest on the look after the one that started it.
    if (rollout.rollbackId && running(rollout.from) >= rollout.desiredCount) rollout.rolledBackAt = t;
    // ECS guide, "How the Amazon ECS deployment circuit breaker detects failures": "When tasks fail to reach in the RUNNING
    // state, the deployment circuit breaker increases the failure count by one. When the failure count equals the threshold,
    // the deployment is marked as FAILED"; with rollback, "the service is rolled back to the last deployment that completed
    // successfully" (API Reference, DeploymentCircuitBreaker). Reasons and events as ECS words them: aws/containers-roadmap#1488.
    if (!rollout.failedAt && rollout.circuitBreaker?.enable && rollout.failedTasks >= circuitBreakerThreshold(rollout.desiredCount) && t >= rollout.createdAt + ms('circuitBreakerTrips')) {
      rollout.failedAt = t;
      const events = state.serviceEvents.get(rollout.serviceArn) ?? [];
      events.unshift({ id: randomUUID(), at: t, message: `(service ${rollout.serviceName}) (deployment ${rollout.id}) deployment failed: tasks failed to start.` });
      if (rollout.circuitBreaker.rollback) {
        rollout.rollbackId = deploymentId();
        // AWS rolls back by itself; moto must be told, so that the scheduler stand-in places the old revision again.
        await lookups.ecs.send(new UpdateServiceCommand({ cluster: rollout.cluster, service: rollout.serviceName, taskDefinition: rollout.from }));
        events.unshift({ id: randomUUID(), at: t, message: `(service ${rollout.serviceName}) rolling back to deployment ${rollout.fromId}.` });
      }
      state.serviceEvents.set(rollout.serviceArn, events);
      enforce('deployment-circuit-breaker', info, `${rollout.serviceName}: ${rollout.failedTasks} tasks of ${shortArn(rollout.to)} failed to start${rollout.rollbackId ? `; rolled back to ${shortArn(rollout.from)}` : ''}`);
    }
    return { running: running(), runningFrom: running(rollout.from), runningTo: running(rollout.to) };
  }

  /** A described service as AWS shows it during (and after) the rollout the model plays. */
  async function dressService(service, info) {
    const rollout = state.rollouts.get(service.serviceArn);
    const facts = await rolloutFacts(rollout, info);
    const base = (service.deployments ?? [])[0] ?? {};
    // ECS JSON timestamps are epoch seconds.
    const deployment = (id, status, taskDefinition, runningCount, rolloutState, rolloutStateReason, createdAt, failedTasks = 0) => ({
      ...base,
      id,
      status,
      taskDefinition,
      desiredCount: service.desiredCount,
      pendingCount: 0,
      runningCount,
      failedTasks,
      createdAt: createdAt / 1000,
      updatedAt: now() / 1000,
      rolloutState,
      rolloutStateReason,
    });
    const failed = 'ECS deployment circuit breaker: tasks failed to start.';
    let deployments;
    if (rollout.rolledBackAt) {
      deployments = [deployment(rollout.rollbackId, 'PRIMARY', rollout.from, service.runningCount, 'COMPLETED', `ECS deployment ${rollout.rollbackId} completed.`, rollout.failedAt)];
    } else if (rollout.rollbackId) {
      deployments = [
        deployment(rollout.rollbackId, 'PRIMARY', rollout.from, facts.runningFrom, 'IN_PROGRESS', `ECS deployment circuit breaker: rolling back to deploymentId ${rollout.fromId}.`, rollout.failedAt),
        deployment(rollout.id, 'ACTIVE', rollout.to, facts.runningTo, 'FAILED', failed, rollout.createdAt, rollout.failedTasks),
      ];
    } else {
      const [rolloutState, reason] = rollout.failedAt ? ['FAILED', failed] : ['IN_PROGRESS', `ECS deployment ${rollout.id} in progress.`];
      deployments = [
        deployment(rollout.id, 'PRIMARY', rollout.to, facts.runningTo, rolloutState, reason, rollout.createdAt, rollout.failedTasks),
        deployment(rollout.fromId, 'ACTIVE', rollout.from, facts.runningFrom, 'COMPLETED', `ECS deployment ${rollout.fromId} completed.`, rollout.fromCreatedAt),
      ];
    }
    service.deployments = deployments;
    service.taskDefinition = deployments[0].taskDefinition;
    // moto's runningCount is a fixed number (MOTO_ECS_SERVICE_RUNNING); while tasks fail, count them.
    if (facts) {
      service.runningCount = facts.running;
      service.pendingCount = 0;
    }
    held('deployment-circuit-breaker', info, `${service.serviceArn} ${rollout.id}`);
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
    if (service === 'ecs' && operation === 'RegisterTaskDefinition') {
      const containers = Array.isArray(json.containerDefinitions) ? json.containerDefinitions : [];
      const hasRole = typeof json.executionRoleArn === 'string' && json.executionRoleArn.length > 0;
      const fargate = Array.isArray(json.requiresCompatibilities) && json.requiresCompatibilities.includes('FARGATE');
      // ECS guide, "Amazon ECS task execution IAM role": needed when "Your task is hosted on AWS Fargate ... and ...
      // sends container logs to CloudWatch Logs using the awslogs log driver". Message: virtual-kubelet#193, aws-cdk#1279.
      if (!hasRole && fargate && containers.some((container) => container?.logConfiguration?.logDriver === 'awslogs') && on('fargate-awslogs-needs-execution-role')) {
        return refuse('fargate-awslogs-needs-execution-role', info, 400, 'ClientException', 'Fargate requires task definition to have execution role ARN to support log driver awslogs.');
      }
      // Same page: on "either AWS Fargate or Amazon EC2 instances" when "the task definition is referencing sensitive data
      // using Secrets Manager secrets or AWS Systems Manager Parameter Store parameters". Message: fabfuel/ecs-deploy#87.
      if (!hasRole && containers.some((container) => Array.isArray(container?.secrets) && container.secrets.length > 0) && on('secrets-need-execution-role')) {
        return refuse('secrets-need-execution-role', info, 400, 'ClientException', "When you are specifying container secrets, you must also specify a value for 'executionRoleArn'.");
      }
    }
    if (service === 'elasticloadbalancing' && (operation === 'CreateTargetGroup' || operation === 'ModifyTargetGroup')) {
      const number = (key) => (query.has(key) ? Number(query.get(key)) : undefined);
      if (on('health-check-ranges')) {
        // ELBv2 API Reference, CreateTargetGroup: interval "The range is 5-300", timeout "The range is 2–120 seconds",
        // healthy and unhealthy threshold "The range is 2-10". Worded as AWS's constraint errors (aws-cloudformation/cfn-lint#807).
        const ranges = [
          ['HealthCheckIntervalSeconds', 'healthCheckIntervalSeconds', 5, 300],
          ['HealthCheckTimeoutSeconds', 'healthCheckTimeoutSeconds', 2, 120],
          ['HealthyThresholdCount', 'healthyThresholdCount', 2, 10],
          ['UnhealthyThresholdCount', 'unhealthyThresholdCount', 2, 10],
        ];
        for (const [key, member, min, max] of ranges) {
          const value = number(key);
          if (value === undefined || (value >= min && value <= max)) continue;
          const constraint = value < min ? `greater than or equal to ${min}` : `less than or equal to ${max}`;
          return refuse('health-check-ranges', info, 400, 'ValidationError', `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must have value ${constraint}`);
        }
      }
      let interval = number('HealthCheckIntervalSeconds');
      let timeout = number('HealthCheckTimeoutSeconds');
      if (on('health-check-timeout-below-interval') && (interval !== undefined || timeout !== undefined)) {
        if (operation === 'ModifyTargetGroup') {
          // What the request leaves out stays as the group has it.
          const arn = query.get('TargetGroupArn');
          const group = (await lookups.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] })).catch(() => ({ TargetGroups: [] }))).TargetGroups?.[0];
          interval ??= group?.HealthCheckIntervalSeconds;
          timeout ??= group?.HealthCheckTimeoutSeconds;
        } else {
          // ELBv2 API Reference, CreateTargetGroup: the defaults ("For target groups with a protocol of HTTP, the default is 6 seconds").
          const defaults = healthCheckDefaults(query.get('Protocol'), query.get('TargetType'));
          interval ??= defaults.interval;
          timeout ??= defaults.timeout;
        }
        // The timeout must be below the interval; AWS's words: terraform-linters/tflint-ruleset-aws#404, aws/aws-cdk#3703.
        if (interval !== undefined && timeout !== undefined && timeout >= interval) {
          return refuse('health-check-timeout-below-interval', info, 400, 'ValidationError', 'Health check interval must be greater than the timeout.');
        }
      }
    }
    if (service === 'logs' && operation === 'PutRetentionPolicy' && on('retention-in-days')) {
      const days = json.retentionInDays;
      // CloudWatch Logs API Reference, PutRetentionPolicy: "Possible values are: 1, 3, 5, 7, 14, 30, ... 3288, and 3653."
      if (days !== undefined && !RETENTION_DAYS.includes(days)) {
        return refuse('retention-in-days', info, 400, 'InvalidParameterException', `1 validation error detected: Value '${days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`);
      }
    }
    if (service === 'iam' && ROLE_CALLS.has(operation) && on('iam-role-not-yet-visible')) {
      const name = query.get('RoleName') ?? '';
      const createdAt = state.roles.get(name);
      // A role made a moment ago is not yet known everywhere (RoleExists waiter); NoSuchEntity is 404 (IAM API Reference, GetRole errors).
      if (createdAt !== undefined && now() < createdAt + ms('iamRoleVisible')) {
        return refuse('iam-role-not-yet-visible', info, 404, 'NoSuchEntity', `The role with name ${name} cannot be found.`);
      }
    }
    if (service === 'ecs' && operation === 'UpdateService' && on('deployment-circuit-breaker')) {
      info.rollout = await plannedRollout(json);
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
    if (service === 'iam' && operation === 'CreateRole' && ok) state.roles.set(info.query.get('RoleName') ?? '', t);
    if (service === 'iam' && operation === 'CreateServiceLinkedRole' && ok && info.query.get('AWSServiceName') === ECS_PRINCIPAL) {
      state.roleCreatedAt = t;
      if (info.forwardBody) body = body.replace(/CreateRoleResponse/g, 'CreateServiceLinkedRoleResponse').replace(/CreateRoleResult/g, 'CreateServiceLinkedRoleResult');
    }
    // AWS names the missing stream (prefect-archive/prefect-aws#177); moto says the log group does not exist.
    if (service === 'logs' && operation === 'GetLogEvents' && !ok && body.includes('ResourceNotFoundException') && on('log-stream-not-found')) {
      const groupName = String(info.json.logGroupName ?? '');
      const groups = (await lookups.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: groupName })).catch(() => ({ logGroups: [] }))).logGroups ?? [];
      if (groupName && groups.some((group) => group.logGroupName === groupName)) {
        body = body.replace('The specified log group does not exist.', 'The specified log stream does not exist.');
        held('log-stream-not-found', info, `${groupName} ${info.json.logStreamName}`);
      }
    }
    // Cognito guide, "Updating user pool and app client configuration", "Settings you can't change": the
    // sign-in options (UsernameAttributes, AliasAttributes) and UsernameConfiguration are fixed at creation,
    // and UpdateUserPool has no such parameters. moto's UpdateUserPool drops them: the model keeps them.
    if (service === 'cognito-idp' && ok && on('user-pool-sign-in-locked')) {
      if (operation === 'CreateUserPool') {
        const id = (() => {
          try {
            return JSON.parse(body)?.UserPool?.Id;
          } catch {
            return undefined;
          }
        })();
        const locked = {};
        for (const key of ['UsernameAttributes', 'AliasAttributes', 'UsernameConfiguration']) if (info.json[key] !== undefined) locked[key] = info.json[key];
        if (id) state.signIn.set(id, locked);
      }
      if (operation === 'DescribeUserPool') {
        try {
          const parsed = JSON.parse(body);
          const locked = parsed?.UserPool?.Id ? state.signIn.get(parsed.UserPool.Id) : undefined;
          if (locked && Object.entries(locked).some(([key, value]) => JSON.stringify(parsed.UserPool[key]) !== JSON.stringify(value))) {
            Object.assign(parsed.UserPool, locked);
            body = JSON.stringify(parsed);
            held('user-pool-sign-in-locked', info, parsed.UserPool.Id);
          }
        } catch {
          // Not JSON: leave moto's answer as it is.
        }
      }
    }
    if (service === 'ecs' && ok) {
      let parsed;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = undefined;
      }
      if (operation === 'CreateService' && info.clientToken) state.serviceTokens.set(info.clientToken, { fingerprint: info.fingerprint, body });
      // moto keeps no deploymentConfiguration; the circuit breaker needs to know it.
      if ((operation === 'CreateService' || operation === 'UpdateService') && parsed?.service?.serviceArn && info.json.deploymentConfiguration) {
        state.deploymentSettings.set(parsed.service.serviceArn, info.json.deploymentConfiguration);
      }
      try {
        if (operation === 'UpdateService' && info.rollout) {
          state.rollouts.delete(info.rollout.serviceArn);
          if (info.rollout.track) {
            state.rollouts.set(info.rollout.serviceArn, { ...info.rollout.track, id: deploymentId(), createdAt: t });
            if (parsed?.service) {
              await dressService(parsed.service, info);
              body = JSON.stringify(parsed);
            }
          }
        }
        if (operation === 'DescribeServices' && Array.isArray(parsed?.services)) {
          let dressed = false;
          for (const described of parsed.services) {
            if (described.status === 'ACTIVE' && state.rollouts.has(described.serviceArn) && on('deployment-circuit-breaker')) {
              await dressService(described, info);
              dressed = true;
            }
            const events = state.serviceEvents.get(described.serviceArn);
            if (events?.length) {
              described.events = [...events.map((event) => ({ id: event.id, createdAt: event.at / 1000, message: event.message })), ...(described.events ?? [])];
              dressed = true;
            }
          }
          if (dressed) body = JSON.stringify(parsed);
        }
        // ECS API Reference, ListTasks: serviceName lists that service's tasks only; moto ignores the filter.
        if (operation === 'ListTasks' && typeof info.json.serviceName === 'string' && (parsed?.taskArns ?? []).length > 0 && on('list-tasks-by-service')) {
          const mine = new Set((await serviceTasks(String(info.json.cluster ?? 'default'), info.json.serviceName)).map((task) => task.taskArn));
          parsed.taskArns = parsed.taskArns.filter((arn) => mine.has(arn));
          body = JSON.stringify(parsed);
        }
      } catch (error) {
        // A failed look-up must not become an answer AWS would not give: moto's answer goes out.
        errors.push(`${service}:${operation} rollout: ${error?.name ?? 'Error'}: ${error?.message ?? error}`);
      }
      // ECS API Reference, Task.stopCode: TaskFailedToStart for a task that never ran; its containers have no exit code.
      if (operation === 'DescribeTasks' && Array.isArray(parsed?.tasks) && on('task-failed-to-start')) {
        let changed = false;
        for (const task of parsed.tasks) {
          if (task.desiredStatus !== 'STOPPED' || task.stopCode || !FAILED_TO_START.test(task.stoppedReason ?? '')) continue;
          task.stopCode = 'TaskFailedToStart';
          task.lastStatus = 'STOPPED';
          for (const container of task.containers ?? []) {
            container.lastStatus = 'STOPPED';
            delete container.exitCode;
            container.reason ??= task.stoppedReason;
          }
          held('task-failed-to-start', info, task.taskArn);
          changed = true;
        }
        if (changed) body = JSON.stringify(parsed);
      }
      // From CreateService: authecs creates the service once capacity is registered, so the
      // scheduler places its tasks at once: RUNNING after taskStart, healthy `healthChecks` intervals later.
      if (operation === 'CreateService' && parsed?.service?.serviceArn && (real.taskStart > 0 || healthChecks > 0) && !state.starting.has(parsed.service.serviceArn)) {
        const runningAt = t + ms('taskStart');
        let interval = 0;
        const targetGroupArn = parsed.service.loadBalancers?.[0]?.targetGroupArn;
        if (healthChecks > 0 && targetGroupArn) {
          const group = (await lookups.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [targetGroupArn] })).catch(() => ({ TargetGroups: [] }))).TargetGroups?.[0];
          interval = group?.HealthCheckIntervalSeconds ?? 30;
        }
        state.starting.set(parsed.service.serviceArn, { runningAt, healthyAt: runningAt + healthChecks * interval * scale * 1000 });
      }
      if ((operation === 'CreateService' || operation === 'DescribeServices') && on('service-starting')) {
        const services = operation === 'CreateService' ? [parsed?.service].filter(Boolean) : (parsed?.services ?? []);
        let changed = false;
        for (const service of services) {
          const entry = state.starting.get(service.serviceArn);
          if (!entry || t >= entry.healthyAt || service.status !== 'ACTIVE' || state.rollouts.has(service.serviceArn)) continue;
          const running = t < entry.runningAt ? 0 : (service.runningCount ?? 0);
          service.runningCount = running;
          service.pendingCount = Math.max((service.desiredCount ?? 0) - running, 0);
          for (const deployment of (service.deployments ?? []).filter((each) => each.status === 'PRIMARY')) {
            deployment.runningCount = running;
            deployment.pendingCount = service.pendingCount;
            deployment.rolloutState = 'IN_PROGRESS';
            deployment.rolloutStateReason = `ECS deployment ${deployment.id} in progress.`;
          }
          held('service-starting', info, service.serviceArn);
          changed = true;
        }
        if (changed) body = JSON.stringify(parsed);
      }
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
    const traced = { key, startedAt: Date.now(), endedAt: 0 };
    state.trace.push(traced);
    outgoing.on('finish', () => (traced.endedAt = Date.now()));

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
    /** Requests seen since the last reset, in order, with their start and end times. */
    trace() {
      return [...state.trace];
    },
    /** Requests seen since the last reset, per "service:Operation". */
    callCounts() {
      return Object.fromEntries(state.calls);
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
      if (changes.healthChecks !== undefined) healthChecks = changes.healthChecks;
      if (changes.seed !== undefined) seed = changes.seed;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
      destroyEmulatorClients(lookups);
    },
  };
}
