import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBaseConfig, loadStackSettings, loadUpConfig, resolveSettings, settingChanges } from '../../src/config/load.js';
import { ARTICLE_SSL_POLICY, MODERN_SSL_POLICY } from '../../src/config/schema.js';

describe('configuration', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'authecs-config-'));
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  const minimalEnv = { AWS_REGION: 'eu-west-1', AUTH_ECS_DOMAIN: 'www.example.com' };

  it("defaults reproduce the article's names and values", () => {
    const config = loadUpConfig({ flags: {}, env: minimalEnv, cwd });
    expect(config).toMatchObject({
      cluster: 'ecsauth',
      loadBalancerName: 'ecsauth',
      targetGroupName: 'ecsauth-tg',
      userPoolName: 'ecsauth_Pool',
      appClientName: 'ecsauth_AppClient',
      serviceName: 'ecsauthservice',
      keyPairName: 'ecsauth',
      rulePriority: 20,
      sessionCookieName: 'AWSELBAuthSessionCookie',
      scope: 'openid',
      image: 'amazon/amazon-ecs-sample',
      containerPort: 80,
      desiredCount: 2,
      instanceType: 't3.small',
      instanceCount: 2,
      networkStack: 'ecsplatform',
      launchType: 'EC2',
      instanceProfile: 'ecsInstanceRole',
      sslPolicy: MODERN_SSL_POLICY,
      httpRedirect: true,
      createNetwork: false,
    });
    expect(config.cognitoDomain).toBeUndefined();
  });

  it('names derive from the cluster, as the article derives them from $AUTH_ECS_CLUSTER', () => {
    const config = loadUpConfig({ flags: {}, env: { ...minimalEnv, AUTH_ECS_CLUSTER: 'shop' }, cwd });
    expect(config).toMatchObject({ loadBalancerName: 'shop', targetGroupName: 'shop-tg', userPoolName: 'shop_Pool', appClientName: 'shop_AppClient', serviceName: 'shopservice' });
  });

  it('precedence is flags, then environment, then .env, then defaults', () => {
    writeFileSync(join(cwd, '.env'), 'AUTH_ECS_CLUSTER=fromdotenv\nAUTH_ECS_DOMAIN=dotenv.example.com\nAUTH_ECS_RULE_PRIORITY=30\nAWS_REGION=us-east-1\n');
    const fromDotEnv = loadUpConfig({ flags: {}, env: {}, cwd });
    expect(fromDotEnv).toMatchObject({ cluster: 'fromdotenv', domain: 'dotenv.example.com', rulePriority: 30, region: 'us-east-1' });

    const fromEnv = loadUpConfig({ flags: {}, env: { AUTH_ECS_CLUSTER: 'fromenv', AWS_REGION: 'eu-west-1' }, cwd });
    expect(fromEnv).toMatchObject({ cluster: 'fromenv', domain: 'dotenv.example.com', region: 'eu-west-1' });

    const fromFlags = loadUpConfig({ flags: { cluster: 'fromflag', rulePriority: '40' }, env: { AUTH_ECS_CLUSTER: 'fromenv' }, cwd });
    expect(fromFlags).toMatchObject({ cluster: 'fromflag', rulePriority: 40, loadBalancerName: 'fromflag' });

    const sources = resolveSettings({ flags: { cluster: 'x' }, env: { AWS_REGION: 'eu-west-1' }, cwd }).sources;
    expect(sources.cluster).toEqual({ source: 'flag', name: '--cluster' });
    expect(sources.region).toEqual({ source: 'env', name: 'AWS_REGION' });
    expect(sources.domain).toEqual({ source: '.env', name: 'AUTH_ECS_DOMAIN' });
    expect(sources.image).toEqual({ source: 'default', name: 'default' });
  });

  it("the article's AUTH_ECS_REGION wins over AWS_REGION, and subnet pairs come from _1 and _2", () => {
    const config = loadUpConfig({
      flags: {},
      env: { ...minimalEnv, AUTH_ECS_REGION: 'ap-southeast-2', AUTH_ECS_PUBLICSUBNET_1: 'subnet-0aaaaaaaaaaaaaaa1', AUTH_ECS_PUBLICSUBNET_2: 'subnet-0aaaaaaaaaaaaaaa2' },
      cwd,
    });
    expect(config.region).toBe('ap-southeast-2');
    expect(config.publicSubnets).toEqual(['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2']);
    expect(loadUpConfig({ flags: { privateSubnets: 'subnet-0bbbbbbbbbbbbbbb1, subnet-0bbbbbbbbbbbbbbb2' }, env: minimalEnv, cwd }).privateSubnets).toEqual([
      'subnet-0bbbbbbbbbbbbbbb1',
      'subnet-0bbbbbbbbbbbbbbb2',
    ]);
  });

  it("the article's TLS policy stays selectable", () => {
    expect(loadUpConfig({ flags: { sslPolicy: ARTICLE_SSL_POLICY }, env: minimalEnv, cwd }).sslPolicy).toBe(ARTICLE_SSL_POLICY);
  });

  it('domains are lower-cased so the callback URL matches what the ALB sends', () => {
    expect(loadUpConfig({ flags: { domain: 'WWW.Example.COM.' }, env: minimalEnv, cwd }).domain).toBe('www.example.com');
  });

  const invalid: [string, Record<string, unknown>, Record<string, string>, RegExp][] = [
    ['a domain that is not a DNS name', { domain: 'not a domain' }, {}, /--domain.*must be a DNS name/],
    ['a missing domain', {}, { AUTH_ECS_DOMAIN: '' }, /Invalid setting --domain \/ AUTH_ECS_DOMAIN: is not set/],
    ['a region that does not exist', { region: 'mars-1' }, {}, /--region.*must be an AWS region/],
    ['an ALB name over 32 characters', { loadBalancerName: 'a'.repeat(33) }, {}, /--load-balancer-name.*1-32 letters/],
    ['an ALB name ending in a hyphen', { loadBalancerName: 'abc-' }, {}, /--load-balancer-name/],
    ['an ALB name starting with internal-', { loadBalancerName: 'internal-app' }, {}, /must not start with "internal-"/],
    ['a cluster so long the target group name passes 32 characters', { cluster: 'a'.repeat(30) }, {}, /target-group-name|load-balancer-name/],
    ['a Cognito prefix with capitals', { cognitoDomain: 'MyPrefix' }, {}, /--cognito-domain.*lower-case/],
    ['a Cognito prefix ending in a hyphen', { cognitoDomain: 'prefix-' }, {}, /--cognito-domain/],
    ['a Cognito prefix with a reserved word', { cognitoDomain: 'my-aws-login' }, {}, /--cognito-domain.*reserved words/],
    ['a rule priority out of range', { rulePriority: '0' }, {}, /--rule-priority/],
    ['a port out of range', { containerPort: '70000' }, {}, /--container-port/],
    ['a non-numeric desired count', { desiredCount: 'two' }, {}, /--desired-count/],
    ['an unknown launch type', { launchType: 'LAMBDA' }, {}, /--launch-type.*EC2 or FARGATE/],
    ['only one public subnet', { publicSubnets: 'subnet-0aaaaaaaaaaaaaaa1' }, {}, /--public-subnets.*two subnet IDs/],
    ['a scope without openid', { scope: 'email' }, {}, /--scope.*openid/],
    ['an endpoint that is not a URL', { endpointUrl: 'localhost:5000' }, {}, /--endpoint-url.*URL/],
  ];
  for (const [what, flags, env, message] of invalid) {
    it(`rejects ${what}, naming the setting and how to fix it`, () => {
      let thrown: unknown;
      try {
        loadUpConfig({ flags, env: { ...minimalEnv, ...env }, cwd });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'CONFIG_INVALID', exit: 'usage', message: expect.stringMatching(message) });
      expect((thrown as { hint: string }).hint).toMatch(/Fix it: pass --|set /);
    });
  }

  it('an invalid value from the environment is reported under its variable name', () => {
    expect(() => loadUpConfig({ flags: {}, env: { ...minimalEnv, AUTH_ECS_RULE_PRIORITY: '-3' }, cwd })).toThrow(/AUTH_ECS_RULE_PRIORITY/);
  });

  it('status and down need no domain: they read the rest from the state file', () => {
    expect(loadBaseConfig({ flags: {}, env: {}, cwd })).toMatchObject({ cluster: 'ecsauth', waitTimeoutMinutes: 20 });
  });

  describe("the app's environment, secrets and health check", () => {
    const ssmArn = 'arn:aws:ssm:eu-west-1:123456789012:parameter/app/db-password';
    const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/api-key-AbCdEf';

    it('--env entries (repeated) and --secret entries become name → value maps', () => {
      const config = loadUpConfig({ flags: { environment: ['FOO=bar', 'URL=https://x.example/?a=b=c'], secrets: [`DB_PASSWORD=${ssmArn}`, `API_KEY=${secretArn}`] }, env: minimalEnv, cwd });
      expect(config.environment).toEqual({ FOO: 'bar', URL: 'https://x.example/?a=b=c' });
      expect(config.secrets).toEqual({ DB_PASSWORD: ssmArn, API_KEY: secretArn });
    });

    it('--app-env-file is read from the working directory and --env wins over its entries', () => {
      writeFileSync(join(cwd, 'app.env'), 'FOO=from-file\nLOG_LEVEL=info\n# a comment\n');
      const config = loadUpConfig({ flags: { envFile: 'app.env', environment: ['FOO=from-flag'] }, env: minimalEnv, cwd });
      expect(config.environment).toEqual({ FOO: 'from-flag', LOG_LEVEL: 'info' });
      expect(config.envFile).toBe('app.env');
    });

    it('the env file replaces the recorded set, and is itself never recorded', () => {
      writeFileSync(join(cwd, 'app.env'), 'ONLY=this\n');
      const settings = loadStackSettings({ flags: { envFile: 'app.env' }, env: minimalEnv, cwd, recorded: { environment: { OLD: 'x' } } });
      expect(settings.config.environment).toEqual({ ONLY: 'this' });
      expect(settings.chosen.environment).toEqual({ ONLY: 'this' });
      expect(settings.chosen).not.toHaveProperty('envFile');
    });

    it('recorded environment sticks; --no-env (false) clears it', () => {
      expect(loadUpConfig({ flags: {}, env: minimalEnv, cwd, recorded: { environment: { OLD: 'x' } } }).environment).toEqual({ OLD: 'x' });
      expect(loadUpConfig({ flags: { environment: false }, env: minimalEnv, cwd, recorded: { environment: { OLD: 'x' } } }).environment).toEqual({});
    });

    it('an unreadable --app-env-file is a usage error naming the file', () => {
      expect(() => loadUpConfig({ flags: { envFile: 'missing.env' }, env: minimalEnv, cwd })).toThrow(
        expect.objectContaining({ code: 'ENV_FILE_UNREADABLE', exitCode: 2, message: expect.stringContaining(join(cwd, 'missing.env')) }),
      );
    });

    it('a malformed --env says which entry and how to write it', () => {
      expect(() => loadUpConfig({ flags: { environment: ['FOO'] }, env: minimalEnv, cwd })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', exitCode: 2, message: expect.stringContaining('"FOO" is not KEY=VALUE') }),
      );
      expect(() => loadUpConfig({ flags: { environment: ['1BAD=x'] }, env: minimalEnv, cwd })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('--env') }));
    });

    it('a secret ARN of another service is refused with the ARN forms that work', () => {
      expect(() => loadUpConfig({ flags: { secrets: ['KEY=arn:aws:s3:::my-bucket/key'] }, env: minimalEnv, cwd })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', exitCode: 2, message: expect.stringMatching(/--secret.*SSM parameter.*Secrets Manager secret/) }),
      );
    });

    it('a partial Secrets Manager ARN (no 6-character suffix) is refused: IAM and KMS match only the full ARN', () => {
      expect(() => loadUpConfig({ flags: { secrets: ['KEY=arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/api-key'] }, env: minimalEnv, cwd })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('6-character suffix') }),
      );
      expect(loadUpConfig({ flags: { secrets: [`KEY=${secretArn}:password:AWSCURRENT:`] }, env: minimalEnv, cwd }).secrets.KEY).toBe(`${secretArn}:password:AWSCURRENT:`);
    });

    it("a secret in another region is refused: ECS reads valueFrom in the task's region", () => {
      expect(() => loadUpConfig({ flags: { secrets: ['KEY=arn:aws:ssm:us-east-1:123456789012:parameter/app/key'] }, env: minimalEnv, cwd })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('is in us-east-1, but the stack runs in eu-west-1') }),
      );
    });

    it('one name cannot be both --env and --secret', () => {
      expect(() => loadUpConfig({ flags: { environment: ['KEY=x'], secrets: [`KEY=${ssmArn}`] }, env: minimalEnv, cwd })).toThrow(expect.objectContaining({ message: expect.stringContaining('KEY is also set by --env') }));
    });

    it('AUTH_ECS_SECRETS takes comma-separated NAME=ARN pairs', () => {
      expect(loadUpConfig({ flags: {}, env: { ...minimalEnv, AUTH_ECS_SECRETS: `A=${ssmArn},B=${secretArn}` }, cwd }).secrets).toEqual({ A: ssmArn, B: secretArn });
    });

    it('health check settings default to 10 s, 2 healthy, 2 unhealthy, 60 s grace (Copilot v0.6.0), and are bounded as the ALB bounds them', () => {
      const config = loadUpConfig({ flags: {}, env: minimalEnv, cwd });
      expect(config).toMatchObject({ healthCheckPath: '/', healthCheckIntervalSeconds: 10, healthyThreshold: 2, unhealthyThreshold: 2, healthCheckMatcher: '200', healthCheckGracePeriodSeconds: 60, logRetentionDays: 30 });
      expect(() => loadUpConfig({ flags: { healthCheckIntervalSeconds: 4 }, env: minimalEnv, cwd })).toThrow(/--health-check-interval/);
      expect(() => loadUpConfig({ flags: { healthyThreshold: 1 }, env: minimalEnv, cwd })).toThrow(/--healthy-threshold/);
      expect(() => loadUpConfig({ flags: { healthCheckPath: 'healthz' }, env: minimalEnv, cwd })).toThrow(/--health-check-path.*starting with \//);
      expect(() => loadUpConfig({ flags: { healthCheckMatcher: '600' }, env: minimalEnv, cwd })).toThrow(/--health-check-matcher/);
      expect(() => loadUpConfig({ flags: { healthyThreshold: 11 }, env: minimalEnv, cwd })).toThrow(/--healthy-threshold/);
      expect(() => loadUpConfig({ flags: { logRetentionDays: 10 }, env: minimalEnv, cwd })).toThrow(/--log-retention.*1, 3, 5, 7, 14, 30/);
    });
  });

  describe('sticky settings', () => {
    // What an earlier `up` recorded in the state file (session.ts adds the stack's region).
    const recorded = { region: 'eu-west-1', domain: 'www.example.com', image: 'nginx:1.27', desiredCount: 3 };

    function thrownBy(load: () => unknown): unknown {
      try {
        load();
      } catch (error) {
        return error;
      }
      throw new Error('expected the settings to be refused');
    }

    it('a setting recorded in the state is used when no flag, env var or .env gives it', () => {
      const { config, resolved } = loadStackSettings({ flags: {}, env: {}, cwd, recorded: { ...recorded, cluster: 'shop' } });
      expect(config).toMatchObject({ region: 'eu-west-1', domain: 'www.example.com', image: 'nginx:1.27', desiredCount: 3, cluster: 'shop' });
      expect(resolved.sources.image).toEqual({ source: 'state', name: 'state file' });
      expect(resolved.sources.desiredCount).toEqual({ source: 'state', name: 'state file' });
      // Names still derive from the recorded cluster, as they would from a flag.
      expect(config).toMatchObject({ loadBalancerName: 'shop', serviceName: 'shopservice' });
      expect(resolved.sources.loadBalancerName).toEqual({ source: 'default', name: 'default' });
    });

    it('a flag overrides the recorded value', () => {
      const { config, resolved, chosen } = loadStackSettings({ flags: { image: 'httpd:2.4', desiredCount: '1' }, env: {}, cwd, recorded });
      expect(config).toMatchObject({ image: 'httpd:2.4', desiredCount: 1 });
      expect(resolved.sources.image).toEqual({ source: 'flag', name: '--image' });
      expect(chosen).toMatchObject({ image: 'httpd:2.4', desiredCount: 1 });
    });

    it('an environment variable overrides the recorded value', () => {
      const { config, resolved, chosen } = loadStackSettings({ flags: {}, env: { AUTH_ECS_IMAGE: 'httpd:2.4' }, cwd, recorded });
      expect(config.image).toBe('httpd:2.4');
      expect(config.desiredCount).toBe(3);
      expect(resolved.sources.image).toEqual({ source: 'env', name: 'AUTH_ECS_IMAGE' });
      expect(chosen).toMatchObject({ image: 'httpd:2.4', desiredCount: 3 });
    });

    it('a .env value overrides the recorded value', () => {
      writeFileSync(join(cwd, '.env'), 'AUTH_ECS_IMAGE=httpd:2.4\n');
      const { config, resolved } = loadStackSettings({ flags: {}, env: {}, cwd, recorded });
      expect(config.image).toBe('httpd:2.4');
      expect(resolved.sources.image).toEqual({ source: '.env', name: 'AUTH_ECS_IMAGE' });
    });

    it('precedence with a recorded value: flags > env > .env > recorded > defaults', () => {
      writeFileSync(join(cwd, '.env'), 'AUTH_ECS_IMAGE=from-dotenv\nAUTH_ECS_DESIRED_COUNT=4\n');
      const input = { env: { AUTH_ECS_IMAGE: 'from-env' }, cwd, recorded: { ...recorded, rulePriority: 30 } };
      const withFlag = loadStackSettings({ ...input, flags: { image: 'from-flag' } }).config;
      expect(withFlag).toMatchObject({ image: 'from-flag', desiredCount: 4, rulePriority: 30, containerPort: 80 });
      const withoutFlag = loadStackSettings({ ...input, flags: {} }).config;
      expect(withoutFlag.image).toBe('from-env');
    });

    it('a setting never set falls to its default and is not recorded', () => {
      const { config, chosen, resolved } = loadStackSettings({ flags: {}, env: minimalEnv, cwd });
      expect(config.image).toBe('amazon/amazon-ecs-sample');
      expect(resolved.sources.image).toEqual({ source: 'default', name: 'default' });
      // Only what the user chose is recorded, so a later change of default reaches the stack.
      expect(chosen).toEqual({ region: 'eu-west-1', domain: 'www.example.com' });
      const again = loadStackSettings({ flags: {}, env: {}, cwd, recorded: chosen });
      expect(again.chosen).toEqual(chosen);
      expect(again.config.image).toBe('amazon/amazon-ecs-sample');
    });

    it('machine and run settings are never taken from the state and never recorded', () => {
      const machineAndRun = {
        endpointUrl: 'http://127.0.0.1:5000',
        profile: 'someone-else',
        stateFile: '/somewhere/else.json',
        waitTimeoutMinutes: 99,
        certificateTimeoutMinutes: 5,
      };
      const fromState = loadStackSettings({ flags: {}, env: {}, cwd, recorded: { ...recorded, ...machineAndRun } });
      expect(fromState.config.endpointUrl).toBeUndefined();
      expect(fromState.config.profile).toBeUndefined();
      expect(fromState.config.stateFile).toBeUndefined();
      expect(fromState.config.waitTimeoutMinutes).toBe(20);
      expect(fromState.config.certificateTimeoutMinutes).toBe(75);
      for (const key of Object.keys(machineAndRun)) {
        expect(fromState.resolved.sources[key as keyof typeof machineAndRun]?.source, key).not.toBe('state');
        expect(fromState.chosen, key).not.toHaveProperty(key);
      }

      const flags = { endpointUrl: 'http://127.0.0.1:5000', profile: 'mine', stateFile: '/tmp/authecs.json', waitTimeoutMinutes: '30', certificateTimeoutMinutes: '10' };
      const fromFlags = loadStackSettings({ flags, env: minimalEnv, cwd });
      expect(fromFlags.config).toMatchObject({ endpointUrl: 'http://127.0.0.1:5000', profile: 'mine', waitTimeoutMinutes: 30, certificateTimeoutMinutes: 10 });
      for (const key of Object.keys(flags)) expect(fromFlags.chosen, key).not.toHaveProperty(key);
      expect(fromFlags.chosen).toEqual({ region: 'eu-west-1', domain: 'www.example.com' });
    });

    it('an invalid recorded value is refused, naming the setting, not cast', () => {
      const count = thrownBy(() => loadStackSettings({ flags: {}, env: {}, cwd, recorded: { ...recorded, desiredCount: -3 } }));
      expect(count).toMatchObject({ code: 'CONFIG_INVALID', exit: 'usage' });
      expect((count as Error).message).toContain('Invalid setting --desired-count (recorded in the state file): -3');
      expect((count as Error).message).toContain('-3');

      // Recorded values skip the flag/env coercion: the string "false" is not a boolean.
      const redirect = thrownBy(() => loadStackSettings({ flags: {}, env: {}, cwd, recorded: { ...recorded, httpRedirect: 'false' } }));
      expect(redirect).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((redirect as Error).message).toContain('--http-redirect (recorded in the state file)');

      // A flag that overrides the bad recorded value repairs it.
      expect(loadStackSettings({ flags: { desiredCount: '1' }, env: {}, cwd, recorded: { ...recorded, desiredCount: -3 } }).config.desiredCount).toBe(1);
    });

    it('settingChanges lists exactly the stack settings that differ, with from, to, flag and source', () => {
      const previous = { region: 'eu-west-1', domain: 'www.example.com' };
      const current = loadStackSettings({
        flags: { image: 'nginx:1.27', waitTimeoutMinutes: '60', certificateTimeoutMinutes: '10', endpointUrl: 'http://127.0.0.1:5000', profile: 'mine' },
        env: { AUTH_ECS_DESIRED_COUNT: '1' },
        cwd,
        recorded: previous,
      });
      expect(settingChanges(previous, current)).toEqual([
        { setting: 'image', flag: '--image', from: 'amazon/amazon-ecs-sample', to: 'nginx:1.27', source: 'flag' },
        { setting: 'desiredCount', flag: '--desired-count', from: 2, to: 1, source: 'env' },
      ]);
    });

    it('settingChanges shows httpRedirect by its positive flag, --http-redirect', () => {
      const previous = { region: 'eu-west-1', domain: 'www.example.com' };
      const off = loadStackSettings({ flags: { httpRedirect: false }, env: {}, cwd, recorded: previous });
      expect(settingChanges(previous, off)).toEqual([{ setting: 'httpRedirect', flag: '--http-redirect', from: true, to: false, source: 'flag' }]);
      const recordedOff = { ...previous, httpRedirect: false };
      const on = loadStackSettings({ flags: { httpRedirect: true }, env: {}, cwd, recorded: recordedOff });
      expect(settingChanges(recordedOff, on)).toEqual([{ setting: 'httpRedirect', flag: '--http-redirect', from: false, to: true, source: 'flag' }]);
    });

    it('settingChanges is empty when a run repeats nothing, and for a new stack', () => {
      const same = loadStackSettings({ flags: {}, env: {}, cwd, recorded });
      expect(settingChanges(recorded, same)).toEqual([]);
      const repeated = loadStackSettings({ flags: { image: 'nginx:1.27' }, env: {}, cwd, recorded });
      expect(settingChanges(recorded, repeated)).toEqual([]);
      const fresh = loadStackSettings({ flags: { image: 'nginx:1.27' }, env: minimalEnv, cwd });
      expect(settingChanges(undefined, fresh)).toEqual([]);
    });
  });
});
