/**
 * A deploy that fails, end to end: `deploy --image nginx:no-such-tag` on a stack that is up. The
 * agent stand-in cannot pull that image, so every task it places stops with
 * CannotPullContainerError; the AWS behaviour model plays the deployment circuit breaker, which
 * fails the deployment and rolls the service back. authecs must exit 14 and say why.
 */
import { DescribeServicesCommand, DescribeTasksCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { RolloutExplanation } from '../../src/steps/shared/rollout.js';
import { describeRun, type AuthecsEvent } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const CLUSTER = 'ecsauth';
const SERVICE = 'ecsauthservice';
const BAD_IMAGE = 'nginx:no-such-tag';
const SECRET_ARN = 'arn:aws:ssm:eu-west-1:123456789012:parameter/app/db-password';
const PULL_ERROR = 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/nginx:no-such-tag: not found';

describe.skipIf(skipE2e)('a deploy whose image cannot be pulled: the circuit breaker rolls it back and authecs explains why', () => {
  const e2e = setupE2e({ fresh: 'file' });
  let baseline: Record<string, string[]> = {};
  let previous = '';
  let failedRevision = '';

  const liveService = async () => (await e2e.clients.ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [SERVICE] }))).services![0]!;

  /** The task definitions of the tasks the scheduler stand-in keeps running. */
  async function runningRevisions(): Promise<string[]> {
    const taskArns = (await e2e.clients.ecs.send(new ListTasksCommand({ cluster: CLUSTER, startedBy: `stand-in:${SERVICE}`, desiredStatus: 'RUNNING' }))).taskArns ?? [];
    if (taskArns.length === 0) return [];
    const tasks = (await e2e.clients.ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: taskArns }))).tasks ?? [];
    return tasks.map((task) => task.taskDefinitionArn ?? '?').sort();
  }

  it('up, while the new execution role is briefly unknown to IAM (the step waits for it)', { timeout: 120_000 }, async () => {
    baseline = await snapshot(e2e.clients);
    // The secret makes the EC2 stack need an execution role; IAM answers NoSuchEntity on it for 10 s (scaled to 0.1 s).
    e2e.awsModel!.configure({ timings: { iamRoleVisible: 10 } });
    const run = await e2e.authecs(['up', '--secret', `DB_PASSWORD=${SECRET_ARN}`, '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(e2e.awsModel!.enforcedRules()['iam-role-not-yet-visible'], 'the window was hit and waited out').toBeGreaterThan(0);
    previous = (await liveService()).taskDefinition!;
  });

  it(`deploy --image ${BAD_IMAGE} --json: exit 14, ROLLOUT_ROLLED_BACK, with the stopped tasks, the circuit breaker's reason and the events`, { timeout: 120_000 }, async () => {
    const run = await e2e.authecs(['deploy', '--image', BAD_IMAGE, '--json']);
    expect(run.code, describeRun(run)).toBe(14);
    const error = run.events.find((event): event is AuthecsEvent & { details: RolloutExplanation } => event.type === 'error')!;
    expect(['ROLLOUT_FAILED', 'ROLLOUT_ROLLED_BACK']).toContain(error.code);
    // The model shows the rollback deployment as PRIMARY when authecs first sees the FAILED one: rolled back.
    expect(error.code).toBe('ROLLOUT_ROLLED_BACK');
    const details = error.details;
    failedRevision = details.taskDefinitionArn!;
    expect(failedRevision).not.toBe(previous);
    expect(details).toMatchObject({
      outcome: 'rolled-back',
      cause: 'image-pull',
      rolledBackTo: previous,
      rolloutState: 'FAILED',
      rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
    });
    // The circuit breaker's threshold: 3 tasks for a desired count of 2 (minimum 3).
    expect(details.stoppedTasks.length).toBeGreaterThanOrEqual(3);
    expect(details.stoppedTasks[0]).toMatchObject({ stopCode: 'TaskFailedToStart', stoppedReason: PULL_ERROR, taskDefinitionArn: failedRevision });
    expect(details.stoppedTasks[0]!.containers).toEqual([{ name: 'web', reason: PULL_ERROR }]);
    expect(error.hint).toContain('--image');
    // The bad image sticks, and the hint says how to record the previous one again.
    expect(error.hint).toContain(`now records --image ${BAD_IMAGE}`);
    expect(error.hint).toContain('`authecs deploy --image amazon/amazon-ecs-sample`');
    expect(error.message).toContain('the image or its tag does not exist');
    // The container never started: no log stream, in the group that does exist.
    expect(details.logs).toMatchObject({ logGroupName: '/authecs/ecsauth', lines: [], note: expect.stringContaining('The specified log stream does not exist.') });
    expect(details.events.map((event) => event.message)).toEqual([
      expect.stringMatching(/^\(service ecsauthservice\) rolling back to deployment ecs-svc\/\d+\.$/),
      expect.stringMatching(/^\(service ecsauthservice\) \(deployment ecs-svc\/\d+\) deployment failed: tasks failed to start\.$/),
    ]);
    // authecs sent one UpdateService; the rollback is ECS's own doing.
    expect(run.events.filter((event) => event.type === 'mutation' && event.operation === 'UpdateService')).toHaveLength(1);
    expect(e2e.awsModel!.errors.filter((error) => /rollout|UpdateService|ListTasks|DescribeTasks/.test(error)), 'the model read every fact it needed').toEqual([]);
  });

  it('the same deploy for people prints the explanation: rollout state, stopped tasks, service events and a hint', { timeout: 120_000 }, async () => {
    const run = await e2e.authecs(['deploy', '--image', BAD_IMAGE]);
    expect(run.code, describeRun(run)).toBe(14);
    expect(run.stderr).toContain(`error: The rollout of service ${SERVICE} was rolled back to ${previous.split('/').pop()}: the container image could not be pulled`);
    expect(run.stderr).toContain('  rollout: FAILED — ECS deployment circuit breaker: tasks failed to start.');
    expect(run.stderr).toContain('  stopped tasks:');
    expect(run.stderr).toContain(`STOPPED (TaskFailedToStart): ${PULL_ERROR}`);
    expect(run.stderr).toContain('  service events:');
    expect(run.stderr).toMatch(/\n {2}hint: Check that the image name and tag exist exactly as given to --image/);
  });

  it('afterwards the service runs the previous task definition again: the circuit breaker rolled it back', { timeout: 60_000 }, async () => {
    expect((await liveService()).taskDefinition).toBe(previous);
    // The scheduler stand-in places the old revision again on the instance the failed tasks were meant for.
    for (let attempt = 0; (await runningRevisions()).length < 2 && attempt < 50; attempt += 1) await delay(200);
    expect(await runningRevisions()).toEqual([previous, previous]);
  });

  it('status exits 9 and plan shows the service’s task definition change pending: the stack still wants the image that failed', { timeout: 120_000 }, async () => {
    // deploy recorded the new revision (and its image) before the rollout; the circuit breaker moved only the service back.
    // So the recorded wish is the failed revision, and `up` would try it again until --image names one that exists.
    const status = await e2e.authecs(['status', '--json']);
    expect(status.code, describeRun(status)).toBe(9);
    const rows = status.json?.resources as { step: string; healthy: boolean; drift: string[] }[];
    expect(rows.filter((row) => !row.healthy).map((row) => row.step)).toEqual(['service']);
    expect(rows.find((row) => row.step === 'service')?.drift).toEqual([`taskDefinitionArn: ${previous} → ${failedRevision}`]);

    const plan = await e2e.authecs(['plan', '--json']);
    expect(plan.code, describeRun(plan)).toBe(20);
    const resources = plan.json?.resources as { resource: string; action: string; changes: { field: string; from: unknown; to: unknown }[] }[];
    expect(resources.filter((resource) => resource.action !== 'none')).toEqual([
      expect.objectContaining({ resource: 'service', action: 'update', changes: [expect.objectContaining({ field: 'taskDefinitionArn', from: previous, to: failedRevision })] }),
    ]);
  });

  it('down --yes leaves only the fixtures', { timeout: 120_000 }, async () => {
    const run = await e2e.authecs(['down', '--yes', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients)).toEqual(baseline);
  });
});
