/**
 * A few seeded fault runs in CI (issue 8, section 4); `npm run chaos` runs many more and prints
 * the figures. Through the AWS behaviour model, 5 % of requests fail: each service's own
 * throttling code, 500, 503, a reset before the request reaches the emulator, and a reset after
 * it was applied (the answer lost). Every seed must still give an `up` that exits 0 with exactly
 * one of everything, and a `down` that leaves only the fixtures.
 */
import { describe, expect, it } from 'vitest';
import { createEcsServiceLinkedRole, E2E_SCALE } from '../support/aws-model/index.js';
import { describeRun } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { readInventory, resourceCounts, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const RATE = 0.05;
const FAULTS = { throttle: RATE * 0.4, error500: RATE * 0.15, error503: RATE * 0.15, resetBefore: RATE * 0.1, resetAfter: RATE * 0.2 };

describe.skipIf(skipE2e)('seeded faults', () => {
  const e2e = setupE2e({ awsModel: { scale: E2E_SCALE, seed: 1 } });

  for (const seed of [11, 12, 13]) {
    it(`seed ${seed}: up exits 0 with exactly one of everything, down leaves nothing`, { timeout: 360_000 }, async () => {
      await createEcsServiceLinkedRole(e2e.clients.iam);
      const model = e2e.awsModel!;
      const baseline = await snapshot(e2e.clients);
      model.configure({ seed, faults: FAULTS });
      const up = await e2e.authecs(['up', '--json'], { timeoutMs: 300_000 });
      expect(up.code, `${describeRun(up)}\nfaults: ${JSON.stringify(model.counts)}`).toBe(0);
      await e2e.standIn.settle();
      const inventory = await readInventory(e2e.clients);
      for (const [what, count] of Object.entries(resourceCounts(inventory, 'www.example.com'))) expect(count, what).toBe(1);
      const prefixes = inventory.userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
      const down = await e2e.authecs(['down', '--yes', '--json'], { timeoutMs: 300_000 });
      expect(down.code, `${describeRun(down)}\nfaults: ${JSON.stringify(model.counts)}`).toBe(0);
      model.configure({ faults: {} });
      await e2e.standIn.settle();
      expect(await snapshot(e2e.clients, { domainPrefixes: prefixes })).toEqual(baseline);
      expect(model.counts.total, 'faults were injected').toBeGreaterThan(0);
    });
  }
});
