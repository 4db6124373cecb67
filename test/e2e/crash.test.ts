/**
 * Crash consistency: authecs is SIGKILLed part-way (after its Nth state write, or in the middle
 * of a request), then run again. The end state must hold exactly one of every resource, and a
 * killed `down` followed by another `down` must leave nothing behind. A killed run leaves a
 * .lock file naming a dead pid; the next run must see it is stale.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeRun, PROJECT_ROOT, type AuthecsEvent, type RunResult } from '../support/cli.js';
import { setupE2e, type E2eContext } from '../support/e2e.js';
import { readInventory, resourceCounts, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const DOMAIN = 'www.example.com';
const COUNTER = join(PROJECT_ROOT, 'test', 'support', 'count-state-writes.mjs');

/** Runs authecs with the write-counting preload and returns its result and the number of state writes. */
async function countedRun(e2e: E2eContext, args: string[]): Promise<{ run: RunResult; writes: number }> {
  const countFile = join(e2e.workdir, `writes-${args[0]}.txt`);
  const run = await e2e.authecs(args, { extraEnv: { NODE_OPTIONS: `--import ${COUNTER}`, AUTHECS_COUNT_WRITES_TO: countFile } });
  return { run, writes: existsSync(countFile) ? Number(readFileSync(countFile, 'utf8')) : Number.NaN };
}

function expectKilled(run: RunResult): void {
  expect(run.signal, `expected authecs to be killed part-way\n${describeRun(run)}`).toBe('SIGKILL');
}

/** Exactly one of everything, two instances, each registered once, and status all healthy. */
async function expectExactlyOneOfEverything(e2e: E2eContext): Promise<void> {
  await e2e.standIn.settle();
  const inventory = await readInventory(e2e.clients);
  const counts = resourceCounts(inventory, DOMAIN);
  expect(counts).toEqual(Object.fromEntries(Object.keys(counts).map((key) => [key, 1])));
  expect(inventory.instances.map((instance) => instance.InstanceId)).toHaveLength(2);
  expect(inventory.containerInstances).toHaveLength(2);
  expect(inventory.keyPairs).toEqual(['ecsauth']);
  expect(inventory.launchTemplates.length).toBeLessThanOrEqual(1);
  // The ALB on its own group (open on 443 and 80); the instances' group admits port 80 from it alone.
  const albGroups = inventory.loadBalancers[0]?.SecurityGroups ?? [];
  const albGroupId = inventory.securityGroupDetails.find((group) => group.name === 'ecsauth-alb')?.id;
  expect(albGroups).toEqual([albGroupId]);
  const ingress = inventory.ingressRules.filter((rule) => albGroups.includes(rule.groupId));
  expect(ingress.map((rule) => `${rule.fromPort} ${rule.cidr}`).sort()).toEqual(['443 0.0.0.0/0', '80 0.0.0.0/0']);
  const appIngress = inventory.ingressRules.filter((rule) => rule.groupId === e2e.fixtures.securityGroupId);
  expect(appIngress.map((rule) => `${rule.fromPort} ${rule.cidr}`)).toEqual([`80 ${albGroupId}`]);
  const status = await e2e.authecs(['status', '--json']);
  expect(status.code, describeRun(status)).toBe(0);
}

