#!/usr/bin/env node
// `npm run bench`: how close does authecs's parallel `up` and `down` come to the fastest the step
// graph allows, and how much faster is it than the article's one-step-at-a-time order? Figures are
// ratios within one run (same moto, modes alternating, so drift hits both alike), never a timed test.
//
// authecs runs against moto through the AWS behaviour model (scripts/lib/aws-model.mjs), which
// holds each transitional state for its real-AWS duration times SCALE; the agent stand-in
// registers instances late, as the ECS agent does. The lower bound is the longest chain through
// the step graph (dist/steps/index.js dependsOn) with each step's modelled duration derived from
// those same durations, not measured. Peak memory is the authecs process's VmHWM from /proc.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgentStandIn } from './lib/agent-stand-in.mjs';
import { createEcsServiceLinkedRole, REAL_AWS_SECONDS, startAwsModel } from './lib/aws-model.mjs';
import { destroyEmulatorClients, emulatorClients, emulatorEnvironment, TEST_DOMAIN, TEST_REGION } from './lib/aws.mjs';
import { seedFixtures } from './lib/fixtures.mjs';
import { motoAvailability, startMoto } from './lib/moto.mjs';

// The SDK's Node 22 notice is noise here too (see bin/authecs.js).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'authecs.js');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
// BENCH_SCALE picks another scale: fixed costs (start-up, API latency) weigh 1/SCALE times more than on AWS.
const SCALE = Number(process.env.BENCH_SCALE ?? 0.1);
if (!(SCALE > 0 && SCALE <= 1)) throw new Error(`BENCH_SCALE must be a number in (0, 1], not ${process.env.BENCH_SCALE}`);
// The poll schedule runs on the model's clock: at full intervals a 15 s poll would outlast a 12 s
// ALB; at the e2e's 0.02 authecs would poll 5x as often as on AWS and inflate the call counts.
const POLL_SCALE = String(SCALE);

const { loadUpConfig } = await import('../dist/config/load.js');
const { DEREGISTRATION_DELAY_SECONDS } = await import('../dist/steps/target-group.js');
const { STEPS } = await import('../dist/steps/index.js');
const engine = { ...(await import('../dist/engine/graph.js')), ...(await import('../dist/engine/actions.js')) };
// The settings the benchmarked runs use (all defaults).
const config = loadUpConfig({ flags: {}, env: { ...emulatorEnvironment('http://127.0.0.1', TEST_REGION), AUTH_ECS_DOMAIN: TEST_DOMAIN }, cwd: tmpdir() });
const enabled = new Set(STEPS.filter((step) => step.enabled?.(config) ?? true).map((step) => step.name));
// The edges the engine waits on: up's waitsFor and down's teardown order where dist has them, else dependsOn.
const EDGES = {
  up: new Map(STEPS.map((step) => [step.name, engine.upWaitsFor ? engine.upWaitsFor(step, config, enabled) : step.dependsOn.filter((name) => enabled.has(name))])),
  down: engine.teardownOrder
    ? engine.teardownOrder(STEPS, (name) => enabled.has(name)).waitsFor
    : engine.reverseDependencies(STEPS.map((step) => ({ name: step.name, waitsFor: step.dependsOn }))),
};

// Real-AWS seconds (aws-behaviour.md "Timings seen on real AWS"), multiplied by SCALE.
const REAL = {
  albProvisioning: 120,
  route53Insync: 40,
  acmRecordAppears: REAL_AWS_SECONDS.acmRecordAppears,
  acmIssueAfterCname: 180,
  instancePending: 30,
  // authecs's target-group deregistration delay: a deleted service drains that long.
  serviceDraining: Number(DEREGISTRATION_DELAY_SECONDS),
  albEniLinger: 300,
  taskStart: 20,
};
// The agent registers the instance with its cluster this long after launch (stand-in option).
const INSTANCE_REGISTERED_SECONDS = 90;
// A new target passes one health check at the target group's interval.
const HEALTH_CHECK_INTERVAL_SECONDS = config.healthCheckIntervalSeconds;

