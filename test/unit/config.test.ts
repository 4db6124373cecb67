import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBaseConfig, loadUpConfig, resolveSettings } from '../../src/config/load.js';
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
});