describe.skipIf(skipE2e)('crash consistency', () => {
  const e2e = setupE2e();
  // State writes of a complete `up` and `down`, measured by the first test.
  let upWrites = 0;
  let downWrites = 0;

  it('counts the state writes of a complete up', { timeout: 120_000 }, async () => {
    const up = await countedRun(e2e, ['up', '--json']);
    expect(up.run.code, describeRun(up.run)).toBe(0);
    upWrites = up.writes;
    expect(upWrites).toBeGreaterThan(18);
    process.stderr.write(`crash tests: a full up makes ${upWrites} state writes\n`);
  });

  it('counts the state writes of a complete down', { timeout: 120_000 }, async () => {
    const up = await e2e.authecs(['up', '--json']);
    expect(up.code, describeRun(up)).toBe(0);
    const down = await countedRun(e2e, ['down', '--yes', '--json']);
    expect(down.run.code, describeRun(down.run)).toBe(0);
    downWrites = down.writes;
    expect(downWrites).toBeGreaterThan(1);
    process.stderr.write(`crash tests: a full down makes ${downWrites} state writes\n`);
  });

  // Spread over the run: the first writes (network, zone), the middle (listeners, Cognito), the end (capacity, service).
  it.each([0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.97])('up killed after %s of its state writes, then up again', { timeout: 180_000 }, async (fraction) => {
    expect(upWrites, 'the write count test must pass first').toBeGreaterThan(0);
    const killAfter = Math.min(upWrites - 1, Math.max(1, Math.round(fraction * upWrites)));
    const killed = await e2e.authecs(['up', '--json'], { killAfterWrites: killAfter });
    expectKilled(killed);
    expect(existsSync(`${e2e.statePath()}.lock`), 'a killed run leaves its lock behind').toBe(true);
    const again = await e2e.authecs(['up', '--json']);
    expect(again.code, `after a kill at write ${killAfter}:\n${describeRun(again)}`).toBe(0);
    await expectExactlyOneOfEverything(e2e);
  });

  const midRequest: [string, (event: AuthecsEvent) => boolean, number | undefined][] = [
    ['the user-pool step starts', (event) => event.type === 'step-start' && event.step === 'user-pool', undefined],
    ['the capacity step starts', (event) => event.type === 'step-start' && event.step === 'capacity', undefined],
    ['the service step starts', (event) => event.type === 'step-start' && event.step === 'service', undefined],
    ['the certificate step reports progress', (event) => event.type === 'step-progress' && event.step === 'certificate', undefined],
    ['1.5 s have passed', () => false, 1500],
  ];
  it.each(midRequest)('up killed mid-request when %s, then up again', { timeout: 180_000 }, async (_when, killWhen, killAfterMs) => {
    const killed = await e2e.authecs(['up', '--json'], { killWhen, ...(killAfterMs === undefined ? {} : { killAfterMs }) });
    expectKilled(killed);
    const again = await e2e.authecs(['up', '--json']);
    expect(again.code, describeRun(again)).toBe(0);
    await expectExactlyOneOfEverything(e2e);
  });

  it.each([0.05, 0.35, 0.65, 0.95])('down killed after %s of its state writes, then down again: nothing left', { timeout: 180_000 }, async (fraction) => {
    expect(downWrites, 'the write count test must pass first').toBeGreaterThan(0);
    const baseline = await snapshot(e2e.clients);
    const up = await e2e.authecs(['up', '--json']);
    expect(up.code, describeRun(up)).toBe(0);
    const prefixes = (await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
    const killAfter = Math.min(downWrites - 1, Math.max(1, Math.round(fraction * downWrites)));
    const killed = await e2e.authecs(['down', '--yes', '--json'], { killAfterWrites: killAfter });
    expectKilled(killed);
    const again = await e2e.authecs(['down', '--yes', '--json']);
    expect(again.code, `after a kill at write ${killAfter}:\n${describeRun(again)}`).toBe(0);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes: prefixes })).toEqual(baseline);
  });

  it('down killed mid-request, then down again: nothing left', { timeout: 180_000 }, async () => {
    const baseline = await snapshot(e2e.clients);
    const up = await e2e.authecs(['up', '--json']);
    expect(up.code, describeRun(up)).toBe(0);
    const prefixes = (await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
    const killed = await e2e.authecs(['down', '--yes', '--json'], { killWhen: (event) => event.type === 'step-start' && event.step === 'load-balancer' });
    expectKilled(killed);
    const again = await e2e.authecs(['down', '--yes', '--json']);
    expect(again.code, describeRun(again)).toBe(0);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes: prefixes })).toEqual(baseline);
  });
});