// Each step's modelled duration in real seconds; steps not listed only make API calls (0).
const MODELLED = {
  up: {
    'load-balancer': [REAL.albProvisioning, 'ALB provisioning'],
    'dns-record': [REAL.route53Insync, 'INSYNC'],
    certificate: [REAL.acmRecordAppears + REAL.route53Insync + REAL.acmIssueAfterCname, `record ${REAL.acmRecordAppears} + CNAME INSYNC ${REAL.route53Insync} + issue ${REAL.acmIssueAfterCname}`],
    capacity: [Math.max(INSTANCE_REGISTERED_SECONDS, REAL.instancePending), 'instance registered'],
    service: [REAL.taskStart + HEALTH_CHECK_INTERVAL_SECONDS, `task start ${REAL.taskStart} + one health check at ${HEALTH_CHECK_INTERVAL_SECONDS} s`],
  },
  down: {
    service: [REAL.serviceDraining, 'DRAINING'],
    // The ALB's ENIs hold its group after the ALB is gone (load-balancer comes before it in `down`).
    'load-balancer-security-group': [REAL.albEniLinger, 'ALB ENIs released'],
  },
};

/** Longest chain through the engine's graph, each step taking its modelled duration. */
function criticalPath(command) {
  const durations = MODELLED[command];
  const waitsFor = EDGES[command];
  const names = STEPS.map((step) => step.name).filter((name) => command === 'down' || enabled.has(name));
  // Ties go to the step later in the article's order: it is the one that waited for the other.
  const later = (left, right) => (left === undefined || finishOf(right) > finishOf(left) || (finishOf(right) === finishOf(left) && names.indexOf(right) > names.indexOf(left)) ? right : left);
  const finish = new Map();
  const via = new Map();
  const finishOf = (name) => {
    if (!finish.has(name)) {
      const before = (waitsFor.get(name) ?? []).reduce(later, undefined);
      if (before) via.set(name, before);
      finish.set(name, (before ? finishOf(before) : 0) + (durations[name]?.[0] ?? 0));
    }
    return finish.get(name);
  };
  const last = names.reduce(later, undefined);
  const chain = [];
  for (let name = last; name; name = via.get(name)) chain.unshift(name);
  const sum = names.reduce((total, name) => total + (durations[name]?.[0] ?? 0), 0);
  return { seconds: finish.get(last), chain, sum };
}

/** Runs authecs, sampling its peak resident memory from /proc; keeps the JSON event lines of stderr. */
function run(args, env, cwd) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const sampler = setInterval(() => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (match) peakKb = Math.max(peakKb, Number(match[1]));
      } catch {
        // The process has just exited.
      }
    }, 20);
    child.on('close', (code) => {
      clearInterval(sampler);
      const events = stderr.split('\n').flatMap((line) => {
        try {
          return line.startsWith('{') ? [JSON.parse(line)] : [];
        } catch {
          return [];
        }
      });
      resolve({ code, wallMs: Number(process.hrtime.bigint() - started) / 1e6, peakMb: peakKb / 1024, stdout, stderr, events });
    });
  });
}

const documentOf = (stdout) => {
  try {
    return JSON.parse(stdout);
  } catch {
    return {};
  }
};
const median = (values) => [...values].sort((left, right) => left - right)[Math.floor(values.length / 2)];
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
// Identifiers differ from run to run; the kind of wait does not.
const waitKind = (description) => String(description ?? '').replace(/arn:\S+/g, '<arn>').replace(/\b[a-z]+-[0-9a-f]{8,}\b/g, '<id>').replace(/\/change\/\S+|\b[A-Z0-9]{12,}\b/g, '<id>');
const polls = (counts) => Object.entries(counts).filter(([key]) => /:(Describe|Get|List)/.test(key));
const difference = (after, before) => Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]).filter(([, value]) => value > 0));

