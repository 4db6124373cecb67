import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { classifyAwsError } from '../aws/errors.js';
import { AuthecsError, configError, stateError } from '../errors.js';
import { holderIsDeadHere, lockedError, parseLockOwner, type LockOwner } from './lock.js';
import { isMissing, isPreconditionFailed, type S3Answer, type S3Connection, type S3Request } from './s3-protocol.js';
import type { StateStore } from './state-file.js';

/**
 * A state shared through S3 (`--state s3://bucket/key`), for CI jobs and teammates. Every write
 * is conditional: If-None-Match: * when it creates the object, If-Match with the ETag last read or
 * written after that. A 412 means someone else wrote it: the run stops and writes nothing more, so
 * no update is ever lost. The lock is a second object, <key>.lock, created with If-None-Match: *.
 *
 * Steps save synchronously (record, then move on), so each call here blocks until S3 has answered:
 * a worker thread makes the call while this thread waits on Atomics.wait (synckit).
 */

export interface S3Location {
  bucket: string;
  key: string;
}

// S3 bucket naming rules (S3 User Guide, "General purpose bucket naming rules").
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isS3Url(path: string): boolean {
  return /^s3:\/\//i.test(path);
}

/** s3://bucket/key, or undefined for a local path. */
export function parseS3Url(path: string): S3Location | undefined {
  if (!isS3Url(path)) return undefined;
  const match = /^s3:\/\/([^/]+)\/(.+)$/i.exec(path);
  const bucket = match?.[1];
  const key = match?.[2];
  if (!bucket || !key || !BUCKET.test(bucket) || key.endsWith('/')) {
    throw configError('--state', `"${path}" is not an S3 object URL`, 'Write it as s3://BUCKET/KEY, e.g. s3://my-team-state/authecs/ecsauth.json (the bucket must exist).');
  }
  return { bucket, key };
}

/** One S3 call, made synchronously. */
export type S3Transport = (connection: S3Connection, request: S3Request) => S3Answer;

// A backstop only: the SDK gives up on its own well before (s3-requests.ts).
const WORKER_TIMEOUT_MS = 5 * 60_000;
let workerTransport: S3Transport | undefined;

/** The worker thread, started on first use: a command with a local state never starts it (nor loads synckit). */
export function s3WorkerTransport(): S3Transport {
  if (!workerTransport) {
    const { createSyncFn } = createRequire(import.meta.url)('synckit') as typeof import('synckit');
    workerTransport = createSyncFn(fileURLToPath(new URL('./s3-worker.js', import.meta.url)), { timeout: WORKER_TIMEOUT_MS }) as unknown as S3Transport;
  }
  return workerTransport;
}

export class S3StateStore implements StateStore {
  readonly shared = true;
  /** The ETag of the state object as this run last read or wrote it; undefined: there is none. */
  private etag: string | undefined;
  private lockEtag: string | undefined;
  /** Set by the first conflict: from then on nothing is written. */
  private conflict: AuthecsError | undefined;

  constructor(
    readonly object: S3Location,
    private readonly connection: S3Connection,
    private readonly transport: S3Transport = s3WorkerTransport(),
  ) {}

  get location(): string {
    return `s3://${this.object.bucket}/${this.object.key}`;
  }

  get lockLocation(): string {
    return `${this.location}.lock`;
  }

  private get lockKey(): string {
    return `${this.object.key}.lock`;
  }

  private call(request: S3Request): S3Answer {
    return this.transport(this.connection, request);
  }

  read(): string | undefined {
    const answer = this.call({ op: 'get', bucket: this.object.bucket, key: this.object.key });
    if (answer.ok) {
      this.etag = answer.etag;
      return answer.body ?? '';
    }
    if (isMissing(answer)) {
      this.etag = undefined;
      return undefined;
    }
    throw this.failure('read', this.location, answer);
  }

  exists(): boolean {
    const answer = this.call({ op: 'get', bucket: this.object.bucket, key: this.object.key });
    // Seen is seen: a later write replaces exactly this version, or stops.
    if (answer.ok) {
      this.etag = answer.etag;
      return true;
    }
    if (isMissing(answer)) return false;
    throw this.failure('read', this.location, answer);
  }

  write(text: string): void {
    if (this.conflict) throw this.conflict;
    const condition = this.etag ? { ifMatch: this.etag } : { ifNoneMatch: '*' as const };
    const answer = this.call({ op: 'put', bucket: this.object.bucket, key: this.object.key, body: text, ...condition });
    if (answer.ok) {
      this.etag = answer.etag;
      return;
    }
    // If-Match on an object someone deleted answers 404: changed underneath all the same.
    if (isPreconditionFailed(answer) || (this.etag !== undefined && isMissing(answer))) {
      // The SDK retries a request whose answer was lost; if the first try landed, the retry fails its own precondition.
      const current = this.call({ op: 'get', bucket: this.object.bucket, key: this.object.key });
      if (current.ok && current.body === text) {
        this.etag = current.etag;
        return;
      }
      this.conflict = this.conflictError(this.etag ? 'changed' : 'created', current);
      throw this.conflict;
    }
    throw this.failure('write', this.location, answer);
  }

