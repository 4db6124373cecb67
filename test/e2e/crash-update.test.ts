/**
 * Crash consistency in the middle of an update: a capacity roll (new launch template version,
 * instances replaced one at a time) and a service move to a new task definition revision, each
 * SIGKILLed after its Nth state write, then run again. The rerun must converge with nothing
 * duplicated or orphaned, and `plan` must then show no change.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeContainerInstancesCommand, DescribeServicesCommand, ListContainerInstancesCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { describeRun, PROJECT_ROOT, type RunResult } from '../support/cli.js';
import { setupE2e, type E2eContext } from '../support/e2e.js';
import { readInventory, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const COUNTER = join(PROJECT_ROOT, 'test', 'support', 'count-state-writes.mjs');
const ROLL = ['up', '--instance-type', 't3.medium', '--json'];
const MOVE = ['up', '--image', 'nginx:1.27', '--json'];

async function writesOf(e2e: E2eContext, args: string[]): Promise<number> {
  const countFile = join(e2e.workdir, 'writes.txt');
  const run = await e2e.authecs(args, { extraEnv: { NODE_OPTIONS: `--import ${COUNTER}`, AUTHECS_COUNT_WRITES_TO: countFile } });
  expect(run.code, describeRun(run)).toBe(0);
  return existsSync(countFile) ? Number(readFileSync(countFile, 'utf8')) : Number.NaN;
}

function expectKilled(run: RunResult): void {
  expect(run.signal, `expected authecs to be killed part-way\n${describeRun(run)}`).toBe('SIGKILL');
}

async function expectNoChange(e2e: E2eContext): Promise<void> {
  const plan = await e2e.authecs(['plan', '--json']);
  expect(plan.code, describeRun(plan)).toBe(0);
}

async function expectRolledCapacity(e2e: E2eContext): Promise<void> {
  const instances = (await e2e.clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:authecs:stack', Values: ['ecsauth'] }] }))).Reservations!.flatMap(
    (reservation) => reservation.Instances!,
  );
  const live = instances.filter((instance) => instance.State?.Name !== 'terminated');
  expect(live.map((instance) => `${instance.InstanceType} ${instance.State?.Name}`)).toEqual(['t3.medium running', 't3.medium running']);
  const arns = (await e2e.clients.ecs.send(new ListContainerInstancesCommand({ cluster: 'ecsauth' }))).containerInstanceArns!;
  const registered = (await e2e.clients.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'ecsauth', containerInstances: arns }))).containerInstances!;
  expect(registered.map((instance) => instance.ec2InstanceId).sort()).toEqual(live.map((instance) => instance.InstanceId).sort());
  expect(registered.every((instance) => instance.status === 'ACTIVE')).toBe(true);
}

describe.skipIf(skipE2e)('crash consistency during an update', () => {
  const e2e = setupE2e();
  let rollWrites = 0;
  let moveWrites = 0;

  it('counts the state writes of a capacity roll and of a service move', { timeout: 120_000 }, async () => {
    expect((await e2e.authecs(['up', '--json'])).code).toBe(0);
    rollWrites = await writesOf(e2e, ROLL);
    moveWrites = await writesOf(e2e, MOVE);
    expect(rollWrites).toBeGreaterThan(6);
    expect(moveWrites).toBeGreaterThanOrEqual(2);
    process.stderr.write(`crash-update tests: a capacity roll makes ${rollWrites} state writes, a service move ${moveWrites}\n`);
  });

  for (const fraction of [0.15, 0.45, 0.75]) {
    it(`a capacity roll killed after ${fraction} of its state writes: the rerun finishes the roll, nothing extra`, { timeout: 150_000 }, async () => {
      expect(rollWrites, 'the write count test must pass first').toBeGreaterThan(0);
      const baseline = await snapshot(e2e.clients);
      expect((await e2e.authecs(['up', '--json'])).code).toBe(0);
      const killAfterWrites = Math.max(1, Math.round(rollWrites * fraction));
      expectKilled(await e2e.authecs(ROLL, { killAfterWrites }));
      // The rerun does not repeat --instance-type: the killed run's settings were recorded with its first write.
      const rerun = await e2e.authecs(['up', '--json']);
      expect(rerun.code, describeRun(rerun)).toBe(0);
      await e2e.standIn.settle();
      await expectRolledCapacity(e2e);
      await expectNoChange(e2e);
      const prefixes = (await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
      expect((await e2e.authecs(['down', '--yes', '--json'])).code).toBe(0);
      await e2e.standIn.settle();
      expect(await snapshot(e2e.clients, { domainPrefixes: prefixes })).toEqual(baseline);
    });
  }

  for (const write of [1, 2]) {
    it(`a service move to a new task definition killed after write ${write}: one revision left, the service on it`, { timeout: 150_000 }, async () => {
      expect(moveWrites, 'the write count test must pass first').toBeGreaterThan(0);
      expect((await e2e.authecs(['up', '--json'])).code).toBe(0);
      expectKilled(await e2e.authecs(MOVE, { killAfterWrites: write }));
      const rerun = await e2e.authecs(MOVE);
      expect(rerun.code, describeRun(rerun)).toBe(0);
      const revisions = (await e2e.clients.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'ecsauthservice', status: 'ACTIVE' }))).taskDefinitionArns!;
      expect(revisions).toHaveLength(1);
      const service = (await e2e.clients.ecs.send(new DescribeServicesCommand({ cluster: 'ecsauth', services: ['ecsauthservice'] }))).services![0]!;
      expect(service.taskDefinition).toBe(revisions[0]);
      await expectNoChange(e2e);
    });
  }
});
