/**
 * Issue 7's lifecycle: change what `up` built, one setting at a time, and after each change
 * `plan` shows nothing left to do. Settings stick: a run that does not repeat a flag keeps it.
 * The capacity roll keeps the service's tasks running (the scheduler stand-in places them).
 */
import { readFileSync } from 'node:fs';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeContainerInstancesCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, ListContainerInstancesCommand } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { describeRun } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { readInventory, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const CHANGES_PENDING = 20;

describe.skipIf(skipE2e)('changing a live stack', () => {
  const e2e = setupE2e({ fresh: 'file' });
  let baseline: Record<string, string[]> = {};
  const timings: Record<string, number> = {};

  async function service() {
    const described = await e2e.clients.ecs.send(new DescribeServicesCommand({ cluster: 'ecsauth', services: ['ecsauthservice'] }));
    return described.services![0]!;
  }

  /** `plan` after a change: exit 0, nothing pending, no mutating call, the state file byte for byte as it was. */
  async function expectNoChange(): Promise<void> {
    const before = readFileSync(e2e.statePath(), 'utf8');
    const plan = await e2e.authecs(['plan', '--json']);
    expect(plan.code, describeRun(plan)).toBe(0);
    expect(plan.json?.changes).toBe(false);
    expect((plan.json?.resources as { action: string }[]).filter((entry) => entry.action !== 'none')).toEqual([]);
    expect(plan.json?.mutations).toEqual([]);
    expect(readFileSync(e2e.statePath(), 'utf8')).toBe(before);
  }

  async function up(args: string[]) {
    const run = await e2e.authecs(['up', ...args, '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    timings[`up ${args.join(' ')}`.trim()] = run.wallMs;
    return run;
  }

  it('up, then plan shows no change with no mutating call', { timeout: 120_000 }, async () => {
    baseline = await snapshot(e2e.clients);
    await up([]);
    await expectNoChange();
  });

  it('plan previews a change without making it: exit 20, the field with old and new, state untouched', async () => {
    const before = readFileSync(e2e.statePath(), 'utf8');
    const plan = await e2e.authecs(['plan', '--image', 'nginx:1.27', '--json']);
    expect(plan.code, describeRun(plan)).toBe(CHANGES_PENDING);
    expect(plan.json?.settingsChanged).toEqual([{ setting: 'image', flag: '--image', from: 'amazon/amazon-ecs-sample', to: 'nginx:1.27', source: 'flag' }]);
    const resources = plan.json?.resources as { resource: string; action: string; changes: { field: string; to: unknown; effect: string }[] }[];
    expect(resources.find((entry) => entry.resource === 'task-definition')).toMatchObject({
      action: 'replace',
      changes: [expect.objectContaining({ field: 'container', effect: 'replace', to: expect.objectContaining({ image: 'nginx:1.27' }) })],
    });
    expect(resources.find((entry) => entry.resource === 'service')).toMatchObject({
      action: 'update',
      changes: [{ field: 'taskDefinitionArn', from: expect.stringContaining('task-definition/ecsauthservice:1'), to: '(known after apply)', effect: 'update', cause: 'settings' }],
    });
    expect(plan.json?.mutations).toEqual([]);
    expect(readFileSync(e2e.statePath(), 'utf8')).toBe(before);
    // Nothing moved: the live service still runs revision 1.
    expect((await service()).taskDefinition).toMatch(/ecsauthservice:1$/);
  });

  it('up --image nginx:1.27, then up --desired-count 1: the image sticks, with 1 task', { timeout: 120_000 }, async () => {
    const image = await up(['--image', 'nginx:1.27']);
    const operations = (image.json?.mutations as { operation: string }[]).map((mutation) => mutation.operation);
    expect(operations).toEqual(['RegisterTaskDefinition', 'UpdateService', 'DeregisterTaskDefinition', 'DeleteTaskDefinitions']);
    await expectNoChange();

    const count = await up(['--desired-count', '1']);
    expect((count.json?.mutations as { operation: string }[]).map((mutation) => mutation.operation)).toEqual(['UpdateService']);
    expect(count.json?.settingsChanged).toEqual([expect.objectContaining({ setting: 'desiredCount', from: 2, to: 1 })]);
    const live = await service();
    expect(live.desiredCount).toBe(1);
    const taskDefinition = await e2e.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: live.taskDefinition! }));
    expect(taskDefinition.taskDefinition?.containerDefinitions?.[0]?.image).toBe('nginx:1.27');
    await e2e.standIn.settle();
    await e2e.standIn.settle();
    const placed = (await readInventory(e2e.clients)).targets.filter((target) => target.startsWith('ecsauth-tg '));
    expect(placed).toHaveLength(1);
    await expectNoChange();
  });

  it('up --instance-type t3.medium: a rolling replacement to 2 registered t3.medium instances, the service never without a task', { timeout: 180_000 }, async () => {
    const before = await readInventory(e2e.clients);
    const oldInstances = before.instances.filter((instance) => instance.State?.Name === 'running').map((instance) => instance.InstanceId!);
    expect(oldInstances).toHaveLength(2);

    const run = await up(['--instance-type', 't3.medium']);
    const operations = (run.json?.mutations as { operation: string }[]).map((mutation) => mutation.operation);
    expect(operations).toEqual([
      'CreateLaunchTemplateVersion',
      'ModifyLaunchTemplate',
      ...Array(2).fill(['RunInstances', 'UpdateContainerInstancesState', 'DeregisterContainerInstance', 'TerminateInstances']).flat(),
    ]);

    const described = await e2e.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: oldInstances }));
    expect(described.Reservations!.flatMap((reservation) => reservation.Instances!).map((instance) => instance.State?.Name)).toEqual(['terminated', 'terminated']);
    const running = (await e2e.clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }, { Name: 'tag:authecs:stack', Values: ['ecsauth'] }] })))
      .Reservations!.flatMap((reservation) => reservation.Instances!);
    expect(running.map((instance) => instance.InstanceType)).toEqual(['t3.medium', 't3.medium']);
    const arns = (await e2e.clients.ecs.send(new ListContainerInstancesCommand({ cluster: 'ecsauth' }))).containerInstanceArns!;
    const containerInstances = (await e2e.clients.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'ecsauth', containerInstances: arns }))).containerInstances!;
    expect(containerInstances.filter((instance) => instance.status === 'ACTIVE').map((instance) => instance.ec2InstanceId).sort()).toEqual(running.map((instance) => instance.InstanceId).sort());
    expect(containerInstances.map((instance) => instance.ec2InstanceId)).not.toEqual(expect.arrayContaining([oldInstances[0]]));

    await e2e.standIn.settle();
    const facts = e2e.standIn.scheduled.get((await service()).serviceArn!)!;
    expect(facts.reachedDesired).toBe(true);
    // The task moved off each draining instance to a running one before it stopped.
    expect(facts.minimumRunning).toBeGreaterThanOrEqual(1);
    expect(facts.tasksStarted).toBeGreaterThanOrEqual(2);
    await expectNoChange();
  });

  it('up --no-http-redirect: the redirect listener is gone; a run without the flag keeps it off', { timeout: 120_000 }, async () => {
    const run = await up(['--no-http-redirect']);
    // The parking rule lives on the redirect listener, so it goes first (DeleteRule), then the listener.
    expect((run.json?.mutations as { operation: string }[]).map((mutation) => mutation.operation).sort()).toEqual(['DeleteListener', 'DeleteRule', 'RevokeSecurityGroupIngress']);
    const loadBalancerArn = (await readInventory(e2e.clients)).loadBalancers[0]!.LoadBalancerArn!;
    const listeners = (await e2e.clients.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn }))).Listeners!;
    expect(listeners.map((listener) => listener.Port)).toEqual([443]);
    await expectNoChange();
    const again = await up([]);
    expect(again.json?.mutations).toEqual([]);
  });

  it('a change that takes the site offline stops before any change without --yes (no terminal), and says what it would destroy', { timeout: 120_000 }, async () => {
    const before = readFileSync(e2e.statePath(), 'utf8');
    const run = await e2e.authecs(['up', '--load-balancer-name', 'other-alb', '--json']);
    expect(run.code, describeRun(run)).toBe(2);
    const error = run.events.find((event) => event.type === 'error');
    expect(error).toMatchObject({ code: 'CONFIRMATION_REQUIRED', message: expect.stringContaining('offline'), hint: expect.stringContaining('--yes') });
    expect(run.events.filter((event) => event.type === 'mutation')).toEqual([]);
    expect(readFileSync(e2e.statePath(), 'utf8')).toBe(before);
    // plan says the same, and the flag did not stick: the next plan without it has nothing to do.
    const plan = await e2e.authecs(['plan', '--load-balancer-name', 'other-alb', '--json']);
    expect(plan.code).toBe(CHANGES_PENDING);
    expect((plan.json?.resources as { resource: string; loss?: string }[]).find((entry) => entry.resource === 'load-balancer')?.loss).toContain('offline');
    await expectNoChange();
  });

  it('down leaves nothing but the fixtures', { timeout: 120_000 }, async () => {
    const prefixes = (await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
    const down = await e2e.authecs(['down', '--yes', '--json']);
    expect(down.code, describeRun(down)).toBe(0);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes: prefixes })).toEqual(baseline);
    process.stdout.write(`change lifecycle timings (ms): ${JSON.stringify(timings)}\n`);
  });
});
