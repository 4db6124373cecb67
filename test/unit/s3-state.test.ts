/**
 * The state in S3 (`--state s3://bucket/key`): conditional writes, the lock object, conflicts,
 * and the private key that never goes there. The store is driven through a fake S3 that keeps
 * ETags and honours If-Match / If-None-Match as S3 does; the SDK requests themselves are checked
 * with aws-sdk-client-mock against the worker's request code.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateKeyPairCommand, DeleteKeyPairCommand, DescribeKeyPairsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import type { S3Answer, S3Request } from '../../src/state/s3-protocol.js';
import { createS3Client, performS3Request } from '../../src/state/s3-requests.js';
import { parseS3Url, type S3Transport } from '../../src/state/s3-store.js';
import { keyFilePolicy, StateFile } from '../../src/state/state-file.js';
import { keyPairStep } from '../../src/steps/key-pair.js';
import { stepHarness, type StepHarness } from '../support/step-harness.js';

const STATE = 's3://team-state/authecs/ecsauth.json';
const KEY = 'authecs/ecsauth.json';
const LOCK = 'authecs/ecsauth.json.lock';

/** An S3 bucket in memory: ETags change with every write, conditions hold as S3's do. */
class FakeS3 {
  readonly objects = new Map<string, { body: string; etag: string }>();
  readonly requests: S3Request[] = [];
  private version = 0;
  /** Runs before a request is served: a test's way to change things underneath. */
  before: ((request: S3Request) => S3Answer | undefined) | undefined;

  readonly transport: S3Transport = (_connection, request) => {
    this.requests.push(structuredClone(request));
    return this.before?.(request) ?? this.serve(request);
  };

  serve(request: S3Request): S3Answer {
    const current = this.objects.get(request.key);
    const failed = (): S3Answer => ({ ok: false, code: 'PreconditionFailed', status: 412, message: 'At least one of the pre-conditions you specified did not hold' });
    const missing = (): S3Answer => ({ ok: false, code: 'NoSuchKey', status: 404, message: 'The specified key does not exist.' });
    switch (request.op) {
      case 'get':
        return current ? { ok: true, body: current.body, etag: current.etag } : missing();
      case 'put': {
        if (request.ifNoneMatch === '*' && current) return failed();
        if (request.ifMatch !== undefined && !current) return missing();
        if (request.ifMatch !== undefined && current?.etag !== request.ifMatch) return failed();
        return { ok: true, etag: this.put(request.key, request.body) };
      }
      case 'delete':
        if (request.ifMatch !== undefined && !current) return missing();
        if (request.ifMatch !== undefined && current?.etag !== request.ifMatch) return failed();
        this.objects.delete(request.key);
        return { ok: true };
    }
  }

  /** A write by someone else (or this test): a new ETag. */
  put(key: string, body: string): string {
    this.version += 1;
    const etag = `"${createHash('md5').update(`${this.version}:${body}`).digest('hex')}"`;
    this.objects.set(key, { body, etag });
    return etag;
  }

  puts(key = KEY): Extract<S3Request, { op: 'put' }>[] {
    return this.requests.filter((request): request is Extract<S3Request, { op: 'put' }> => request.op === 'put' && request.key === key);
  }
}

