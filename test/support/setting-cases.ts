/**
 * What changing each setting does to a live stack: the plan it gives (resource, action, and each
 * field with its effect) and, where moto can play it, the mutating calls `up` then makes. The
 * unit test fails for any setting in the config schema without an entry here, so a new setting
 * cannot ship without reconcile coverage. The same table drives the end-to-end converge test.
 */
import type { Config, ConfigKey } from '../../src/config/schema.js';

export type SettingCase =
  | {
      kind: 'stack';
      /** The changed value (as the schema parses it). */
      value: unknown;
      /** Settings of the stack before the change, when the article's defaults do not show it. */
      base?: Partial<Config>;
      /** The plan, one entry per resource that changes: `step:action[field/effect,...]`, in STEPS order. */
      plan: string[];
      /** The flag(s) that make the change on the command line. */
      args?: string[];
      /** Mutating calls of `up`, sorted; or why moto cannot play this change end to end. */
      calls: string[] | { notOnMoto: string };
    }
  /** The stack's identity: a new value is another stack (cluster names the state file) or is refused (region). */
  | { kind: 'identity'; why: string }
  /** How this run reaches AWS or how long it waits: never part of the desired state, never recorded. */
  | { kind: 'machine' | 'run' };

const NETWORK_CASCADE = [
  'load-balancer-security-group:replace[vpcId/replace]',
  'security-group-ingress:update[rules/update]',
  'load-balancer:replace[vpcId/replace,subnets/update,securityGroups/update]',
  'dns-record:update[value/update]',
  'https-listener:replace[loadBalancerArn/replace]',
  'http-redirect-listener:replace[loadBalancerArn/replace]',
  'target-group:replace[vpcId/replace]',
  'host-rule:replace[listenerArn/replace,targetGroupArn/update]',
  'parking-rule:replace[listenerArn/replace,targetGroupArn/update]',
  'capacity:update[launchTemplate/update,subnets/update]',
  'service:update[loadBalancer/update]',
];
const SECOND_NETWORK = { notOnMoto: 'needs a second network; the replacement chain is covered by the plan above and the engine tests' };

const TD_MOVE = ['DeleteTaskDefinitions', 'DeregisterTaskDefinition', 'RegisterTaskDefinition', 'UpdateService'];

