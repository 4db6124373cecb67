#!/usr/bin/env node
// `npm run chaos`: N seeded `up` / `down --yes` cycles of the built CLI through the AWS behaviour
// model (scripts/lib/aws-model.mjs) with faults on: throttling, 500, 503, resets before the
// request reaches moto, and resets after moto applied it (the answer lost). Prints runs, faults
// injected by kind, duplicates after `up` (resources of one kind beyond one), leftovers after
// `down`, and failures. A report, not a test: it always exits 0.
//
// Run with tsx (the package script does) so that it reuses the e2e inventory helpers.
// Settings: CHAOS_RUNS (20), CHAOS_SEED (first seed, 1), CHAOS_SCALE (0.01 of real AWS timings),
// CHAOS_RATE (total fault probability per request, 0.05), CHAOS_NEW_ACCOUNT=1 (no ECS service-linked role),
// CHAOS_LOST_CREATES=1 (also lose the answer to the first call of every create authecs makes: issue 8, section 2).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgentStandIn } from './lib/agent-stand-in.mjs';
import { destroyEmulatorClients, emulatorClients, emulatorEnvironment, TEST_DOMAIN } from './lib/aws.mjs';
import { createEcsServiceLinkedRole, FAULT_KINDS, startAwsModel } from './lib/aws-model.mjs';
import { seedFixtures } from './lib/fixtures.mjs';
import { motoAvailability, startMoto } from './lib/moto.mjs';
import { runAuthecs } from '../test/support/cli.ts';
import { identifiers, readInventory, resourceCounts } from '../test/support/inventory.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const runs = Number(process.env.CHAOS_RUNS ?? 20);
const firstSeed = Number(process.env.CHAOS_SEED ?? 1);
const scale = Number(process.env.CHAOS_SCALE ?? 0.01);
const rate = Number(process.env.CHAOS_RATE ?? 0.05);
const newAccount = process.env.CHAOS_NEW_ACCOUNT === '1';
// How the total rate splits between kinds: throttling most, lost answers second.
const SHARE = { throttle: 0.4, error500: 0.15, error503: 0.15, resetBefore: 0.1, resetAfter: 0.2 };
// The creates of every step, as the model names them.
const CREATES = [
  'CreateSecurityGroup', 'AuthorizeSecurityGroupIngress', 'CreateLoadBalancer', 'ChangeResourceRecordSets', 'RequestCertificate', 'CreateListener',
  'CreateUserPool', 'CreateUserPoolClient', 'CreateUserPoolDomain', 'CreateTargetGroup', 'CreateRule', 'CreateCluster', 'CreateKeyPair',
  'CreateLaunchTemplate', 'RunInstances', 'RegisterTaskDefinition', 'CreateService', 'CreateServiceLinkedRole',
];
const lostCreates = process.env.CHAOS_LOST_CREATES === '1';
const faults = {
  ...Object.fromEntries(FAULT_KINDS.map((kind) => [kind, rate * SHARE[kind]])),
  ...(lostCreates ? { plan: CREATES.map((operation) => ({ operation, kind: 'resetAfter', call: 1 })) } : {}),
};

/** Entries of `after` that are not in `before`, per inventory kind. */
function added(before, after) {
  const result = {};
  for (const [kind, values] of Object.entries(after)) {
    const extra = values.filter((value) => !(before[kind] ?? []).includes(value));
    if (extra.length) result[kind] = extra;
  }
  return result;
}