describe('state in S3', () => {
  let s3: FakeS3;
  const open = (options: { lockFor?: string; forceUnlock?: boolean } = {}) => StateFile.open(STATE, { ...options, aws: { region: 'eu-west-1' }, s3Transport: s3.transport });
  beforeEach(() => {
    s3 = new FakeS3();
  });

  it('parses s3://bucket/key and refuses what is not one', () => {
    expect(parseS3Url(STATE)).toEqual({ bucket: 'team-state', key: KEY });
    expect(parseS3Url('.authecs/ecsauth.json')).toBeUndefined();
    for (const bad of ['s3://team-state', 's3://team-state/', 's3://Team_State/x.json', 's3://team-state/folder/']) {
      expect(() => parseS3Url(bad), bad).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', exit: 'usage' }));
    }
  });

  it('creates the object with If-None-Match: *, then writes each change with If-Match on the ETag it last wrote', () => {
    const state = open({ lockFor: 'up' });
    state.initialise('ecsauth', 'eu-west-1', { domain: 'www.example.com' });
    state.update('network', { created: false, data: { vpcId: 'vpc-1' } });
    const first = s3.objects.get(KEY)!.etag;
    state.update('cluster', { created: true, data: { clusterName: 'ecsauth' } });
    const second = s3.objects.get(KEY)!.etag;
    state.update('cluster', { complete: true });

    const puts = s3.puts();
    expect(puts.map(({ ifMatch, ifNoneMatch }) => ({ ifMatch, ifNoneMatch }))).toEqual([
      { ifMatch: undefined, ifNoneMatch: '*' },
      { ifMatch: first, ifNoneMatch: undefined },
      { ifMatch: second, ifNoneMatch: undefined },
    ]);
    expect(puts[0]).toMatchObject({ op: 'put', bucket: 'team-state', key: KEY });
    expect(JSON.parse(s3.objects.get(KEY)!.body)).toMatchObject({ schemaVersion: 2, stack: 'ecsauth', resources: { cluster: { created: true, complete: true } } });
    state.releaseLock();
  });

  it('an existing state is written with If-Match on the ETag it was read with', () => {
    const etag = s3.put(KEY, JSON.stringify({ schemaVersion: 2, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1', createdAt: '', updatedAt: '', settings: {}, resources: {} }));
    const state = open({ lockFor: 'up' });
    state.initialise('ecsauth', 'eu-west-1', {});
    state.update('cluster', { created: true, data: { clusterName: 'ecsauth' } });
    expect(s3.puts()[0]).toMatchObject({ ifMatch: etag });
    expect(s3.puts()[0]!.ifNoneMatch).toBeUndefined();
    state.releaseLock();
  });

  it('stops with STATE_CONFLICT (exit 8) when someone else wrote it, keeps their content, and writes nothing more', () => {
    const state = open({ lockFor: 'up' });
    state.initialise('ecsauth', 'eu-west-1', {});
    state.update('network', { data: { vpcId: 'vpc-1' } });
    const theirs = JSON.stringify({ written: 'by a teammate' });
    s3.put(KEY, theirs);
    const putsBefore = s3.puts().length;

    let error: unknown;
    try {
      state.update('cluster', { created: true, data: { clusterName: 'ecsauth' } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'STATE_CONFLICT', exit: 'state', message: expect.stringContaining('Someone else changed the state s3://team-state/authecs/ecsauth.json') });
    expect((error as { exitCode: number }).exitCode).toBe(EXIT_CODES.state);
    expect((error as { hint: string }).hint).toMatch(/authecs plan/);
    expect(s3.objects.get(KEY)!.body).toBe(theirs);

    // No further write: later saves and the delete of `down` fail the same way without a request.
    expect(() => state.update('service', { created: true, data: {} })).toThrow(expect.objectContaining({ code: 'STATE_CONFLICT' }));
    expect(() => state.deleteFile()).toThrow(expect.objectContaining({ code: 'STATE_CONFLICT' }));
    expect(s3.puts().length).toBe(putsBefore + 1);
    expect(s3.requests.filter((request) => request.op === 'delete' && request.key === KEY)).toEqual([]);
    expect(s3.objects.get(KEY)!.body).toBe(theirs);
    state.releaseLock();
  });

  it('a state created by someone else between reading "none" and the first write is a conflict too', () => {
    const state = open({ lockFor: 'up' });
    state.initialise('ecsauth', 'eu-west-1', {});
    s3.put(KEY, '{"other": true}');
    expect(() => state.update('network', { data: {} })).toThrow(expect.objectContaining({ code: 'STATE_CONFLICT', message: expect.stringContaining('Someone else created') }));
    expect(s3.objects.get(KEY)!.body).toBe('{"other": true}');
    state.releaseLock();
  });

  it('a write that landed but whose retry failed its own precondition (lost answer) is not a conflict', () => {
    const state = open({ lockFor: 'up' });
    state.initialise('ecsauth', 'eu-west-1', {});
    state.update('network', { data: {} });
    // The SDK's first try lands, its answer is lost, the retry finds the ETag changed: 412.
    s3.before = (request) => {
      if (request.op !== 'put' || request.key !== KEY) return undefined;
      s3.before = undefined;
      s3.serve(request);
      return { ok: false, code: 'PreconditionFailed', status: 412, message: 'retry' };
    };
    state.update('cluster', { data: { clusterName: 'ecsauth' } });
    state.update('cluster', { complete: true });
    expect(JSON.parse(s3.objects.get(KEY)!.body)).toMatchObject({ resources: { cluster: { complete: true } } });
    state.releaseLock();
  });

  it('plan and status read without the lock and never write', () => {
    s3.put(KEY, JSON.stringify({ schemaVersion: 2, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1', createdAt: '', updatedAt: '', settings: {}, resources: { cluster: { created: true, complete: true, data: {}, updatedAt: '' } } }));
    const state = open();
    state.check('ecsauth', 'eu-west-1');
    expect(state.get('cluster')).toMatchObject({ created: true });
    state.releaseLock();
    expect(s3.requests.map((request) => `${request.op} ${request.key}`)).toEqual([`get ${KEY}`]);
  });

  it('after a complete down, deletes the object with If-Match on its last ETag', () => {
    const state = open({ lockFor: 'down' });
    state.initialise('ecsauth', 'eu-west-1', {});
    state.update('network', { data: {} });
    const etag = s3.objects.get(KEY)!.etag;
    state.deleteFile();
    expect(s3.requests.filter((request) => request.op === 'delete' && request.key === KEY)).toEqual([{ op: 'delete', bucket: 'team-state', key: KEY, ifMatch: etag }]);
    expect(s3.objects.has(KEY)).toBe(false);
    state.releaseLock();
  });

  describe('the lock object', () => {
    it('is created with If-None-Match: *, names who holds it and since when, and is deleted (If-Match) at the end', () => {
      const state = open({ lockFor: 'up' });
      const [lockPut] = s3.puts(LOCK);
      expect(lockPut).toMatchObject({ op: 'put', bucket: 'team-state', key: LOCK, ifNoneMatch: '*' });
      const holder = JSON.parse(s3.objects.get(LOCK)!.body) as Record<string, unknown>;
      expect(holder).toMatchObject({ pid: process.pid, host: hostname(), command: 'up', startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
      expect(typeof holder.user).toBe('string');
      // Locked first, then read: the state read is after the lock.
      expect(s3.requests.map((request) => `${request.op} ${request.key}`)).toEqual([`put ${LOCK}`, `get ${KEY}`]);

      const etag = s3.objects.get(LOCK)!.etag;
      state.releaseLock();
      expect(s3.requests.at(-1)).toEqual({ op: 'delete', bucket: 'team-state', key: LOCK, ifMatch: etag });
      expect(s3.objects.has(LOCK)).toBe(false);
    });

    it('held by another run: exit 8 naming the holder and since when, and nothing else is touched', () => {
      s3.put(LOCK, JSON.stringify({ pid: 4242, host: 'ci-runner-7', user: 'ci', command: 'down', startedAt: '2026-01-02T03:04:05.000Z' }));
      let error: unknown;
      try {
        open({ lockFor: 'up' });
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({
        code: 'STATE_LOCKED',
        exit: 'state',
        message: 'State file s3://team-state/authecs/ecsauth.json is locked by `authecs down` (pid 4242 on ci-runner-7 as ci, since 2026-01-02T03:04:05.000Z)',
        hint: expect.stringContaining('--force-unlock'),
        details: { lockHolder: { pid: 4242, host: 'ci-runner-7' } },
      });
      expect((error as { exitCode: number }).exitCode).toBe(8);
      expect(s3.requests.some((request) => request.key === KEY)).toBe(false);
      expect(JSON.parse(s3.objects.get(LOCK)!.body)).toMatchObject({ pid: 4242 });
    });

    it('is never taken over on its own, even from a dead process of this host: that needs --force-unlock', () => {
      s3.put(LOCK, JSON.stringify({ pid: 999_999_999, host: hostname(), command: 'up', startedAt: 'then' }));
      expect(() => open({ lockFor: 'up' })).toThrow(expect.objectContaining({ code: 'STATE_LOCKED', hint: expect.stringContaining('no longer running on this host') }));
    });

    it('--force-unlock replaces exactly the lock it read (If-Match), and the old holder cannot release it after', () => {
      const stale = open({ lockFor: 'up' });
      const staleEtag = s3.objects.get(LOCK)!.etag;
      s3.objects.set(LOCK, { body: JSON.stringify({ pid: 1, host: 'gone-runner', command: 'up', startedAt: '2026-01-01T00:00:00.000Z' }), etag: staleEtag });

      const state = open({ lockFor: 'down', forceUnlock: true });
      expect(s3.puts(LOCK).at(-1)).toMatchObject({ ifMatch: staleEtag });
      expect(state.lockTakenFrom).toMatchObject({ host: 'gone-runner', pid: 1 });
      expect(JSON.parse(s3.objects.get(LOCK)!.body)).toMatchObject({ pid: process.pid, command: 'down' });

      stale.releaseLock();
      expect(JSON.parse(s3.objects.get(LOCK)!.body)).toMatchObject({ command: 'down' });
      state.releaseLock();
      expect(s3.objects.has(LOCK)).toBe(false);
    });

    it('two runs: the second is refused until the first releases', () => {
      const first = open({ lockFor: 'up' });
      expect(() => open({ lockFor: 'deploy' })).toThrow(expect.objectContaining({ code: 'STATE_LOCKED', message: expect.stringContaining(`locked by \`authecs up\` (pid ${process.pid} on ${hostname()}`) }));
      first.releaseLock();
      open({ lockFor: 'deploy' }).releaseLock();
    });

    it('a failed open (corrupt state) releases the lock it took', () => {
      s3.put(KEY, 'not json');
      expect(() => open({ lockFor: 'up' })).toThrow(expect.objectContaining({ code: 'STATE_CORRUPT', message: expect.stringContaining(STATE) }));
      expect(s3.objects.has(LOCK)).toBe(false);
    });
  });

  it('answers access denied, a missing bucket, no network and no credentials with errors that say what to do', () => {
    s3.before = () => ({ ok: false, code: 'AccessDenied', status: 403, message: 'Access Denied' });
    expect(() => open()).toThrow(expect.objectContaining({ code: 'STATE_ACCESS_DENIED', exit: 'accessDenied', hint: expect.stringContaining('s3:ListBucket') }));
    s3.before = () => ({ ok: false, code: 'NoSuchBucket', status: 404, message: 'The specified bucket does not exist' });
    expect(() => open({ lockFor: 'up' })).toThrow(expect.objectContaining({ code: 'STATE_BUCKET_MISSING', exit: 'state' }));
    s3.before = () => ({ ok: false, code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:9' });
    expect(() => open()).toThrow(expect.objectContaining({ code: 'ENDPOINT_UNREACHABLE', exit: 'endpoint' }));
    s3.before = () => ({ ok: false, code: 'CredentialsProviderError', message: 'Could not load credentials from any providers' });
    expect(() => open()).toThrow(expect.objectContaining({ code: 'NO_CREDENTIALS', exit: 'credentials' }));
  });
});

describe("the key pair's private key with a state in S3", () => {
  const ec2 = mockClient(EC2Client);
  const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtestkeymaterial\n-----END RSA PRIVATE KEY-----';
  const ourTags = [
    { Key: 'authecs:stack', Value: 'ecsauth' },
    { Key: 'managed-by', Value: 'authecs' },
  ];
  const notFound = Object.assign(new Error("The keypair 'ecsauth' does not exist"), { name: 'InvalidKeyPair.NotFound' });
  let s3: FakeS3;
  let cwd: string;
  let harness: StepHarness<'key-pair'>;
  const sharedState = () => StateFile.open(STATE, { lockFor: 'up', aws: { region: 'eu-west-1' }, s3Transport: s3.transport });
  const keyFile = () => join(cwd, '.authecs', 'ecsauth-ecsauth.pem');

  beforeEach(() => {
    ec2.reset();
    s3 = new FakeS3();
    cwd = mkdtempSync(join(tmpdir(), 'authecs-s3-key-'));
  });
  afterEach(() => {
    harness?.state.releaseLock();
    harness?.cleanup();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('goes to a 0600 file under .authecs/ of the working directory; no write to S3 carries it or its path', async () => {
    const state = sharedState();
    harness = stepHarness(keyPairStep, { state, keyFiles: keyFilePolicy(state, { cwd, stack: 'ecsauth', keep: true }) });
    ec2.on(DescribeKeyPairsCommand).rejects(notFound);
    ec2.on(CreateKeyPairCommand).resolves({ KeyName: 'ecsauth', KeyPairId: 'key-0123456789abcdef0', KeyMaterial: PEM });

    const output = await keyPairStep.create(harness.context, keyPairStep.desired(harness.config, harness.inputs));

    expect(readFileSync(keyFile(), 'utf8')).toBe(`${PEM}\n`);
    expect(statSync(keyFile()).mode & 0o777).toBe(0o600);
    expect(output).toEqual({ keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0' });
    const bodies = s3.requests.flatMap((request) => (request.op === 'put' ? [request.body] : []));
    expect(bodies.length).toBeGreaterThan(0);
    for (const body of bodies) {
      expect(body).not.toContain('PRIVATE KEY');
      expect(body).not.toContain('testkeymaterial');
      expect(body).not.toContain(cwd);
    }
  });

  it('--no-key-file keeps none, and says so; the pair is healthy and never replaced for it', async () => {
    const state = sharedState();
    harness = stepHarness(keyPairStep, { state, keyFiles: keyFilePolicy(state, { cwd, stack: 'ecsauth', keep: false }) });
    ec2.on(DescribeKeyPairsCommand).rejectsOnce(notFound).resolves({ KeyPairs: [{ KeyName: 'ecsauth', KeyPairId: 'key-0123456789abcdef0', Tags: ourTags }] });
    ec2.on(CreateKeyPairCommand).resolves({ KeyName: 'ecsauth', KeyPairId: 'key-0123456789abcdef0', KeyMaterial: PEM });

    await keyPairStep.create(harness.context, keyPairStep.desired(harness.config, harness.inputs));
    expect(existsSync(join(cwd, '.authecs'))).toBe(false);
    const live = await keyPairStep.read(harness.readContext);
    expect(live?.health).toMatchObject({ healthy: true, summary: 'present (private key not kept: --no-key-file)' });
    expect(keyPairStep.diff!(keyPairStep.desired(harness.config, harness.inputs), live!)).toEqual([]);
    for (const request of s3.requests) if (request.op === 'put') expect(request.body).not.toContain('PRIVATE KEY');
  });

  it('beside a local state, a pair made with --no-key-file is not replaced by a later up that keeps keys', async () => {
    harness = stepHarness(keyPairStep, { record: { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0' } } });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyName: 'ecsauth', KeyPairId: 'key-0123456789abcdef0', Tags: ourTags }] });
    const live = await keyPairStep.read(harness.readContext);
    expect(live?.health).toMatchObject({ healthy: true, summary: 'present (private key not kept: made with --no-key-file)' });
    expect(keyPairStep.diff!(keyPairStep.desired(harness.config, harness.inputs), live!)).toEqual([]);
  });

  it('made on another machine: no key file here is healthy, not a lost key; down deletes only our own path, never one read from S3', async () => {
    const state = sharedState();
    state.initialise('ecsauth', 'eu-west-1', {});
    // A recorded path (an older or hostile writer of the shared state) must not be deleted here.
    const elsewhere = join(cwd, 'precious.pem');
    writeFileSync(elsewhere, 'do not delete');
    state.update('key-pair', { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: elsewhere } });
    harness = stepHarness(keyPairStep, { state, keyFiles: keyFilePolicy(state, { cwd, stack: 'ecsauth', keep: true }) });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyName: 'ecsauth', KeyPairId: 'key-0123456789abcdef0', Tags: ourTags }] });
    ec2.on(DeleteKeyPairCommand).resolves({});

    const live = await keyPairStep.read(harness.readContext);
    expect(live?.health).toMatchObject({ healthy: true, summary: 'present (private key not on this machine)' });
    expect(keyPairStep.diff!(keyPairStep.desired(harness.config, harness.inputs), live!)).toEqual([]);

    await keyPairStep.delete(harness.context);
    expect(ec2.commandCalls(DeleteKeyPairCommand)).toHaveLength(1);
    expect(readFileSync(elsewhere, 'utf8')).toBe('do not delete');
  });
});

describe('the S3 requests the worker makes', () => {
  const s3 = mockClient(S3Client);
  const client = createS3Client({ region: 'eu-west-1' });
  // The part of the SDK's stream body the request code reads.
  const body = (text: string) => ({ transformToString: async () => text });
  beforeEach(() => s3.reset());

  it('PutObject carries IfNoneMatch on create and IfMatch after, and returns the ETag', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
    expect(await performS3Request(client, { op: 'put', bucket: 'b', key: 'k', body: '{}', ifNoneMatch: '*' })).toEqual({ ok: true, etag: '"e1"' });
    await performS3Request(client, { op: 'put', bucket: 'b', key: 'k', body: '{"a":1}', ifMatch: '"e1"' });
    expect(s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: 'b', Key: 'k', Body: '{}', ContentType: 'application/json', IfNoneMatch: '*' },
      { Bucket: 'b', Key: 'k', Body: '{"a":1}', ContentType: 'application/json', IfMatch: '"e1"' },
    ]);
  });

  it('GetObject returns the body and ETag; DeleteObject carries IfMatch', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body('{"x":1}') as never, ETag: '"e2"' });
    s3.on(DeleteObjectCommand).resolves({});
    expect(await performS3Request(client, { op: 'get', bucket: 'b', key: 'k' })).toEqual({ ok: true, body: '{"x":1}', etag: '"e2"' });
    expect(await performS3Request(client, { op: 'delete', bucket: 'b', key: 'k.lock', ifMatch: '"e3"' })).toEqual({ ok: true });
    expect(s3.commandCalls(DeleteObjectCommand)[0]!.args[0].input).toEqual({ Bucket: 'b', Key: 'k.lock', IfMatch: '"e3"' });
  });

  it('a 412 comes back as an answer, never thrown; a 409 ConditionalRequestConflict is tried again', async () => {
    const precondition = Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    const conflict = Object.assign(new Error('A conflicting conditional operation is currently in progress'), { name: 'ConditionalRequestConflict', $metadata: { httpStatusCode: 409 } });
    s3.on(PutObjectCommand).rejectsOnce(precondition).rejectsOnce(conflict).resolves({ ETag: '"e4"' });
    expect(await performS3Request(client, { op: 'put', bucket: 'b', key: 'k', body: '{}', ifMatch: '"old"' })).toEqual({
      ok: false,
      code: 'PreconditionFailed',
      status: 412,
      message: 'At least one of the pre-conditions you specified did not hold',
    });
    expect(await performS3Request(client, { op: 'put', bucket: 'b', key: 'k', body: '{}', ifMatch: '"e3"' })).toEqual({ ok: true, etag: '"e4"' });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(3);
  });

  it('an emulator endpoint gets path-style bucket addressing', async () => {
    const emulated = createS3Client({ region: 'eu-west-1', endpointUrl: 'http://127.0.0.1:5000' });
    expect(await emulated.config.forcePathStyle).toBe(true);
    expect(await client.config.forcePathStyle).toBe(false);
  });
});
