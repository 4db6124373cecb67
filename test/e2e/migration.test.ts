/**
 * A schema 1 state file from the previous release (built from this repository's history, commit
 * c15f4e3, the same release that wrote test/fixtures/state-v1.json) is migrated on first use:
 * `status`, `plan`, `up` and `down` all work from it, and the settings it recorded stick.
 */
import { readFileSync } from 'node:fs';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeRun } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { readInventory, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';
import { buildPreviousRelease } from '../support/previous-release.js';

describe.skipIf(skipE2e)('a state file from the previous release', () => {
  const e2e = setupE2e({ fresh: 'file' });
  let previous: { bin: string } | { unavailable: string };
  beforeAll(() => {
    previous = buildPreviousRelease();
  }, 180_000);

  it('status, plan, up and down work from a schema 1 file written by the previous release', { timeout: 240_000 }, async () => {
    if ('unavailable' in previous) throw new Error(`cannot build the previous release: ${previous.unavailable}`);
    const baseline = await snapshot(e2e.clients);
    const old = await e2e.authecs(['up', '--image', 'nginx:1.27', '--json'], { bin: previous.bin });
    expect(old.code, describeRun(old)).toBe(0);
    const written = readFileSync(e2e.statePath(), 'utf8');
    expect(JSON.parse(written)).toMatchObject({ schemaVersion: 1, settings: { image: 'nginx:1.27' } });

    // Every resource is read from the migrated records. What this release adds shows as missing (the log group,
    // the parking rule) or as a change: invite-only sign-up, the sign-out URL, the new health check defaults,
    // the awslogs log configuration (a new task definition revision, then the service moves to it), and the
    // previous release's instances (no hop limit, no version tags) roll.
    const status = await e2e.authecs(['status', '--json']);
    expect(status.code, describeRun(status)).toBe(9);
    const rows = status.json?.resources as { step: string; present: boolean; healthy: boolean; drift: string[] }[];
    expect(rows.filter((row) => !row.present).map((row) => row.step)).toEqual(['parking-rule', 'log-group']);
    const UPGRADED = ['user-pool', 'app-client', 'target-group', 'parking-rule', 'capacity', 'log-group', 'task-definition', 'service'];
    expect(rows.filter((row) => !row.healthy).map((row) => row.step)).toEqual(UPGRADED);
    expect(rows.find((row) => row.step === 'user-pool')?.drift).toEqual(['allowAdminCreateUserOnly: false → true']);

    // plan reads only: the schema 1 file is left byte for byte as it was.
    const plan = await e2e.authecs(['plan', '--json']);
    expect(readFileSync(e2e.statePath(), 'utf8')).toBe(written);
    expect(plan.json?.mutations).toEqual([]);
    expect(plan.json?.settingsChanged).toEqual([]);
    const pending = (plan.json?.resources as { resource: string; action: string }[]).filter((entry) => entry.action !== 'none');
    expect(pending.map((entry) => [entry.resource, entry.action])).toEqual([
      ['user-pool', 'update'],
      ['app-client', 'update'],
      ['target-group', 'update'],
      ['parking-rule', 'create'],
      ['capacity', 'update'],
      ['log-group', 'create'],
      ['task-definition', 'replace'],
      ['service', 'update'],
    ]);

    // The image sticks across the upgrade: up without --image keeps nginx:1.27.
    const up = await e2e.authecs(['up', '--json']);
    expect(up.code, describeRun(up)).toBe(0);
    expect(JSON.parse(readFileSync(e2e.statePath(), 'utf8'))).toMatchObject({ schemaVersion: 2, settings: { image: 'nginx:1.27' } });
    // A new revision for the log configuration, with the image the old release recorded.
    const service = (await e2e.clients.ecs.send(new DescribeServicesCommand({ cluster: 'ecsauth', services: ['ecsauthservice'] }))).services![0]!;
    const revision = (await e2e.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition! }))).taskDefinition!;
    expect(revision.containerDefinitions![0]).toMatchObject({ image: 'nginx:1.27', logConfiguration: { logDriver: 'awslogs' } });
    const after = await e2e.authecs(['plan']);
    expect(after.code, describeRun(after)).toBe(0);
    const healthy = await e2e.authecs(['status', '--json']);
    expect(healthy.code, describeRun(healthy)).toBe(0);

    const prefixes = (await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
    const down = await e2e.authecs(['down', '--yes', '--json']);
    expect(down.code, describeRun(down)).toBe(0);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes: prefixes })).toEqual(baseline);
  });
});
