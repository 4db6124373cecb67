import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AuthecsError, stateError } from '../errors.js';
import { holderIsDeadHere, lockedError, lockOwnerFor, parseLockOwner, type LockOwner } from './lock.js';
import type { S3Connection } from './s3-protocol.js';
import { parseS3Url, S3StateStore, type S3Transport } from './s3-store.js';

/** 2: each resource records the desired state it was last applied with (`applied`); 1 did not. */
export const STATE_SCHEMA_VERSION = 2;

/** What authecs knows of one resource. `data` holds identifiers only, never a secret. */
export interface ResourceRecord<Data extends object = Record<string, unknown>> {
  /** True when authecs created it; false when it was found (hosted zone, network, rules that already existed). */
  created: boolean;
  /** True once the step finished; false while it is part-way (resume carries on from `data`). */
  complete: boolean;
  data: Data;
  /** The desired state at the last apply (schema 2): tells a changed setting from out-of-band drift. */
  applied?: Record<string, unknown>;
  /** Outputs of resources this one replaced (create-before-delete), deleted once the run succeeds. */
  retired?: Data[];
  updatedAt: string;
}

export interface StateDocument {
  schemaVersion: number;
  tool: 'authecs';
  stack: string;
  region: string;
  createdAt: string;
  updatedAt: string;
  /**
   * The settings the user chose (flags, environment, .env) on any earlier `up`: they stick, so a
   * later run changes only what it is told to. Defaults are not recorded. Schema 1 recorded every
   * effective value, which migrates as chosen.
   */
  settings: Record<string, unknown>;
  resources: Record<string, ResourceRecord>;
}

// Names that must never reach disk: the Cognito client secret and the key pair's private key.
const FORBIDDEN_KEYS = /^(clientsecret|keymaterial|privatekey|secretaccesskey|sessiontoken)$/i;

export function defaultStatePath(cwd: string, stack: string): string {
  return join(cwd, '.authecs', `${stack}.json`);
}

/** The private key file that sits beside the state file. */
export function privateKeyPath(statePath: string, keyPairName: string): string {
  return join(dirname(statePath), `${keyPairName.replace(/[^\w.-]/g, '_')}.pem`);
}

/** Where the key pair's private key goes, decided once per run (the key-pair step asks). */
export interface KeyFilePolicy {
  /** The 0600 file for a key pair's private key, or undefined when none is kept (--no-key-file). */
  pathFor(keyPairName: string): string | undefined;
  /**
   * True when the state is shared (S3): the key file is on whichever machine created the pair,
   * so its absence here does not mean the key is lost, and a path recorded by another machine
   * is never touched.
   */
  shared: boolean;
}

/**
 * A local state keeps the key beside it; a state in S3 never holds the key, which stays on this
 * machine in .authecs/<cluster>-<key name>.pem under the working directory (where a local state would be).
 */
export function keyFilePolicy(state: { path: string; shared: boolean }, options: { cwd: string; stack: string; keep: boolean }): KeyFilePolicy {
  const safe = (name: string) => name.replace(/[^\w.-]/g, '_');
  return {
    shared: state.shared,
    pathFor: (keyPairName) => {
      if (!options.keep) return undefined;
      return state.shared ? join(options.cwd, '.authecs', `${safe(options.stack)}-${safe(keyPairName)}.pem`) : privateKeyPath(state.path, keyPairName);
    },
  };
}

function assertNoSecrets(value: unknown, path: string): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value)) {
    if (FORBIDDEN_KEYS.test(key)) {
      throw new AuthecsError(`Refusing to write a secret (${path}.${key}) to the state file`, { code: 'SECRET_IN_STATE', exit: 'internal' });
    }
    assertNoSecrets(inner, `${path}.${key}`);
  }
}