export const SETTING_CASES: Record<ConfigKey, SettingCase> = {
  region: { kind: 'identity', why: 'a stack stays in its region: another --region is refused (REGION_CHANGE_REFUSED); down, then up there' },
  profile: { kind: 'machine' },
  endpointUrl: { kind: 'machine' },
  stateFile: { kind: 'machine' },
  cluster: { kind: 'identity', why: 'names the stack and its state file: another --cluster is another stack' },
  certificateTimeoutMinutes: { kind: 'run' },
  envFile: { kind: 'run' },
  waitTimeoutMinutes: { kind: 'run' },

  domain: {
    kind: 'stack',
    value: 'app.example.com',
    plan: [
      'hosted-zone:replace[domain/replace]',
      'dns-record:replace[hostedZoneId/replace,recordName/replace,type/replace,aliasHostedZoneId/update]',
      'certificate:replace[domain/replace,hostedZoneId/update]',
      'https-listener:update[certificateArn/update,defaultAction/update]',
      // The sign-out URL's default (https://<domain>/signed-out) follows the domain.
      'app-client:update[callbackUrls/update,logoutUrls/update]',
      'host-rule:update[host/update]',
    ],
    calls: [
      'ChangeResourceRecordSets',
      'ChangeResourceRecordSets',
      'ChangeResourceRecordSets',
      'ChangeResourceRecordSets',
      'DeleteCertificate',
      'ModifyListener',
      'ModifyRule',
      'RequestCertificate',
      'UpdateUserPoolClient',
    ],
  },
  hostedZoneId: {
    kind: 'stack',
    value: 'Z0999999999EXAMPLE',
    plan: ['hosted-zone:replace[hostedZoneId/replace]', 'dns-record:replace[hostedZoneId/replace,type/replace,aliasHostedZoneId/update]', 'certificate:update[hostedZoneId/update]'],
    calls: { notOnMoto: 'needs a second public zone for the same domain' },
  },
  networkStack: { kind: 'stack', value: 'othernet', plan: ['network:replace[networkStack/replace]', ...NETWORK_CASCADE], calls: SECOND_NETWORK },
  createNetwork: {
    kind: 'stack',
    value: true,
    // Only consulted when the stack is missing; a live network just records it.
    plan: ['network:update[createNetwork/update]'],
    args: ['--create-network'],
    calls: [],
  },
  vpcId: { kind: 'stack', value: 'vpc-0999999999abcdef0', plan: ['network:replace[vpcId/replace]', ...NETWORK_CASCADE], calls: SECOND_NETWORK },
  publicSubnets: {
    kind: 'stack',
    value: ['subnet-0ccccccccccccccc1', 'subnet-0ccccccccccccccc2'],
    plan: ['network:replace[publicSubnets/replace]', ...NETWORK_CASCADE],
    calls: SECOND_NETWORK,
  },
  privateSubnets: {
    kind: 'stack',
    value: ['subnet-0ddddddddddddddd1', 'subnet-0ddddddddddddddd2'],
    plan: ['network:replace[privateSubnets/replace]', ...NETWORK_CASCADE],
    calls: SECOND_NETWORK,
  },
  securityGroupId: { kind: 'stack', value: 'sg-0999999999abcdef0', plan: ['network:replace[securityGroupId/replace]', ...NETWORK_CASCADE], calls: SECOND_NETWORK },

  loadBalancerName: {
    kind: 'stack',
    value: 'other-alb',
    plan: [
      'load-balancer:replace[name/replace]',
      'dns-record:update[value/update]',
      'https-listener:replace[loadBalancerArn/replace]',
      'http-redirect-listener:replace[loadBalancerArn/replace]',
      'host-rule:replace[listenerArn/replace]',
      'parking-rule:replace[listenerArn/replace]',
    ],
    // Deleting the ALB takes its listeners and rules with it; its name must be free before the new one.
    calls: ['ChangeResourceRecordSets', 'CreateListener', 'CreateListener', 'CreateLoadBalancer', 'CreateRule', 'CreateRule', 'DeleteLoadBalancer'],
  },
  targetGroupName: {
    kind: 'stack',
    value: 'other-tg',
    plan: ['target-group:replace[name/replace]', 'host-rule:update[targetGroupArn/update]', 'parking-rule:update[targetGroupArn/update]', 'service:update[loadBalancer/update]'],
    calls: ['CreateTargetGroup', 'DeleteTargetGroup', 'ModifyRule', 'ModifyRule', 'ModifyTargetGroupAttributes', 'UpdateService'],
  },
  userPoolName: {
    kind: 'stack',
    value: 'Other_Pool',
    // UpdateUserPool takes PoolName (Cognito API Reference, UpdateUserPool); the user-pool unit test checks the call.
    plan: ['user-pool:update[name/update]'],
    calls: { notOnMoto: "moto's UpdateUserPool neither renames a pool nor keeps its username attributes (it resets them to defaults)" },
  },
  appClientName: { kind: 'stack', value: 'Other_Client', plan: ['app-client:update[name/update]'], calls: ['UpdateUserPoolClient'] },
  cognitoDomain: {
    kind: 'stack',
    value: 'other-prefix',
    plan: ['user-pool-domain:replace[domain/replace]', 'host-rule:update[userPoolDomain/update]'],
    calls: ['CreateUserPoolDomain', 'DeleteUserPoolDomain', 'ModifyRule'],
  },
  serviceName: {
    kind: 'stack',
    value: 'otherservice',
    plan: ['task-definition:replace[family/replace]', 'service:replace[serviceName/replace,taskDefinitionArn/update]'],
    calls: ['CreateService', 'DeleteService', 'DeleteTaskDefinitions', 'DeregisterTaskDefinition', 'RegisterTaskDefinition', 'UpdateService'],
  },
  keyPairName: {
    kind: 'stack',
    value: 'otherkey',
    plan: ['key-pair:replace[keyName/replace]', 'capacity:update[launchTemplate/update]'],
    calls: { notOnMoto: 'checked by the unit plan; the instance roll it causes is the same as --instance-type, which runs end to end' },
  },
  rulePriority: { kind: 'stack', value: 30, plan: ['host-rule:update[priority/update]'], calls: ['SetRulePriorities'] },
  sessionCookieName: { kind: 'stack', value: 'OtherCookie', plan: ['host-rule:update[sessionCookieName/update]'], calls: ['ModifyRule'] },
  scope: { kind: 'stack', value: 'openid email', plan: ['app-client:update[scopes/update]', 'host-rule:update[scope/update]'], calls: ['ModifyRule', 'UpdateUserPoolClient'] },
  sslPolicy: { kind: 'stack', value: 'ELBSecurityPolicy-2016-08', plan: ['https-listener:update[sslPolicy/update]'], calls: { notOnMoto: 'moto knows no TLS policy names, so preflight (DescribeSSLPolicies) refuses every one' } },
  httpRedirect: {
    kind: 'stack',
    value: false,
    args: ['--no-http-redirect'],
    // The parking rule lives on the HTTP listener: it goes first, and the service waits for the host rule again.
    plan: ['load-balancer-security-group:update[ingressPorts/update]', 'http-redirect-listener:delete[]', 'parking-rule:delete[]'],
    calls: ['DeleteListener', 'DeleteRule', 'RevokeSecurityGroupIngress'],
  },
  ingressMode: {
    kind: 'stack',
    value: 'article',
    plan: ['load-balancer-security-group:delete[]', 'security-group-ingress:update[rules/update]', 'load-balancer:update[securityGroups/update]'],
    // 443 and 80 from anywhere on the network group; the app port rule from the ALB group goes, then the group.
    calls: ['AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupIngress', 'DeleteSecurityGroup', 'RevokeSecurityGroupIngress', 'SetSecurityGroups'],
  },
  launchType: {
    kind: 'stack',
    value: 'FARGATE',
    plan: [
      'target-group:replace[targetType/replace]',
      'host-rule:update[targetGroupArn/update]',
      'parking-rule:update[targetGroupArn/update]',
      'key-pair:delete[]',
      'capacity:delete[]',
      // Fargate's awslogs driver writes with the task execution role, which EC2 without secrets has no need of.
      'execution-role:create[]',
      'task-definition:replace[networkMode/replace,requiresCompatibilities/replace,executionRoleArn/replace,container/replace]',
      'service:replace[taskDefinitionArn/update,launchType/replace,loadBalancer/update,networkConfiguration/update]',
    ],
    calls: { notOnMoto: 'covered by the plan here and the engine test of a launch type switch; each launch type runs end to end on its own' },
  },
  image: {
    kind: 'stack',
    value: 'nginx:1.27',
    plan: ['task-definition:replace[container/replace]', 'service:update[taskDefinitionArn/update]'],
    calls: ['DeleteTaskDefinitions', 'DeregisterTaskDefinition', 'RegisterTaskDefinition', 'UpdateService'],
  },
  containerPort: {
    kind: 'stack',
    value: 8080,
    plan: [
      'security-group-ingress:update[rules/update]',
      'target-group:replace[port/replace]',
      'host-rule:update[targetGroupArn/update]',
      'parking-rule:update[targetGroupArn/update]',
      'task-definition:replace[container/replace]',
      'service:update[taskDefinitionArn/update,loadBalancer/update]',
    ],
    calls: [
      'AuthorizeSecurityGroupIngress',
      'CreateTargetGroup',
      'DeleteTargetGroup',
      'DeleteTaskDefinitions',
      'DeregisterTaskDefinition',
      'ModifyRule',
      'ModifyRule',
      'ModifyTargetGroupAttributes',
      'RegisterTaskDefinition',
      'RevokeSecurityGroupIngress',
      'UpdateService',
    ],
  },
  desiredCount: { kind: 'stack', value: 1, plan: ['service:update[desiredCount/update]'], calls: ['UpdateService'] },
  instanceType: {
    kind: 'stack',
    value: 't3.medium',
    plan: ['capacity:update[launchTemplate/update]'],
    calls: [
      'CreateLaunchTemplateVersion',
      'DeregisterContainerInstance',
      'DeregisterContainerInstance',
      'ModifyLaunchTemplate',
      'RunInstances',
      'RunInstances',
      'TerminateInstances',
      'TerminateInstances',
      'UpdateContainerInstancesState',
      'UpdateContainerInstancesState',
    ],
  },
  instanceCount: { kind: 'stack', value: 3, plan: ['capacity:update[instanceCount/update]'], calls: ['RunInstances'] },
  instanceProfile: {
    kind: 'stack',
    value: 'otherProfile',
    plan: ['capacity:update[launchTemplate/update]'],
    calls: { notOnMoto: 'the same launch template roll as --instance-type, which runs end to end' },
  },
  amiId: {
    kind: 'stack',
    value: 'ami-0999999999abcdef0',
    plan: ['capacity:update[launchTemplate/update]'],
    calls: { notOnMoto: 'the same launch template roll as --instance-type, which runs end to end' },
  },
  taskCpu: {
    kind: 'stack',
    value: 512,
    // Task-level CPU exists only for Fargate; under EC2 the setting has no effect.
    base: { launchType: 'FARGATE', taskMemory: 1024 },
    plan: ['task-definition:replace[cpu/replace]', 'service:update[taskDefinitionArn/update]'],
    calls: { notOnMoto: 'the same task definition move as --image, which runs end to end' },
  },
  taskMemory: {
    kind: 'stack',
    value: 1024,
    plan: ['task-definition:replace[container/replace]', 'service:update[taskDefinitionArn/update]'],
    calls: ['DeleteTaskDefinitions', 'DeregisterTaskDefinition', 'RegisterTaskDefinition', 'UpdateService'],
  },
  logRetentionDays: { kind: 'stack', value: 7, plan: ['log-group:update[retentionInDays/update]'], calls: ['PutRetentionPolicy'] },
  environment: {
    kind: 'stack',
    value: { FOO: 'bar', LOG_LEVEL: 'debug' },
    args: ['--env', 'FOO=bar', '--env', 'LOG_LEVEL=debug'],
    plan: ['task-definition:replace[container/replace]', 'service:update[taskDefinitionArn/update]'],
    calls: TD_MOVE,
  },
  secrets: {
    kind: 'stack',
    value: { DB_PASSWORD: 'arn:aws:ssm:eu-west-1:123456789012:parameter/app/db-password' },
    args: ['--secret', 'DB_PASSWORD=arn:aws:ssm:eu-west-1:123456789012:parameter/app/db-password'],
    // Under EC2 the stack has no execution role until a secret needs one.
    plan: ['execution-role:create[]', 'task-definition:replace[executionRoleArn/replace,container/replace]', 'service:update[taskDefinitionArn/update]'],
    calls: ['AttachRolePolicy', 'CreateRole', 'DeleteTaskDefinitions', 'DeregisterTaskDefinition', 'PutRolePolicy', 'RegisterTaskDefinition', 'UpdateService'],
  },
  healthCheckPath: { kind: 'stack', value: '/healthz', plan: ['target-group:update[healthCheck/update]'], calls: ['ModifyTargetGroup'] },
  healthCheckIntervalSeconds: { kind: 'stack', value: 15, plan: ['target-group:update[healthCheck/update]'], calls: ['ModifyTargetGroup'] },
  healthyThreshold: { kind: 'stack', value: 3, plan: ['target-group:update[healthCheck/update]'], calls: ['ModifyTargetGroup'] },
  unhealthyThreshold: { kind: 'stack', value: 3, plan: ['target-group:update[healthCheck/update]'], calls: ['ModifyTargetGroup'] },
  healthCheckMatcher: { kind: 'stack', value: '200-299', plan: ['target-group:update[healthCheck/update]'], calls: ['ModifyTargetGroup'] },
  healthCheckGracePeriodSeconds: {
    kind: 'stack',
    value: 120,
    plan: ['service:update[healthCheckGracePeriodSeconds/update]'],
    calls: { notOnMoto: 'moto leaves healthCheckGracePeriodSeconds out of DescribeServices, so neither the change nor its convergence can be observed there' },
  },

  // Issue 11, who gets in. Last, so that the settings they leave behind (a public-path rule) touch no case above.
  sessionTimeoutSeconds: { kind: 'stack', value: 3600, plan: ['host-rule:update[sessionTimeout/update]'], calls: ['ModifyRule'] },
  signUp: {
    kind: 'stack',
    value: 'open',
    // UpdateUserPool takes AdminCreateUserConfig (Cognito API Reference); the user-pool unit test checks the exact call.
    plan: ['user-pool:update[allowAdminCreateUserOnly/update]'],
    calls: { notOnMoto: "moto's UpdateUserPool resets the settings it is not sent (it drops the pool's username attributes), so the pool would not converge there" },
  },
  signOutUrl: { kind: 'stack', value: 'https://www.example.com/goodbye', plan: ['app-client:update[logoutUrls/update]'], calls: ['UpdateUserPoolClient'] },
  publicPaths: {
    kind: 'stack',
    value: ['/assets/*', '/signed-out'],
    args: ['--public-path', '/signed-out', '--public-path', '/assets/*'],
    plan: ['public-path-rule:create[]'],
    calls: ['CreateRule'],
  },
  allowedGroups: {
    kind: 'stack',
    value: ['admins', 'staff'],
    // The groups reach the app as AUTHECS_ALLOWED_GROUPS: a new revision, and the service moves to it.
    plan: ['task-definition:replace[container/replace]', 'service:update[taskDefinitionArn/update]'],
    calls: TD_MOVE,
  },
};
