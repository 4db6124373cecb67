import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createClients } from '../../src/aws/clients.js';
import { resolveSettings } from '../../src/config/load.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createStepContext, type EngineEnvironment } from '../../src/engine/context.js';
import { Reporter } from '../../src/report/reporter.js';
import { StateFile, type KeyFilePolicy } from '../../src/state/state-file.js';
import type { StepName, StepOutputs } from '../../src/steps/outputs.js';
import type { StepContext } from '../../src/steps/step.js';
import type { Inputs } from '../../src/steps/resource.js';

/** The article's settings for a test domain, as `up` would resolve them. */
export function articleConfig(overrides: Partial<Config> = {}): Config {
  const { values } = resolveSettings({ flags: {}, env: { AWS_REGION: 'eu-west-1', AUTH_ECS_DOMAIN: 'www.example.com' }, cwd: tmpdir() });
  return configSchema.parse({ ...values, ...overrides });
}

/** Outputs of upstream steps, as a finished `up` would have recorded them. */
export const SAMPLE_OUTPUTS: StepOutputs = {
  network: {
    vpcId: 'vpc-0123456789abcdef0',
    publicSubnets: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
    privateSubnets: ['subnet-0bbbbbbbbbbbbbbb1', 'subnet-0bbbbbbbbbbbbbbb2'],
    securityGroupId: 'sg-0123456789abcdef0',
    source: 'stack',
    stackName: 'ecsplatform',
  },
  'hosted-zone': { hostedZoneId: 'Z0123456789EXAMPLE', zoneName: 'example.com' },
  'load-balancer-security-group': { groupId: 'sg-0aaaaaaaaaaaaaaa1', groupName: 'ecsauth-alb', vpcId: 'vpc-0123456789abcdef0' },
  'security-group-ingress': { groupId: 'sg-0123456789abcdef0', rules: [] },
  'load-balancer': {
    name: 'ecsauth',
    loadBalancerArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ecsauth/50dc6c495c0c9188',
    dnsName: 'ecsauth-1234567890.eu-west-1.elb.amazonaws.com',
    canonicalHostedZoneId: 'Z32O12XQLNTSW2',
  },
  'dns-record': { hostedZoneId: 'Z0123456789EXAMPLE', recordName: 'www.example.com', type: 'CNAME', ttl: 300, value: 'ecsauth-1234567890.eu-west-1.elb.amazonaws.com' },
  certificate: {
    certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012',
    domain: 'www.example.com',
    status: 'ISSUED',
    validationRecords: [],
    hostedZoneId: 'Z0123456789EXAMPLE',
  },
  'https-listener': {
    listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/ecsauth/50dc6c495c0c9188/f2f7dc8efc522ab2',
    port: 443,
    certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012',
    sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
  },
  'http-redirect-listener': { listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/ecsauth/50dc6c495c0c9188/aaaabbbbccccdddd', port: 80 },
  'user-pool': { userPoolId: 'eu-west-1_AbCdEf123', userPoolArn: 'arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123', name: 'ecsauth_Pool' },
  'app-client': { clientId: '1example23456789abcdefghij', name: 'ecsauth_AppClient', userPoolId: 'eu-west-1_AbCdEf123' },
  'user-pool-domain': { domain: 'ecsauth-1a2b3c4d', userPoolId: 'eu-west-1_AbCdEf123', hostedUiBaseUrl: 'https://ecsauth-1a2b3c4d.auth.eu-west-1.amazoncognito.com' },
  'target-group': { name: 'ecsauth-tg', targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ecsauth-tg/73e2d6bc24d8a067', targetType: 'instance' },
  'host-rule': { ruleArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/ecsauth/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee', listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/ecsauth/50dc6c495c0c9188/f2f7dc8efc522ab2', priority: 20 },
  'public-path-rule': { ruleArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/ecsauth/50dc6c495c0c9188/f2f7dc8efc522ab2/1234b2d02a6c5678', listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/ecsauth/50dc6c495c0c9188/f2f7dc8efc522ab2', priority: 19 },
  'parking-rule': { ruleArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/ecsauth/50dc6c495c0c9188/aaaabbbbccccdddd/5a5a5a5a5a5a5a5a', listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/ecsauth/50dc6c495c0c9188/aaaabbbbccccdddd', priority: 50000 },
  cluster: { clusterName: 'ecsauth', clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/ecsauth' },
  'key-pair': { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: '/tmp/ecsauth.pem' },
  capacity: { launchTemplateId: 'lt-0123456789abcdef0', launchTemplateName: 'ecsauth', amiId: 'ami-0123456789abcdef0', instanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1'], clientToken: 'authecs-ecsauth-capacity' },
  'log-group': { logGroupName: '/authecs/ecsauth', logGroupArn: 'arn:aws:logs:eu-west-1:123456789012:log-group:/authecs/ecsauth' },
  'execution-role': { roleName: 'ecsauth-eu-west-1-ecs-execution', roleArn: 'arn:aws:iam::123456789012:role/authecs/ecsauth-eu-west-1-ecs-execution' },
  'task-definition': { taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/ecsauthservice:1', family: 'ecsauthservice', revision: 1 },
  service: { serviceName: 'ecsauthservice', serviceArn: 'arn:aws:ecs:eu-west-1:123456789012:service/ecsauth/ecsauthservice', clusterName: 'ecsauth' },
};

export interface StepHarness<Name extends StepName> {
  context: StepContext<Name>;
  /** The same context with save() refusing, as the engine gives read() and preflight(). */
  readContext: StepContext<Name>;
  /** The dependencies' outputs as desired() sees them after a completed `up`. */
  inputs: Inputs;
  config: Config;
  state: StateFile;
  reporter: Reporter;
  folder: string;
  /** Progress lines the step reported. */
  progress: string[];
  cleanup(): void;
}

export interface HarnessOptions<Name extends StepName> {
  config?: Partial<Config>;
  /** Upstream outputs to record as complete; defaults to SAMPLE_OUTPUTS for every dependency. */
  outputs?: Partial<StepOutputs>;
  /** This step's own record from an earlier (partial) run. */
  record?: { created: boolean; complete: boolean; data: Partial<StepOutputs[Name]> };
  /** Another state than a file in the folder (e.g. one in a fake S3), opened by the test. */
  state?: StateFile;
  /** Where private keys go (default: beside the state file). */
  keyFiles?: KeyFilePolicy;
}

/**
 * A real StepContext over a real state file in a temporary folder, with real SDK clients
 * (mock them with aws-sdk-client-mock's mockClient(ClientClass) before calling the step).
 * Sleeps are instant, so waits and retries run at full speed.
 */
export function stepHarness<Name extends StepName>(step: { name: Name; dependsOn: readonly StepName[] }, options: HarnessOptions<Name> = {}): StepHarness<Name> {
  const folder = mkdtempSync(join(tmpdir(), 'authecs-step-'));
  const config = articleConfig(options.config);
  const state = options.state ?? StateFile.open(join(folder, 'state.json'));
  state.initialise(config.cluster, config.region, {});
  const inputs: Record<string, unknown> = {};
  for (const dependency of step.dependsOn) {
    const output = options.outputs?.[dependency] ?? SAMPLE_OUTPUTS[dependency];
    state.update(dependency, { created: true, complete: true, data: output as object });
    inputs[dependency] = output;
  }
  if (options.record) state.update(step.name, options.record as never);
  const reporter = new Reporter({ json: true, verbosity: 'quiet', stdout: new PassThrough(), stderr: new PassThrough() });
  const progress: string[] = [];
  // Simulated AWS time: each sleep advances the clock by the unscaled interval, instantly.
  let clock = Date.now();
  const environment: EngineEnvironment = {
    config,
    clients: createClients({ region: config.region, reporter }),
    state,
    reporter,
    stack: config.cluster,
    // SDK waiters sleep for real; a tiny scale keeps their delays to milliseconds.
    pollScale: 0.001,
    ...(options.keyFiles ? { keyFiles: options.keyFiles } : {}),
    sleep: async (seconds: number) => {
      clock += (seconds / 0.001) * 1000;
    },
    now: () => clock,
  };
  const context = createStepContext<Name>({ name: step.name, dependsOn: step.dependsOn }, environment);
  const readContext = createStepContext<Name>({ name: step.name, dependsOn: step.dependsOn }, environment, { readOnly: true });
  const originalProgress = context.progress.bind(context);
  context.progress = (message: string) => {
    progress.push(message);
    originalProgress(message);
  };
  return { context, readContext, inputs: inputs as Inputs, config, state, reporter, folder, progress, cleanup: () => rmSync(folder, { recursive: true, force: true }) };
}
