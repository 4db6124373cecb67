/**
 * Every AWS SDK call authecs makes, with the IAM actions it needs and how tightly IAM lets
 * each be scoped. The policy (`authecs iam-policy`) and `doctor`'s permission check are built
 * from this table, and test/unit/iam-policy.test.ts fails when a command used in src/ is
 * missing here, so the table stays the truth.
 *
 * Scoping, tightest first, where the Service Authorization Reference allows it:
 * - changes to what authecs created: `aws:ResourceTag/authecs:stack` = the stack;
 * - creating: `aws:RequestTag/authecs:stack` = the stack, and tagging only as part of the
 *   create call (`<service>:CreateAction`) where the service has that key;
 * - resources named by the settings (cluster, service, ALB, target group, key pair, stack);
 * - Resource "*" only for actions with no resource-level permissions (Describe and List calls,
 *   RequestCertificate, CreateUserPool), each saying so.
 */
import { STACK_TAG_KEY } from '../steps/shared/tags.js';

/** The AWS SDK v3 client packages, by the part after `@aws-sdk/client-`. */
export type SdkClient =
  | 'acm'
  | 'cloudformation'
  | 'cloudwatch-logs'
  | 'cognito-identity-provider'
  | 'ec2'
  | 'ecs'
  | 'elastic-load-balancing-v2'
  | 'iam'
  | 'route-53'
  | 's3'
  | 'service-quotas'
  | 'sts';

/** What the ARNs and conditions of the policy are made from. */
export interface PolicyContext {
  partition: string;
  /** A region, or '*' when the policy is for any region. */
  region: string;
  /** An account ID, or '*'. */
  account: string;
  /** The `authecs:stack` tag value: the cluster name. */
  stack: string;
  cluster: string;
  serviceName: string;
  loadBalancerName: string;
  targetGroupName: string;
  keyPairName: string;
  networkStack: string;
  instanceProfile: string;
  /** The role inside the instance profile (passed to EC2 by RunInstances). */
  instanceRole: string;
  hostedZoneId?: string;
  domain?: string;
  /** The state in S3 (`--state s3://bucket/key`); a local state needs no S3 permission. */
  stateObject?: { bucket: string; key: string };
}

export type ConditionBlock = Record<string, Record<string, string | string[]>>;

/** How a grant is scoped, for the summary and the notes. */
export type ScopeKind = 'any' | 'name' | 'tag' | 'condition';

export interface Grant {
  action: string;
  scope: ScopeKind;
  resources(context: PolicyContext): string[];
  condition?(context: PolicyContext): ConditionBlock;
  /** A tagging action allowed only inside this create call (the service's CreateAction key). */
  onCreate?: string;
  why: string;
}

export interface SdkCall {
  client: SdkClient;
  /** The SDK export: `FooCommand`, `waitUntilBar` or `paginateBaz`. */
  name: string;
  grants: Grant[];
  /** Only `authecs doctor` makes this call. */
  doctorOnly?: true;
  /** Listed ahead of the code that will call it (the reconcile rewrite); the test then skips its "still used" check. */
  pending?: string;
}

// ---- ARNs ----

const arn = (c: PolicyContext, service: string, resource: string): string => `arn:${c.partition}:${service}:${c.region}:${c.account}:${resource}`;
const globalArn = (c: PolicyContext, service: string, resource: string): string => `arn:${c.partition}:${service}::${c.account}:${resource}`;

const ec2 = (type: string) => (c: PolicyContext) => arn(c, 'ec2', `${type}/*`);
const keyPair = (c: PolicyContext) => arn(c, 'ec2', `key-pair/${c.keyPairName}`);
const image = (c: PolicyContext) => `arn:${c.partition}:ec2:${c.region}::image/*`;
const loadBalancer = (c: PolicyContext) => arn(c, 'elasticloadbalancing', `loadbalancer/app/${c.loadBalancerName}/*`);
const listener = (c: PolicyContext) => arn(c, 'elasticloadbalancing', `listener/app/${c.loadBalancerName}/*/*`);
const listenerRule = (c: PolicyContext) => arn(c, 'elasticloadbalancing', `listener-rule/app/${c.loadBalancerName}/*/*/*`);
const targetGroup = (c: PolicyContext) => arn(c, 'elasticloadbalancing', `targetgroup/${c.targetGroupName}/*`);
const cluster = (c: PolicyContext) => arn(c, 'ecs', `cluster/${c.cluster}`);
const service = (c: PolicyContext) => arn(c, 'ecs', `service/${c.cluster}/${c.serviceName}`);
const taskDefinition = (c: PolicyContext) => arn(c, 'ecs', `task-definition/${c.serviceName}:*`);
const containerInstance = (c: PolicyContext) => arn(c, 'ecs', `container-instance/${c.cluster}/*`);
const task = (c: PolicyContext) => arn(c, 'ecs', `task/${c.cluster}/*`);
const userPool = (c: PolicyContext) => arn(c, 'cognito-idp', 'userpool/*');
const certificate = (c: PolicyContext) => arn(c, 'acm', 'certificate/*');
const hostedZone = (c: PolicyContext) => `arn:${c.partition}:route53:::hostedzone/${c.hostedZoneId ?? '*'}`;
const change = (c: PolicyContext) => `arn:${c.partition}:route53:::change/*`;
const networkStack = (c: PolicyContext) => arn(c, 'cloudformation', `stack/${c.networkStack}/*`);
// The stack's log group by name, in both ARN forms: the tagging calls take the bare one, the others the one ending :* (CloudWatch Logs guide, "Overview of managing access permissions").
const stackLogGroupArns = [(c: PolicyContext) => arn(c, 'logs', `log-group:/authecs/${c.stack}`), (c: PolicyContext) => arn(c, 'logs', `log-group:/authecs/${c.stack}:*`)];
// authecs's own roles (the task execution role) live under the path /authecs/.
const authecsRoles = (c: PolicyContext) => globalArn(c, 'iam', 'role/authecs/*');
const anyRole = (c: PolicyContext) => globalArn(c, 'iam', 'role/*');
// AWS managed policies are in account "aws" (arn:aws:iam::aws:policy/...); customer managed ones in the account.
const awsManagedPolicies = (c: PolicyContext) => `arn:${c.partition}:iam::aws:policy/*`;
const accountPolicies = (c: PolicyContext) => globalArn(c, 'iam', 'policy/*');
const EXECUTION_ROLE_POLICY = 'service-role/AmazonECSTaskExecutionRolePolicy';
// The stack's log group is /authecs/<stack>; its streams' ARNs (GetLogEvents' log-stream resource type) are
// log-group:/authecs/<stack>:log-stream:<name>, which log-group:/authecs/<stack>:* matches.
const stackLogStreams = (c: PolicyContext) => arn(c, 'logs', `log-group:/authecs/${c.stack}:*`);
const SERVICE_LINKED_ROLES = {
  ecs: 'role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS',
  elasticloadbalancing: 'role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing',
} as const;