async function main() {
  const availability = motoAvailability();
  if (!availability.available) {
    console.log(`chaos: skipped, ${availability.reason}`);
    return;
  }
  const moto = await startMoto();
  // Interrupted: still stop moto, which the exit hook does not reach on a signal.
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void moto.stop().finally(() => process.exit(130)));
  const clients = emulatorClients(moto.endpoint);
  const standIn = startAgentStandIn(clients);
  const totals = { byKind: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])), byOperation: {} };
  const rows = [];
  console.log(`chaos: ${runs} run(s), seeds ${firstSeed}..${firstSeed + runs - 1}, fault rate ${rate} per request, timings ${scale} of real AWS${newAccount ? ', new account (no ECS service-linked role)' : ''}${lostCreates ? ', the first answer of every create lost' : ''}`);
  try {
    for (let index = 0; index < runs; index += 1) {
      const seed = firstSeed + index;
      await moto.reset();
      standIn.reset();
      const fixtures = await seedFixtures(clients, { domain: TEST_DOMAIN });
      if (!newAccount) await createEcsServiceLinkedRole(clients.iam);
      const baseline = identifiers(await readInventory(clients));
      const model = await startAwsModel({ upstream: moto.endpoint, seed, scale, faults });
      const workdir = mkdtempSync(join(tmpdir(), 'authecs-chaos-'));
      const env = { ...emulatorEnvironment(model.endpoint), AUTH_ECS_DOMAIN: fixtures.domain, AUTHECS_POLL_SCALE: '0.02', HOME: workdir, NO_COLOR: '1' };
      const row = { seed, up: null, down: null, duplicates: {}, leftovers: {}, faults: 0, error: '' };
      try {
        const up = await runAuthecs(['up', '--json'], { env, cwd: workdir, timeoutMs: 240_000 }).catch((error) => ({ code: null, stderr: String(error) }));
        row.up = up.code;
        if (up.code !== 0) row.error = `up: ${lastError(up.stderr)}`;
        await standIn.settle();
        const inventory = await readInventory(clients);
        for (const [what, count] of Object.entries(resourceCounts(inventory, fixtures.domain))) if (count > 1) row.duplicates[what] = count - 1;
        const prefixes = inventory.userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
        const down = await runAuthecs(['down', '--yes', '--json'], { env, cwd: workdir, timeoutMs: 240_000 }).catch((error) => ({ code: null, stderr: String(error) }));
        row.down = down.code;
        if (down.code !== 0) row.error += `${row.error ? '; ' : ''}down: ${lastError(down.stderr)}`;
        await standIn.settle();
        row.leftovers = added(baseline, identifiers(await readInventory(clients, { domainPrefixes: prefixes })));
      } catch (error) {
        row.error += `harness: ${error?.message ?? error}`;
      } finally {
        row.faults = model.counts.total;
        for (const kind of FAULT_KINDS) totals.byKind[kind] += model.counts.byKind[kind];
        for (const [operation, kinds] of Object.entries(model.counts.byOperation)) {
          totals.byOperation[operation] ??= {};
          for (const [kind, count] of Object.entries(kinds)) totals.byOperation[operation][kind] = (totals.byOperation[operation][kind] ?? 0) + count;
        }
        await model.stop();
        rmSync(workdir, { recursive: true, force: true });
      }
      rows.push(row);
      const count = (object) => Object.values(object).reduce((sum, value) => sum + (Array.isArray(value) ? value.length : value), 0);
      console.log(
        `run ${index + 1}/${runs} seed ${seed}: up ${row.up} down ${row.down}, faults ${row.faults}, duplicates ${count(row.duplicates)}, leftovers ${count(row.leftovers)}${row.error ? ` -- ${row.error}` : ''}`,
      );
    }
  } finally {
    await standIn.stop();
    destroyEmulatorClients(clients);
    await moto.stop();
  }
  report(rows, totals);
}

function lastError(stderr) {
  const lines = String(stderr ?? '').trim().split('\n');
  for (const line of lines.reverse()) {
    try {
      const event = JSON.parse(line);
      if (event.type === 'error') return `${event.code}: ${event.message}`.slice(0, 300);
    } catch {
      // not an event line
    }
  }
  return (lines[0] ?? '').slice(0, 300);
}

function report(rows, totals) {
  const sum = (pick) => rows.reduce((total, row) => total + pick(row), 0);
  const size = (object) => Object.values(object).reduce((total, value) => total + (Array.isArray(value) ? value.length : value), 0);
  const merge = (pick) => {
    const merged = {};
    for (const row of rows) for (const [kind, value] of Object.entries(pick(row))) merged[kind] = (merged[kind] ?? 0) + (Array.isArray(value) ? value.length : value);
    return merged;
  };
  console.log('\n=== chaos figures ===');
  console.log(`runs:        ${rows.length}`);
  console.log(`faults:      ${sum((row) => row.faults)} (${FAULT_KINDS.map((kind) => `${kind} ${totals.byKind[kind]}`).join(', ')})`);
  const lost = Object.entries(totals.byOperation)
    .filter(([, kinds]) => kinds.resetAfter)
    .map(([operation, kinds]) => `${operation} ${kinds.resetAfter}`);
  console.log(`lost answers by operation: ${lost.join(', ') || 'none'}`);
  console.log(`duplicates:  ${sum((row) => size(row.duplicates))} in ${rows.filter((row) => size(row.duplicates) > 0).length} run(s) ${JSON.stringify(merge((row) => row.duplicates))}`);
  console.log(`leftovers:   ${sum((row) => size(row.leftovers))} in ${rows.filter((row) => size(row.leftovers) > 0).length} run(s) ${JSON.stringify(merge((row) => row.leftovers))}`);
  console.log(`failures:    up ${rows.filter((row) => row.up !== 0).length}, down ${rows.filter((row) => row.down !== 0).length}`);
}

main().catch((error) => {
  console.log(`chaos: aborted: ${error?.stack ?? error}`);
});
