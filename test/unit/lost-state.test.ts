/**
 * Issue 11: a lost state file is not a deleted stack. `status` and `down` without a state file look
 * for the stack's resources (read-only) and refuse while any is there; only when nothing is found
 * do they answer as before. `recover` refuses to overwrite a state file, and writes none when it
 * finds nothing. In-process, over aws-sdk-client-mock: every call answers "nothing" unless a test
 * says otherwise.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACMClient } from '@aws-sdk/client-acm';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { Route53Client } from '@aws-sdk/client-route-53';
import { mockClient, type AwsStub } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../support/in-process-cli.js';
import { EXIT_CODES } from '../../src/errors.js';

const CLIENTS = [ACMClient, CloudFormationClient, CloudWatchLogsClient, CognitoIdentityProviderClient, EC2Client, ECSClient, ElasticLoadBalancingV2Client, IAMClient, Route53Client];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const mocks: AwsStub<any, any, any>[] = CLIENTS.map((client) => mockClient(client as never));
const ecs = mocks[CLIENTS.indexOf(ECSClient)]!;

const CLUSTER_ARN = 'arn:aws:ecs:eu-west-1:123456789012:cluster/ecsauth';

let cwd: string;
const statePath = () => join(cwd, '.authecs', 'ecsauth.json');

async function authecs(args: string[], env: Record<string, string> = {}) {
  const result = await runInProcess(args, {
    cwd,
    env: { HOME: cwd, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'eu-west-1', AUTH_ECS_DOMAIN: 'www.example.com', ...env },
  });
  const events = result.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { ...result, events };
}

/** Every changing call any client was sent (the mutation log's rule: not Describe/List/Get). */
function changingCalls(): string[] {
  return mocks.flatMap((mock) => mock.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name)).filter((name) => !/^(Describe|List|Get)/.test(name));
}

function ourCluster(tags: { key: string; value: string }[] = [{ key: 'authecs:stack', value: 'ecsauth' }]): void {
  ecs.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'ecsauth', clusterArn: CLUSTER_ARN, status: 'ACTIVE', tags }] });
}

