import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync, chmodSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { AuthecsError, stateError } from '../errors.js';

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

interface LockOwner {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class StateFile {
  private document: StateDocument | undefined;
  private lockHeld = false;
  private writes = 0;
  private settingsDirty = false;

  private constructor(readonly path: string) {}

  /** Opens (and with `lockFor`, locks) the state file. A missing file is an empty state. */
  static open(path: string, options: { lockFor?: string } = {}): StateFile {
    const stateFile = new StateFile(resolve(path));
    if (options.lockFor) stateFile.acquireLock(options.lockFor);
    try {
      stateFile.document = stateFile.readDocument();
    } catch (error) {
      stateFile.releaseLock();
      throw error;
    }
    return stateFile;
  }

  get lockPath(): string {
    return `${this.path}.lock`;
  }

  get exists(): boolean {
    return this.document !== undefined;
  }

  private readDocument(): StateDocument | undefined {
    if (!existsSync(this.path)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      throw stateError(
        'STATE_CORRUPT',
        `State file ${this.path} is not valid JSON (${(error as Error).message})`,
        'Restore it from a backup, or move it aside and run `authecs up` to adopt the resources it can find by their tags.',
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

  private acquireLock(command: string): void {
    mkdirSync(dirname(this.lockPath), { recursive: true, mode: 0o700 });
    const owner: LockOwner = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const descriptor = openSync(this.lockPath, 'wx', 0o600);
        writeSync(descriptor, JSON.stringify(owner));
        closeSync(descriptor);
        this.lockHeld = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let holder: Partial<LockOwner> = {};
      try {
        holder = JSON.parse(readFileSync(this.lockPath, 'utf8')) as LockOwner;
      } catch {
        // A lock file cut short by a crash names nobody; treat it as stale below.
      }
      const stale = holder.pid === undefined || (holder.host === owner.host && !processIsAlive(holder.pid));
      if (stale) {
        rmSync(this.lockPath, { force: true });
        continue;
      }
      throw stateError(
        'STATE_LOCKED',
        `State file ${this.path} is locked by \`authecs ${holder.command ?? '?'}\` (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`,
        `Wait for that run to finish. If it is gone, delete ${this.lockPath}.`,
      );
    }
  }

  releaseLock(): void {
    if (!this.lockHeld) return;
    rmSync(this.lockPath, { force: true });
    this.lockHeld = false;
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
    rmSync(this.path, { force: true });
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
    writeFileAtomic(this.path, `${JSON.stringify(document, null, 2)}\n`);
    this.settingsDirty = false;
    this.writes += 1;
    killForCrashTest(this.writes);
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