/** The quotas `doctor` compares with usage: [service code, quota code]. */
export const QUOTAS = {
  elasticIps: { serviceCode: 'ec2', quotaCode: 'L-0263D0A3', title: 'EC2-VPC Elastic IPs' },
  vpcs: { serviceCode: 'vpc', quotaCode: 'L-F678F1CE', title: 'VPCs per Region' },
  applicationLoadBalancers: { serviceCode: 'elasticloadbalancing', quotaCode: 'L-53DA6B97', title: 'Application Load Balancers per Region' },
} as const;
// A shared state (--state s3://bucket/key): the object and its lock object, nothing else; none for a local state.
const stateObjects = (c: PolicyContext): string[] =>
  c.stateObject ? [`arn:${c.partition}:s3:::${c.stateObject.bucket}/${c.stateObject.key}`, `arn:${c.partition}:s3:::${c.stateObject.bucket}/${c.stateObject.key}.lock`] : [];
const stateBucket = (c: PolicyContext): string[] => (c.stateObject ? [`arn:${c.partition}:s3:::${c.stateObject.bucket}`] : []);
const quotaArns = (c: PolicyContext) => Object.values(QUOTAS).map((quota) => arn(c, 'servicequotas', `${quota.serviceCode}/${quota.quotaCode}`));

// ---- conditions ----

const resourceTag = (c: PolicyContext): ConditionBlock => ({ StringEquals: { [`aws:ResourceTag/${STACK_TAG_KEY}`]: c.stack } });
const requestTag = (c: PolicyContext): ConditionBlock => ({ StringEquals: { [`aws:RequestTag/${STACK_TAG_KEY}`]: c.stack } });
// The network template's resources are made by CloudFormation with the caller's permissions.
const viaCloudFormation = (): ConditionBlock => ({ 'ForAnyValue:StringEquals': { 'aws:CalledVia': ['cloudformation.amazonaws.com'] } });

// ---- grant builders ----

const NO_RESOURCE_LEVEL = 'no resource-level permissions for this action (Service Authorization Reference): Resource "*"';

/** Resource "*": the action supports no resource-level permissions. */
function anyResource(action: string, why = NO_RESOURCE_LEVEL): Grant {
  return { action, scope: 'any', resources: () => ['*'], why };
}

/** Changes to what authecs created, found by its tag. */
function tagged(action: string, ...resources: ((c: PolicyContext) => string)[]): Grant {
  return { action, scope: 'tag', resources: (c) => resources.map((one) => one(c)), condition: resourceTag, why: `only resources tagged ${STACK_TAG_KEY}=<stack>` };
}

/** Creation, allowed only with the stack's tag in the request. */
function tagging(action: string, ...resources: ((c: PolicyContext) => string)[]): Grant {
  return { action, scope: 'tag', resources: (c) => resources.map((one) => one(c)), condition: requestTag, why: `only when the request tags the new resource ${STACK_TAG_KEY}=<stack>` };
}

/** Resources named by the settings (or of one type in the account and region), no tag condition. */
function named(action: string, why: string, ...resources: ((c: PolicyContext) => string)[]): Grant {
  return { action, scope: 'name', resources: (c) => resources.map((one) => one(c)), why };
}

/** The tagging action a create call needs to tag what it creates; nothing else. */
function tagOnCreate(action: string, createAction: string, ...resources: ((c: PolicyContext) => string)[]): Grant {
  return { action, scope: 'tag', resources: (c) => resources.map((one) => one(c)), condition: requestTag, onCreate: createAction, why: `tagging only inside the create call, and only with ${STACK_TAG_KEY}=<stack>` };
}

