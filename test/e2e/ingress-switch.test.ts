/**
 * Switching --ingress on a running stack: isolated (the default) to article and back. Each `up`
 * leaves exactly the rules of its mode, revokes the other mode's rules authecs added, moves the
 * ALB to the right group, deletes the ALB group article mode does not want, and a rerun makes
 * no call; `down` then leaves only the fixtures.
 */
import { describe, expect, it } from 'vitest';
import { describeRun } from '../support/cli.js';
import { setupE2e, type E2eContext } from '../support/e2e.js';
import { readInventory, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

async function ingressOf(e2e: E2eContext): Promise<{ albGroups: string[]; albGroupId: string | undefined; rules: string[] }> {
  const inventory = await readInventory(e2e.clients);
  return {
    albGroups: inventory.loadBalancers[0]?.SecurityGroups ?? [],
    albGroupId: inventory.securityGroupDetails.find((group) => group.name === 'ecsauth-alb')?.id,
    rules: inventory.ingressRules.map((rule) => `${rule.groupId} ${rule.fromPort} ${rule.cidr}`).sort(),
  };
}

async function upAndRerun(e2e: E2eContext, args: string[]): Promise<void> {
  const run = await e2e.authecs(['up', ...args, '--json']);
  expect(run.code, describeRun(run)).toBe(0);
  const status = await e2e.authecs(['status', '--json']);
  expect(status.code, describeRun(status)).toBe(0);
  const again = await e2e.authecs(['up', ...args, '--json']);
  expect(again.code, describeRun(again)).toBe(0);
  expect(again.json?.mutations).toEqual([]);
}

describe.skipIf(skipE2e)('switching --ingress on a running stack', () => {
  const e2e = setupE2e();

  it('isolated, then article, then isolated again, then down: each mode has exactly its rules', { timeout: 180_000 }, async () => {
    const app = e2e.fixtures.securityGroupId;
    const baseline = await snapshot(e2e.clients);

    await upAndRerun(e2e, []);
    const isolated = await ingressOf(e2e);
    const alb = isolated.albGroupId!;
    expect(alb).toBeDefined();
    const isolatedRules = [`${alb} 443 0.0.0.0/0`, `${alb} 80 0.0.0.0/0`, `${app} 80 ${alb}`].sort();
    expect(isolated).toEqual({ albGroups: [alb], albGroupId: alb, rules: isolatedRules });

    // Sticky: the mode stays article on the rerun without the flag.
    await upAndRerun(e2e, ['--ingress', 'article']);
    // The article's rules are on the network group; the ALB group, no longer wanted, is deleted once the ALB left it.
    expect(await ingressOf(e2e)).toEqual({ albGroups: [app], albGroupId: undefined, rules: [`${app} 443 0.0.0.0/0`, `${app} 80 0.0.0.0/0`].sort() });
    expect((await e2e.authecs(['plan'])).code).toBe(0);

    await upAndRerun(e2e, ['--ingress', 'isolated']);
    const again = await ingressOf(e2e);
    const newAlb = again.albGroupId!;
    expect(newAlb).toBeDefined();
    expect(again).toEqual({ albGroups: [newAlb], albGroupId: newAlb, rules: [`${newAlb} 443 0.0.0.0/0`, `${newAlb} 80 0.0.0.0/0`, `${app} 80 ${newAlb}`].sort() });

    const prefixes = (await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
    const down = await e2e.authecs(['down', '--yes', '--json']);
    expect(down.code, describeRun(down)).toBe(0);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes: prefixes })).toEqual(baseline);
  });
});