async function main() {
  const availability = motoAvailability();
  if (!availability.available) {
    process.stderr.write(`The benchmark runs authecs against moto, which is missing.\n${availability.reason}\n`);
    return 1;
  }
  const moto = await startMoto();
  const clients = emulatorClients(moto.endpoint);
  const standIn = startAgentStandIn(clients, { registrationDelayMs: INSTANCE_REGISTERED_SECONDS * SCALE * 1000 });
  const model = await startAwsModel({ upstream: moto.endpoint, scale: SCALE, seed: 1, timings: REAL, healthChecks: 1 });
  const results = { parallel: { up: [], down: [], memory: [] }, sequential: { up: [], down: [], memory: [] } };
  // Per command: wait events from authecs's --json output, and the model's poll counts per run.
  const waits = { up: [], down: [] };
  const calls = { up: [], down: [] };
  // The engine's own measured critical path of the last default run, when --json reports it.
  const measuredPath = {};
  const runOnce = async (extra) => {
    await moto.reset();
    standIn.reset();
    await seedFixtures(clients);
    await createEcsServiceLinkedRole(clients.iam);
    model.reset();
    const workdir = mkdtempSync(join(tmpdir(), 'authecs-bench-'));
    const env = { ...process.env, ...emulatorEnvironment(model.endpoint, TEST_REGION), AUTH_ECS_DOMAIN: TEST_DOMAIN, AUTHECS_POLL_SCALE: POLL_SCALE, HOME: workdir, NO_COLOR: '1' };
    try {
      const up = await run(['up', '--json', ...extra], env, workdir);
      if (up.code !== 0) throw new Error(`up ${extra.join(' ')} exited ${up.code}: ${up.stderr.split('\n').slice(-5).join('\n')}`);
      if ((documentOf(up.stdout).mutations ?? []).length === 0) throw new Error(`up ${extra.join(' ')} changed nothing`);
      const afterUp = model.callCounts();
      const down = await run(['down', '--yes', '--json', ...extra], env, workdir);
      if (down.code !== 0) throw new Error(`down ${extra.join(' ')} exited ${down.code}: ${down.stderr.split('\n').slice(-5).join('\n')}`);
      return { up, down, afterUp };
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
  };
  try {
    // Untimed: moto loads each service's code on its first request (half a second for ELB and
    // Cognito), a cost AWS does not have; one warm-up run keeps it out of the figures.
    await runOnce([]);
    process.stderr.write('warm-up run done\n');
    for (let round = 0; round < rounds; round += 1) {
      for (const mode of round % 2 === 0 ? ['parallel', 'sequential'] : ['sequential', 'parallel']) {
        const { up, down, afterUp } = await runOnce(mode === 'sequential' ? ['--concurrency', '1'] : []);
        results[mode].up.push(up.wallMs);
        results[mode].down.push(down.wallMs);
        results[mode].memory.push(Math.max(up.peakMb, down.peakMb));
        if (mode === 'parallel') {
          waits.up.push(...up.events.filter((event) => event.type === 'wait'));
          waits.down.push(...down.events.filter((event) => event.type === 'wait'));
          calls.up.push(afterUp);
          calls.down.push(difference(model.callCounts(), afterUp));
          for (const [command, result] of [['up', up], ['down', down]]) {
            const path = documentOf(result.stdout).criticalPath;
            if (Array.isArray(path)) measuredPath[command] = path;
          }
        }
        process.stderr.write(`round ${round + 1}/${rounds} ${mode.padEnd(10)} up ${seconds(up.wallMs)}, down ${seconds(down.wallMs)}, peak ${up.peakMb.toFixed(0)} MB\n`);
      }
    }
    if (model.errors.length > 0) process.stderr.write(`behaviour model errors:\n  ${model.errors.slice(0, 5).join('\n  ')}\n`);
  } finally {
    await standIn.stop();
    await model.stop();
    destroyEmulatorClients(clients);
    await moto.stop();
  }

  // Start-up: the AWS SDK loads only when a command runs, so --help and bad flags answer fast.
  const startups = [];
  for (let index = 0; index < 5; index += 1) startups.push(await run(['--help'], process.env, root));
  const startupMs = median(startups.map((result) => result.wallMs));
  const startupMb = Math.max(...startups.map((result) => result.peakMb));

  const bound = { up: criticalPath('up'), down: criticalPath('down') };
  const scaled = (realSeconds) => realSeconds * SCALE * 1000;
  const figure = (mode, command) => median(results[mode][command]);
  const chainText = (command) =>
    bound[command].chain.map((name) => `${name} ${((MODELLED[command][name]?.[0] ?? 0) * SCALE).toFixed(1)}`).join(' -> ');
  const lines = [
    '',
    `authecs benchmark: moto ${availability.version} behind the AWS behaviour model at scale ${SCALE} (1/${Math.round(1 / SCALE)} of real AWS durations; AUTHECS_POLL_SCALE ${POLL_SCALE}), ${rounds} rounds, median`,
    `${''.padEnd(34)} ${'up'.padStart(8)} ${'down'.padStart(8)} ${'peak RSS'.padStart(9)}`,
    `${'default concurrency'.padEnd(34)} ${seconds(figure('parallel', 'up')).padStart(8)} ${seconds(figure('parallel', 'down')).padStart(8)} ${`${Math.max(...results.parallel.memory).toFixed(0)} MB`.padStart(9)}`,
    `${"--concurrency 1 (article's order)".padEnd(34)} ${seconds(figure('sequential', 'up')).padStart(8)} ${seconds(figure('sequential', 'down')).padStart(8)} ${`${Math.max(...results.sequential.memory).toFixed(0)} MB`.padStart(9)}`,
    `${'lower bound (modelled)'.padEnd(34)} ${seconds(scaled(bound.up.seconds)).padStart(8)} ${seconds(scaled(bound.down.seconds)).padStart(8)}`,
    `${'all waits one after another'.padEnd(34)} ${seconds(scaled(bound.up.sum)).padStart(8)} ${seconds(scaled(bound.down.sum)).padStart(8)}`,
    '',
    `up chain (s):   ${chainText('up')}`,
    `down chain (s): ${chainText('down')}`,
    ...['up', 'down']
      .filter((command) => measuredPath[command])
      .map((command) => `${`measured ${command} path (s):`.padEnd(16)} ${measuredPath[command].map((span) => `${span.step} ${(span.durationMs / 1000).toFixed(1)}`).join(' -> ')}`),
    `modelled (real AWS s): ${Object.entries(MODELLED)
      .map(([command, steps]) => `${command}: ${Object.entries(steps).map(([name, [value, why]]) => `${name} ${value} (${why})`).join(', ')}`)
      .join('; ')}`,
    '',
    `up:   ${(figure('parallel', 'up') / scaled(bound.up.seconds)).toFixed(2)}x the lower bound, ${(figure('parallel', 'up') / figure('sequential', 'up')).toFixed(2)}x the article's order`,
    `down: ${(figure('parallel', 'down') / scaled(bound.down.seconds)).toFixed(2)}x the lower bound, ${(figure('parallel', 'down') / figure('sequential', 'down')).toFixed(2)}x the article's order`,
    `on real AWS (x${Math.round(1 / SCALE)}): up ${((figure('parallel', 'up') / SCALE) / 60000).toFixed(1)} min, down ${((figure('parallel', 'down') / SCALE) / 60000).toFixed(1)} min; article's order ${((figure('sequential', 'up') / SCALE) / 60000).toFixed(1)} and ${((figure('sequential', 'down') / SCALE) / 60000).toFixed(1)} min`,
    `start-up: \`authecs --help\` ${(startupMs / 1000).toFixed(2)} s, peak RSS ${startupMb.toFixed(0)} MB (median of 5)`,
    '',
  ];
  const runs = calls.up.length;
  if (waits.up.length + waits.down.length > 0) {
    lines.push(`API calls per wait (authecs's --json wait events, default concurrency, ${runs} runs):`);
    lines.push(`  ${'command'.padEnd(8)}${'step'.padEnd(30)}${'waits'.padStart(6)}${'calls/wait'.padStart(12)}${'s/wait'.padStart(8)}  wait`);
    for (const command of ['up', 'down']) {
      const groups = new Map();
      for (const event of waits[command]) {
        const key = `${event.step}\u0000${waitKind(event.description)}`;
        const group = groups.get(key) ?? { step: event.step, kind: waitKind(event.description), count: 0, calls: 0, elapsedMs: 0 };
        group.count += 1;
        group.calls += Number(event.calls ?? 0);
        group.elapsedMs += Number(event.elapsedMs ?? 0);
        groups.set(key, group);
      }
      for (const group of [...groups.values()].sort((left, right) => right.calls - left.calls)) {
        lines.push(`  ${command.padEnd(8)}${String(group.step).padEnd(30)}${(group.count / runs).toFixed(1).padStart(6)}${(group.calls / group.count).toFixed(1).padStart(12)}${(group.elapsedMs / group.count / 1000).toFixed(1).padStart(8)}  ${group.kind}`);
      }
    }
  } else {
    lines.push(`API calls per wait: authecs's --json output has no wait events; Describe/Get/List calls per operation counted by the model instead (default concurrency, mean of ${runs} runs):`);
    for (const command of ['up', 'down']) {
      const totals = {};
      for (const counts of calls[command]) for (const [key, value] of polls(counts)) totals[key] = (totals[key] ?? 0) + value;
      const entries = Object.entries(totals).sort((left, right) => right[1] - left[1]);
      lines.push(`  ${command}: ${entries.map(([key, value]) => `${key} ${(value / runs).toFixed(1)}`).join(', ')}`);
    }
  }
  lines.push('');
  process.stdout.write(lines.join('\n'));
  return 0;
}

process.exitCode = await main().catch((error) => {
  process.stderr.write(`benchmark failed: ${error.message}\n`);
  return 1;
});
