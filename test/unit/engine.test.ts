import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../src/aws/clients.js';
import { down, status, up } from '../../src/engine/actions.js';
import type { EngineEnvironment } from '../../src/engine/context.js';
import { runGraph } from '../../src/engine/graph.js';
import { Reporter } from '../../src/report/reporter.js';
import { StateFile } from '../../src/state/state-file.js';
import type { StepName } from '../../src/steps/outputs.js';
import type { AnyStep, StepContext } from '../../src/steps/step.js';
import { articleConfig } from '../support/step-harness.js';
import { AuthecsError } from '../../src/errors.js';
import type { Config } from '../../src/config/schema.js';

/**
 * Fake steps over an in-memory "cloud" exercise the engine alone: ordering, parallelism,
 * resume after a failure at any step, and teardown order. Real steps are tested per module.
 */
interface FakeCloud {
  resources: Map<string, string>;
  calls: string[];
  failOnce: Set<string>;
  running: number;
  maxRunning: number;
  preExisting: Set<string>;
  preflightFails?: Set<string>;
}

const GRAPH: [StepName, StepName[]][] = [
  ['network', []],
  ['hosted-zone', []],
  ['load-balancer', ['network']],
  ['dns-record', ['hosted-zone', 'load-balancer']],
  ['certificate', ['hosted-zone']],
  ['https-listener', ['load-balancer', 'certificate']],
  ['user-pool', []],
  ['cluster', []],
  ['key-pair', []],
  ['capacity', ['cluster', 'network', 'key-pair']],
  ['service', ['cluster', 'capacity', 'https-listener', 'user-pool']],
];

