export type FaultKind = 'throttle' | 'error500' | 'error503' | 'resetBefore' | 'resetAfter';

/** Typical durations on real AWS, in seconds; the model multiplies them by `scale`. */
export interface AwsTimings {
  albProvisioning: number;
  route53Insync: number;
  acmRecordAppears: number;
  acmIssueAfterCname: number;
  acmVisibleToElb: number;
  instancePending: number;
  serviceDraining: number;
  /** A new service's tasks from CreateService to RUNNING; 0 (default) = off. */
  taskStart: number;
  albEniLinger: number;
  serviceLinkedRoleUsable: number;
  /** IAM calls on a role made this long ago may answer NoSuchEntity; 0 (default) = off. */
  iamRoleVisible: number;
  /** The least time from a deployment's start to the circuit breaker failing it. */
  circuitBreakerTrips: number;
}

export interface PlannedFault {
  /** Operation name, e.g. "CreateUserPool". */
  operation: string;
  /** Restrict to one service (e.g. "cognito-idp"). */
  service?: string;
  kind: FaultKind;
  /** Which call of that operation (1-based); default the first. */
  call?: number;
}

export interface FaultOptions {
  /** Probability per request of each kind (0..1). Default 0 for all. */
  throttle?: number;
  error500?: number;
  error503?: number;
  resetBefore?: number;
  resetAfter?: number;
  /** Only these operations ("Op" or "service:Op") get random faults. */
  operations?: string[];
  /** These operations never get random faults. */
  exclude?: string[];
  /** Faults at exact calls, whatever the rates. */
  plan?: PlannedFault[];
}

export type RuleId =
  | 'unsupported-certificate'
  | 'certificate-not-found-after-issue'
  | 'target-group-without-load-balancer'
  | 'certificate-in-use'
  | 'security-group-dependency'
  | 'cluster-contains-services'
  | 'cluster-contains-instances'
  | 'user-pool-has-domain'
  | 'apex-cname'
  | 'run-instances-client-token'
  | 'create-service-client-token'
  | 'service-linked-role-missing'
  | 'service-linked-role-name'
  | 'alb-provisioning'
  | 'route53-pending'
  | 'acm-issue-after-cname'
  | 'instance-pending'
  | 'service-draining'
  | 'service-starting'
  | 'fargate-awslogs-needs-execution-role'
  | 'secrets-need-execution-role'
  | 'health-check-timeout-below-interval'
  | 'health-check-ranges'
  | 'retention-in-days'
  | 'iam-role-not-yet-visible'
  | 'deployment-circuit-breaker'
  | 'task-failed-to-start'
  | 'list-tasks-by-service'
  | 'log-stream-not-found';

export interface AwsModelOptions {
  /** moto's endpoint, e.g. http://127.0.0.1:5000 */
  upstream: string;
  /** Seed of the fault PRNG (default 1). */
  seed?: number;
  /** Multiplies every real-AWS duration: 1 = real time, 0.01 = 1/100 (default 1). */
  scale?: number;
  /** Real-AWS durations in seconds, before scaling. */
  timings?: Partial<AwsTimings>;
  faults?: FaultOptions;
  /** 'missing' (default): CreateService fails until iam:CreateServiceLinkedRole for ecs. */
  serviceLinkedRole?: 'missing' | 'present';
  disableRules?: RuleId[];
  /**
   * Health checks a new service's targets pass, one target-group interval (times `scale`) apart,
   * before its deployment completes (after taskStart); 0 (default) = off, 1 = the normal case.
   */
  healthChecks?: number;
  region?: string;
  port?: number;
}

export interface RuleDescription {
  id: RuleId;
  operation: string;
  code: string;
  status: number;
  source: string;
}

export interface FaultCounts {
  total: number;
  byKind: Record<FaultKind, number>;
  /** "service:Operation" -> kind -> count */
  byOperation: Record<string, Partial<Record<FaultKind, number>>>;
}

export interface EnforcedRule {
  rule: RuleId;
  operation: string;
  at: string;
  detail: string;
}

export interface AwsModel {
  /** http://127.0.0.1:PORT: what AWS_ENDPOINT_URL points at. */
  readonly endpoint: string;
  readonly port: number;
  readonly seed: number;
  readonly scale: number;
  readonly timingsMs: Record<keyof AwsTimings, number>;
  readonly counts: FaultCounts;
  readonly enforced: EnforcedRule[];
  /** The model's own errors (never thrown). */
  readonly errors: string[];
  readonly rules: readonly RuleDescription[];
  enforcedRules(): Partial<Record<RuleId, number>>;
  /** Requests seen since the last reset, per "service:Operation". */
  callCounts(): Record<string, number>;
  /** Requests seen for "Op" or "service:Op". */
  calls(operation: string): number;
  /** Forget everything (after POST /moto-api/reset): state, fault counts, the enforcement log. */
  reset(): void;
  /** Change rules, timings or faults from now on (e.g. per test). */
  configure(changes: Pick<AwsModelOptions, 'timings' | 'faults' | 'serviceLinkedRole' | 'disableRules' | 'seed' | 'healthChecks'>): void;
  stop(): Promise<void>;
}

export interface RequestInfo {
  service: string;
  operation: string;
  protocol: 'json' | 'rest-xml' | 'ec2' | 'query';
  json: Record<string, unknown>;
  query: URLSearchParams;
  xml: string;
}

export declare const REAL_AWS_SECONDS: Readonly<AwsTimings>;
export declare const FAULT_KINDS: readonly FaultKind[];
export declare const THROTTLING: Readonly<Record<string, { code: string; status: number; message: string }>>;
export declare const RULES: readonly RuleDescription[];
/** The retentionInDays values PutRetentionPolicy takes. */
export declare const RETENTION_DAYS: readonly number[];
/** Failed tasks at which the ECS deployment circuit breaker fails a deployment of this desired count. */
export declare function circuitBreakerThreshold(desiredCount: number | undefined): number;
export declare function mulberry32(seed: number): () => number;
export declare function drawFor(seed: number, operation: string, nth: number): number;
export declare function describeRequest(method: string, url: string, headers: Record<string, string | string[] | undefined>, body: string): RequestInfo;
export declare function errorResponse(info: Pick<RequestInfo, 'service' | 'protocol'>, status: number, code: string, message: string): { status: number; headers: Record<string, string>; body: string };
export declare function parseChangeBatch(xml: string): { action: string; name: string; type: string; values: string[] }[];
export declare function dnsName(name: string | undefined): string;
/** An account that already has the ECS service-linked role, under AWS's name (call it with a client straight to moto). */
export declare function createEcsServiceLinkedRole(iam: import('@aws-sdk/client-iam').IAMClient): Promise<void>;
export declare function startAwsModel(options: AwsModelOptions): Promise<AwsModel>;
