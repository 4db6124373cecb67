// Start and stop a moto server (the AWS emulator the e2e suite and the demo run authecs against).
// Plain ESM JavaScript so that scripts/demo.js can use it after `npm run build`; the TypeScript
// test support imports it too (types in moto.d.mts).
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export const MOTO_INSTALL_HINT = 'moto is not installed for python3. Install it with:  pip install "moto[server]"  (moto 5.2 or later)';

/** The Python that runs moto: AUTHECS_MOTO_PYTHON, else python3. */
export function motoPython() {
  return process.env.AUTHECS_MOTO_PYTHON || 'python3';
}

/** Whether `python3 -m moto.server` can run here: { available, version?, reason? }. */
export function motoAvailability() {
  const probe = spawnSync(motoPython(), ['-c', 'import moto, moto.server, flask; print(moto.__version__)'], { encoding: 'utf8' });
  if (probe.error) return { available: false, reason: `${motoPython()} could not be run (${probe.error.message}). ${MOTO_INSTALL_HINT}` };
  if (probe.status !== 0) return { available: false, reason: `${(probe.stderr || '').trim().split('\n').pop()}. ${MOTO_INSTALL_HINT}` };
  return { available: true, version: probe.stdout.trim() };
}

/** A free TCP port on the loopback interface (the OS picks it; we release it at once). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// Server settings moto reads when it starts:
// - MOTO_ECS_SERVICE_RUNNING=2: moto never starts tasks; without this a service's runningCount stays 0
//   and authecs's "service stable" wait never ends.
// - MOTO_ACM_VALIDATION_WAIT=1: certificates turn ISSUED 1 s after the request (default 60 s).
// - MOTO_IAM_LOAD_MANAGED_POLICIES=true: AWS managed policies exist, as on AWS; without it
//   AttachRolePolicy of AmazonECSTaskExecutionRolePolicy (the execution role) is NoSuchEntity.
const MOTO_ENV = {
  MOTO_ECS_SERVICE_RUNNING: '2',
  MOTO_ACM_VALIDATION_WAIT: '1',
  MOTO_IAM_LOAD_MANAGED_POLICIES: 'true',
};

const running = new Set();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when the test process dies without running its afterAll: never leave moto behind.
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Starts `python3 -m moto.server -H 127.0.0.1 -p PORT` on a free port and waits until it answers.
 * Resolves to { endpoint, port, pid, reset(), stop(), log() }.
 */
export async function startMoto(options = {}) {
  const availability = motoAvailability();
  if (!availability.available) throw new Error(availability.reason);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let lastError;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      return await launch(port, timeoutMs, options.env ?? {});
    } catch (error) {
      // Another process may have taken the port between freePort() and moto's bind: try another.
      lastError = error;
    }
  }
  throw lastError;
}

async function launch(port, timeoutMs, extraEnv) {
  const child = spawn(motoPython(), ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, ...MOTO_ENV, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  installExitHook();
  running.add(child);
  let output = '';
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exitedPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = true;
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const result = await Promise.race([exitedPromise, delay(3000).then(() => undefined)]);
    if (result === undefined && !exited) {
      child.kill('SIGKILL');
      await exitedPromise;
    }
  };

  const started = Date.now();
  for (;;) {
    if (exited) throw new Error(`moto exited before it answered on ${endpoint}:\n${output.slice(-2000)}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      break;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs) {
      await stop();
      throw new Error(`moto did not answer on ${endpoint} within ${timeoutMs} ms:\n${output.slice(-2000)}`);
    }
    await delay(100);
  }

  return {
    endpoint,
    port,
    pid: child.pid,
    /** POST /moto-api/reset: wipes every resource in every service. */
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`);
    },
    stop,
    log: () => output,
  };
}