/** Write a file atomically: temp file, fsync, rename, fsync the folder. Mode 0600 from the first byte. */
export function writeFileAtomic(path: string, content: string): void {
  const folder = dirname(path);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const temporary = `${path}.tmp-${process.pid}`;
  const descriptor = openSync(temporary, 'w', 0o600);
  try {
    writeSync(descriptor, content);
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
  try {
    const folderDescriptor = openSync(folder, 'r');
    try {
      fsyncSync(folderDescriptor);
    } finally {
      closeSync(folderDescriptor);
    }
  } catch {
    // Some file systems refuse fsync on a folder; the rename is still atomic.
  }
}

/**
 * Schema 1 → 2 in memory. Nothing is lost: records simply lack `applied`, so their first plan
 * cannot tell a changed setting from drift. The file is rewritten only by a command that writes.
 */
function migrate(document: StateDocument): StateDocument {
  if (document.schemaVersion === STATE_SCHEMA_VERSION) return document;
  return { ...document, schemaVersion: STATE_SCHEMA_VERSION, settings: document.settings ?? {} };
}

/**
 * Where a state lives and how it is locked: a local file (below), or an S3 object (s3-store.ts).
 * StateFile does the rest: schema, migration, secret guard, the write after every change.
 */
export interface StateStore {
  /** The path or s3:// URL, for messages. */
  readonly location: string;
  readonly lockLocation: string;
  /** Shared beyond this machine (S3). */
  readonly shared: boolean;
  /** The text, or undefined when there is no state yet. */
  read(): string | undefined;
  /** Whether there is a state, readable or not. */
  exists(): boolean;
  /** Durable before it returns. */
  write(text: string): void;
  remove(): void;
  /** Takes the lock; with `force`, from whoever holds it. Returns the holder it took it from. */
  lock(owner: LockOwner, force: boolean): Partial<LockOwner> | undefined;
  unlock(): void;
}

/** The state file on this machine: atomic replace, 0600, a lock file beside it. */
export class LocalStateStore implements StateStore {
  readonly shared = false;

  constructor(readonly location: string) {}

  get lockLocation(): string {
    return `${this.location}.lock`;
  }

  read(): string | undefined {
    return existsSync(this.location) ? readFileSync(this.location, 'utf8') : undefined;
  }

  exists(): boolean {
    return existsSync(this.location);
  }

  write(text: string): void {
    writeFileAtomic(this.location, text);
  }

  remove(): void {
    rmSync(this.location, { force: true });
  }

  lock(owner: LockOwner, force: boolean): Partial<LockOwner> | undefined {
    mkdirSync(dirname(this.lockLocation), { recursive: true, mode: 0o700 });
    let replaced: Partial<LockOwner> | undefined;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const descriptor = openSync(this.lockLocation, 'wx', 0o600);
        writeSync(descriptor, JSON.stringify(owner));
        closeSync(descriptor);
        return replaced;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let text: string | undefined;
      try {
        text = readFileSync(this.lockLocation, 'utf8');
      } catch {
        // Released between the two calls: try again.
      }
      const holder = parseLockOwner(text);
      // A lock file cut short by a crash names nobody: stale, as is a dead process of this host.
      const stale = holder.pid === undefined || holderIsDeadHere(holder);
      if (stale || force) {
        if (!stale) replaced = holder;
        rmSync(this.lockLocation, { force: true });
        continue;
      }
      throw lockedError(this.location, holder, `Wait for that run to finish. If it is gone, delete ${this.lockLocation} or run again with --force-unlock.`);
    }
    throw stateError('STATE_LOCKED', `Could not take the lock ${this.lockLocation}: another run took it first`, 'Wait for that run to finish, then run the command again.');
  }

  unlock(): void {
    rmSync(this.lockLocation, { force: true });
  }
}

export interface OpenOptions {
  /** Take the lock for this command (`up`, `down`, `deploy`); without it, read only. */
  lockFor?: string;
  /** --force-unlock: take the lock over from whoever holds it. */
  forceUnlock?: boolean;
  /** How to reach S3 when the state is an s3:// URL (the run's region, endpoint and profile). */
  aws?: Partial<S3Connection>;
  /** Tests: the synchronous S3 call (default: the worker thread). */
  s3Transport?: S3Transport;
}

function openStore(path: string, options: OpenOptions): StateStore {
  const object = parseS3Url(path);
  if (!object) return new LocalStateStore(resolve(path));
  const { region, endpointUrl, profile } = options.aws ?? {};
  // Any region reaches the bucket: the client follows S3's redirect to the bucket's own.
  const connection: S3Connection = { region: region ?? 'us-east-1', ...(endpointUrl ? { endpointUrl } : {}), ...(profile ? { profile } : {}) };
  return options.s3Transport ? new S3StateStore(object, connection, options.s3Transport) : new S3StateStore(object, connection);
}

export class StateFile {
  private document: StateDocument | undefined;
  private lockHeld = false;
  private writes = 0;
  private settingsDirty = false;
  /** Held in memory only until persist(): looking for a stack without its state file writes nothing. */
  private detachedFromDisk = false;

  /** The run this one took the lock from (--force-unlock), to report. */
  lockTakenFrom: Partial<LockOwner> | undefined;

  private constructor(private readonly store: StateStore) {}

