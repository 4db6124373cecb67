/**
 * Exactly once when an answer is lost (issue 8, section 2): through the AWS behaviour model, the
 * first call of every create authecs makes is applied by the emulator and then its connection is
 * reset, so authecs never hears the answer. The first `up` must still exit 0 with exactly one of
 * everything, and `down` must then leave only the fixtures.
 */
import { describe, expect, it } from 'vitest';
import { createEcsServiceLinkedRole, E2E_SCALE } from '../support/aws-model/index.js';
import { describeRun } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { readInventory, resourceCounts, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const CREATES = [
  'CreateSecurityGroup',
  'AuthorizeSecurityGroupIngress',
  'CreateLoadBalancer',
  'ChangeResourceRecordSets',
  'RequestCertificate',
  'CreateListener',
  'CreateUserPool',
  'CreateUserPoolClient',
  'CreateUserPoolDomain',
  'CreateTargetGroup',
  'CreateRule',
  'CreateCluster',
  'CreateKeyPair',
  'CreateLaunchTemplate',
  'RunInstances',
  'RegisterTaskDefinition',
  'CreateService',
];

describe.skipIf(skipE2e)('a lost answer to every create', () => {
  const e2e = setupE2e({ awsModel: { scale: E2E_SCALE, seed: 7 } });

  it('the first up exits 0 with exactly one of everything; down leaves nothing', { timeout: 360_000 }, async () => {
    await createEcsServiceLinkedRole(e2e.clients.iam);
    const model = e2e.awsModel!;
    const baseline = await snapshot(e2e.clients);
    model.configure({ faults: { plan: CREATES.map((operation) => ({ operation, kind: 'resetAfter' as const, call: 1 })) } });
    const up = await e2e.authecs(['up', '--json'], { timeoutMs: 300_000 });
    expect(up.code, describeRun(up)).toBe(0);
    expect(model.counts.byKind.resetAfter, 'every create lost its first answer').toBe(CREATES.length);
    model.configure({ faults: {} });

    await e2e.standIn.settle();
    const inventory = await readInventory(e2e.clients);
    for (const [what, count] of Object.entries(resourceCounts(inventory, 'www.example.com'))) expect(count, what).toBe(1);
    expect(inventory.instances.filter((instance) => instance.State?.Name !== 'terminated')).toHaveLength(2);

    const prefixes = inventory.userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
    const down = await e2e.authecs(['down', '--yes', '--json'], { timeoutMs: 300_000 });
    expect(down.code, describeRun(down)).toBe(0);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes: prefixes })).toEqual(baseline);
  });
});