function networkTemplate(action: string, ...types: string[]): Grant {
  return {
    action,
    scope: 'condition',
    resources: (c) => types.map((type) => arn(c, 'ec2', `${type}/*`)),
    condition: viaCloudFormation,
    why: '--create-network: only when CloudFormation makes the call for the network stack (aws:CalledVia)',
  };
}

const READ = 'read-only, on resources of this type named by the settings (no tag condition, so that a same-named resource of someone else is reported as a conflict, not as access denied)';
const READ_TYPE = 'read-only, on resources of this type in the account and region (IDs are generated, so there is no name to give)';

const call = (client: SdkClient, name: string, grants: Grant[], extra: Partial<Pick<SdkCall, 'doctorOnly' | 'pending'>> = {}): SdkCall => ({ client, name, grants, ...extra });
const RECONCILE = 'reconcile rewrite of src/steps';

// The CloudFormation network template (templates/network.yaml): what CloudFormation does with the caller's permissions.
export const NETWORK_TEMPLATE_GRANTS: Record<string, Grant[]> = {
  'AWS::EC2::VPC': [networkTemplate('ec2:CreateVpc', 'vpc'), networkTemplate('ec2:DeleteVpc', 'vpc'), networkTemplate('ec2:ModifyVpcAttribute', 'vpc'), networkTemplate('ec2:CreateTags', 'vpc')],
  'AWS::EC2::InternetGateway': [networkTemplate('ec2:CreateInternetGateway', 'internet-gateway'), networkTemplate('ec2:DeleteInternetGateway', 'internet-gateway'), networkTemplate('ec2:CreateTags', 'internet-gateway')],
  'AWS::EC2::VPCGatewayAttachment': [networkTemplate('ec2:AttachInternetGateway', 'internet-gateway', 'vpc'), networkTemplate('ec2:DetachInternetGateway', 'internet-gateway', 'vpc')],
  'AWS::EC2::Subnet': [networkTemplate('ec2:CreateSubnet', 'subnet', 'vpc'), networkTemplate('ec2:DeleteSubnet', 'subnet'), networkTemplate('ec2:ModifySubnetAttribute', 'subnet'), networkTemplate('ec2:CreateTags', 'subnet')],
  'AWS::EC2::EIP': [networkTemplate('ec2:AllocateAddress', 'elastic-ip'), networkTemplate('ec2:ReleaseAddress', 'elastic-ip'), networkTemplate('ec2:CreateTags', 'elastic-ip'), anyResource('ec2:DescribeAddresses')],
  'AWS::EC2::NatGateway': [networkTemplate('ec2:CreateNatGateway', 'natgateway', 'subnet', 'elastic-ip'), networkTemplate('ec2:DeleteNatGateway', 'natgateway'), networkTemplate('ec2:CreateTags', 'natgateway'), anyResource('ec2:DescribeNatGateways')],
  'AWS::EC2::RouteTable': [networkTemplate('ec2:CreateRouteTable', 'route-table', 'vpc'), networkTemplate('ec2:DeleteRouteTable', 'route-table'), networkTemplate('ec2:CreateTags', 'route-table'), anyResource('ec2:DescribeRouteTables')],
  'AWS::EC2::Route': [networkTemplate('ec2:CreateRoute', 'route-table'), networkTemplate('ec2:DeleteRoute', 'route-table')],
  'AWS::EC2::SubnetRouteTableAssociation': [networkTemplate('ec2:AssociateRouteTable', 'route-table', 'subnet'), networkTemplate('ec2:DisassociateRouteTable', 'route-table', 'subnet')],
  'AWS::EC2::SecurityGroup': [networkTemplate('ec2:CreateSecurityGroup', 'security-group', 'vpc'), networkTemplate('ec2:DeleteSecurityGroup', 'security-group'), networkTemplate('ec2:CreateTags', 'security-group')],
  // A parameter type, not a resource: CloudFormation checks the value with a describe call.
  'AWS::EC2::AvailabilityZone::Name': [anyResource('ec2:DescribeAvailabilityZones')],
};