  remove(): void {
    if (this.conflict) throw this.conflict;
    if (this.etag === undefined) return;
    const answer = this.call({ op: 'delete', bucket: this.object.bucket, key: this.object.key, ifMatch: this.etag });
    if (answer.ok || isMissing(answer)) {
      this.etag = undefined;
      return;
    }
    if (isPreconditionFailed(answer)) {
      this.conflict = this.conflictError('changed', this.call({ op: 'get', bucket: this.object.bucket, key: this.object.key }));
      throw this.conflict;
    }
    throw this.failure('delete', this.location, answer);
  }

  /** Creates <key>.lock, or (force) replaces exactly the lock it read; returns the holder it replaced. */
  lock(owner: LockOwner, force: boolean): Partial<LockOwner> | undefined {
    const body = JSON.stringify(owner);
    const { bucket } = this.object;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const created = this.call({ op: 'put', bucket, key: this.lockKey, body, ifNoneMatch: '*' });
      if (created.ok) {
        this.lockEtag = created.etag;
        return undefined;
      }
      if (!isPreconditionFailed(created)) throw this.failure('lock', this.lockLocation, created);
      const held = this.call({ op: 'get', bucket, key: this.lockKey });
      if (isMissing(held)) continue;
      if (!held.ok) throw this.failure('read the lock', this.lockLocation, held);
      if (held.body === body) {
        this.lockEtag = held.etag;
        return undefined;
      }
      const holder = parseLockOwner(held.body);
      if (!force) throw lockedError(this.location, holder, this.lockedHint(holder));
      // If-Match: the lock exactly as read, so a run that took it meanwhile is not pushed out.
      const taken = this.call({ op: 'put', bucket, key: this.lockKey, body, ...(held.etag ? { ifMatch: held.etag } : {}) });
      if (taken.ok) {
        this.lockEtag = taken.etag;
        return holder;
      }
      if (!isPreconditionFailed(taken) && !isMissing(taken)) throw this.failure('take over the lock', this.lockLocation, taken);
    }
    throw stateError('STATE_LOCKED', `Could not take the lock ${this.lockLocation}: other runs kept changing it`, 'Another run is starting on the same state. Wait for it, then run the command again.');
  }

  unlock(): void {
    if (this.lockEtag === undefined) return;
    // If-Match: a lock taken over by someone else (--force-unlock) is theirs now, and stays.
    this.call({ op: 'delete', bucket: this.object.bucket, key: this.lockKey, ifMatch: this.lockEtag });
    this.lockEtag = undefined;
  }

  private lockedHint(holder: Partial<LockOwner>): string {
    const gone = holderIsDeadHere(holder) ? ' That process is no longer running on this host.' : '';
    return `Wait for that run to finish.${gone} If it is gone (a cancelled CI job, a machine that died), run the command again with --force-unlock to take the lock over.`;
  }

  private conflictError(what: 'changed' | 'created', current: S3Answer): AuthecsError {
    const now = current.ok ? `it now has ETag ${current.etag ?? '?'}` : isMissing(current) ? 'it has been deleted' : `reading it back failed: ${current.code}`;
    const message =
      what === 'changed'
        ? `Someone else changed the state ${this.location} while this run held the lock (${now}; this run last saw ETag ${this.etag}). This run stopped and wrote nothing over it`
        : `Someone else created the state ${this.location} while this run held the lock (${now}). This run stopped and wrote nothing over it`;
    return new AuthecsError(message, {
      code: 'STATE_CONFLICT',
      exit: 'state',
      hint: `Another run, or a person, wrote it without the lock (after --force-unlock, or with another tool). Find out who (${this.lockLocation} names the lock holder), then run \`authecs plan\` to see where things stand and \`authecs up\` to carry on: what this run made is tagged and is adopted.`,
      details: { state: this.location, lastSeenEtag: this.etag ?? null, ...(current.ok ? { currentEtag: current.etag ?? null } : {}) },
    });
  }

  private failure(action: string, where: string, answer: S3Answer): AuthecsError {
    if (answer.ok) return stateError('STATE_S3_ERROR', `Cannot ${action} ${where}`, 'Run the command again.');
    const { code } = answer;
    if (code === 'AccessDenied' || answer.status === 403) {
      return new AuthecsError(`Access denied: cannot ${action} ${where} (${answer.message})`, {
        code: 'STATE_ACCESS_DENIED',
        exit: 'accessDenied',
        hint: 'authecs needs s3:GetObject, s3:PutObject and s3:DeleteObject on the state object and its .lock, and s3:ListBucket on the bucket (without it S3 answers a missing object with 403): `authecs iam-policy --state <s3 URL>` prints them.',
      });
    }
    if (code === 'NoSuchBucket') {
      return stateError('STATE_BUCKET_MISSING', `The bucket ${this.object.bucket} of the state ${this.location} does not exist`, 'Create the bucket first (authecs never creates it), or fix the --state URL.');
    }
    // No credentials, no network: said as for any other AWS call.
    const classified = classifyAwsError(Object.assign(new Error(answer.message), { name: answer.code }), { resource: where });
    if (classified.exit === 'credentials' || classified.exit === 'endpoint') return classified;
    return stateError('STATE_S3_ERROR', `Cannot ${action} ${where}: ${answer.code}: ${answer.message}`, 'Check the bucket, the credentials and the network, then run the command again.');
  }
}
