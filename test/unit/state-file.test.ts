import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadStackSettings } from '../../src/config/load.js';
import { STATE_SCHEMA_VERSION, StateFile, writeFileAtomic } from '../../src/state/state-file.js';
import { PROJECT_ROOT } from '../support/cli.js';

describe('state file', () => {
  let folder: string;
  let path: string;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'authecs-state-'));
    path = join(folder, '.authecs', 'ecsauth.json');
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('is written with mode 0600 after every update and read back identically', () => {
    const state = StateFile.open(path);
    state.initialise('ecsauth', 'eu-west-1', { domain: 'www.example.com' });
    state.update('load-balancer', { created: true, data: { loadBalancerArn: 'arn:alb' } });

    expect(statSync(path).mode & 0o777).toBe(0o600);
    const reopened = StateFile.open(path);
    expect(reopened.get('load-balancer')).toMatchObject({ created: true, complete: false, data: { loadBalancerArn: 'arn:alb' } });
    expect(reopened.settings).toEqual({ domain: 'www.example.com' });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ schemaVersion: 2, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1' });
  });

  it('replaces the file atomically: no temp file is left and a reader never sees a partial document', () => {
    const state = StateFile.open(path);
    state.initialise('ecsauth', 'eu-west-1', {});
    for (let index = 0; index < 50; index += 1) {
      state.update('cluster', { created: true, data: { clusterName: `c${index}` } });
      expect(() => JSON.parse(readFileSync(path, 'utf8'))).not.toThrow();
    }
    expect(readdirSync(join(folder, '.authecs')).filter((name) => name.includes('.tmp'))).toEqual([]);
  });

  it('a process killed right after a write leaves a complete, readable state file', () => {
    // AUTHECS_TEST_KILL_AFTER_WRITES makes the writer SIGKILL itself after its Nth write.
    // The compiled module is used: `npm test` builds before it runs the tests.
    const module = join(process.cwd(), 'dist/state/state-file.js');
    const script = `
      import { StateFile } from ${JSON.stringify(module)};
      const state = StateFile.open(${JSON.stringify(path)}, { lockFor: 'up' });
      state.initialise('ecsauth', 'eu-west-1', {});
      for (let i = 0; i < 10; i++) state.update('step' + i, { created: true, data: { id: i } });
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, AUTHECS_TEST_KILL_AFTER_WRITES: '3' },
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.signal).toBe('SIGKILL');
    const reopened = JSON.parse(readFileSync(path, 'utf8')) as { resources: Record<string, unknown> };
    expect(Object.keys(reopened.resources)).toEqual(['step0', 'step1', 'step2']);
    // The dead run's lock names a dead pid, so the next run takes it over.
    expect(existsSync(`${path}.lock`)).toBe(true);
    const next = StateFile.open(path, { lockFor: 'up' });
    expect(next.get('step2')).toMatchObject({ data: { id: 2 } });
    next.releaseLock();
  });

  it('refuses to write a secret', () => {
    const state = StateFile.open(path);
    state.initialise('ecsauth', 'eu-west-1', {});
    expect(() => state.update('app-client', { created: true, data: { clientId: 'abc', clientSecret: 's3cr3t' } })).toThrow(/Refusing to write a secret/);
    expect(existsSync(path) ? readFileSync(path, 'utf8') : '').not.toContain('s3cr3t');
  });

  it('a second run on a locked state file is told who holds the lock', () => {
    const first = StateFile.open(path, { lockFor: 'up' });
    expect(() => StateFile.open(path, { lockFor: 'down' })).toThrow(expect.objectContaining({ code: 'STATE_LOCKED', exit: 'state', message: expect.stringMatching(/locked by `authecs up` \(pid \d+ on /) }));
    first.releaseLock();
    const second = StateFile.open(path, { lockFor: 'down' });
    second.releaseLock();
  });

  it('takes over a stale lock left by a dead process on this host', () => {
    mkdirSync(join(folder, '.authecs'));
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: 999_999_999, host: hostname(), command: 'up', startedAt: 'then' }), { flag: 'w' });
    const state = StateFile.open(path, { lockFor: 'up' });
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8')).pid).toBe(process.pid);
    state.releaseLock();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('a corrupt or foreign state file is a clear error with the state exit code', () => {
    writeFileAtomic(path, '{"tool": "authecs", "schemaVer');
    expect(() => StateFile.open(path)).toThrow(expect.objectContaining({ code: 'STATE_CORRUPT', exit: 'state' }));
    writeFileAtomic(path, JSON.stringify({ hello: 'world' }));
    expect(() => StateFile.open(path)).toThrow(expect.objectContaining({ code: 'STATE_CORRUPT' }));
    writeFileAtomic(path, JSON.stringify({ tool: 'authecs', schemaVersion: 99, resources: {} }));
    expect(() => StateFile.open(path)).toThrow(expect.objectContaining({ code: 'STATE_TOO_NEW' }));
  });

  it('a failed open releases the lock it took', () => {
    writeFileAtomic(path, 'not json');
    expect(() => StateFile.open(path, { lockFor: 'up' })).toThrow();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('migrates a schema 1 file written by the previous release in memory, leaving the file as it was until a command writes', () => {
    const fixture = readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'state-v1.json'), 'utf8');
    mkdirSync(join(folder, '.authecs'));
    writeFileSync(path, fixture);
    const state = StateFile.open(path);
    expect(state.snapshot()).toMatchObject({ schemaVersion: STATE_SCHEMA_VERSION, stack: 'ecsauth', region: 'eu-west-1' });
    expect(state.get('service')).toMatchObject({ created: true, complete: true });
    expect(state.get('service')?.applied).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe(fixture);

    // The settings it recorded (every effective value) parse through the schema and stick.
    const { config, chosen } = loadStackSettings({ flags: {}, env: {}, cwd: folder, recorded: { region: state.region, ...state.settings } });
    expect(config).toMatchObject({ image: 'nginx:1.27', domain: 'www.example.com', desiredCount: 2, region: 'eu-west-1' });
    expect(chosen).toMatchObject({ image: 'nginx:1.27' });
    // A setting added since schema 1 gets its default.
    expect(JSON.parse(fixture).settings).not.toHaveProperty('amiId');
    expect(chosen).not.toHaveProperty('waitTimeoutMinutes');

    state.update('service', { data: {} });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ schemaVersion: STATE_SCHEMA_VERSION });
  });

  it('refuses to move a stack to another region', () => {
    const state = StateFile.open(path, { lockFor: 'up' });
    state.initialise('ecsauth', 'eu-west-1', {});
    state.update('network', { data: {} });
    state.releaseLock();
    const again = StateFile.open(path, { lockFor: 'up' });
    expect(() => again.initialise('ecsauth', 'us-east-1', {})).toThrow(expect.objectContaining({ code: 'REGION_CHANGE_REFUSED', exit: 'usage', hint: expect.stringContaining('authecs down') }));
    again.releaseLock();
  });
});
