/**
 * Per-file e2e setup: one moto server and one agent stand-in for the file; before each test a
 * reset emulator, freshly seeded fixtures and a new temporary working directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startAgentStandIn, type AgentStandIn } from './agent-stand-in.js';
import { createEcsServiceLinkedRole, E2E_SCALE, startAwsModel, type AwsModel, type AwsModelSetup } from './aws-model/index.js';
import { runAuthecs, type RunOptions, type RunResult } from './cli.js';
import { destroyEmulatorClients, emulatorClients, emulatorEnvironment, seedFixtures, TEST_DOMAIN, type EmulatorClients, type Fixtures } from './fixtures.js';
import { startMotoOrFail, type MotoServer } from './moto.js';

/**
 * moto settles at once (no provisioning, no propagation), so poll intervals are scaled down
 * to 2 %: a 15 s waiter polls every 0.3 s. authecs's logic is the same, only its sleeps shrink.
 */
export const POLL_SCALE = '0.02';

export interface E2eContext {
  readonly moto: MotoServer;
  readonly clients: EmulatorClients;
  readonly standIn: AgentStandIn;
  readonly fixtures: Fixtures;
  /** The AWS behaviour model in front of moto, when setupE2e({ awsModel }) asked for it. */
  readonly awsModel: AwsModel | undefined;
  /** The current test's temporary working directory (the state file goes to .authecs/ under it). */
  readonly workdir: string;
  /** The subprocess environment: emulator endpoint, dummy credentials, region, domain. */
  env(extra?: Record<string, string | undefined>): Record<string, string | undefined>;
  /** Runs `authecs ...args` in the working directory with env(). */
  authecs(args: string[], options?: Partial<RunOptions> & { extraEnv?: Record<string, string | undefined> }): Promise<RunResult>;
  /** The default state file of a stack. */
  statePath(cluster?: string): string;
}

export interface SetupOptions {
  domain?: string;
  /**
   * 'each' (default): reset moto, re-seed and use a new working directory before every test.
   * 'file': do that once, so the file's tests run in order against one evolving stack.
   */
  fresh?: 'each' | 'file';
  /**
   * The AWS behaviour model (test/support/aws-model) in front of this file's moto, with authecs
   * pointed at it; the harness (fixtures, stand-in, inventory) still talks to moto. By default it
   * runs with every rule on, AWS's timings at 1/100 and no faults, in an account that already has
   * the ECS service-linked role. Pass options to configure it (the test then manages that role
   * itself), or false for plain moto.
   */
  awsModel?: AwsModelSetup | false;
}

export function setupE2e(options: SetupOptions = {}): E2eContext {
  const domain = options.domain ?? TEST_DOMAIN;
  const fresh = options.fresh ?? 'each';
  let moto: MotoServer | undefined;
  let clients: EmulatorClients | undefined;
  let standIn: AgentStandIn | undefined;
  let fixtures: Fixtures | undefined;
  let workdir: string | undefined;
  let awsModel: AwsModel | undefined;

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`e2e setup: ${what} is not ready (did beforeAll fail?)`);
    return value;
  };

  const freshStart = async () => {
    await need(moto, 'moto').reset();
    need(standIn, 'the agent stand-in').reset();
    awsModel?.reset();
    fixtures = await seedFixtures(need(clients, 'clients'), { domain });
    if (awsModel && options.awsModel === undefined) await createEcsServiceLinkedRole(need(clients, 'clients').iam);
    workdir = mkdtempSync(join(tmpdir(), 'authecs-e2e-'));
  };
  const removeWorkdir = () => {
    // AUTHECS_E2E_KEEP=1 keeps the working directories (state files, logs) for a post-mortem.
    if (workdir && !process.env.AUTHECS_E2E_KEEP) rmSync(workdir, { recursive: true, force: true });
    workdir = undefined;
  };

  beforeAll(async () => {
    moto = await startMotoOrFail();
    clients = emulatorClients(moto.endpoint);
    standIn = startAgentStandIn(clients);
    if (options.awsModel !== false) awsModel = await startAwsModel({ ...(options.awsModel ?? { scale: E2E_SCALE, seed: 1 }), upstream: moto.endpoint });
    if (fresh === 'file') await freshStart();
  });

  afterAll(async () => {
    if (fresh === 'file') removeWorkdir();
    await standIn?.stop();
    await awsModel?.stop();
    if (clients) destroyEmulatorClients(clients);
    await moto?.stop();
  });

  if (fresh === 'each') {
    beforeEach(freshStart);
    afterEach(removeWorkdir);
  }

  const context: E2eContext = {
    get moto() {
      return need(moto, 'moto');
    },
    get clients() {
      return need(clients, 'clients');
    },
    get standIn() {
      return need(standIn, 'the agent stand-in');
    },
    get fixtures() {
      return need(fixtures, 'fixtures');
    },
    get awsModel() {
      return awsModel;
    },
    get workdir() {
      return need(workdir, 'the working directory');
    },
    env(extra = {}) {
      return {
        ...emulatorEnvironment(awsModel?.endpoint ?? context.moto.endpoint),
        AUTH_ECS_DOMAIN: domain,
        AUTHECS_POLL_SCALE: POLL_SCALE,
        // No ~/.aws of the person running the tests leaks in.
        HOME: context.workdir,
        NO_COLOR: '1',
        ...extra,
      };
    },
    authecs(args, runOptions = {}) {
      const { extraEnv, ...rest } = runOptions;
      return runAuthecs(args, { env: context.env(extraEnv), cwd: context.workdir, ...rest });
    },
    statePath(cluster = 'ecsauth') {
      return join(context.workdir, '.authecs', `${cluster}.json`);
    },
  };
  return context;
}