beforeEach(() => {
  for (const mock of mocks) {
    mock.reset();
    mock.onAnyCommand().resolves({});
  }
  cwd = mkdtempSync(join(tmpdir(), 'authecs-lost-state-'));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

describe('status and down without a state file', () => {
  it('down, with a resource of the stack still there, names it, exits 8 and deletes nothing', async () => {
    ourCluster();
    const result = await authecs(['down', '--yes', '--json']);

    expect(result.code, result.stderr).toBe(EXIT_CODES.state);
    const error = result.events.at(-1)!;
    expect(error).toMatchObject({ type: 'error', code: 'STATE_MISSING_STACK_EXISTS', exitCode: 8 });
    expect(error.hint).toContain('authecs recover --cluster ecsauth --domain www.example.com --region eu-west-1');
    expect(error.details).toMatchObject({ stack: 'ecsauth', region: 'eu-west-1', resources: [{ step: 'cluster', id: CLUSTER_ARN }] });
    expect(result.stdout).toBe('');
    expect(changingCalls()).toEqual([]);
    expect(existsSync(statePath())).toBe(false);
  });

  it('status says the same to people, one line per resource', async () => {
    ourCluster();
    const result = await authecs(['status']);

    expect(result.code).toBe(EXIT_CODES.state);
    expect(result.stderr).toContain('but stack ecsauth still has 1 resource(s) in eu-west-1');
    expect(result.stderr).toContain(`cluster: ${CLUSTER_ARN}`);
    expect(result.stderr).toContain('authecs recover --cluster ecsauth');
    expect(changingCalls()).toEqual([]);
    expect(existsSync(statePath())).toBe(false);
  });

  it('the setting flags name the stack to look for: --cluster and --domain reach the lookup and the hint', async () => {
    ecs.on(DescribeClustersCommand, { clusters: ['other'] }).resolves({ clusters: [{ clusterName: 'other', clusterArn: CLUSTER_ARN.replace('ecsauth', 'other'), status: 'ACTIVE', tags: [{ key: 'authecs:stack', value: 'other' }] }] });
    const result = await authecs(['status', '--json', '--cluster', 'other', '--domain', 'app.example.com']);

    expect(result.code).toBe(EXIT_CODES.state);
    expect(result.events.at(-1)?.hint).toContain('authecs recover --cluster other --domain app.example.com --region eu-west-1');
  });

  it('down, with nothing of the stack found, has nothing to delete and exits 0 as before', async () => {
    const result = await authecs(['down', '--yes', '--json']);

    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ command: 'down', ok: true, stack: 'ecsauth', region: 'eu-west-1', deleted: [], kept: [], mutations: [] });
    expect(changingCalls()).toEqual([]);
    expect(existsSync(statePath())).toBe(false);
  });

  it('status, with nothing found, is the missing state it always was (exit 9)', async () => {
    const result = await authecs(['status', '--json']);

    expect(result.code).toBe(EXIT_CODES.unhealthy);
    expect(result.events.at(-1)).toMatchObject({ type: 'error', code: 'STATE_MISSING', exitCode: 9 });
  });

  it("a same-named resource that is not this stack's does not count", async () => {
    ourCluster([]);
    const result = await authecs(['down', '--yes', '--json']);

    expect(result.code, result.stderr).toBe(0);
    expect(changingCalls()).toEqual([]);
  });

  it('without the settings to look with, they refuse rather than guess (exit 2)', async () => {
    const result = await authecs(['down', '--yes', '--json'], { AUTH_ECS_DOMAIN: '' });

    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.events.at(-1)).toMatchObject({ type: 'error', code: 'STATE_MISSING_SETTINGS' });
    expect(String(result.events.at(-1)?.message)).toContain('--domain');
    expect(mocks.every((mock) => mock.calls().length === 0)).toBe(true);
  });

  it('with a state file, a setting flag is not used, and they say so', async () => {
    mkdirSync(join(cwd, '.authecs'));
    writeFileSync(statePath(), JSON.stringify({ schemaVersion: 2, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1', createdAt: '', updatedAt: '', settings: { domain: 'www.example.com' }, resources: {} }));
    const result = await authecs(['status', '--image', 'nginx']);

    expect(result.stderr).toContain('--image not used: the settings recorded in');
  });
});

describe('recover', () => {
  it('refuses to replace an existing state file (exit 8) and leaves it as it was', async () => {
    mkdirSync(join(cwd, '.authecs'));
    writeFileSync(statePath(), '{ not even json');
    const result = await authecs(['recover', '--json']);

    expect(result.code).toBe(EXIT_CODES.state);
    expect(result.events.at(-1)).toMatchObject({ code: 'STATE_EXISTS' });
    expect(mocks.every((mock) => mock.calls().length === 0)).toBe(true);
  });

  it('finding nothing of the stack writes no state file (exit 6)', async () => {
    const result = await authecs(['recover', '--json']);

    expect(result.code).toBe(EXIT_CODES.notFound);
    expect(result.events.at(-1)).toMatchObject({ code: 'RECOVER_NOTHING_FOUND' });
    expect(existsSync(statePath())).toBe(false);
  });

  it('records what it found with the settings it was given, and lists what it did not find', async () => {
    ourCluster();
    const result = await authecs(['recover', '--json', '--image', 'nginx:1.27']);

    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as { found: { step: string }[]; notFound: { step: string; reason: string }[]; settings: Record<string, unknown>; mutations: unknown[] };
    expect(document.found).toEqual([{ step: 'cluster', title: 'ECS cluster', id: CLUSTER_ARN, created: true }]);
    expect(document.notFound.map((missing) => missing.step)).toContain('load-balancer');
    expect(document.settings).toMatchObject({ image: 'nginx:1.27', domain: 'www.example.com' });
    expect(document.mutations).toEqual([]);
    const state = JSON.parse(readFileSync(statePath(), 'utf8')) as { stack: string; settings: Record<string, unknown>; resources: Record<string, unknown> };
    expect(state.stack).toBe('ecsauth');
    expect(state.settings).toMatchObject({ image: 'nginx:1.27' });
    expect(state.resources).toEqual({ cluster: expect.objectContaining({ created: true, complete: true, data: { clusterName: 'ecsauth', clusterArn: CLUSTER_ARN } }) });
    expect(existsSync(`${statePath()}.lock`)).toBe(false);
    expect(changingCalls()).toEqual([]);
  });

  it('--force replaces an existing state file', async () => {
    ourCluster();
    mkdirSync(join(cwd, '.authecs'));
    writeFileSync(statePath(), '{ not even json');
    const result = await authecs(['recover', '--force', '--json']);

    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(readFileSync(statePath(), 'utf8'))).toMatchObject({ tool: 'authecs', resources: { cluster: { created: true } } });
  });
});
