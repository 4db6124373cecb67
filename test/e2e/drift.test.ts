/**
 * Out-of-band damage: something authecs made is deleted or changed behind its back. `status` must
 * see it (exit 9), `plan` must show it as drift (exit 20) and `up` must put it back (then `status`
 * exits 0).
 */
import { readFileSync } from 'node:fs';
import { DescribeServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DeleteRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ChangeResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { describeRun, type RunResult } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { readInventory, resourceCounts } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const DOMAIN = 'www.example.com';
const UNHEALTHY = 9;
const CHANGES_PENDING = 20;

interface Change {
  field: string;
  from: unknown;
  to: unknown;
  effect: string;
  cause?: string;
}

interface Row {
  step: string;
  present: boolean;
  healthy: boolean;
  drift: string[];
  changes: Change[];
}

interface PlanEntry {
  resource: string;
  action: string;
  changes: Change[];
}

function rowOf(run: RunResult, step: string): Row | undefined {
  return (run.json?.resources as Row[] | undefined)?.find((row) => row.step === step);
}

describe.skipIf(skipE2e)('out-of-band damage', () => {
  const e2e = setupE2e();

  async function upAndCheck(): Promise<void> {
    const run = await e2e.authecs(['up', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    const status = await e2e.authecs(['status', '--json']);
    expect(status.code, describeRun(status)).toBe(0);
  }

  it('a deleted host rule: status reports it missing (exit 9), up recreates it', { timeout: 120_000 }, async () => {
    await upAndCheck();
    const before = await readInventory(e2e.clients);
    const hostRules = (inventory: Awaited<ReturnType<typeof readInventory>>) => inventory.rules.filter((rule) => rule.Priority === '20');
    expect(hostRules(before)).toHaveLength(1);
    await e2e.clients.elbv2.send(new DeleteRuleCommand({ RuleArn: hostRules(before)[0]!.RuleArn }));

    const damaged = await e2e.authecs(['status', '--json']);
    expect(damaged.code, describeRun(damaged)).toBe(UNHEALTHY);
    expect(damaged.json?.ok).toBe(false);
    expect(rowOf(damaged, 'host-rule')).toMatchObject({ present: false, healthy: false });
    const others = (damaged.json?.resources as Row[]).filter((row) => row.step !== 'host-rule');
    for (const row of others) expect(row, row.step).toMatchObject({ present: true, healthy: true });

    const repair = await e2e.authecs(['up', '--json']);
    expect(repair.code, describeRun(repair)).toBe(0);
    expect((repair.json?.steps as Record<string, string>)['host-rule']).toBe('repaired');
    const after = await readInventory(e2e.clients);
    expect(resourceCounts(after, DOMAIN)['rules at priority 20']).toBe(1);
    expect(hostRules(after)[0]!.ListenerArn).toBe(hostRules(before)[0]!.ListenerArn);
    expect(hostRules(after)[0]!.Actions).toEqual(hostRules(before)[0]!.Actions);

    const healed = await e2e.authecs(['status', '--json']);
    expect(healed.code, describeRun(healed)).toBe(0);
  });

  it('a deleted site CNAME: status reports it missing (exit 9), up recreates it', { timeout: 120_000 }, async () => {
    await upAndCheck();
    const before = await readInventory(e2e.clients);
    const record = before.records.find((candidate) => candidate.Name === `${DOMAIN}.` && candidate.Type === 'CNAME');
    expect(record).toBeDefined();
    await e2e.clients.route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: e2e.fixtures.hostedZoneId,
        ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: record }] },
      }),
    );

    const damaged = await e2e.authecs(['status', '--json']);
    expect(damaged.code, describeRun(damaged)).toBe(UNHEALTHY);
    expect(rowOf(damaged, 'dns-record')).toMatchObject({ present: false, healthy: false });

    const repair = await e2e.authecs(['up', '--json']);
    expect(repair.code, describeRun(repair)).toBe(0);
    expect((repair.json?.steps as Record<string, string>)['dns-record']).toBe('repaired');
    const after = await readInventory(e2e.clients);
    const records = after.records.filter((candidate) => candidate.Name === `${DOMAIN}.` && candidate.Type === 'CNAME');
    expect(records).toEqual([record]);

    const healed = await e2e.authecs(['status', '--json']);
    expect(healed.code, describeRun(healed)).toBe(0);
  });

  it('a desired count changed out of band: status and plan show it as drift, up puts it back with one UpdateService', { timeout: 120_000 }, async () => {
    await upAndCheck();
    const liveCount = async () => {
      const described = await e2e.clients.ecs.send(new DescribeServicesCommand({ cluster: 'ecsauth', services: ['ecsauthservice'] }));
      return described.services![0]!.desiredCount;
    };
    expect(await liveCount()).toBe(2);
    await e2e.clients.ecs.send(new UpdateServiceCommand({ cluster: 'ecsauth', service: 'ecsauthservice', desiredCount: 1 }));
    const stateBefore = readFileSync(e2e.statePath(), 'utf8');

    const drifted = await e2e.authecs(['status', '--json']);
    expect(drifted.code, describeRun(drifted)).toBe(UNHEALTHY);
    const row = rowOf(drifted, 'service');
    expect(row).toMatchObject({ present: true, healthy: false });
    expect(row?.drift).toContain('desiredCount: 1 → 2');
    expect(row?.changes).toEqual([expect.objectContaining({ field: 'desiredCount', from: 1, to: 2, effect: 'update', cause: 'drift' })]);

    const plan = await e2e.authecs(['plan', '--json']);
    expect(plan.code, describeRun(plan)).toBe(CHANGES_PENDING);
    expect(plan.json?.settingsChanged).toEqual([]);
    const pending = (plan.json?.resources as PlanEntry[]).filter((entry) => entry.action !== 'none');
    expect(pending).toEqual([
      expect.objectContaining({ resource: 'service', action: 'update', changes: [{ field: 'desiredCount', from: 1, to: 2, effect: 'update', cause: 'drift' }] }),
    ]);
    expect(plan.json?.mutations).toEqual([]);
    // Neither status nor plan wrote the state file.
    expect(readFileSync(e2e.statePath(), 'utf8')).toBe(stateBefore);

    const repair = await e2e.authecs(['up', '--json']);
    expect(repair.code, describeRun(repair)).toBe(0);
    expect((repair.json?.mutations as { operation: string }[]).map((mutation) => mutation.operation)).toEqual(['UpdateService']);
    expect((repair.json?.steps as Record<string, string>).service).toBe('repaired');
    expect(await liveCount()).toBe(2);

    const healed = await e2e.authecs(['status', '--json']);
    expect(healed.code, describeRun(healed)).toBe(0);
    expect(rowOf(healed, 'service')).toMatchObject({ healthy: true, drift: [], changes: [] });
  });
});
