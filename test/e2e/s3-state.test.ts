/**
 * A state shared through S3 (`--state s3://bucket/key`), against moto: two runs racing for the
 * lock, a write whose ETag changed underneath a running `up`, `up` from one directory with
 * `status`, `plan` and `down` from another that has no local file at all, a killed run's lock
 * taken over with --force-unlock, and Ctrl-C releasing the lock.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHECS_BIN, describeRun, runAuthecs, type RunResult } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { readInventory, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const BUCKET = 'authecs-team-state';

describe.skipIf(skipE2e)('a state in S3, shared by CI jobs and teammates', () => {
  const e2e = setupE2e({ fresh: 'file' });
  let baseline: Record<string, string[]> = {};
  let domainPrefixes: string[] = [];
  let elsewhere = '';

  /** The object's body and ETag, or undefined when it is not there. */
  const object = async (key: string): Promise<{ body: string; etag: string } | undefined> => {
    try {
      const answer = await e2e.clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return { body: (await answer.Body?.transformToString('utf8')) ?? '', etag: answer.ETag ?? '' };
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  };
  const errorOf = (run: RunResult) => run.events.find((event) => event.type === 'error');
  /** authecs run from the second directory: nothing there but what the command itself writes. */
  const fromElsewhere = (args: string[]) => runAuthecs(args, { env: e2e.env(), cwd: elsewhere });
  const expectNothingLeft = async () => {
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes })).toEqual(baseline);
  };

  beforeAll(async () => {
    await e2e.clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    baseline = await snapshot(e2e.clients);
    elsewhere = mkdtempSync(join(tmpdir(), 'authecs-e2e-elsewhere-'));
  });
  afterAll(() => {
    if (elsewhere && !process.env.AUTHECS_E2E_KEEP) rmSync(elsewhere, { recursive: true, force: true });
  });

  const state = `s3://${BUCKET}/team/ecsauth.json`;

  it('two runs started at once: exactly one takes the lock and brings the stack up; the other exits 8 naming the holder', { timeout: 180_000 }, async () => {
    const [first, second] = await Promise.all([e2e.authecs(['up', '--state', state, '--json']), e2e.authecs(['up', '--state', state, '--json'])]);
    const runs = [first, second];
    const winner = runs.find((run) => run.code === 0);
    const loser = runs.find((run) => run !== winner);
    expect(winner, runs.map(describeRun).join('\n\n')).toBeDefined();
    expect(loser!.code, describeRun(loser!)).toBe(8);
    expect(errorOf(loser!)).toMatchObject({
      code: 'STATE_LOCKED',
      exitCode: 8,
      message: expect.stringMatching(new RegExp(`^State file ${state} is locked by \`authecs up\` \\(pid \\d+ on [^,]+, since \\d{4}-\\d\\d-\\d\\dT`)),
      hint: expect.stringContaining('--force-unlock'),
    });
    // The one refused changed nothing: no AWS mutation, and the lock it found was the winner's.
    expect(loser!.events.filter((event) => event.type === 'mutation')).toEqual([]);
    expect(winner!.json).toMatchObject({ ok: true, changed: true, stateFile: state });

    // The state is in S3 only; the private key stays here, 0600, and never went to S3.
    const stored = await object('team/ecsauth.json');
    expect(JSON.parse(stored!.body)).toMatchObject({ schemaVersion: 2, stack: 'ecsauth', region: 'eu-west-1' });
    expect(stored!.body).not.toContain('PRIVATE KEY');
    expect(stored!.body).not.toContain(e2e.workdir);
    const keyFile = join(e2e.workdir, '.authecs', 'ecsauth-ecsauth.pem');
    expect(readFileSync(keyFile, 'utf8')).toContain('PRIVATE KEY');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(e2e.workdir, '.authecs'))).toEqual(['ecsauth-ecsauth.pem']);
    expect(await object('team/ecsauth.json.lock'), 'the lock is released at the end').toBeUndefined();
    domainPrefixes = (await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
  });

  it('status and plan from another directory read the S3 state without the lock and never write it', { timeout: 120_000 }, async () => {
    await e2e.standIn.settle();
    const before = await object('team/ecsauth.json');
    const status = await fromElsewhere(['status', '--state', state, '--json']);
    expect(status.code, describeRun(status)).toBe(0);
    expect(status.json).toMatchObject({ ok: true, stateFile: state });
    const keyRow = (status.json?.resources as { step: string; summary: string }[]).find((row) => row.step === 'key-pair');
    expect(keyRow?.summary).toBe('present (private key not on this machine)');
    const plan = await fromElsewhere(['plan', '--state', state, '--json']);
    expect(plan.code, describeRun(plan)).toBe(0);
    expect((await object('team/ecsauth.json'))!.etag).toBe(before!.etag);
    expect(await object('team/ecsauth.json.lock')).toBeUndefined();
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('down from another directory with only --state deletes everything, the state object too, and leaves no file there', { timeout: 180_000 }, async () => {
    const down = await fromElsewhere(['down', '--yes', '--state', state, '--json']);
    expect(down.code, describeRun(down)).toBe(0);
    expect(down.json).toMatchObject({ ok: true });
    await expectNothingLeft();
    expect(await object('team/ecsauth.json')).toBeUndefined();
    expect(await object('team/ecsauth.json.lock')).toBeUndefined();
    expect(readdirSync(elsewhere)).toEqual([]);
    // The key file of the machine that made the pair is that machine's: another one never touches it.
    expect(existsSync(join(e2e.workdir, '.authecs', 'ecsauth-ecsauth.pem'))).toBe(true);
  });

  it('someone writes the state while up runs: up exits 8 (STATE_CONFLICT), their write is intact, and up then down carry on from it', { timeout: 240_000 }, async () => {
    // Each test its own stack: ECS remembers a deleted service's client token (CreateService idempotency).
    const cluster = 'conflicted';
    const shared = `s3://${BUCKET}/conflict/${cluster}.json`;
    rmSync(join(e2e.workdir, '.authecs'), { recursive: true, force: true });
    const pauseFile = join(e2e.workdir, 'paused-after-write');
    // up stops right after its 5th state write and waits until the pause file is gone.
    const running = e2e.authecs(['up', '--cluster', cluster, '--state', shared, '--no-key-file', '--json'], { extraEnv: { AUTHECS_TEST_PAUSE_AFTER_WRITES: '5', AUTHECS_TEST_PAUSE_FILE: pauseFile } });
    for (let waited = 0; !existsSync(pauseFile); waited += 100) {
      if (waited > 90_000) throw new Error('up never reached its 5th state write');
      await delay(100);
    }
    // A teammate (or another tool) writes it meanwhile: a valid state, with a new ETag.
    const seen = await object(`conflict/${cluster}.json`);
    const theirs = `${JSON.stringify({ ...JSON.parse(seen!.body), updatedAt: new Date().toISOString(), note: 'written by a teammate' }, null, 2)}\n`;
    await e2e.clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `conflict/${cluster}.json`, Body: theirs }));
    rmSync(pauseFile);

    const conflicted = await running;
    expect(conflicted.code, describeRun(conflicted)).toBe(8);
    expect(errorOf(conflicted)).toMatchObject({ code: 'STATE_CONFLICT', exitCode: 8, message: expect.stringContaining(`Someone else changed the state ${shared}`) });
    expect((await object(`conflict/${cluster}.json`))!.body, 'the other writer\'s content is intact').toBe(theirs);
    expect(await object(`conflict/${cluster}.json.lock`), 'the stopped run released its lock').toBeUndefined();

    // From what is there, up carries on (adopting what the stopped run made), and down removes it all.
    const again = await e2e.authecs(['up', '--cluster', cluster, '--state', shared, '--no-key-file', '--json']);
    expect(again.code, describeRun(again)).toBe(0);
    expect(again.stdout + again.stderr).not.toContain('PRIVATE KEY');
    expect(existsSync(join(e2e.workdir, '.authecs')), '--no-key-file keeps no key, and the state is in S3: no local file').toBe(false);
    domainPrefixes = [...new Set([...domainPrefixes, ...(await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []))])];
    const down = await fromElsewhere(['down', '--yes', '--state', shared, '--json']);
    expect(down.code, describeRun(down)).toBe(0);
    await expectNothingLeft();
    expect(await object(`conflict/${cluster}.json`)).toBeUndefined();
  });

  it('a lock left by a killed run stops the next one (exit 8) until --force-unlock takes it over', { timeout: 240_000 }, async () => {
    const cluster = 'killed';
    const shared = `s3://${BUCKET}/killed/${cluster}.json`;
    // SIGKILL after the 4th state write: nothing releases the lock.
    const killed = await e2e.authecs(['up', '--cluster', cluster, '--state', shared, '--no-key-file', '--json'], { killAfterWrites: 4 });
    expect(killed.signal, describeRun(killed)).toBe('SIGKILL');
    expect(await object(`killed/${cluster}.json.lock`), 'a killed run leaves its lock').toBeDefined();

    const refused = await e2e.authecs(['up', '--cluster', cluster, '--state', shared, '--no-key-file', '--json']);
    expect(refused.code, describeRun(refused)).toBe(8);
    expect(errorOf(refused)).toMatchObject({
      code: 'STATE_LOCKED',
      message: expect.stringContaining('is locked by `authecs up` (pid '),
      hint: expect.stringMatching(/no longer running on this host.*--force-unlock/),
    });
    expect(refused.events.filter((event) => event.type === 'mutation')).toEqual([]);

    const forced = await e2e.authecs(['up', '--force-unlock', '--cluster', cluster, '--state', shared, '--no-key-file', '--json']);
    expect(forced.code, describeRun(forced)).toBe(0);
    expect(forced.events.some((event) => event.level === 'warn' && String(event.message).includes('--force-unlock: took the lock of'))).toBe(true);
    expect(await object(`killed/${cluster}.json.lock`)).toBeUndefined();
    domainPrefixes = [...new Set([...domainPrefixes, ...(await readInventory(e2e.clients)).userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []))])];

    const down = await fromElsewhere(['down', '--yes', '--state', shared, '--json']);
    expect(down.code, describeRun(down)).toBe(0);
    await expectNothingLeft();
  });

  it('Ctrl-C releases the lock object: the next run needs no --force-unlock', { timeout: 180_000 }, async () => {
    const cluster = 'interrupted';
    const shared = `s3://${BUCKET}/interrupted/${cluster}.json`;
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const [key, value] of Object.entries(e2e.env())) if (value !== undefined) env[key] = value;
    const child = spawn(process.execPath, [AUTHECS_BIN, 'up', '--cluster', cluster, '--state', shared, '--no-key-file', '--json'], { cwd: e2e.workdir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let interrupted = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      // Once a step has started, the run holds the lock and is mid-way.
      if (!interrupted && stderr.includes('"type":"step-start"')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    expect(code, stderr.slice(-3000)).toBe(130);
    expect(stderr).toContain('"code":"INTERRUPTED"');
    expect(await object(`interrupted/${cluster}.json.lock`), 'released on Ctrl-C').toBeUndefined();

    const down = await fromElsewhere(['down', '--yes', '--state', shared, '--json']);
    expect(down.code, describeRun(down)).toBe(0);
    await expectNothingLeft();
  });
});
