#!/usr/bin/env node
// `npm run bench`: how much faster is authecs's parallel `up` than running the article's
// steps one after another, and how much memory does a run take? Figures are ratios measured
// within one run on this machine (shared machines are noisy), plus a labelled model for real AWS.
//
// Measured: `authecs up` and `down` against moto, default concurrency vs `--concurrency 1`
// (one step at a time, like the article), alternating modes so drift hits both alike. moto
// settles instantly, so the certificate is made to take BENCH_CERT_SECONDS (default 6) to issue
// (MOTO_ACM_VALIDATION_WAIT): the one long wait that an emulator can reproduce honestly.
// Every AWS call also passes through a loopback proxy that adds BENCH_LATENCY_MS (default 100)
// before forwarding it: real AWS API calls take tens to hundreds of milliseconds, moto about one.
// Peak memory is the authecs process's VmHWM from /proc, sampled while it runs.
//
// Modelled: the critical path of the real step graph (src/steps/index.ts) with typical AWS
// durations from shared/notes/aws-behaviour.md, against their sum. Not a measurement.
import { spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgentStandIn } from './lib/agent-stand-in.mjs';
import { destroyEmulatorClients, emulatorClients, emulatorEnvironment, TEST_DOMAIN, TEST_REGION } from './lib/aws.mjs';
import { seedFixtures } from './lib/fixtures.mjs';
import { motoAvailability, startMoto } from './lib/moto.mjs';

// The SDK's Node 22 notice is noise here too (see bin/authecs.js).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'authecs.js');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const certificateSeconds = process.env.BENCH_CERT_SECONDS ?? '6';
const latencyMs = Number(process.env.BENCH_LATENCY_MS ?? 100);

/** A loopback proxy that holds each request for latencyMs, then forwards it to moto. */
function latencyProxy(target) {
  const upstream = new URL(target);
  const server = createServer((incoming, outgoing) => {
    const body = [];
    incoming.on('data', (chunk) => body.push(chunk));
    incoming.on('end', () => {
      setTimeout(() => {
        const forwarded = request(
          { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
          (response) => {
            outgoing.writeHead(response.statusCode ?? 502, response.headers);
            response.pipe(outgoing);
          },
        );
        forwarded.on('error', () => outgoing.destroy());
        forwarded.end(Buffer.concat(body));
      }, latencyMs);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ endpoint: `http://127.0.0.1:${server.address().port}`, close: () => server.close() })));
}

/** Runs authecs, sampling its peak resident memory from /proc while it lives. */
function run(args, env, cwd) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let peakKb = 0;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.resume();
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
      resolve({ code, wallMs: Number(process.hrtime.bigint() - started) / 1e6, peakMb: peakKb / 1024, stdout });
    });
  });
}

const median = (values) => [...values].sort((left, right) => left - right)[Math.floor(values.length / 2)];

// Typical durations in seconds on real AWS (aws-behaviour.md "Timings seen on real AWS").
const TYPICAL_SECONDS = {
  network: 2,
  'load-balancer-security-group': 2,
  'security-group-ingress': 2,
  'load-balancer': 120,
  'hosted-zone': 1,
  'dns-record': 45,
  certificate: 240,
  'https-listener': 3,
  'http-redirect-listener': 2,
  'user-pool': 2,
  'app-client': 1,
  'user-pool-domain': 5,
  'target-group': 2,
  'host-rule': 2,
  cluster: 2,
  'key-pair': 1,
  capacity: 120,
  'task-definition': 1,
  service: 180,
};

async function model() {
  const { STEPS } = await import('../dist/steps/index.js');
  const finish = new Map();
  const finishOf = (step) => {
    if (!finish.has(step.name)) {
      const start = Math.max(0, ...step.dependsOn.map((name) => finishOf(STEPS.find((candidate) => candidate.name === name))));
      finish.set(step.name, start + (TYPICAL_SECONDS[step.name] ?? 1));
    }
    return finish.get(step.name);
  };
  const criticalPath = Math.max(...STEPS.map(finishOf));
  const sequential = STEPS.reduce((sum, step) => sum + (TYPICAL_SECONDS[step.name] ?? 1), 0);
  return { criticalPath, sequential };
}