export const SDK_CALLS: SdkCall[] = [
  // ---- ACM ----
  call('acm', 'RequestCertificateCommand', [anyResource('acm:RequestCertificate'), tagOnCreate('acm:AddTagsToCertificate', 'RequestCertificate', certificate)]),
  call('acm', 'DescribeCertificateCommand', [named('acm:DescribeCertificate', READ_TYPE, certificate)]),
  call('acm', 'paginateListCertificates', [anyResource('acm:ListCertificates')]),
  call('acm', 'ListTagsForCertificateCommand', [named('acm:ListTagsForCertificate', READ_TYPE, certificate)]),
  call('acm', 'DeleteCertificateCommand', [tagged('acm:DeleteCertificate', certificate)]),

  // ---- CloudFormation (the network stack) ----
  call('cloudformation', 'DescribeStacksCommand', [named('cloudformation:DescribeStacks', READ, networkStack)]),
  call('cloudformation', 'DescribeStackEventsCommand', [named('cloudformation:DescribeStackEvents', READ, networkStack)]),
  call('cloudformation', 'waitUntilStackCreateComplete', [named('cloudformation:DescribeStacks', READ, networkStack)]),
  call('cloudformation', 'waitUntilStackDeleteComplete', [named('cloudformation:DescribeStacks', READ, networkStack)]),
  call('cloudformation', 'CreateStackCommand', [
    tagging('cloudformation:CreateStack', networkStack),
    tagOnCreate('cloudformation:TagResource', 'CreateStack', networkStack),
    ...Object.values(NETWORK_TEMPLATE_GRANTS).flat(),
  ]),
  call('cloudformation', 'DeleteStackCommand', [tagged('cloudformation:DeleteStack', networkStack), ...Object.values(NETWORK_TEMPLATE_GRANTS).flat()]),

  // ---- Cognito user pools ----
  call('cognito-identity-provider', 'paginateListUserPools', [anyResource('cognito-idp:ListUserPools')]),
  call('cognito-identity-provider', 'CreateUserPoolCommand', [anyResource('cognito-idp:CreateUserPool', `${NO_RESOURCE_LEVEL}; the pool is tagged ${STACK_TAG_KEY} on create, and every later change requires that tag`)]),
  call('cognito-identity-provider', 'DescribeUserPoolCommand', [named('cognito-idp:DescribeUserPool', READ_TYPE, userPool)]),
  call('cognito-identity-provider', 'UpdateUserPoolCommand', [tagged('cognito-idp:UpdateUserPool', userPool)]),
  call('cognito-identity-provider', 'DeleteUserPoolCommand', [tagged('cognito-idp:DeleteUserPool', userPool)]),
  // Users and groups (`authecs users`, and the user count `up` and `plan` give before a pool is replaced):
  // only in the stack's own pool, found by its tag, as people's email addresses are personal data.
  call('cognito-identity-provider', 'paginateListUsers', [tagged('cognito-idp:ListUsers', userPool)]),
  call('cognito-identity-provider', 'paginateAdminListGroupsForUser', [tagged('cognito-idp:AdminListGroupsForUser', userPool)]),
  call('cognito-identity-provider', 'AdminDisableUserCommand', [tagged('cognito-idp:AdminDisableUser', userPool)]),
  call('cognito-identity-provider', 'AdminEnableUserCommand', [tagged('cognito-idp:AdminEnableUser', userPool)]),
  call('cognito-identity-provider', 'GetGroupCommand', [tagged('cognito-idp:GetGroup', userPool)]),
  call('cognito-identity-provider', 'CreateGroupCommand', [tagged('cognito-idp:CreateGroup', userPool)]),
  call('cognito-identity-provider', 'AdminAddUserToGroupCommand', [tagged('cognito-idp:AdminAddUserToGroup', userPool)]),
  // Users of the stack's own pool: `smoke --sign-in`'s throwaway user (and `users`). One entry per call: check here before adding.
  call('cognito-identity-provider', 'AdminCreateUserCommand', [tagged('cognito-idp:AdminCreateUser', userPool)]),
  call('cognito-identity-provider', 'AdminSetUserPasswordCommand', [tagged('cognito-idp:AdminSetUserPassword', userPool)]),
  call('cognito-identity-provider', 'AdminDeleteUserCommand', [tagged('cognito-idp:AdminDeleteUser', userPool)]),
  call('cognito-identity-provider', 'CreateUserPoolClientCommand', [tagged('cognito-idp:CreateUserPoolClient', userPool)]),
  call('cognito-identity-provider', 'DescribeUserPoolClientCommand', [named('cognito-idp:DescribeUserPoolClient', READ_TYPE, userPool)]),
  call('cognito-identity-provider', 'paginateListUserPoolClients', [named('cognito-idp:ListUserPoolClients', READ_TYPE, userPool)]),
  call('cognito-identity-provider', 'UpdateUserPoolClientCommand', [tagged('cognito-idp:UpdateUserPoolClient', userPool)]),
  call('cognito-identity-provider', 'DeleteUserPoolClientCommand', [tagged('cognito-idp:DeleteUserPoolClient', userPool)]),
  call('cognito-identity-provider', 'CreateUserPoolDomainCommand', [tagged('cognito-idp:CreateUserPoolDomain', userPool)]),
  call('cognito-identity-provider', 'DescribeUserPoolDomainCommand', [anyResource('cognito-idp:DescribeUserPoolDomain')]),
  call('cognito-identity-provider', 'DeleteUserPoolDomainCommand', [tagged('cognito-idp:DeleteUserPoolDomain', userPool)]),

  // ---- EC2 ----
  call('ec2', 'DescribeAvailabilityZonesCommand', [anyResource('ec2:DescribeAvailabilityZones')]),
  call('ec2', 'DescribeVpcsCommand', [anyResource('ec2:DescribeVpcs')]),
  call('ec2', 'DescribeSubnetsCommand', [anyResource('ec2:DescribeSubnets')]),
  call('ec2', 'DescribeSecurityGroupsCommand', [anyResource('ec2:DescribeSecurityGroups')]),
  call('ec2', 'paginateDescribeSecurityGroupRules', [anyResource('ec2:DescribeSecurityGroupRules')]),
  call('ec2', 'DescribeImagesCommand', [anyResource('ec2:DescribeImages')]),
  call('ec2', 'paginateDescribeInstances', [anyResource('ec2:DescribeInstances')]),
  call('ec2', 'waitUntilInstanceRunning', [anyResource('ec2:DescribeInstances')]),
  call('ec2', 'waitUntilInstanceTerminated', [anyResource('ec2:DescribeInstances')]),
  call('ec2', 'DescribeKeyPairsCommand', [anyResource('ec2:DescribeKeyPairs')]),
  call('ec2', 'DescribeLaunchTemplatesCommand', [anyResource('ec2:DescribeLaunchTemplates')]),
  call('ec2', 'DescribeLaunchTemplateVersionsCommand', [anyResource('ec2:DescribeLaunchTemplateVersions')]),
  call('ec2', 'DescribeInstanceTypeOfferingsCommand', [anyResource('ec2:DescribeInstanceTypeOfferings')]),
  call('ec2', 'DescribeInstanceTypesCommand', [anyResource('ec2:DescribeInstanceTypes')]),
  call('ec2', 'paginateDescribeNetworkInterfaces', [anyResource('ec2:DescribeNetworkInterfaces')]),
  call('ec2', 'DescribeAddressesCommand', [anyResource('ec2:DescribeAddresses')], { doctorOnly: true }),
  call('ec2', 'CreateSecurityGroupCommand', [
    tagging('ec2:CreateSecurityGroup', ec2('security-group')),
    named('ec2:CreateSecurityGroup', 'the VPC the ALB group is made in, which authecs may not have created (no tag to require)', ec2('vpc')),
    tagOnCreate('ec2:CreateTags', 'CreateSecurityGroup', ec2('security-group')),
  ]),
  call('ec2', 'DeleteSecurityGroupCommand', [tagged('ec2:DeleteSecurityGroup', ec2('security-group'))]),
  call('ec2', 'AuthorizeSecurityGroupIngressCommand', [
    named('ec2:AuthorizeSecurityGroupIngress', "security groups in the account and region: the network's group is not authecs's, so it carries no tag to require", ec2('security-group')),
    tagging('ec2:AuthorizeSecurityGroupIngress', ec2('security-group-rule')),
    tagOnCreate('ec2:CreateTags', 'AuthorizeSecurityGroupIngress', ec2('security-group-rule')),
  ]),
  call('ec2', 'RevokeSecurityGroupIngressCommand', [
    named('ec2:RevokeSecurityGroupIngress', "security groups in the account and region: the network's group is not authecs's; only the rule IDs authecs recorded are revoked", ec2('security-group'), ec2('security-group-rule')),
  ]),
  call('ec2', 'CreateKeyPairCommand', [tagging('ec2:CreateKeyPair', keyPair), tagOnCreate('ec2:CreateTags', 'CreateKeyPair', keyPair)]),
  call('ec2', 'DeleteKeyPairCommand', [tagged('ec2:DeleteKeyPair', keyPair)]),
  call('ec2', 'CreateLaunchTemplateCommand', [tagging('ec2:CreateLaunchTemplate', ec2('launch-template')), tagOnCreate('ec2:CreateTags', 'CreateLaunchTemplate', ec2('launch-template'))]),
  call('ec2', 'CreateLaunchTemplateVersionCommand', [tagged('ec2:CreateLaunchTemplateVersion', ec2('launch-template'))]),
  call('ec2', 'ModifyLaunchTemplateCommand', [tagged('ec2:ModifyLaunchTemplate', ec2('launch-template'))]),
  call('ec2', 'DeleteLaunchTemplateCommand', [tagged('ec2:DeleteLaunchTemplate', ec2('launch-template'))]),
  call('ec2', 'RunInstancesCommand', [
    tagging('ec2:RunInstances', ec2('instance'), ec2('volume')),
    named(
      'ec2:RunInstances',
      'what RunInstances uses but does not create or tag: the AMI, subnet, security group, key pair, launch template and network interface',
      image,
      ec2('subnet'),
      ec2('security-group'),
      ec2('network-interface'),
      keyPair,
      ec2('launch-template'),
    ),
    tagOnCreate('ec2:CreateTags', 'RunInstances', ec2('instance'), ec2('volume')),
    {
      action: 'iam:PassRole',
      scope: 'condition',
      resources: (c) => [globalArn(c, 'iam', `role/${c.instanceRole}`)],
      condition: () => ({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } }),
      why: 'the role of the instance profile, passed to EC2 only (edit the role name if yours differs from the profile name)',
    },
  ]),
  call('ec2', 'TerminateInstancesCommand', [tagged('ec2:TerminateInstances', ec2('instance'))]),

  // ---- ECS ----
  call('ecs', 'DescribeClustersCommand', [named('ecs:DescribeClusters', READ, cluster)]),
  call('ecs', 'CreateClusterCommand', [tagging('ecs:CreateCluster', cluster), tagOnCreate('ecs:TagResource', 'CreateCluster', cluster)]),
  call('ecs', 'DeleteClusterCommand', [tagged('ecs:DeleteCluster', cluster)]),
  call('ecs', 'paginateListContainerInstances', [named('ecs:ListContainerInstances', READ, cluster)]),
  call('ecs', 'DescribeContainerInstancesCommand', [named('ecs:DescribeContainerInstances', READ, containerInstance)]),
  call('ecs', 'DeregisterContainerInstanceCommand', [named('ecs:DeregisterContainerInstance', 'the cluster named by the settings (container instances carry no tag of their own)', cluster)]),
  call('ecs', 'UpdateContainerInstancesStateCommand', [named('ecs:UpdateContainerInstancesState', 'container instances of the cluster named by the settings', containerInstance)]),
  call('ecs', 'RegisterTaskDefinitionCommand', [
    anyResource('ecs:RegisterTaskDefinition'),
    tagOnCreate('ecs:TagResource', 'RegisterTaskDefinition', taskDefinition),
    {
      // A task definition with executionRoleArn passes that role (ECS guide, "Amazon ECS task execution IAM role").
      action: 'iam:PassRole',
      scope: 'condition',
      resources: (c) => [authecsRoles(c)],
      condition: () => ({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }),
      why: "authecs's task execution role (path /authecs/), passed to ECS tasks only",
    },
  ]),
  call('ecs', 'DescribeTaskDefinitionCommand', [anyResource('ecs:DescribeTaskDefinition')]),
  call('ecs', 'paginateListTaskDefinitions', [anyResource('ecs:ListTaskDefinitions')]),
  call('ecs', 'DeregisterTaskDefinitionCommand', [anyResource('ecs:DeregisterTaskDefinition')]),
  call('ecs', 'DeleteTaskDefinitionsCommand', [tagged('ecs:DeleteTaskDefinitions', taskDefinition)]),
  call('ecs', 'CreateServiceCommand', [tagging('ecs:CreateService', service), tagOnCreate('ecs:TagResource', 'CreateService', service)]),
  call('ecs', 'DescribeServicesCommand', [named('ecs:DescribeServices', READ, service)]),
  call('ecs', 'UpdateServiceCommand', [tagged('ecs:UpdateService', service)]),
  call('ecs', 'DeleteServiceCommand', [tagged('ecs:DeleteService', service)]),
  // A failed rollout's stopped tasks (src/steps/shared/rollout.ts).
  call('ecs', 'ListTasksCommand', [
    {
      // Its only resource type is container-instance; listing a whole cluster is authorized on "*" (cdklabs/construct-hub#1207, aws/aws-cdk#3196).
      action: 'ecs:ListTasks',
      scope: 'condition',
      resources: () => ['*'],
      condition: (c) => ({ ArnEquals: { 'ecs:cluster': cluster(c) } }),
      why: 'listing the tasks of a whole cluster is authorized on Resource "*" (the action\'s only resource type is container-instance): only in the cluster named by the settings (ecs:cluster)',
    },
  ]),
  call('ecs', 'DescribeTasksCommand', [named('ecs:DescribeTasks', 'tasks of the cluster named by the settings (task IDs are generated)', task)]),

  // ---- Elastic Load Balancing ----
  call('elastic-load-balancing-v2', 'DescribeLoadBalancersCommand', [anyResource('elasticloadbalancing:DescribeLoadBalancers')]),
  call('elastic-load-balancing-v2', 'DescribeListenersCommand', [anyResource('elasticloadbalancing:DescribeListeners')]),
  call('elastic-load-balancing-v2', 'paginateDescribeListeners', [anyResource('elasticloadbalancing:DescribeListeners')]),
  call('elastic-load-balancing-v2', 'DescribeRulesCommand', [anyResource('elasticloadbalancing:DescribeRules')]),
  call('elastic-load-balancing-v2', 'paginateDescribeRules', [anyResource('elasticloadbalancing:DescribeRules')]),
  call('elastic-load-balancing-v2', 'DescribeTagsCommand', [anyResource('elasticloadbalancing:DescribeTags')]),
  call('elastic-load-balancing-v2', 'DescribeTargetGroupsCommand', [anyResource('elasticloadbalancing:DescribeTargetGroups')]),
  call('elastic-load-balancing-v2', 'DescribeTargetGroupAttributesCommand', [anyResource('elasticloadbalancing:DescribeTargetGroupAttributes')]),
  call('elastic-load-balancing-v2', 'DescribeTargetHealthCommand', [anyResource('elasticloadbalancing:DescribeTargetHealth')]),
  call('elastic-load-balancing-v2', 'DescribeSSLPoliciesCommand', [anyResource('elasticloadbalancing:DescribeSSLPolicies')]),
  call('elastic-load-balancing-v2', 'CreateLoadBalancerCommand', [
    tagging('elasticloadbalancing:CreateLoadBalancer', loadBalancer),
    tagOnCreate('elasticloadbalancing:AddTags', 'CreateLoadBalancer', loadBalancer),
    {
      action: 'iam:CreateServiceLinkedRole',
      scope: 'condition',
      resources: (c) => [globalArn(c, 'iam', SERVICE_LINKED_ROLES.elasticloadbalancing)],
      condition: () => ({ StringEquals: { 'iam:AWSServiceName': 'elasticloadbalancing.amazonaws.com' } }),
      why: "ELB's own service-linked role, made on the account's first load balancer",
    },
  ]),
  call('elastic-load-balancing-v2', 'SetSecurityGroupsCommand', [tagged('elasticloadbalancing:SetSecurityGroups', loadBalancer)]),
  call('elastic-load-balancing-v2', 'SetSubnetsCommand', [tagged('elasticloadbalancing:SetSubnets', loadBalancer)]),
  call('elastic-load-balancing-v2', 'DeleteLoadBalancerCommand', [tagged('elasticloadbalancing:DeleteLoadBalancer', loadBalancer)]),
  call('elastic-load-balancing-v2', 'CreateTargetGroupCommand', [tagging('elasticloadbalancing:CreateTargetGroup', targetGroup), tagOnCreate('elasticloadbalancing:AddTags', 'CreateTargetGroup', targetGroup)]),
  call('elastic-load-balancing-v2', 'ModifyTargetGroupCommand', [tagged('elasticloadbalancing:ModifyTargetGroup', targetGroup)]),
  call('elastic-load-balancing-v2', 'ModifyTargetGroupAttributesCommand', [tagged('elasticloadbalancing:ModifyTargetGroupAttributes', targetGroup)]),
  call('elastic-load-balancing-v2', 'DeleteTargetGroupCommand', [tagged('elasticloadbalancing:DeleteTargetGroup', targetGroup)]),
  // A listener is made on the ALB, so the ALB's tag is the one there to require.
  call('elastic-load-balancing-v2', 'CreateListenerCommand', [tagged('elasticloadbalancing:CreateListener', loadBalancer), tagOnCreate('elasticloadbalancing:AddTags', 'CreateListener', listener)]),
  call('elastic-load-balancing-v2', 'ModifyListenerCommand', [tagged('elasticloadbalancing:ModifyListener', listener)]),
  call('elastic-load-balancing-v2', 'DeleteListenerCommand', [tagged('elasticloadbalancing:DeleteListener', listener)]),
  call('elastic-load-balancing-v2', 'CreateRuleCommand', [tagged('elasticloadbalancing:CreateRule', listener), tagOnCreate('elasticloadbalancing:AddTags', 'CreateRule', listenerRule)]),
  call('elastic-load-balancing-v2', 'ModifyRuleCommand', [tagged('elasticloadbalancing:ModifyRule', listenerRule)]),
  call('elastic-load-balancing-v2', 'SetRulePrioritiesCommand', [tagged('elasticloadbalancing:SetRulePriorities', listenerRule)]),
  call('elastic-load-balancing-v2', 'DeleteRuleCommand', [tagged('elasticloadbalancing:DeleteRule', listenerRule)]),

  // ---- Route 53 ----
  call('route-53', 'ListHostedZonesByNameCommand', [anyResource('route53:ListHostedZonesByName')]),
  call('route-53', 'GetHostedZoneCommand', [named('route53:GetHostedZone', 'the hosted zone (--hosted-zone-id), or any zone when it is found by name', hostedZone)]),
  call('route-53', 'ListResourceRecordSetsCommand', [named('route53:ListResourceRecordSets', 'the hosted zone (--hosted-zone-id), or any zone when it is found by name', hostedZone)]),
  call('route-53', 'ChangeResourceRecordSetsCommand', [
    {
      action: 'route53:ChangeResourceRecordSets',
      scope: 'condition',
      resources: (c) => [hostedZone(c)],
      condition: (c): ConditionBlock =>
        c.domain
          ? {
              'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': [c.domain, `_*.${c.domain}`] },
              'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'] },
            }
          : { 'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'] } },
      why: 'Route 53 records carry no tags: only CNAME records, and (with --domain) only the site name and its ACM validation names',
    },
    {
      // A domain at the zone apex gets an alias A record to the ALB (a CNAME is not allowed there).
      action: 'route53:ChangeResourceRecordSets',
      scope: 'condition',
      resources: (c) => [hostedZone(c)],
      condition: (c): ConditionBlock =>
        c.domain
          ? { 'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': [c.domain], 'route53:ChangeResourceRecordSetsRecordTypes': ['A'] } }
          : { 'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['A'] } },
      why: 'an apex domain: only the alias A record of the site name itself (Route 53 forbids a CNAME at the apex)',
    },
  ]),
  call('route-53', 'GetChangeCommand', [named('route53:GetChange', 'change IDs are generated', change)]),

  // ---- IAM, STS, Service Quotas ----
  call('iam', 'GetRoleCommand', [named('iam:GetRole', "ECS's service-linked role, and (doctor) the caller's own role, to read its path", (c) => globalArn(c, 'iam', 'role/*'))]),
  call('iam', 'CreateServiceLinkedRoleCommand', [
    {
      action: 'iam:CreateServiceLinkedRole',
      scope: 'condition',
      resources: (c) => [globalArn(c, 'iam', SERVICE_LINKED_ROLES.ecs)],
      condition: () => ({ StringEquals: { 'iam:AWSServiceName': 'ecs.amazonaws.com' } }),
      why: "only ECS's own service-linked role",
    },
  ]),
  call('iam', 'GetInstanceProfileCommand', [named('iam:GetInstanceProfile', 'the instance profile named by the settings (preflight checks it exists)', (c) => globalArn(c, 'iam', `instance-profile/${c.instanceProfile}`))]),
  // The ECS task execution role (src/steps/execution-role.ts). IAM has no CreateAction key, so
  // TagRole is bounded by the request's stack tag alone.
  call('iam', 'CreateRoleCommand', [tagging('iam:CreateRole', authecsRoles), tagging('iam:TagRole', authecsRoles)]),
  call('iam', 'ListRoleTagsCommand', [named('iam:ListRoleTags', 'read-only: whether a role with the execution role\'s name is this stack\'s (any path, so that someone else\'s is reported as a conflict)', anyRole)]),
  call('iam', 'UpdateAssumeRolePolicyCommand', [tagged('iam:UpdateAssumeRolePolicy', authecsRoles)]),
  call('iam', 'AttachRolePolicyCommand', [
    {
      action: 'iam:AttachRolePolicy',
      scope: 'tag',
      resources: (c) => [authecsRoles(c)],
      condition: (c) => ({
        StringEquals: { [`aws:ResourceTag/${STACK_TAG_KEY}`]: c.stack },
        ArnEquals: { 'iam:PolicyARN': `arn:${c.partition}:iam::aws:policy/${EXECUTION_ROLE_POLICY}` },
      }),
      why: `only AmazonECSTaskExecutionRolePolicy (iam:PolicyARN), only to roles tagged ${STACK_TAG_KEY}=<stack>`,
    },
  ]),
  call('iam', 'DetachRolePolicyCommand', [tagged('iam:DetachRolePolicy', authecsRoles)]),
  call('iam', 'PutRolePolicyCommand', [tagged('iam:PutRolePolicy', authecsRoles)]),
  call('iam', 'DeleteRolePolicyCommand', [tagged('iam:DeleteRolePolicy', authecsRoles)]),
  call('iam', 'DeleteRoleCommand', [tagged('iam:DeleteRole', authecsRoles)]),
  // Read-only: the execution role's policies, and (EC2 preflight) the container instance role's, which may have any path.
  call('iam', 'GetRolePolicyCommand', [named('iam:GetRolePolicy', 'read-only: the execution role\'s secrets policy and the instance role\'s inline policies (any path)', anyRole)]),
  call('iam', 'paginateListAttachedRolePolicies', [named('iam:ListAttachedRolePolicies', 'read-only: the managed policies of the execution role and the instance role (any path)', anyRole)]),
  call('iam', 'paginateListRolePolicies', [named('iam:ListRolePolicies', 'read-only: the inline policy names of the execution role and the instance role (any path)', anyRole)]),
  call('iam', 'GetPolicyCommand', [named('iam:GetPolicy', 'read-only: the managed policies attached to the instance role (AWS managed ones are in account "aws")', awsManagedPolicies, accountPolicies)]),
  call('iam', 'GetPolicyVersionCommand', [named('iam:GetPolicyVersion', 'read-only: the documents of the managed policies attached to the instance role', awsManagedPolicies, accountPolicies)]),
  call('iam', 'SimulatePrincipalPolicyCommand', [named('iam:SimulatePrincipalPolicy', 'the caller itself: a user or role of the account', (c) => globalArn(c, 'iam', 'user/*'), (c) => globalArn(c, 'iam', 'role/*'))], { doctorOnly: true }),
  call('sts', 'GetCallerIdentityCommand', [], { doctorOnly: true }),
  call('service-quotas', 'GetServiceQuotaCommand', [{ action: 'servicequotas:GetServiceQuota', scope: 'name', resources: quotaArns, why: 'only the quotas doctor compares' }], { doctorOnly: true }),
  call('service-quotas', 'GetAWSDefaultServiceQuotaCommand', [anyResource('servicequotas:GetAWSDefaultServiceQuota')], { doctorOnly: true }),

  // ---- S3 (the state, with --state s3://bucket/key: src/state/s3-requests.ts) ----
  call('s3', 'GetObjectCommand', [
    { action: 's3:GetObject', scope: 'name', resources: stateObjects, why: 'the state object and its .lock only; also needed by the conditional writes (If-Match) and deletes (S3 User Guide, conditional writes)' },
    // Without it S3 answers a missing object with 403, not 404 (S3 API Reference, GetObject): a first `up` could not tell "no state yet".
    { action: 's3:ListBucket', scope: 'name', resources: stateBucket, why: 'the state\'s bucket: lets a state that does not exist yet read as missing (404) instead of access denied (403); it lists key names only' },
  ]),
  call('s3', 'PutObjectCommand', [{ action: 's3:PutObject', scope: 'name', resources: stateObjects, why: 'the state object and its .lock only, always conditional (If-Match / If-None-Match)' }]),
  call('s3', 'DeleteObjectCommand', [{ action: 's3:DeleteObject', scope: 'name', resources: stateObjects, why: 'the state object after a complete `down`, and the lock when a run ends (both If-Match)' }]),

  // ---- CloudWatch Logs (the container's log group) ----
  call('cloudwatch-logs', 'CreateLogGroupCommand', [tagging('logs:CreateLogGroup', ...stackLogGroupArns), tagOnCreate('logs:TagResource', 'CreateLogGroup', ...stackLogGroupArns)]),
  call('cloudwatch-logs', 'paginateDescribeLogGroups', [anyResource('logs:DescribeLogGroups')]),
  call('cloudwatch-logs', 'PutRetentionPolicyCommand', [tagged('logs:PutRetentionPolicy', ...stackLogGroupArns)]),
  call('cloudwatch-logs', 'ListTagsForResourceCommand', [named('logs:ListTagsForResource', READ, ...stackLogGroupArns)]),
  call('cloudwatch-logs', 'TagResourceCommand', [tagging('logs:TagResource', ...stackLogGroupArns)], { pending: RECONCILE }),
  call('cloudwatch-logs', 'DeleteLogGroupCommand', [tagged('logs:DeleteLogGroup', ...stackLogGroupArns)]),
  // A failed rollout's last log lines (src/steps/shared/rollout.ts).
  call('cloudwatch-logs', 'GetLogEventsCommand', [named('logs:GetLogEvents', "the streams of the stack's log group /authecs/<stack> (authecs/web/<task id>)", stackLogStreams)]),
  // `authecs logs`. Its resource type is log-group, matched in the form ending :* (Service Authorization Reference, CloudWatch Logs).
  call('cloudwatch-logs', 'paginateFilterLogEvents', [named('logs:FilterLogEvents', "read-only: the stack's own log group /authecs/<stack>", stackLogStreams)]),
];
