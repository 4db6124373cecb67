#!/usr/bin/env node
// `npm run demo`: the whole authecs lifecycle against moto, the AWS emulator, in about a minute.
// It starts moto on a free loopback port, seeds what a user already has (a hosted zone for
// example.com, the "ecsplatform" network stack from templates/network.yaml, the ecsInstanceRole
// instance profile), then runs the built CLI exactly as a user would: `authecs up`,
// `authecs status` and `authecs down --yes`, each a subprocess with the terminal's stdio, pointed
// at moto only by AWS_ENDPOINT_URL with dummy credentials. Needs `pip install "moto[server]"`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgentStandIn } from './lib/agent-stand-in.mjs';
import { destroyEmulatorClients, emulatorClients, emulatorEnvironment, TEST_DOMAIN, TEST_REGION } from './lib/aws.mjs';
import { seedFixtures } from './lib/fixtures.mjs';
import { motoAvailability, startMoto } from './lib/moto.mjs';

// The SDK's Node 22 notice is noise in a demo (see bin/authecs.js).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'authecs.js');
const bold = (text) => (process.stdout.isTTY ? `\u001b[1m${text}\u001b[0m` : text);
const seconds = (milliseconds) => `${(milliseconds / 1000).toFixed(1)} s`;

function userEnvironment(endpoint, workdir) {
  // Only what a user pointing authecs at moto would set: nothing of this machine's own AWS
  // setup (a profile or real keys) may leak into the demo.
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(AWS_|AUTH_ECS_|AUTH_COGNITO_|AUTHECS_)/.test(key)) env[key] = value;
  }
  return {
    ...env,
    ...emulatorEnvironment(endpoint, TEST_REGION),
    AWS_REGION: TEST_REGION,
    AUTH_ECS_DOMAIN: TEST_DOMAIN,
    // moto has nothing to wait for: ALBs are active, certificates issue after 1 s and services are
    // stable at once. Waiters would still sleep their real intervals (15-60 s), so poll intervals
    // are scaled to 2 %. authecs's logic is unchanged; only its sleeps shrink.
    AUTHECS_POLL_SCALE: '0.02',
    // No ~/.aws config of this machine.
    HOME: workdir,
  };
}

function runAuthecs(args, env, cwd) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: 'inherit' });
    child.on('error', (error) => resolve({ code: 1, error, wallMs: Date.now() - started }));
    child.on('close', (code, signal) => resolve({ code: code ?? 1, signal, wallMs: Date.now() - started }));
  });
}

async function main() {
  const started = Date.now();
  const availability = motoAvailability();
  if (!availability.available) {
    process.stderr.write(`The demo runs authecs against moto, which is missing.\n${availability.reason}\n`);
    return 1;
  }
  process.stdout.write(bold(`authecs demo: moto ${availability.version}, region ${TEST_REGION}, domain ${TEST_DOMAIN}\n`));
  const moto = await startMoto();
  const clients = emulatorClients(moto.endpoint);
  const workdir = mkdtempSync(join(tmpdir(), 'authecs-demo-'));
  let standIn;
  const cleanUp = async () => {
    await standIn?.stop();
    destroyEmulatorClients(clients);
    await moto.stop();
    rmSync(workdir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    void cleanUp().then(() => process.exit(130));
  });

  const timings = [];
  let failed;
  try {
    process.stdout.write(`moto is listening on ${moto.endpoint} (pid ${moto.pid}); seeding the prerequisites...\n`);
    const fixtures = await seedFixtures(clients, { domain: TEST_DOMAIN });
    process.stdout.write(
      `  hosted zone ${fixtures.zoneName} (${fixtures.hostedZoneId}), network stack ${fixtures.networkStackName} (${fixtures.vpcId}), instance profile ${fixtures.instanceProfileName}\n`,
    );
    // moto has no ECS agent and never registers task targets: the stand-in does what AWS would.
    standIn = startAgentStandIn(clients, { region: TEST_REGION });
    process.stdout.write(`  working directory ${workdir}\n`);
    const env = userEnvironment(moto.endpoint, workdir);

    for (const args of [['up'], ['status'], ['down', '--yes']]) {
      process.stdout.write(bold(`\n$ authecs ${args.join(' ')}\n`));
      const result = await runAuthecs(args, env, workdir);
      timings.push({ command: `authecs ${args.join(' ')}`, ...result });
      process.stdout.write(bold(`(authecs ${args.join(' ')}: exit ${result.code}${result.signal ? `, ${result.signal}` : ''}, ${seconds(result.wallMs)})\n`));
      if (result.code !== 0) {
        failed = `authecs ${args.join(' ')} exited ${result.code}`;
        break;
      }
    }
    if (process.env.AUTHECS_DEMO_DEBUG && standIn.errors.length) process.stderr.write(`stand-in errors:\n${standIn.errors.join('\n')}\n`);
  } catch (error) {
    failed = error instanceof Error ? error.message : String(error);
  } finally {
    await cleanUp();
  }

  process.stdout.write(bold('\nSummary\n'));
  for (const timing of timings) process.stdout.write(`  ${timing.command.padEnd(22)} exit ${String(timing.code).padEnd(3)} ${seconds(timing.wallMs).padStart(8)}\n`);
  process.stdout.write(`  ${'total'.padEnd(31)} ${seconds(Date.now() - started).padStart(8)}\n`);
  if (failed) {
    process.stderr.write(`\nThe demo failed: ${failed}\n`);
    return 1;
  }
  process.stdout.write('\nThe demo went through up, status and down; moto is stopped.\n');
  return 0;
}

process.exitCode = await main();
