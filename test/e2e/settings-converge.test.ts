/**
 * The settings table end to end: on one live stack, each setting moto can play is changed in
 * turn with `up`; the mutating calls must be exactly those test/support/setting-cases.ts lists,
 * and `plan` must then show no change. Settings moto cannot play say why in the table.
 */
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config/schema.js';
import { describeRun } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { readInventory, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';
import { SETTING_CASES } from '../support/setting-cases.js';

function argsFor(key: string, value: unknown, explicit: string[] | undefined): string[] {
  if (explicit) return explicit;
  const flag = SETTINGS.find((setting) => setting.key === key)!.flag!.split(' ')[0]!;
  return [flag, Array.isArray(value) ? value.join(',') : String(value)];
}

describe.skipIf(skipE2e)('every setting converges on a live stack', () => {
  const e2e = setupE2e({ fresh: 'file' });
  let baseline: Record<string, string[]> = {};

  it('up', { timeout: 120_000 }, async () => {
    baseline = await snapshot(e2e.clients);
    const run = await e2e.authecs(['up', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
  });

  // Settings stick, so these go last: --no-http-redirect takes away the parking rule that a target
  // group change moves (one ModifyRule fewer), and --ingress article changes which rules the app port needs.
  const LAST = ['httpRedirect', 'ingressMode'];
  const ordered = Object.entries(SETTING_CASES).sort(([left], [right]) => LAST.indexOf(left) - LAST.indexOf(right));
  for (const [key, entry] of ordered) {
    if (entry.kind !== 'stack' || !Array.isArray(entry.calls) || entry.base) continue;
    const calls = entry.calls;
    const args = argsFor(key, entry.value, entry.args);
    it(`up ${args.join(' ')}: ${calls.join(', ') || 'no call'}; then plan shows no change`, { timeout: 120_000 }, async () => {
      // Settings stick: only the first up is given the domain (AUTH_ECS_DOMAIN); later runs read it from the state.
      const run = await e2e.authecs(['up', ...args, '--yes', '--json'], { extraEnv: { AUTH_ECS_DOMAIN: undefined } });
      expect(run.code, describeRun(run)).toBe(0);
      const operations = (run.json?.mutations as { operation: string }[]).map((mutation) => mutation.operation).sort();
      expect(operations).toEqual(calls);
      const plan = await e2e.authecs(['plan', '--json'], { extraEnv: { AUTH_ECS_DOMAIN: undefined } });
      expect(plan.code, describeRun(plan)).toBe(0);
    });
  }

  it('down leaves nothing but the fixtures', { timeout: 120_000 }, async () => {
    const prefixes = (await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
    const run = await e2e.authecs(['down', '--yes', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes: prefixes })).toEqual(baseline);
  });
});
