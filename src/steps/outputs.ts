/**
 * What each step records in the state file, and so what later steps may read from it.
 * These are identifiers only: never a secret. A step reads another step's output with
 * `context.output('load-balancer')`, which keeps every cross-step input explicit.
 */

export interface NetworkOutput {
  vpcId: string;
  publicSubnets: string[];
  privateSubnets: string[];
  securityGroupId: string;
  /** Where the IDs came from: the stack's outputs, flags/env, or a stack authecs created. */
  source: 'stack' | 'settings' | 'created-stack';
  stackName?: string;
  stackId?: string;
}

export interface HostedZoneOutput {
  hostedZoneId: string;
  zoneName: string;
}

export interface LoadBalancerSecurityGroupOutput {
  groupId: string;
  groupName: string;
  vpcId: string;
}

/** One TCP ingress rule: from a CIDR, or (isolated ingress) from another security group. */
export interface IngressRule {
  /** The group the rule is on. Records written before isolated ingress lack it: read SecurityGroupIngressOutput.groupId. */
  groupId: string;
  port: number;
  /** Set for a rule from an address range; absent when sourceGroupId is set. */
  cidr?: string;
  /** Set for a rule that admits traffic from another security group (the ALB's). */
  sourceGroupId?: string;
  /** Only rules authecs added are revoked by `down`. */
  created: boolean;
  ruleId?: string;
}

export interface SecurityGroupIngressOutput {
  /** The network's group (instances and tasks); each rule names its own group. */
  groupId: string;
  rules: IngressRule[];
}

export interface LoadBalancerOutput {
  name: string;
  loadBalancerArn: string;
  dnsName: string;
  canonicalHostedZoneId?: string;
}

export interface DnsRecordOutput {
  hostedZoneId: string;
  recordName: string;
  /** CNAME below the apex; an alias A record at the zone apex, where a CNAME is not allowed. */
  type: 'CNAME' | 'A';
  ttl: number;
  /** The ALB's DNS name: the CNAME's value, or the alias target. */
  value: string;
  /** Alias records only: the ALB's CanonicalHostedZoneId. */
  aliasHostedZoneId?: string;
}

export interface ValidationRecord {
  name: string;
  type: string;
  value: string;
  /** False when an identical record was already in the zone; such a record is left by `down`. */
  created: boolean;
}

export interface CertificateOutput {
  certificateArn: string;
  domain: string;
  status: string;
  validationRecords: ValidationRecord[];
  hostedZoneId: string;
  /** RequestCertificate's IdempotencyToken, saved before the call and cleared once the ARN is recorded: a run that lost the answer reuses it. */
  pendingRequest?: { token: string; domain: string };
}

export interface ListenerOutput {
  listenerArn: string;
  port: number;
  /** The ALB it is on, so `down` finds a listener whose ARN a killed run never recorded. Absent in older records. */
  loadBalancerArn?: string;
}

export interface HttpsListenerOutput extends ListenerOutput {
  certificateArn: string;
  sslPolicy: string;
}

export interface UserPoolOutput {
  userPoolId: string;
  userPoolArn: string;
  name: string;
}

export interface AppClientOutput {
  clientId: string;
  name: string;
  userPoolId: string;
}

export interface UserPoolDomainOutput {
  domain: string;
  userPoolId: string;
  /** The hosted UI's base URL, e.g. https://prefix.auth.eu-west-1.amazoncognito.com */
  hostedUiBaseUrl: string;
}

export interface TargetGroupOutput {
  name: string;
  targetGroupArn: string;
  targetType: 'instance' | 'ip';
  /** The --target-group-name this group stands for; differs from `name` after a create-before-delete replacement. */
  configuredName?: string;
}

export interface HostRuleOutput {
  ruleArn: string;
  listenerArn: string;
  priority: number;
}

/** The rule that serves --public-path paths without sign-in, just before the host rule. */
export interface PublicPathRuleOutput {
  ruleArn: string;
  listenerArn: string;
  priority: number;
}

/** The rule on the HTTP listener that attaches the target group to the ALB early; it matches no request. */
export interface ParkingRuleOutput {
  ruleArn: string;
  listenerArn: string;
  priority: number;
}

export interface ClusterOutput {
  clusterName: string;
  clusterArn: string;
}

export interface KeyPairOutput {
  keyName: string;
  keyPairId?: string;
  /**
   * The private key lives only in this 0600 file beside a local state file. Absent with a state
   * in S3 (the file is on the machine that made the pair) and with --no-key-file (no file kept).
   */
  privateKeyFile?: string;
}

/** A RunInstances recorded before the call: its token is reused only to resume that exact launch. */
export interface PendingLaunch {
  clientToken: string;
  index: number;
  launchTemplateId: string;
  version: number;
  subnetId: string;
}

export interface CapacityOutput {
  launchTemplateId?: string;
  launchTemplateName?: string;
  amiId?: string;
  /** How amiId was chosen: the newest ECS-optimized AMI when the template version was made, or --ami. */
  amiSource?: 'default' | 'setting';
  /** The launch template version every instance should run (the latest, made the default). */
  launchTemplateVersion?: number;
  /** The private subnets the instances are spread over (sorted); instances elsewhere are rolled. */
  subnets?: string[];
  instanceIds: string[];
  /** The ClientToken of the latest RunInstances; each launch gets a fresh one. */
  clientToken: string;
  pendingLaunch?: PendingLaunch;
}

export interface LogGroupOutput {
  /** /authecs/<stack>: the container's output, one stream per task (authecs/web/<task id>). */
  logGroupName: string;
  logGroupArn: string;
}

export interface ExecutionRoleOutput {
  roleName: string;
  roleArn: string;
}

export interface TaskDefinitionOutput {
  taskDefinitionArn: string;
  family: string;
  revision: number;
}

export interface ServiceOutput {
  serviceName: string;
  serviceArn: string;
  clusterName: string;
}

export interface StepOutputs {
  network: NetworkOutput;
  'hosted-zone': HostedZoneOutput;
  'load-balancer-security-group': LoadBalancerSecurityGroupOutput;
  'security-group-ingress': SecurityGroupIngressOutput;
  'load-balancer': LoadBalancerOutput;
  'dns-record': DnsRecordOutput;
  certificate: CertificateOutput;
  'https-listener': HttpsListenerOutput;
  'http-redirect-listener': ListenerOutput;
  'user-pool': UserPoolOutput;
  'app-client': AppClientOutput;
  'user-pool-domain': UserPoolDomainOutput;
  'target-group': TargetGroupOutput;
  'host-rule': HostRuleOutput;
  'public-path-rule': PublicPathRuleOutput;
  'parking-rule': ParkingRuleOutput;
  cluster: ClusterOutput;
  'key-pair': KeyPairOutput;
  capacity: CapacityOutput;
  'log-group': LogGroupOutput;
  'execution-role': ExecutionRoleOutput;
  'task-definition': TaskDefinitionOutput;
  service: ServiceOutput;
}

export type StepName = keyof StepOutputs;