async function main() {
  const availability = motoAvailability();
  if (!availability.available) {
    process.stderr.write(`The benchmark runs authecs against moto, which is missing.\n${availability.reason}\n`);
    return 1;
  }
  const moto = await startMoto({ env: { MOTO_ACM_VALIDATION_WAIT: certificateSeconds } });
  const clients = emulatorClients(moto.endpoint);
  const standIn = startAgentStandIn(clients);
  const proxy = await latencyProxy(moto.endpoint);
  const results = { parallel: { up: [], down: [], memory: [] }, sequential: { up: [], down: [], memory: [] } };
  try {
    for (let round = 0; round < rounds; round += 1) {
      for (const mode of round % 2 === 0 ? ['parallel', 'sequential'] : ['sequential', 'parallel']) {
        await moto.reset();
        standIn.reset();
        await seedFixtures(clients);
        const workdir = mkdtempSync(join(tmpdir(), 'authecs-bench-'));
        const env = { ...process.env, ...emulatorEnvironment(proxy.endpoint, TEST_REGION), AUTH_ECS_DOMAIN: TEST_DOMAIN, AUTHECS_POLL_SCALE: '0.02', HOME: workdir };
        const extra = mode === 'sequential' ? ['--concurrency', '1'] : [];
        const up = await run(['up', '--json', ...extra], env, workdir);
        if (up.code !== 0) throw new Error(`up (${mode}) exited ${up.code}`);
        if (JSON.parse(up.stdout).mutations.length === 0) throw new Error(`up (${mode}) changed nothing`);
        const down = await run(['down', '--yes', '--json', ...extra], env, workdir);
        if (down.code !== 0) throw new Error(`down (${mode}) exited ${down.code}`);
        rmSync(workdir, { recursive: true, force: true });
        results[mode].up.push(up.wallMs);
        results[mode].down.push(down.wallMs);
        results[mode].memory.push(Math.max(up.peakMb, down.peakMb));
        process.stderr.write(`round ${round + 1}/${rounds} ${mode.padEnd(10)} up ${(up.wallMs / 1000).toFixed(2)} s, down ${(down.wallMs / 1000).toFixed(2)} s, peak ${up.peakMb.toFixed(0)} MB\n`);
      }
    }
  } finally {
    await standIn.stop();
    proxy.close();
    destroyEmulatorClients(clients);
    await moto.stop();
  }

  const row = (mode) => {
    const figures = results[mode];
    return `${mode.padEnd(24)} ${(median(figures.up) / 1000).toFixed(2).padStart(8)} s ${(median(figures.down) / 1000).toFixed(2).padStart(8)} s ${Math.max(...figures.memory).toFixed(0).padStart(8)} MB`;
  };
  const speedup = median(results.sequential.up) / median(results.parallel.up);
  const downSpeedup = median(results.sequential.down) / median(results.parallel.down);
  const { criticalPath, sequential } = await model();
  // Start-up: the AWS SDK loads only when a command runs, so --help and bad flags answer fast.
  const startups = [];
  for (let index = 0; index < 5; index += 1) startups.push(await run(['--help'], process.env, root));
  const startupMs = median(startups.map((result) => result.wallMs));
  const startupMb = Math.max(...startups.map((result) => result.peakMb));
  process.stdout.write(
    [
      '',
      `authecs benchmark against moto ${availability.version} (${rounds} rounds, median; ${latencyMs} ms added to every AWS call; certificate issues after ${certificateSeconds} s)`,
      `${'mode'.padEnd(24)} ${'up'.padStart(10)} ${'down'.padStart(10)} ${'peak RSS'.padStart(11)}`,
      row('parallel'),
      row('sequential'),
      `measured: parallel up is ${speedup.toFixed(2)}x and parallel down ${downSpeedup.toFixed(2)}x faster than one step at a time (--concurrency 1)`,
      `start-up: \`authecs --help\` ${(startupMs / 1000).toFixed(2)} s, peak RSS ${startupMb.toFixed(0)} MB (median of 5)`,
      '',
      `model (typical real-AWS durations from aws-behaviour.md, not measured): one step at a time ${Math.round(sequential / 60)} min, along the dependency graph ${Math.round(criticalPath / 60)} min, ${(sequential / criticalPath).toFixed(2)}x`,
      '',
    ].join('\n'),
  );
  return 0;
}

process.exitCode = await main().catch((error) => {
  process.stderr.write(`benchmark failed: ${error.message}\n`);
  return 1;
});
