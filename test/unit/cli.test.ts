import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config/schema.js';
import { EXIT_CODES } from '../../src/errors.js';

const BIN = fileURLToPath(new URL('../../bin/authecs.js', import.meta.url));

/** The built CLI as a user runs it, with no AWS configuration from this machine leaking in. */
function authecs(args: string[], options: { cwd: string; env?: Record<string, string>; input?: string }) {
  const home = join(options.cwd, 'home');
  mkdirSync(home, { recursive: true });
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: 60_000,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      AWS_CONFIG_FILE: join(home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      NODE_NO_WARNINGS: '1',
      ...options.env,
    },
  });
  const events = result.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, events };
}

/** The same, without blocking the event loop (for tests that serve something themselves). */
function authecsAsync(args: string[], options: { cwd: string; env?: Record<string, string> }) {
  const home = join(options.cwd, 'home');
  mkdirSync(home, { recursive: true });
  return new Promise<{ code: number | null; stdout: string; stderr: string; events: Record<string, unknown>[] }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', HOME: home, AWS_CONFIG_FILE: join(home, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'), AWS_EC2_METADATA_DISABLED: 'true', ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => {
      const events = stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, stdout, stderr, events });
    });
  });
}

describe('authecs as a subprocess', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'authecs-cli-'));
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  it('--help lists the commands, the global options and the exit codes', () => {
    const result = authecs(['--help'], { cwd });
    expect(result.code).toBe(0);
    for (const text of ['up', 'status', 'down', '--region', '--endpoint-url', '--json', '--quiet', '--verbose', '--state', 'Exit codes:']) {
      expect(result.stdout).toContain(text);
    }
  });

  it('up --help explains every setting and each way authecs is more secure than the article', () => {
    const result = authecs(['up', '--help'], { cwd });
    expect(result.code).toBe(0);
    for (const text of ['--domain', 'AUTH_ECS_DOMAIN', '--ssl-policy', 'ELBSecurityPolicy-2016-08', '--launch-type', '--create-network', 'more secure than the article', 'TLS 1.0 and 1.1', 'HTTP:80 listener', '--ingress', 'IMDSv2', 'service-linked role', 'verified email', 'deregistration delay', 'never printed or stored']) {
      expect(result.stdout).toContain(text);
    }
  });

  it('plan --help lists every stack setting flag, so a change can be previewed before up makes it', () => {
    const result = authecs(['plan', '--help'], { cwd });
    expect(result.code).toBe(0);
    const stackFlags = SETTINGS.filter((setting) => setting.upOnly && setting.flag).map((setting) => setting.flag!.split(' ')[0]!);
    expect(stackFlags).toEqual(expect.arrayContaining(['--domain', '--image', '--desired-count', '--launch-type', '--no-http-redirect']));
    for (const flag of stackFlags) expect(result.stdout, flag).toContain(flag);
    expect(result.stdout).toMatch(/^\s+--http-redirect\s/m);
  });

  it('up --help shows both --http-redirect and --no-http-redirect, and --yes', () => {
    const result = authecs(['up', '--help'], { cwd });
    expect(result.code).toBe(0);
    // A sticky switch must be settable both ways: --no-http-redirect once, --http-redirect to undo it.
    expect(result.stdout).toMatch(/^\s+--http-redirect\s/m);
    expect(result.stdout).toMatch(/^\s+--no-http-redirect\s/m);
    expect(result.stdout).toMatch(/^\s+-y, --yes\s/m);
  });

  it('a command group without its subcommand shows help and exits 2', () => {
    const result = authecs(['claims'], { cwd });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stdout + result.stderr).toContain('verify');
  });

  it('a bad flag is a usage error with exit code 2 and no stack trace', () => {
    const result = authecs(['up', '--no-such-flag'], { cwd });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain("unknown option '--no-such-flag'");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('an invalid setting names it, says how to fix it, and touches nothing', () => {
    const result = authecs(['up', '--region', 'eu-west-1', '--domain', 'not a domain'], { cwd });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain('error: Invalid setting --domain');
    expect(result.stderr).toContain('hint: Fix it: pass --domain');
    expect(existsSync(join(cwd, '.authecs'))).toBe(false);
  });

  it('without credentials, up stops with exit code 3 and a hint, before creating anything', async () => {
    // Something listens at the endpoint; the SDK finds no credentials before it sends a byte.
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const result = await authecsAsync(['up', '--json', '--region', 'eu-west-1', '--domain', 'www.example.com', '--endpoint-url', `http://127.0.0.1:${port}`], { cwd });
    server.close();
    expect(result.code).toBe(EXIT_CODES.credentials);
    const error = result.events.find((event) => event.type === 'error');
    expect(error).toMatchObject({ code: 'NO_CREDENTIALS', exitCode: 3, hint: expect.stringContaining('AWS_PROFILE') });
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });

  it('an endpoint where nothing listens is exit code 10, named, with a hint', () => {
    const result = authecs(['up', '--region', 'eu-west-1', '--domain', 'www.example.com', '--endpoint-url', 'http://127.0.0.1:9'], {
      cwd,
      env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' },
    });
    expect(result.code).toBe(EXIT_CODES.endpoint);
    expect(result.stderr).toContain('error: cannot reach the AWS endpoint http://127.0.0.1:9 (ECONNREFUSED)');
    expect(result.stderr).toContain('hint: Check --endpoint-url');
    expect(existsSync(join(cwd, '.authecs', 'ecsauth.json'))).toBe(false);
  });

  it('SIGTERM during a run exits 130, says how to carry on, and releases the lock', async () => {
    // An endpoint that accepts connections and never answers keeps `up` waiting on its first call.
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const home = join(cwd, 'home');
    mkdirSync(home, { recursive: true });
    const child = spawn(process.execPath, [BIN, 'up', '--region', 'eu-west-1', '--domain', 'www.example.com', '--endpoint-url', `http://127.0.0.1:${port}`], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: home, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Wait until the run holds its lock, then interrupt it.
    const lock = join(cwd, '.authecs', 'ecsauth.json.lock');
    for (let waited = 0; !existsSync(lock) && waited < 20_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(lock)).toBe(true);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    server.close();
    expect(code).toBe(EXIT_CODES.interrupted);
    expect(stderr).toContain('error: Interrupted by SIGTERM. The state file is consistent');
    expect(stderr).toContain('hint: Run the same command again');
    expect(existsSync(lock)).toBe(false);
  });

  // With the settings, they look for the stack's resources first: test/unit/lost-state.test.ts.
  it('status --json without a state file, and without the settings to look for the stack with, is an error document on stderr and exit 2', () => {
    const result = authecs(['status', '--json', '--region', 'eu-west-1'], { cwd });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.events.at(-1)).toMatchObject({ type: 'error', code: 'STATE_MISSING_SETTINGS', exitCode: 2 });
  });

  it('down --json without a state file does not say "nothing to delete" without having looked (exit 2)', () => {
    const result = authecs(['down', '--yes', '--json'], { cwd });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stdout).toBe('');
    expect(result.events.at(-1)).toMatchObject({ type: 'error', code: 'STATE_MISSING_SETTINGS', exitCode: 2 });
  });

  it('down without --yes and without a terminal refuses, with exit code 2', () => {
    mkdirSync(join(cwd, '.authecs'));
    writeFileSync(
      join(cwd, '.authecs', 'ecsauth.json'),
      JSON.stringify({ schemaVersion: 1, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1', createdAt: '', updatedAt: '', settings: { domain: 'www.example.com' }, resources: { cluster: { created: true, complete: true, data: { clusterName: 'ecsauth' }, updatedAt: '' } } }),
    );
    const result = authecs(['down'], { cwd });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain('needs --yes when it is not run at a terminal');
    expect(existsSync(join(cwd, '.authecs', 'ecsauth.json'))).toBe(true);
  });

  it('a corrupt state file is exit code 8 with a hint', () => {
    mkdirSync(join(cwd, '.authecs'));
    writeFileSync(join(cwd, '.authecs', 'ecsauth.json'), '{ corrupt');
    const result = authecs(['status'], { cwd });
    expect(result.code).toBe(EXIT_CODES.state);
    expect(result.stderr).toContain('is not valid JSON');
    expect(result.stderr).toContain('hint:');
  });

  it('a state file locked by a live run is exit code 8 naming the holder', () => {
    mkdirSync(join(cwd, '.authecs'));
    writeFileSync(join(cwd, '.authecs', 'ecsauth.json.lock'), JSON.stringify({ pid: process.pid, host: hostname(), command: 'up', startedAt: 'now' }));
    const result = authecs(['up', '--region', 'eu-west-1', '--domain', 'www.example.com'], { cwd });
    expect(result.code).toBe(EXIT_CODES.state);
    expect(result.stderr).toContain(`locked by \`authecs up\` (pid ${process.pid}`);
  });
});
