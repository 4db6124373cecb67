import * as z from 'zod';

/**
 * One schema for every setting. Each entry names its flag, its environment variables
 * (the article's own AUTH_ECS_* names first, so its readers feel at home) and its default.
 * Defaults reproduce the article unless `why` says how and why authecs differs.
 */

// ALB and target group names: 1-32 letters, digits and hyphens, no hyphen at either end.
const ELB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;
// Cognito hosted-UI prefix (aws-behaviour.md).
export const COGNITO_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// A DNS name with at least two labels; labels 1-63 chars, no hyphen at either end.
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const REGION = /^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const ECS_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const SUBNET = /^subnet-[0-9a-f]{8,17}$/;
const VPC = /^vpc-[0-9a-f]{8,17}$/;
const SECURITY_GROUP = /^sg-[0-9a-f]{8,17}$/;
const HOSTED_ZONE = /^(?:\/hostedzone\/)?[A-Z0-9]{1,32}$/;
// A container environment variable name, as a shell would take it.
export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
// An SSM parameter or a Secrets Manager secret: what a container definition's `valueFrom` takes
// (ECS guide, "Pass sensitive data to an Amazon ECS container").
// A Secrets Manager ARN must be complete (name plus its 6-character suffix): the partial form
// matches neither the execution role's IAM resource nor KMS's SecretARN encryption context.
export const SECRET_ARN = /^arn:(aws[a-z-]*):(ssm|secretsmanager):([a-z0-9-]+):(\d{12}):((?:parameter\/.+)|(?:secret:[^:]+-[A-Za-z0-9]{6}(?::[^:]*:[^:]*:[^:]*)?))$/;
// PutRetentionPolicy takes only these day counts (CloudWatch Logs API reference).
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export const LAUNCH_TYPES = ['EC2', 'FARGATE'] as const;
export type LaunchType = (typeof LAUNCH_TYPES)[number];

export const INGRESS_MODES = ['isolated', 'article'] as const;
export type IngressMode = (typeof INGRESS_MODES)[number];

export const SIGN_UP_MODES = ['invite-only', 'open'] as const;
export type SignUpMode = (typeof SIGN_UP_MODES)[number];

