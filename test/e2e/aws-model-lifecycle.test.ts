/**
 * `up` then `down --yes` through the AWS behaviour model (test/support/aws-model): no faults,
 * realistic rules and timings at 1/100 of real AWS. Exit 0 both times, exactly one of each
 * resource after `up`, and only the fixtures left after `down`.
 */
import { describe, expect, it } from 'vitest';
import { createEcsServiceLinkedRole, E2E_SCALE } from '../support/aws-model/index.js';
import { describeRun } from '../support/cli.js';
import { setupE2e, type E2eContext } from '../support/e2e.js';
import { readInventory, resourceCounts, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const DOMAIN = 'www.example.com';

async function cycle(e2e: E2eContext): Promise<void> {
  const { clients } = e2e;
  const baseline = await snapshot(clients);
  const up = await e2e.authecs(['up', '--json'], { timeoutMs: 170_000 });
  expect(up.code, `${describeRun(up)}\nrules enforced: ${JSON.stringify(e2e.awsModel?.enforcedRules())}`).toBe(0);
  await e2e.standIn.settle();
  const inventory = await readInventory(clients);
  for (const [what, count] of Object.entries(resourceCounts(inventory, DOMAIN))) expect(count, what).toBe(1);
  const domainPrefixes = inventory.userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));

  const down = await e2e.authecs(['down', '--yes', '--json'], { timeoutMs: 170_000 });
  expect(down.code, `${describeRun(down)}\nrules enforced: ${JSON.stringify(e2e.awsModel?.enforcedRules())}`).toBe(0);
  await e2e.standIn.settle();
  expect(await snapshot(clients, { domainPrefixes })).toEqual(baseline);
  expect(e2e.awsModel?.counts.total, 'no faults were injected').toBe(0);
}

describe.skipIf(skipE2e)('up and down through the AWS behaviour model', () => {
  const e2e = setupE2e({ awsModel: { scale: E2E_SCALE, seed: 1 } });

  it('in an account that already has the ECS service-linked role', { timeout: 360_000 }, async () => {
    await createEcsServiceLinkedRole(e2e.clients.iam);
    await cycle(e2e);
  });

  it('when ELBv2 does not see the certificate for minutes after ISSUED (CertificateNotFound, issue 8 row 8)', { timeout: 360_000 }, async () => {
    await createEcsServiceLinkedRole(e2e.clients.iam);
    const model = e2e.awsModel!;
    model.configure({ timings: { acmVisibleToElb: 300 } }); // 3 s at 1/100: longer than authecs's scaled ACM poll
    try {
      await cycle(e2e);
      expect(model.enforcedRules()['certificate-not-found-after-issue'], 'the window was hit and retried').toBeGreaterThan(0);
    } finally {
      model.configure({ timings: { acmVisibleToElb: 0 } });
    }
  });

  it('in a new account without the ECS service-linked role (authecs must create it)', { timeout: 360_000 }, async () => {
    await cycle(e2e);
    expect(e2e.awsModel?.calls('iam:CreateServiceLinkedRole')).toBe(1);
  });
});