function fakeSteps(cloud: FakeCloud): AnyStep[] {
  return GRAPH.map(([name, dependsOn]) => {
    const work = async () => {
      cloud.running += 1;
      cloud.maxRunning = Math.max(cloud.maxRunning, cloud.running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      cloud.running -= 1;
    };
    return {
      name,
      title: `Fake ${name}`,
      articleSection: 'test',
      dependsOn,
      async preflight() {
        cloud.calls.push(`preflight ${name}`);
        if (cloud.preflightFails?.has(name)) {
          throw new AuthecsError(`name of ${name} is taken`, { code: 'NAME_TAKEN', exit: 'conflict', hint: 'rename it' });
        }
      },
      enabled: (config: Config) => !(config.launchType === 'FARGATE' && (name === 'capacity' || name === 'key-pair')),
      async find(context: StepContext<StepName>) {
        cloud.calls.push(`find ${name}`);
        for (const dependency of dependsOn) if (context.hasOutput(dependency)) context.output(dependency);
        const id = cloud.resources.get(name);
        if (!id) return undefined;
        return { output: { id } as never, created: !cloud.preExisting.has(name) };
      },
      async create(context: StepContext<StepName>) {
        for (const dependency of dependsOn) {
          if (!context.hasOutput(dependency) && name !== 'service') throw new Error(`${name} ran before ${dependency}`);
        }
        await work();
        if (cloud.failOnce.delete(name)) throw Object.assign(new Error(`injected failure in ${name}`), { name: 'ServiceUnavailable' });
        cloud.calls.push(`create ${name}`);
        const id = `${name}-id`;
        cloud.resources.set(name, id);
        context.save({ created: true, data: { id } as never });
        return { id } as never;
      },
      async delete(context: StepContext<StepName>) {
        await work();
        if (cloud.failOnce.delete(`delete ${name}`)) throw Object.assign(new Error(`injected failure deleting ${name}`), { name: 'DependencyViolation' });
        cloud.calls.push(`delete ${name}`);
        expect(context.record?.created).toBe(true);
        cloud.resources.delete(name);
      },
      async inspect() {
        const present = cloud.resources.has(name);
        return { present, healthy: present, summary: present ? 'ok' : 'missing' };
      },
    } as unknown as AnyStep;
  });
}

describe('engine', () => {
  let folder: string;
  let cloud: FakeCloud;
  let statePath: string;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'authecs-engine-'));
    statePath = join(folder, 'state.json');
    cloud = { resources: new Map(), calls: [], failOnce: new Set(), running: 0, maxRunning: 0, preExisting: new Set() };
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  function environment(configOverrides = {}): EngineEnvironment & { reporter: Reporter } {
    const config = articleConfig(configOverrides);
    const state = StateFile.open(statePath);
    state.initialise(config.cluster, config.region, {});
    const reporter = new Reporter({ json: true, verbosity: 'quiet', stdout: new PassThrough(), stderr: new PassThrough() });
    return { config, clients: {} as AwsClients, state, reporter, stack: config.cluster, pollScale: 1, sleep: async () => {} };
  }

  it('creates every step after its dependencies, overlapping independent ones', async () => {
    const env = environment();
    const result = await up(env, fakeSteps(cloud));

    const order = cloud.calls.filter((call) => call.startsWith('create')).map((call) => call.slice(7));
    for (const [name, dependsOn] of GRAPH) {
      for (const dependency of dependsOn) expect(order.indexOf(dependency), `${dependency} before ${name}`).toBeLessThan(order.indexOf(name));
    }
    expect(cloud.maxRunning).toBeGreaterThan(1);
    expect(Object.values(result.outcomes).every((outcome) => outcome === 'created')).toBe(true);
    for (const [name] of GRAPH) expect(env.state.get(name)).toMatchObject({ created: true, complete: true });
  });

  it('a failed preflight check stops up before anything is created, and names the step', async () => {
    cloud.preflightFails = new Set(['hosted-zone', 'service']);
    await expect(up(environment(), fakeSteps(cloud))).rejects.toMatchObject({ code: 'NAME_TAKEN', exit: 'conflict', step: 'hosted-zone' });
    expect(cloud.calls.filter((call) => !call.startsWith('preflight'))).toEqual([]);
    expect(cloud.calls.filter((call) => call.startsWith('preflight'))).toHaveLength(GRAPH.length);
    expect(StateFile.open(statePath).resourceNames).toEqual([]);
  });

  it('a second up over a complete state creates nothing', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.calls = [];
    const result = await up(environment(), fakeSteps(cloud));
    expect(cloud.calls.filter((call) => !call.startsWith('find') && !call.startsWith('preflight'))).toEqual([]);
    expect(new Set(Object.values(result.outcomes))).toEqual(new Set(['unchanged']));
  });

  for (const [failing] of GRAPH) {
    it(`after a failure in ${failing}, up again creates every resource exactly once`, async () => {
      cloud.failOnce.add(failing);
      await expect(up(environment(), fakeSteps(cloud))).rejects.toMatchObject({ step: failing, message: expect.stringContaining(`injected failure in ${failing}`) });
      await up(environment(), fakeSteps(cloud));
      const creates = cloud.calls.filter((call) => call.startsWith('create'));
      expect(creates.sort()).toEqual(GRAPH.map(([name]) => `create ${name}`).sort());
    });
  }

  it('stops starting new steps after a failure, and records finished ones', async () => {
    cloud.failOnce.add('network');
    await expect(up(environment(), fakeSteps(cloud))).rejects.toThrow(/network/);
    expect(cloud.calls).not.toContain('create load-balancer');
    expect(cloud.calls).not.toContain('create service');
    const state = StateFile.open(statePath);
    expect(state.get('network')).toBeUndefined();
  });

  it('down deletes in reverse dependency order and keeps what authecs did not create', async () => {
    cloud.preExisting.add('hosted-zone');
    cloud.resources.set('hosted-zone', 'zone-id');
    await up(environment(), fakeSteps(cloud));
    expect(StateFile.open(statePath).get('hosted-zone')).toMatchObject({ created: false });
    cloud.calls = [];

    const env = environment();
    const result = await down(env, fakeSteps(cloud));

    const deletes = cloud.calls.map((call) => call.replace('delete ', ''));
    expect(deletes).not.toContain('hosted-zone');
    expect(cloud.resources.get('hosted-zone')).toBe('zone-id');
    for (const [name, dependsOn] of GRAPH) {
      for (const dependency of dependsOn) {
        if (dependency === 'hosted-zone') continue;
        expect(deletes.indexOf(name), `${name} deleted before ${dependency}`).toBeLessThan(deletes.indexOf(dependency));
      }
    }
    expect(result.outcomes['hosted-zone']).toBe('kept');
    expect(result.remaining).toEqual([]);
  });

  it('down after an interruption carries on and deletes each resource once', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.calls = [];
    cloud.failOnce.add('delete load-balancer');
    await expect(down(environment(), fakeSteps(cloud))).rejects.toMatchObject({ step: 'load-balancer' });
    expect(cloud.calls).not.toContain('delete network');
    await down(environment(), fakeSteps(cloud));
    const deletes = cloud.calls.filter((call) => call.startsWith('delete'));
    expect(deletes.sort()).toEqual(GRAPH.map(([name]) => `delete ${name}`).sort());
    expect(cloud.resources.size).toBe(0);
  });

  it('skips disabled steps and does not wait for them (Fargate has no capacity)', async () => {
    const result = await up(environment({ launchType: 'FARGATE' }), fakeSteps(cloud));
    expect(result.outcomes.capacity).toBe('skipped');
    expect(result.outcomes['key-pair']).toBe('skipped');
    expect(cloud.resources.has('capacity')).toBe(false);
    expect(result.outcomes.service).toBe('created');
  });

  it('status reports a resource deleted behind its back as missing', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.resources.delete('dns-record');
    const rows = await status(environment(), fakeSteps(cloud));
    expect(rows.find((row) => row.step === 'dns-record')).toMatchObject({ present: false, healthy: false, summary: 'missing' });
    expect(rows.filter((row) => !row.healthy)).toHaveLength(1);
  });

  it('up repairs what status reported missing, and nothing else', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.resources.delete('dns-record');
    cloud.calls = [];
    const result = await up(environment(), fakeSteps(cloud));
    expect(cloud.calls.filter((call) => call.startsWith('create'))).toEqual(['create dns-record']);
    expect(result.outcomes['dns-record']).toBe('repaired');
  });
});

describe('runGraph', () => {
  it('reports a dependency cycle instead of hanging', async () => {
    await expect(
      runGraph([
        { name: 'a', waitsFor: ['b'], run: async () => {} },
        { name: 'b', waitsFor: ['a'], run: async () => {} },
      ]),
    ).rejects.toThrow(/cycle/);
  });
});

describe('runGraph concurrency', () => {
  it('never runs more tasks at once than the limit, and 1 runs them in order', async () => {
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    const task = (name: string, waitsFor: string[] = []) => ({
      name,
      waitsFor,
      run: async () => {
        running += 1;
        peak = Math.max(peak, running);
        order.push(name);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running -= 1;
      },
    });
    await runGraph([task('a'), task('b'), task('c'), task('d', ['a'])], { concurrency: 1 });
    expect(peak).toBe(1);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });
});