  /**
   * Opens (and with `lockFor`, locks) the state: a local file, or an S3 object for an s3:// path.
   * A missing state is an empty one. Locked, it is read after the lock is taken.
   */
  static open(path: string, options: OpenOptions = {}): StateFile {
    const stateFile = new StateFile(openStore(path, options));
    if (options.lockFor) stateFile.takeLock(options.lockFor, Boolean(options.forceUnlock));
    try {
      stateFile.document = stateFile.readDocument();
    } catch (error) {
      stateFile.releaseLock();
      throw error;
    }
    return stateFile;
  }

  /**
   * A state that starts empty and stays in memory, whatever is on disk: `recover` fills it from
   * what it finds and then persist()s it; `status` and `down` without a state file never write it.
   */
  static detached(path: string, options: OpenOptions = {}): StateFile {
    const stateFile = new StateFile(openStore(path, options));
    stateFile.detachedFromDisk = true;
    if (options.lockFor) stateFile.takeLock(options.lockFor, Boolean(options.forceUnlock));
    return stateFile;
  }

  private takeLock(command: string, force: boolean): void {
    this.lockTakenFrom = this.store.lock(lockOwnerFor(command), force);
    this.lockHeld = true;
  }

  /** The state's path, or its s3:// URL. */
  get path(): string {
    return this.store.location;
  }

  /** The state lives in S3, shared with other machines. */
  get shared(): boolean {
    return this.store.shared;
  }

  /** Whether a file is at the path, read or not (a corrupt one counts). */
  get onDisk(): boolean {
    return this.store.exists();
  }

  /** Writes a detached state to its path, atomically, replacing any file there; later updates write too. */
  persist(): void {
    this.detachedFromDisk = false;
    this.flush();
  }

  get lockPath(): string {
    return this.store.lockLocation;
  }

  get exists(): boolean {
    return this.document !== undefined;
  }

  private readDocument(): StateDocument | undefined {
    const text = this.store.read();
    if (text === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw stateError(
        'STATE_CORRUPT',
        `State file ${this.path} is not valid JSON (${(error as Error).message})`,
        'Restore it from a backup, or run `authecs recover --force` (with the settings you gave `up`) to rebuild it from the resources it finds by their tags and names.',
      );
    }
    const document = parsed as Partial<StateDocument>;
    if (
      typeof document !== 'object' ||
      document === null ||
      document.tool !== 'authecs' ||
      typeof document.schemaVersion !== 'number' ||
      typeof document.resources !== 'object' ||
      document.resources === null
    ) {
      throw stateError('STATE_CORRUPT', `State file ${this.path} is not an authecs state file`, 'Check the --state path, or move the file aside.');
    }
    if (document.schemaVersion > STATE_SCHEMA_VERSION) {
      throw stateError(
        'STATE_TOO_NEW',
        `State file ${this.path} has schema version ${document.schemaVersion}; this authecs reads up to ${STATE_SCHEMA_VERSION}`,
        'Upgrade authecs.',
      );
    }
    return migrate(document as StateDocument);
  }

  releaseLock(): void {
    if (!this.lockHeld) return;
    this.lockHeld = false;
    this.store.unlock();
  }

  /**
   * Starts a new document for `up`, or checks that an existing one belongs to the same stack.
   * The chosen settings are written with the first resource record, not before.
   */
  initialise(stack: string, region: string, settings: Record<string, unknown>): void {
    const now = new Date().toISOString();
    if (this.document) {
      if (this.document.stack !== stack) {
        throw stateError(
          'STATE_OTHER_STACK',
          `State file ${this.path} belongs to stack "${this.document.stack}", not "${stack}"`,
          'Pass --state with another path, or --cluster with the stack this file belongs to.',
        );
      }
      if (this.document.region !== region) {
        throw new AuthecsError(`Stack "${stack}" lives in ${this.document.region}; it cannot move to ${region}`, {
          code: 'REGION_CHANGE_REFUSED',
          exit: 'usage',
          hint: `Leave out --region (the stack's region sticks), or run \`authecs down\` and then \`authecs up --region ${region}\` to rebuild it there.`,
        });
      }
      if (JSON.stringify(this.document.settings) !== JSON.stringify(settings)) this.settingsDirty = true;
      this.document.settings = settings;
      return;
    }
    this.document = { schemaVersion: STATE_SCHEMA_VERSION, tool: 'authecs', stack, region, createdAt: now, updatedAt: now, settings, resources: {} };
  }

