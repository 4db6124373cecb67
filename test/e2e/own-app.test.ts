/**
 * Issue 10: the user's own app behind the sign-in. `up` with an environment variable, a secret
 * and a health check path; the live task definition, target group, log group and execution role
 * carry them; `logs` prints what the container wrote; `deploy` ships an image with task
 * definition and service calls only; `plan` then shows nothing; `down` removes the log group and
 * the execution role with the rest.
 */
import { readFileSync } from 'node:fs';
import { CreateLogStreamCommand, DescribeLogGroupsCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetRoleCommand, GetRolePolicyCommand, ListAttachedRolePoliciesCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { describeRun } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const SECRET_ARN = 'arn:aws:ssm:eu-west-1:123456789012:parameter/app/db-password';
const LOG_GROUP = '/authecs/ecsauth';

describe.skipIf(skipE2e)("the user's own app: environment, secrets, health check, logs and deploys", () => {
  const e2e = setupE2e({ fresh: 'file' });
  let baseline: Record<string, string[]> = {};
  let roleName = '';

  async function liveTaskDefinition() {
    const service = (await e2e.clients.ecs.send(new DescribeServicesCommand({ cluster: 'ecsauth', services: ['ecsauthservice'] }))).services![0]!;
    return (await e2e.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition! }))).taskDefinition!;
  }

  it('up --env FOO=bar --secret … --health-check-path /healthz', { timeout: 120_000 }, async () => {
    baseline = await snapshot(e2e.clients);
    const run = await e2e.authecs(['up', '--env', 'FOO=bar', '--secret', `DB_PASSWORD=${SECRET_ARN}`, '--health-check-path', '/healthz', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
  });

  it('the live task definition has the variable, the secret by reference, the log configuration and the execution role', async () => {
    const taskDefinition = await liveTaskDefinition();
    const container = taskDefinition.containerDefinitions![0]!;
    expect(container.environment).toEqual([{ name: 'FOO', value: 'bar' }]);
    expect(container.secrets).toEqual([{ name: 'DB_PASSWORD', valueFrom: SECRET_ARN }]);
    expect(container.logConfiguration).toEqual({
      logDriver: 'awslogs',
      options: { 'awslogs-group': LOG_GROUP, 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'authecs' },
    });
    expect(taskDefinition.executionRoleArn).toMatch(/^arn:aws:iam::\d{12}:role\/authecs\//);
    roleName = taskDefinition.executionRoleArn!.split('/').pop()!;
  });

  it('the target group checks /healthz, and the log group exists with 30 days of retention', async () => {
    const group = (await e2e.clients.elbv2.send(new DescribeTargetGroupsCommand({ Names: ['ecsauth-tg'] }))).TargetGroups![0]!;
    expect(group.HealthCheckPath).toBe('/healthz');
    const logGroups = (await e2e.clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: LOG_GROUP }))).logGroups ?? [];
    expect(logGroups.map((entry) => [entry.logGroupName, entry.retentionInDays])).toEqual([[LOG_GROUP, 30]]);
  });

  it('the execution role has the ECS managed policy and may read exactly the given secret', async () => {
    await e2e.clients.iam.send(new GetRoleCommand({ RoleName: roleName }));
    const attached = (await e2e.clients.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }))).AttachedPolicies ?? [];
    expect(attached.map((policy) => policy.PolicyArn)).toEqual(['arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy']);
    const inline = await e2e.clients.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: 'authecs-secrets' }));
    const document = JSON.parse(decodeURIComponent(inline.PolicyDocument!)) as { Statement: { Action: string | string[]; Resource: string | string[] }[] };
    const ssm = document.Statement.find((statement) => [statement.Action].flat().includes('ssm:GetParameters'));
    expect([ssm?.Resource].flat()).toEqual([SECRET_ARN]);
    // The state holds the secret's ARN only: authecs never reads its value.
    const state = readFileSync(e2e.statePath(), 'utf8');
    expect(state).toContain(SECRET_ARN);
  });

  it('logs --since 10m prints what the container wrote', async () => {
    const stream = 'authecs/web/0123456789abcdef0123456789abcdef';
    await e2e.clients.logs.send(new CreateLogStreamCommand({ logGroupName: LOG_GROUP, logStreamName: stream }));
    await e2e.clients.logs.send(
      new PutLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: stream, logEvents: [{ timestamp: Date.now(), message: 'listening on :80 (from the app)' }] }),
    );
    const human = await e2e.authecs(['logs', '--since', '10m']);
    expect(human.code, describeRun(human)).toBe(0);
    expect(human.stdout).toContain('listening on :80 (from the app)');
    expect(human.stdout).toContain('01234567');
    const json = await e2e.authecs(['logs', '--since', '10m', '--json']);
    expect(json.code, describeRun(json)).toBe(0);
    const events = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { message: string; taskId: string });
    expect(events).toEqual([expect.objectContaining({ message: 'listening on :80 (from the app)', taskId: '0123456789abcdef0123456789abcdef' })]);
  });

  it('deploy --image nginx:1.27 makes task definition and service calls only', { timeout: 120_000 }, async () => {
    const run = await e2e.authecs(['deploy', '--image', 'nginx:1.27', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    const mutations = run.json?.mutations as { service: string; operation: string }[];
    expect(mutations.map((mutation) => `${mutation.service} ${mutation.operation}`).sort()).toEqual([
      'ecs DeleteTaskDefinitions',
      'ecs DeregisterTaskDefinition',
      'ecs RegisterTaskDefinition',
      'ecs UpdateService',
    ]);
    expect(run.json).toMatchObject({ command: 'deploy', image: 'nginx:1.27', rollout: 'completed' });
    const taskDefinition = await liveTaskDefinition();
    expect(taskDefinition.containerDefinitions![0]).toMatchObject({ image: 'nginx:1.27', environment: [{ name: 'FOO', value: 'bar' }] });
  });

  it('plan then shows no change, and up keeps the deployed image (it sticks)', { timeout: 120_000 }, async () => {
    const plan = await e2e.authecs(['plan', '--json']);
    expect(plan.code, describeRun(plan)).toBe(0);
    const up = await e2e.authecs(['up', '--json']);
    expect(up.code, describeRun(up)).toBe(0);
    expect(up.json?.mutations).toEqual([]);
    expect((await liveTaskDefinition()).containerDefinitions![0]!.image).toBe('nginx:1.27');
  });

  it('deploy --force starts a new deployment of the same image; deploy of the same image without it changes nothing', { timeout: 120_000 }, async () => {
    const same = await e2e.authecs(['deploy', '--image', 'nginx:1.27', '--json']);
    expect(same.code, describeRun(same)).toBe(0);
    expect(same.json).toMatchObject({ rollout: 'unchanged', mutations: [] });
    const forced = await e2e.authecs(['deploy', '--force', '--no-wait', '--json']);
    expect(forced.code, describeRun(forced)).toBe(0);
    expect((forced.json?.mutations as { operation: string }[]).map((mutation) => mutation.operation)).toEqual(['UpdateService']);
    expect(forced.json).toMatchObject({ rollout: 'started' });
  });

  it('down removes the log group and the execution role with everything else', { timeout: 120_000 }, async () => {
    const run = await e2e.authecs(['down', '--yes', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    await e2e.standIn.settle();
    const after = await snapshot(e2e.clients);
    expect(after.logGroups).toEqual(baseline.logGroups);
    expect(after.roles).toEqual(baseline.roles);
    expect(after).toEqual(baseline);
  });
});