// An ALB path pattern: at most 128 of these characters (ELB API reference, RuleCondition Values:
// A-Z, a-z, 0-9, _ - . $ / ~ " ' @ : + & and the wildcards * and ?); authecs also wants a leading /.
export const PATH_PATTERN = /^\/[A-Za-z0-9_\-.$/~"'@:+&*?]{0,127}$/;
// "Condition values per rule: 5" (ELB quotas, Rules); the host-header value takes one of them.
export const MAX_PUBLIC_PATHS = 4;
// "Condition wildcards per rule: 5" (ELB quotas, Rules): every * and ? counts.
export const MAX_RULE_WILDCARDS = 5;
// AuthenticateCognitoActionConfig SessionTimeout: 7 days by default, "as short as 1 second" (ALB guide, "Authenticate users").
export const MAX_SESSION_TIMEOUT_SECONDS = 604800;
// A Cognito group name (CreateGroup GroupName: 1-128 letters, marks, symbols, digits, punctuation); no comma, which joins them.
const COGNITO_GROUP = /^(?!.*,)[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$/u;

/** A path pattern that every page matches: a public rule with it would bypass sign-in for the whole site. */
export function exposesWholeSite(pattern: string): boolean {
  if (/^\/?[*?]*\*[*?]*$/.test(pattern)) return true;
  const matcher = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return ['/', '/index.html', '/a', '/app/page', '/api/v1/items', '/Z9/x.y'].every((path) => matcher.test(path));
}

/**
 * Where Cognito may send users after sign-out: an absolute URL without a fragment, https, or http
 * only for localhost (CreateUserPoolClient CallbackURLs/LogoutURLs; 1-1024 characters).
 */
export function isSignOutUrl(value: string): boolean {
  if (value.length > 1024) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (value.includes('#')) return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname === 'localhost');
}

/** The container variable that carries --allowed-groups (comma-joined); the app checks cognito:groups against it. */
export const ALLOWED_GROUPS_VARIABLE = 'AUTHECS_ALLOWED_GROUPS';

/** --sign-out-url, or by default https://<domain>/signed-out: derived here, not as a default, so it follows a new --domain. */
export function signOutUrlOf(config: Pick<Config, 'domain' | 'signOutUrl'>): string {
  return config.signOutUrl ?? `https://${config.domain}/signed-out`;
}

export const MODERN_SSL_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';
export const ARTICLE_SSL_POLICY = 'ELBSecurityPolicy-2016-08';

const text = (pattern: RegExp, message: string) => z.string().regex(pattern, message);
const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const configSchema = z.object({
  region: text(REGION, 'must be an AWS region such as eu-west-1'),
  profile: z.string().min(1).optional(),
  endpointUrl: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL such as http://127.0.0.1:5000' }).optional(),
  stateFile: z.string().min(1).optional(),

  domain: z
    .string()
    .transform((value) => value.toLowerCase().replace(/\.$/, ''))
    .pipe(text(DOMAIN, 'must be a DNS name such as www.example.com')),
  hostedZoneId: text(HOSTED_ZONE, 'must be a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ')
    .transform((value) => value.replace(/^\/hostedzone\//, ''))
    .optional(),

  networkStack: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'must be a CloudFormation stack name'),
  createNetwork: z.boolean(),
  vpcId: text(VPC, 'must be a VPC ID such as vpc-0123456789abcdef0').optional(),
  publicSubnets: z.array(text(SUBNET, 'must be subnet IDs such as subnet-0123456789abcdef0')).length(2, 'needs exactly two subnet IDs').optional(),
  privateSubnets: z.array(text(SUBNET, 'must be subnet IDs such as subnet-0123456789abcdef0')).length(2, 'needs exactly two subnet IDs').optional(),
  securityGroupId: text(SECURITY_GROUP, 'must be a security group ID such as sg-0123456789abcdef0').optional(),

  cluster: text(ECS_NAME, 'must be 1-255 letters, digits, hyphens or underscores'),
  loadBalancerName: text(ELB_NAME, 'must be 1-32 letters, digits or hyphens, with no hyphen at either end').refine(
    (value) => !value.toLowerCase().startsWith('internal-'),
    'must not start with "internal-"',
  ),
  targetGroupName: text(ELB_NAME, 'must be 1-32 letters, digits or hyphens, with no hyphen at either end'),
  userPoolName: z.string().regex(/^[\w\s+=,.@-]{1,128}$/, 'must be 1-128 letters, digits, spaces or +=,.@-_'),
  appClientName: z.string().regex(/^[\w\s+=,.@-]{1,128}$/, 'must be 1-128 letters, digits, spaces or +=,.@-_'),
  cognitoDomain: text(COGNITO_PREFIX, 'must be 1-63 lower-case letters, digits or hyphens, with no hyphen at either end')
    // Cognito reserves these words in hosted-UI prefixes.
    .refine((value) => !/aws|amazon|cognito/.test(value), 'must not contain the reserved words aws, amazon or cognito')
    .optional(),
  serviceName: text(ECS_NAME, 'must be 1-255 letters, digits, hyphens or underscores'),
  keyPairName: z.string().regex(/^[\x20-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters'),

  rulePriority: integer(1, 50000),
  sessionCookieName: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, hyphens or underscores'),
  sessionTimeoutSeconds: integer(1, MAX_SESSION_TIMEOUT_SECONDS),
  signUp: z.enum(SIGN_UP_MODES, { message: 'must be invite-only or open' }),
  signOutUrl: z.string().refine(isSignOutUrl, 'must be an absolute https:// URL (http:// only for localhost), without a #fragment, of at most 1024 characters').optional(),
  publicPaths: z
    .array(
      z
        .string()
        // First, so that * is refused for what it does rather than for its missing /.
        .refine((path) => !exposesWholeSite(path), 'would serve every page without sign-in (a public path bypasses the sign-in for every page it matches); to let people in, use --sign-up open or invite users')
        .regex(PATH_PATTERN, 'must be paths starting with / of at most 128 characters: letters, digits, _ - . $ / ~ " \' @ : + & and the wildcards * and ?'),
    )
    .max(MAX_PUBLIC_PATHS, `holds more than ${MAX_PUBLIC_PATHS} paths: an ALB rule takes at most 5 condition values (ELB quotas), and the host name takes one`)
    .refine((paths) => paths.join('').replace(/[^*?]/g, '').length <= MAX_RULE_WILDCARDS, `has more than ${MAX_RULE_WILDCARDS} wildcards (* and ?) in all: an ALB rule takes at most ${MAX_RULE_WILDCARDS} (ELB quotas)`),
  allowedGroups: z.array(z.string().regex(COGNITO_GROUP, 'must be Cognito group names (1-128 characters, no spaces or commas)')),
  scope: z.string().min(1).refine((value) => value.split(/\s+/).includes('openid'), 'must include openid'),
  sslPolicy: z.string().regex(/^ELBSecurityPolicy-[A-Za-z0-9-]+$/, 'must be an ELB security policy name such as ' + MODERN_SSL_POLICY),
  httpRedirect: z.boolean(),
  ingressMode: z.enum(INGRESS_MODES, { message: 'must be isolated or article' }),

  launchType: z.enum(LAUNCH_TYPES, { message: 'must be EC2 or FARGATE' }),
  image: z.string().min(1).max(255),
  containerPort: integer(1, 65535),
  desiredCount: integer(1, 100),
  instanceType: z.string().regex(/^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/, 'must be an EC2 instance type such as t3.small'),
  instanceCount: integer(1, 20),
  instanceProfile: z.string().regex(/^[\w+=,.@-]{1,128}$/, 'must be an IAM instance profile name'),
  amiId: z.string().regex(/^ami-[0-9a-f]{8,17}$/, 'must be an AMI ID such as ami-0123456789abcdef0').optional(),
  taskCpu: integer(128, 16384),
  taskMemory: integer(128, 122880),

  logRetentionDays: z.coerce
    .number()
    .int()
    .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), `must be one of the day counts CloudWatch Logs keeps logs for: ${LOG_RETENTION_DAYS.join(', ')}`),
  environment: z.record(z.string().regex(ENV_KEY, 'has a name that is not letters, digits and _ (starting with a letter or _)'), z.string().max(32768)),
  envFile: z.string().min(1).optional(),
  secrets: z.record(
    z.string().regex(ENV_KEY, 'has a name that is not letters, digits and _ (starting with a letter or _)'),
    z.string().regex(SECRET_ARN, 'must be the ARN of an SSM parameter (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME) or a Secrets Manager secret with its 6-character suffix (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf)'),
  ),
  healthCheckPath: z.string().regex(/^\/[\x21-\x7e]{0,1023}$/, 'must be a path starting with / (1-1024 printable characters, no spaces)'),
  healthCheckIntervalSeconds: integer(5, 300),
  healthyThreshold: integer(2, 10),
  unhealthyThreshold: integer(2, 10),
  healthCheckMatcher: z.string().regex(/^[2-4]\d\d(?:-[2-4]\d\d)?(?:,[2-4]\d\d(?:-[2-4]\d\d)?)*$/, 'must be HTTP codes from 200 to 499, such as 200, 200,204 or 200-299'),
  healthCheckGracePeriodSeconds: integer(0, 2147483647),

  certificateTimeoutMinutes: integer(1, 72 * 60),
  waitTimeoutMinutes: integer(1, 180),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigKey = keyof Config;

export interface SettingDefinition {
  key: ConfigKey;
  flag?: string;
  env: string[];
  description: string;
  /** Where the article's value or authecs's own choice comes from; shown in the README. */
  why?: string;
  default?: (partial: Partial<Record<ConfigKey, unknown>>) => unknown;
  /** `map`: KEY=VALUE entries, from a repeatable flag (--env A=1 --env B=2) or a comma-separated variable. */
  kind?: 'boolean' | 'list' | 'map';
  /** A list whose flag repeats (--public-path /a --public-path /b); --no-<flag> clears it. */
  repeatable?: boolean;
  /** Settings that only `up` needs; other commands read them from the state file. */
  upOnly?: boolean;
  /**
   * `stack` (the default): part of the desired state; a value once chosen sticks in the state file.
   * `machine`: where and how this run reaches AWS; never recorded. `run`: how long this run waits.
   */
  scope?: 'stack' | 'machine' | 'run';
}

export function isSticky(setting: SettingDefinition): boolean {
  return (setting.scope ?? 'stack') === 'stack';
}

const clusterOf = (partial: Partial<Record<ConfigKey, unknown>>): string => String(partial.cluster ?? 'ecsauth');

export const SETTINGS: SettingDefinition[] = [
  { key: 'region', flag: '--region <region>', env: ['AUTH_ECS_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION'], description: 'AWS region (a stack stays in the region it was made in)' },
  { key: 'profile', flag: '--profile <name>', env: ['AWS_PROFILE'], description: 'AWS shared-config profile', scope: 'machine' },
  { key: 'endpointUrl', flag: '--endpoint-url <url>', env: ['AWS_ENDPOINT_URL'], description: 'send every AWS call to this endpoint (moto, LocalStack)', scope: 'machine' },
  { key: 'stateFile', flag: '--state <path>', env: ['AUTHECS_STATE'], description: 'state file (default .authecs/<cluster>.json), or s3://bucket/key for a state shared through S3', scope: 'machine' },

  { key: 'domain', flag: '--domain <name>', env: ['AUTH_ECS_DOMAIN'], description: 'the site name users open, e.g. www.example.com', upOnly: true },
  { key: 'hostedZoneId', flag: '--hosted-zone-id <id>', env: ['AUTH_ECS_R53HZ'], description: 'Route 53 hosted zone (default: the longest public zone that is a suffix of the domain)', upOnly: true },

  { key: 'networkStack', flag: '--network-stack <name>', env: ['AUTH_ECS_NETWORK_STACK'], description: 'CloudFormation stack whose outputs give the network', default: () => 'ecsplatform', upOnly: true },
  { key: 'createNetwork', flag: '--create-network', env: ['AUTH_ECS_CREATE_NETWORK'], kind: 'boolean', description: 'create the network stack from the shipped template when it does not exist', default: () => false, upOnly: true },
  { key: 'vpcId', flag: '--vpc <id>', env: ['AUTH_ECS_VPC'], description: 'VPC ID (instead of the stack output VPC)', upOnly: true },
  { key: 'publicSubnets', flag: '--public-subnets <a,b>', env: ['AUTH_ECS_PUBLICSUBNET_1', 'AUTH_ECS_PUBLICSUBNET_2'], kind: 'list', description: 'two public subnet IDs for the ALB', upOnly: true },
  { key: 'privateSubnets', flag: '--private-subnets <a,b>', env: ['AUTH_ECS_PRIVATESUBNET_1', 'AUTH_ECS_PRIVATESUBNET_2'], kind: 'list', description: 'two private subnet IDs for instances and tasks', upOnly: true },
  { key: 'securityGroupId', flag: '--security-group <id>', env: ['AUTH_ECS_SG'], description: 'security group (instead of the stack output NoIngressSecurityGroup)', upOnly: true },

  { key: 'cluster', flag: '--cluster <name>', env: ['AUTH_ECS_CLUSTER'], description: 'ECS cluster name; also names the stack and its state file', default: () => 'ecsauth' },
  { key: 'loadBalancerName', flag: '--load-balancer-name <name>', env: ['AUTH_ECS_ALB_NAME'], description: 'ALB name', default: clusterOf, upOnly: true },
  { key: 'targetGroupName', flag: '--target-group-name <name>', env: ['AUTH_ECS_TG_NAME'], description: 'target group name', default: (p) => `${clusterOf(p)}-tg`, upOnly: true },
  { key: 'userPoolName', flag: '--user-pool-name <name>', env: ['AUTH_COGNITO_USER_POOL_NAME'], description: 'Cognito user pool name', default: (p) => `${clusterOf(p)}_Pool`, upOnly: true },
  { key: 'appClientName', flag: '--app-client-name <name>', env: ['AUTH_COGNITO_APP_CLIENT_NAME'], description: 'Cognito app client name', default: (p) => `${clusterOf(p)}_AppClient`, upOnly: true },
  {
    key: 'cognitoDomain',
    flag: '--cognito-domain <prefix>',
    env: ['AUTH_COGNITO_DOMAIN'],
    description: 'Cognito hosted-UI domain prefix',
    why: 'The article uses authecsblog$(whoami), which collides between users; authecs derives <cluster>-<hash of the pool ID>, unique per account and region.',
    upOnly: true,
  },
  { key: 'serviceName', flag: '--service-name <name>', env: ['AUTH_ECS_SERVICE_NAME'], description: 'ECS service and task definition family', default: (p) => `${clusterOf(p)}service`, upOnly: true },
  { key: 'keyPairName', flag: '--key-pair-name <name>', env: ['AUTH_ECS_KEY_PAIR'], description: 'EC2 key pair name (EC2 launch type)', default: clusterOf, upOnly: true },

  { key: 'rulePriority', flag: '--rule-priority <n>', env: ['AUTH_ECS_RULE_PRIORITY'], description: 'priority of the host-header rule', default: () => 20, upOnly: true },
  { key: 'sessionCookieName', flag: '--session-cookie <name>', env: ['AUTH_ECS_SESSION_COOKIE'], description: 'ALB authentication session cookie', default: () => 'AWSELBAuthSessionCookie', upOnly: true },
  {
    key: 'sessionTimeoutSeconds',
    flag: '--session-timeout <seconds>',
    env: ['AUTH_ECS_SESSION_TIMEOUT'],
    description: `seconds a sign-in lasts before the ALB asks again (1-${MAX_SESSION_TIMEOUT_SECONDS}, the ALB's 7 days)`,
    default: () => MAX_SESSION_TIMEOUT_SECONDS,
    upOnly: true,
  },
  {
    key: 'signUp',
    flag: '--sign-up <mode>',
    env: ['AUTH_ECS_SIGN_UP'],
    description: 'who can make an account: invite-only (only users you add) or open (anyone, from the sign-in page)',
    why: "The article's pool lets anyone on the internet sign up (it even prints a sign-up link) and so get past the ALB; authecs makes the pool invite-only (`--sign-up open` restores self sign-up).",
    default: () => 'invite-only',
    upOnly: true,
  },
  {
    key: 'signOutUrl',
    flag: '--sign-out-url <url>',
    env: ['AUTH_ECS_SIGN_OUT_URL'],
    description: "where Cognito sends users after sign-out: the app client's allowed sign-out URL (default https://<domain>/signed-out)",
    upOnly: true,
  },
  {
    key: 'publicPaths',
    flag: '--public-path <path>',
    env: ['AUTH_ECS_PUBLIC_PATHS'],
    kind: 'list',
    repeatable: true,
    description: `a path the ALB serves without sign-in, e.g. /signed-out or /assets/* (repeatable, at most ${MAX_PUBLIC_PATHS}; --no-public-path clears them)`,
    default: () => [],
    upOnly: true,
  },
  {
    key: 'allowedGroups',
    flag: '--allowed-groups <a,b>',
    env: ['AUTH_ECS_ALLOWED_GROUPS'],
    kind: 'list',
    description: 'Cognito groups your app should let in, passed to the container as AUTHECS_ALLOWED_GROUPS (the ALB cannot check groups: the app checks cognito:groups)',
    default: () => [],
    upOnly: true,
  },
  { key: 'scope', flag: '--scope <scopes>', env: ['AUTH_ECS_SCOPE'], description: 'OAuth scopes requested by the ALB', default: () => 'openid', upOnly: true },
  {
    key: 'sslPolicy',
    flag: '--ssl-policy <name>',
    env: ['AUTH_ECS_SSL_POLICY'],
    description: `HTTPS listener TLS policy (the article's is ${ARTICLE_SSL_POLICY})`,
    why: `The article's ${ARTICLE_SSL_POLICY} allows TLS 1.0 and 1.1; authecs defaults to ${MODERN_SSL_POLICY} (TLS 1.2 and 1.3 only).`,
    default: () => MODERN_SSL_POLICY,
    upOnly: true,
  },
  {
    key: 'httpRedirect',
    flag: '--no-http-redirect',
    env: ['AUTH_ECS_HTTP_REDIRECT'],
    kind: 'boolean',
    description: 'skip the HTTP:80 listener that redirects to HTTPS',
    why: 'The article opens port 80 but never listens on it; authecs adds an HTTP:80 listener that only redirects to HTTPS.',
    default: () => true,
    upOnly: true,
  },
  {
    key: 'ingressMode',
    flag: '--ingress <mode>',
    env: ['AUTH_ECS_INGRESS'],
    description:
      'isolated: a separate ALB security group open on 443/80, and the app port on the instance/task group open only to it; article: 443 and 80 from anywhere on the one group, as the article does',
    why: 'The article opens 443 and 80 to the world on the group its instances and tasks use, so they answer anyone who reaches them, past the ALB and its Cognito sign-in; authecs gives the ALB its own group and opens only the app port on the instance/task group, to the ALB group alone (`--ingress article` restores the article\'s rules).',
    default: () => 'isolated',
    upOnly: true,
  },

  { key: 'launchType', flag: '--launch-type <type>', env: ['AUTH_ECS_LAUNCH_TYPE'], description: 'EC2 (as in the article) or FARGATE', default: () => 'EC2', upOnly: true },
  { key: 'image', flag: '--image <image>', env: ['AUTH_ECS_IMAGE'], description: 'container image', default: () => 'amazon/amazon-ecs-sample', upOnly: true },
  { key: 'containerPort', flag: '--container-port <port>', env: ['AUTH_ECS_CONTAINER_PORT'], description: 'container and target group port', default: () => 80, upOnly: true },
  { key: 'desiredCount', flag: '--desired-count <n>', env: ['AUTH_ECS_DESIRED_COUNT'], description: 'number of tasks', default: () => 2, upOnly: true },
  { key: 'instanceType', flag: '--instance-type <type>', env: ['AUTH_ECS_INSTANCE_TYPE'], description: 'container instance type (EC2 launch type)', default: () => 't3.small', upOnly: true },
  { key: 'instanceCount', flag: '--instance-count <n>', env: ['AUTH_ECS_INSTANCE_COUNT'], description: 'number of container instances (EC2 launch type)', default: () => 2, upOnly: true },
  {
    key: 'instanceProfile',
    flag: '--instance-profile <name>',
    env: ['AUTH_ECS_INSTANCE_PROFILE'],
    description: 'IAM instance profile of the container instances',
    why: "The article reuses the Cloud9 admin role ecsworkshop-admin; authecs defaults to ecsInstanceRole, the least-privilege role AWS's ECS guides create.",
    default: () => 'ecsInstanceRole',
    upOnly: true,
  },
  { key: 'amiId', flag: '--ami <id>', env: ['AUTH_ECS_AMI'], description: 'container instance AMI (default: the newest ECS-optimized Amazon Linux 2023 AMI)', upOnly: true },
  { key: 'taskCpu', flag: '--task-cpu <units>', env: ['AUTH_ECS_TASK_CPU'], description: 'task CPU units', default: () => 256, upOnly: true },
  { key: 'taskMemory', flag: '--task-memory <MiB>', env: ['AUTH_ECS_TASK_MEMORY'], description: 'task memory in MiB', default: () => 512, upOnly: true },

  {
    key: 'logRetentionDays',
    flag: '--log-retention <days>',
    env: ['AUTH_ECS_LOG_RETENTION'],
    description: 'days CloudWatch Logs keeps the container logs (log group /authecs/<cluster>)',
    why: 'The article sends the container logs nowhere; authecs sends them to a log group of the stack, kept 30 days.',
    default: () => 30,
    upOnly: true,
  },
  {
    key: 'environment',
    flag: '--env <KEY=VALUE>',
    env: [],
    kind: 'map',
    description: 'an environment variable for the container (repeatable; --env or --app-env-file replaces the whole set, --no-env clears it)',
    default: () => ({}),
    upOnly: true,
  },
  {
    key: 'envFile',
    flag: '--app-env-file <file>',
    env: ['AUTH_ECS_ENV_FILE'],
    description: 'environment variables for the container from a dotenv file (--env entries win over the file\'s); read on this run only',
    upOnly: true,
    scope: 'run',
  },
  {
    key: 'secrets',
    flag: '--secret <KEY=ARN>',
    env: ['AUTH_ECS_SECRETS'],
    kind: 'map',
    description: 'an environment variable whose value ECS reads from an SSM parameter or Secrets Manager secret ARN at task start (repeatable; --no-secret clears them)',
    default: () => ({}),
    upOnly: true,
  },
  { key: 'healthCheckPath', flag: '--health-check-path <path>', env: ['AUTH_ECS_HEALTH_CHECK_PATH'], description: 'path the target group health check requests', default: () => '/', upOnly: true },
  // 10 s and 2 rather than the ALB's 30 s and 5: an app that fails its first checks is healthy
  // 2 x 10 s after it answers, not 5 x 30 s. These were Copilot's defaults in v0.6.0 (aws/copilot-cli#1592,
  // manifest lb_web_svc.go: HealthyThreshold 2, UnhealthyThreshold 2, Interval 10, Timeout 5); Copilot
  // has since left them to the ALB (#1664; its manifest reference, http.healthcheck) and keeps grace_period 60s.
  { key: 'healthCheckIntervalSeconds', flag: '--health-check-interval <seconds>', env: ['AUTH_ECS_HEALTH_CHECK_INTERVAL'], description: 'seconds between health checks of each target', default: () => 10, upOnly: true },
  { key: 'healthyThreshold', flag: '--healthy-threshold <n>', env: ['AUTH_ECS_HEALTHY_THRESHOLD'], description: 'passing checks in a row before an unhealthy target is healthy', default: () => 2, upOnly: true },
  { key: 'unhealthyThreshold', flag: '--unhealthy-threshold <n>', env: ['AUTH_ECS_UNHEALTHY_THRESHOLD'], description: 'failed checks in a row before a target is unhealthy', default: () => 2, upOnly: true },
  { key: 'healthCheckMatcher', flag: '--health-check-matcher <codes>', env: ['AUTH_ECS_HEALTH_CHECK_MATCHER'], description: 'HTTP codes a healthy target answers, e.g. 200, 200,204 or 200-299', default: () => '200', upOnly: true },
  {
    key: 'healthCheckGracePeriodSeconds',
    flag: '--health-check-grace-period <seconds>',
    env: ['AUTH_ECS_HEALTH_CHECK_GRACE_PERIOD'],
    description: 'seconds ECS ignores failing health checks of a new task',
    default: () => 60,
    upOnly: true,
  },

  { key: 'certificateTimeoutMinutes', flag: '--certificate-timeout <minutes>', env: ['AUTH_ECS_CERTIFICATE_TIMEOUT'], description: 'how long to wait for ACM to issue the certificate', default: () => 75, upOnly: true, scope: 'run' },
  { key: 'waitTimeoutMinutes', flag: '--wait-timeout <minutes>', env: ['AUTH_ECS_WAIT_TIMEOUT'], description: 'how long to wait for any other resource to settle', default: () => 20, scope: 'run' },
];

export const SETTINGS_BY_KEY = new Map(SETTINGS.map((setting) => [setting.key, setting]));