  /** For read-only commands (`plan`): the same checks as initialise(), without taking the file over. */
  check(stack: string, region: string): void {
    if (!this.document) return;
    if (this.document.stack !== stack) {
      throw stateError('STATE_OTHER_STACK', `State file ${this.path} belongs to stack "${this.document.stack}", not "${stack}"`, 'Pass --state with another path, or --cluster with the stack this file belongs to.');
    }
    if (this.document.region !== region) {
      throw new AuthecsError(`Stack "${stack}" lives in ${this.document.region}; it cannot move to ${region}`, {
        code: 'REGION_CHANGE_REFUSED',
        exit: 'usage',
        hint: `Leave out --region (the stack's region sticks), or run \`authecs down\` and then \`authecs up --region ${region}\` to rebuild it there.`,
      });
    }
  }

  /** Records the chosen settings now if they differ from the file's (a run that changed no resource). */
  saveSettings(): void {
    if (!this.document || this.document.resources === undefined || Object.keys(this.document.resources).length === 0) return;
    if (this.settingsDirty) this.flush();
  }

  get stack(): string | undefined {
    return this.document?.stack;
  }

  get region(): string | undefined {
    return this.document?.region;
  }

  get settings(): Record<string, unknown> {
    return this.document?.settings ?? {};
  }

  get resourceNames(): string[] {
    return Object.keys(this.document?.resources ?? {});
  }

  get<Data extends object>(step: string): ResourceRecord<Data> | undefined {
    return this.document?.resources[step] as ResourceRecord<Data> | undefined;
  }

  /** Merges into a resource record and writes the file before returning. */
  update<Data extends object>(
    step: string,
    patch: { created?: boolean; complete?: boolean; data?: Partial<Data>; applied?: Record<string, unknown>; retired?: Data[] },
  ): ResourceRecord<Data> {
    const document = this.requireDocument();
    const previous = document.resources[step];
    const applied = patch.applied ?? previous?.applied;
    const retired = patch.retired ?? previous?.retired;
    const next: ResourceRecord = {
      created: patch.created ?? previous?.created ?? false,
      complete: patch.complete ?? previous?.complete ?? false,
      data: { ...(previous?.data ?? {}), ...(patch.data ?? {}) } as Record<string, unknown>,
      ...(applied ? { applied } : {}),
      ...(retired && retired.length > 0 ? { retired: retired as unknown as Record<string, unknown>[] } : {}),
      updatedAt: new Date().toISOString(),
    };
    document.resources[step] = next;
    this.flush();
    return next as unknown as ResourceRecord<Data>;
  }

  remove(step: string): void {
    const document = this.requireDocument();
    if (!(step in document.resources)) return;
    delete document.resources[step];
    this.flush();
  }

  /** After a complete `down`, the state file goes too; nothing of the stack is left to track. */
  deleteFile(): void {
    this.store.remove();
    this.document = undefined;
  }

  snapshot(): StateDocument | undefined {
    return this.document ? (JSON.parse(JSON.stringify(this.document)) as StateDocument) : undefined;
  }

  private requireDocument(): StateDocument {
    if (!this.document) throw new AuthecsError('State file used before initialise()', { code: 'STATE_UNINITIALISED', exit: 'internal' });
    return this.document;
  }

  private flush(): void {
    const document = this.requireDocument();
    document.updatedAt = new Date().toISOString();
    assertNoSecrets(document, 'state');
    if (this.detachedFromDisk) return;
    this.store.write(`${JSON.stringify(document, null, 2)}\n`);
    this.settingsDirty = false;
    this.writes += 1;
    killForCrashTest(this.writes);
    pauseForTest(this.writes);
  }
}

/**
 * Test-only: AUTHECS_TEST_KILL_AFTER_WRITES=N makes the process SIGKILL itself right after
 * its Nth state write, so crash tests can stop authecs at exact, repeatable points.
 */
function killForCrashTest(writes: number): void {
  const limit = Number(process.env.AUTHECS_TEST_KILL_AFTER_WRITES);
  if (Number.isInteger(limit) && limit > 0 && writes >= limit) process.kill(process.pid, 'SIGKILL');
}

/**
 * Test-only: AUTHECS_TEST_PAUSE_AFTER_WRITES=N with AUTHECS_TEST_PAUSE_FILE=<path> stops the
 * process right after its Nth state write: it creates the file and waits until the test deletes
 * it, so a test can change the state underneath a run at an exact point.
 */
function pauseForTest(writes: number): void {
  const file = process.env.AUTHECS_TEST_PAUSE_FILE;
  if (!file || Number(process.env.AUTHECS_TEST_PAUSE_AFTER_WRITES) !== writes) return;
  writeFileSync(file, String(process.pid));
  const clock = new Int32Array(new SharedArrayBuffer(4));
  while (existsSync(file)) Atomics.wait(clock, 0, 0, 20);
}
