import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AwsClients } from '../../src/aws/clients.js';
import { down, plan, status, up, upWaitsFor } from '../../src/engine/actions.js';
import type { EngineEnvironment } from '../../src/engine/context.js';
import { runGraph } from '../../src/engine/graph.js';
import { Reporter } from '../../src/report/reporter.js';
import { StateFile } from '../../src/state/state-file.js';
import type { StepName } from '../../src/steps/outputs.js';
import type { StepContext } from '../../src/steps/step.js';
import { known, UNKNOWN, type AnyResource, type Resource } from '../../src/steps/resource.js';
import { articleConfig } from '../support/step-harness.js';
import { AuthecsError } from '../../src/errors.js';
import type { Config } from '../../src/config/schema.js';

/**
 * Fake resources over an in-memory "cloud" exercise the engine alone: ordering, parallelism,
 * plan, update, replace, resume after a failure at any step, and teardown order. Real steps
 * are tested per module.
 */
interface FakeResource {
  id: string;
  props: Record<string, unknown>;
  settled?: boolean;
}

interface FakeCloud {
  resources: Map<string, FakeResource>;
  /** Every resource id that exists, current or replaced. */
  alive: Set<string>;
  calls: string[];
  failOnce: Set<string>;
  running: number;
  maxRunning: number;
  preExisting: Set<string>;
  preflightFails?: Set<string>;
  serial: number;
  loseAnswer?: Map<string, Error>;
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

/** What each fake resource wants from the settings: a field that updates and one that replaces. */
function settingFor(name: StepName, config: Config): { size: unknown; kind: unknown } {
  if (name === 'service') return { size: config.desiredCount, kind: config.launchType };
  if (name === 'load-balancer') return { size: 1, kind: config.loadBalancerName };
  if (name === 'certificate') return { size: 1, kind: config.domain };
  return { size: 1, kind: name };
}

function fakeSteps(cloud: FakeCloud): AnyResource[] {
  return GRAPH.map(([name, dependsOn]) => {
    const work = async () => {
      cloud.running += 1;
      cloud.maxRunning = Math.max(cloud.maxRunning, cloud.running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      cloud.running -= 1;
    };
    const make = async (context: StepContext<StepName>, want: Record<string, unknown>) => {
      await work();
      if (cloud.failOnce.delete(name)) throw Object.assign(new Error(`injected failure in ${name}`), { name: 'ServiceUnavailable' });
      cloud.calls.push(`create ${name}`);
      // The answer is lost after AWS applied the create: the resource exists, the caller never hears.
      const lost = cloud.loseAnswer?.get(name);
      if (lost) {
        cloud.loseAnswer!.delete(name);
        cloud.serial += 1;
        const id = `${name}-${cloud.serial}`;
        cloud.resources.set(name, { id, props: want });
        cloud.alive.add(id);
        throw lost;
      }
      cloud.serial += 1;
      const id = `${name}-${cloud.serial}`;
      cloud.resources.set(name, { id, props: want });
      cloud.alive.add(id);
      context.save({ created: true, data: { id } as never });
      return { id } as never;
    };
    const resource: Resource<StepName, Record<string, unknown>> = {
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
      desired: (config, inputs) => ({
        ...settingFor(name, config),
        upstream: dependsOn.filter((dependency) => dependency in inputs).map((dependency) => known(inputs[dependency], (output) => (output as unknown as { id: string }).id)),
      }),
      // As UpdateService moves a service to a new listener or task definition in place.
      effects: { size: 'update', kind: 'replace', upstream: name === 'service' ? 'update' : 'replace' },
      async read() {
        cloud.calls.push(`read ${name}`);
        const found = cloud.resources.get(name);
        if (!found) return undefined;
        return {
          output: { id: found.id } as never,
          observed: found.props,
          created: !cloud.preExisting.has(name),
          settled: found.settled ?? true,
          health: { healthy: true, summary: 'ok' },
        };
      },
      async create(context, want) {
        for (const dependency of resource.waitsFor?.(context.config) ?? dependsOn) {
          if (!context.hasOutput(dependency) && !(name === 'service' && dependency === 'capacity')) throw new Error(`${name} ran before ${dependency}`);
        }
        return make(context, want);
      },
      async update(context, want, live, changes) {
        cloud.calls.push(`update ${name} ${changes.map((change) => change.field).join(',')}`);
        cloud.resources.get(name)!.props = want;
        return live.output;
      },
      async settle(_context, live) {
        cloud.calls.push(`settle ${name}`);
        cloud.resources.get(name)!.settled = true;
        return live.output;
      },
      async delete(context) {
        await work();
        if (cloud.failOnce.delete(`delete ${name}`)) throw Object.assign(new Error(`injected failure deleting ${name}`), { name: 'DependencyViolation' });
      const id = (context.record?.data as { id?: string } | undefined)?.id;
      if (cloud.failOnce.delete(`lose delete ${name}`)) {
        // Applied, but the answer is lost.
        if (id) cloud.alive.delete(id);
        cloud.resources.delete(name);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
        cloud.calls.push(`delete ${name}${id && cloud.resources.get(name)?.id !== id ? ` retired ${id}` : ''}`);
        expect(context.record?.created).toBe(true);
        if (id) cloud.alive.delete(id);
        if (cloud.resources.get(name)?.id === id) cloud.resources.delete(name);
      },
    };
    // The certificate is replaced create-before-delete; the service says what its replacement stops.
    if (name === 'certificate') {
      resource.replace = async (context, want, live) => {
        const output = await make(context, want);
        context.retire(live.output);
        return output;
      };
    }
    if (name === 'service') resource.loss = async () => 'the running tasks stop while the service is replaced';
    return resource as unknown as AnyResource;
  });
}

describe('engine', () => {
  let folder: string;
  let cloud: FakeCloud;
  let statePath: string;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'authecs-engine-'));
    statePath = join(folder, 'state.json');
    cloud = { resources: new Map(), alive: new Set(), calls: [], failOnce: new Set(), running: 0, maxRunning: 0, preExisting: new Set(), serial: 0 };
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
    // The plan's reads run alongside the checks; nothing that changes anything runs.
    expect(cloud.calls.filter((call) => !call.startsWith('preflight') && !call.startsWith('read'))).toEqual([]);
    expect(cloud.calls.filter((call) => call.startsWith('preflight'))).toHaveLength(GRAPH.length);
    expect(StateFile.open(statePath).resourceNames).toEqual([]);
  });

  it('the plan reads every resource at once: a read held open does not hold back the reads of the steps after it', async () => {
    await up(environment(), fakeSteps(cloud));
    const steps = fakeSteps(cloud);
    const network = steps.find((step) => step.name === 'network')!;
    const readNetwork = network.read.bind(network);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    (network as { read: typeof network.read }).read = async (context) => {
      await held;
      return readNetwork(context);
    };
    cloud.calls = [];
    const planning = plan(environment(), steps);
    // Everything after the network in the graph has been read while the network's read is still open.
    await vi.waitFor(() => expect(cloud.calls.filter((call) => call.startsWith('read')).length).toBe(GRAPH.length - 1));
    expect(cloud.calls).not.toContain('read network');
    release();
    expect((await planning).every((entry) => entry.action === 'none')).toBe(true);
  });

  it('a graceful stop (the first Ctrl-C): the create in flight finishes and is recorded, no new step starts, and up fails with INTERRUPTED', async () => {
    const steps = fakeSteps(cloud);
    const network = steps.find((step) => step.name === 'network')!;
    const createNetwork = network.create.bind(network);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inFlight: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (inFlight = resolve));
    (network as { create: typeof network.create }).create = async (context, want) => {
      inFlight();
      await held;
      return createNetwork(context, want);
    };
    const stop = new AbortController();
    const running = up({ ...environment(), stopSignal: stop.signal }, steps);
    await started;
    stop.abort();
    release();
    await expect(running).rejects.toMatchObject({ code: 'INTERRUPTED', exit: 'interrupted' });
    // The network was being made when the stop came: it is in the state, so `down` (or the next `up`) knows it.
    expect(cloud.calls).toContain('create network');
    expect(StateFile.open(statePath).get('network')).toMatchObject({ complete: true, data: { id: cloud.resources.get('network')!.id } });
    // Nothing that waited for it started.
    const dependents = GRAPH.filter(([, dependsOn]) => dependsOn.includes('network')).map(([name]) => `create ${name}`);
    expect(cloud.calls.filter((call) => dependents.includes(call))).toEqual([]);
  });

  it('a second up over a complete state creates nothing', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.calls = [];
    const result = await up(environment(), fakeSteps(cloud));
    const before = readFileSync(statePath, 'utf8');
    expect(cloud.calls.filter((call) => !call.startsWith('read') && !call.startsWith('preflight'))).toEqual([]);
    // The plan's read serves the apply too: each resource is read once, not twice.
    expect(cloud.calls.filter((call) => call.startsWith('read')).sort()).toEqual(GRAPH.map(([name]) => `read ${name}`).sort());
    expect(new Set(Object.values(result.outcomes))).toEqual(new Set(['unchanged']));
    expect(readFileSync(statePath, 'utf8')).toBe(before);
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
    cloud.resources.set('hosted-zone', { id: 'zone-id', props: { size: 1, kind: 'hosted-zone', upstream: [] } });
    await up(environment(), fakeSteps(cloud));
    expect(StateFile.open(statePath).get('hosted-zone')).toMatchObject({ created: false });
    cloud.calls = [];

    const env = environment();
    const result = await down(env, fakeSteps(cloud));

    const deletes = cloud.calls.filter((call) => call.startsWith('delete')).map((call) => call.replace('delete ', ''));
    expect(deletes).not.toContain('hosted-zone');
    expect(cloud.resources.get('hosted-zone')?.id).toBe('zone-id');
    for (const [name, dependsOn] of GRAPH) {
      for (const dependency of dependsOn) {
        if (dependency === 'hosted-zone') continue;
        expect(deletes.indexOf(name), `${name} deleted before ${dependency}`).toBeLessThan(deletes.indexOf(dependency));
      }
    }
    expect(result.outcomes['hosted-zone']).toBe('kept');
    expect(result.remaining).toEqual([]);
  });

  it('down leaves the steps it is asked to keep (--keep-logs): no delete call, the resource stays, its record goes', async () => {
    await up(environment(), fakeSteps(cloud));
    const clusterId = cloud.resources.get('cluster')!.id;
    cloud.calls = [];

    const result = await down(environment(), fakeSteps(cloud), { keep: ['cluster'] });

    expect(cloud.calls).not.toContain('delete cluster');
    expect(cloud.calls).toContain('delete capacity');
    expect(cloud.resources.get('cluster')?.id).toBe(clusterId);
    expect(result.outcomes.cluster).toBe('kept');
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

  it('plan on an empty state: every resource to create, no write and no mutating call', async () => {
    const planned = await plan(environment(), fakeSteps(cloud));
    expect(planned.map((entry) => entry.action)).toEqual(GRAPH.map(() => 'create'));
    expect(cloud.calls.every((call) => call.startsWith('read'))).toBe(true);
    expect(existsSync(statePath)).toBe(false);
  });

  it('a changed setting that AWS updates in place: plan shows field, old, new and cause; up updates only that', async () => {
    await up(environment(), fakeSteps(cloud));
    const before = readFileSync(statePath, 'utf8');
    cloud.calls = [];
    const planned = await plan(environment({ desiredCount: 1 }), fakeSteps(cloud));
    expect(readFileSync(statePath, 'utf8')).toBe(before);
    expect(planned.filter((entry) => entry.action !== 'none')).toEqual([
      expect.objectContaining({ step: 'service', action: 'update', changes: [{ field: 'size', from: 2, to: 1, effect: 'update', cause: 'settings' }] }),
    ]);

    const result = await up(environment({ desiredCount: 1 }), fakeSteps(cloud));
    expect(cloud.calls.filter((call) => /^(create|update|delete)/.test(call))).toEqual(['update service size']);
    expect(result.outcomes.service).toBe('updated');
    expect(StateFile.open(statePath).get('service')?.applied).toMatchObject({ size: 1 });
    expect((await plan(environment({ desiredCount: 1 }), fakeSteps(cloud))).every((entry) => entry.action === 'none')).toBe(true);
  });

  it('an out-of-band change is drift, and up puts it back', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.resources.get('user-pool')!.props.size = 7;
    const planned = await plan(environment(), fakeSteps(cloud));
    expect(planned.find((entry) => entry.step === 'user-pool')).toMatchObject({ action: 'update', changes: [{ field: 'size', from: 7, to: 1, cause: 'drift' }] });
    const result = await up(environment(), fakeSteps(cloud));
    expect(result.outcomes['user-pool']).toBe('repaired');
  });

  it('a replacement hands "known after apply" to its dependents, which are replaced in turn', async () => {
    await up(environment(), fakeSteps(cloud));
    const oldAlb = cloud.resources.get('load-balancer')!.id;
    cloud.calls = [];
    const planned = await plan(environment({ loadBalancerName: 'renamed' }), fakeSteps(cloud));
    const byStep = new Map(planned.map((entry) => [entry.step, entry]));
    expect(byStep.get('load-balancer')).toMatchObject({ action: 'replace', reason: 'kind cannot change in place' });
    expect(byStep.get('https-listener')).toMatchObject({ action: 'replace', changes: [expect.objectContaining({ field: 'upstream', to: [UNKNOWN, cloud.resources.get('certificate')!.id] })] });
    expect(byStep.get('dns-record')?.action).toBe('replace');
    expect(byStep.get('certificate')?.action).toBe('none');

    await up(environment({ loadBalancerName: 'renamed' }), fakeSteps(cloud));
    expect(cloud.alive.has(oldAlb)).toBe(false);
    expect(cloud.calls.filter((call) => call.startsWith('create'))).toEqual(expect.arrayContaining(['create load-balancer', 'create https-listener', 'create dns-record']));
    expect((await plan(environment({ loadBalancerName: 'renamed' }), fakeSteps(cloud))).every((entry) => entry.action === 'none')).toBe(true);
  });

  it('create-before-delete: the replaced certificate is deleted only after the whole run, from its retired record', async () => {
    await up(environment(), fakeSteps(cloud));
    const oldCertificate = cloud.resources.get('certificate')!.id;
    cloud.calls = [];
    await up(environment({ domain: 'app.example.com' }), fakeSteps(cloud));
    const mutations = cloud.calls.filter((call) => /^(create|update|delete)/.test(call));
    expect(mutations.indexOf('create certificate')).toBeLessThan(mutations.indexOf('create https-listener'));
    expect(mutations.at(-1)).toBe(`delete certificate retired ${oldCertificate}`);
    expect(cloud.alive.has(oldCertificate)).toBe(false);
    expect(StateFile.open(statePath).get('certificate')?.retired).toBeUndefined();
  });

  it('a retired resource whose delete failed is deleted by the next up, or by down', async () => {
    await up(environment(), fakeSteps(cloud));
    const oldCertificate = cloud.resources.get('certificate')!.id;
    cloud.failOnce.add('delete certificate');
    await expect(up(environment({ domain: 'app.example.com' }), fakeSteps(cloud))).rejects.toMatchObject({ step: 'certificate' });
    expect(StateFile.open(statePath).get('certificate')?.retired).toEqual([{ id: oldCertificate }]);
    await down(environment({ domain: 'app.example.com' }), fakeSteps(cloud));
    expect(cloud.alive.size).toBe(0);
  });

  it('a change that stops the site asks first: refused without confirmation, with nothing changed', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.calls = [];
    await expect(up(environment({ launchType: 'FARGATE' }), fakeSteps(cloud))).rejects.toMatchObject({
      code: 'CONFIRMATION_REQUIRED',
      message: expect.stringContaining('the running tasks stop'),
      hint: expect.stringContaining('--yes'),
    });
    expect(cloud.calls.filter((call) => /^(create|update|delete)/.test(call))).toEqual([]);
    const planned = await plan(environment({ launchType: 'FARGATE' }), fakeSteps(cloud));
    expect(planned.find((entry) => entry.step === 'service')).toMatchObject({ action: 'replace', loss: 'the running tasks stop while the service is replaced' });
    expect(planned.find((entry) => entry.step === 'capacity')).toMatchObject({ action: 'delete' });
  });

  it('with confirmation, a launch type switch replaces the service, then deletes what Fargate no longer needs', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.calls = [];
    const asked: string[] = [];
    const result = await up(environment({ launchType: 'FARGATE' }), fakeSteps(cloud), {
      confirmLoss: async (losses) => {
        asked.push(...losses.map((entry) => entry.step));
        return true;
      },
    });
    expect(asked).toEqual(['service']);
    const mutations = cloud.calls.filter((call) => /^(create|update|delete)/.test(call));
    expect(mutations.indexOf('create service')).toBeLessThan(mutations.indexOf('delete capacity'));
    expect(mutations.indexOf('delete capacity')).toBeLessThan(mutations.indexOf('delete key-pair'));
    expect(result.outcomes).toMatchObject({ service: 'replaced', capacity: 'deleted', 'key-pair': 'deleted' });
    expect(StateFile.open(statePath).resourceNames).not.toContain('capacity');
  });

  it('a resource that exists but is not ready is waited for, not recreated', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.resources.get('load-balancer')!.settled = false;
    cloud.calls = [];
    expect((await plan(environment(), fakeSteps(cloud))).find((entry) => entry.step === 'load-balancer')?.action).toBe('wait');
    const result = await up(environment(), fakeSteps(cloud));
    expect(cloud.calls.filter((call) => /^(create|update|delete|settle)/.test(call))).toEqual(['settle load-balancer']);
    expect(result.outcomes['load-balancer']).toBe('settled');
  });

  for (const [kind, lost] of [
    ['a reset connection', Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET' })],
    ['a 503 from the service', Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } })],
  ] as const) {
    it(`exactly once when an answer is lost (${kind}): the engine reads, adopts what the call made, and creates nothing twice`, async () => {
      cloud.loseAnswer = new Map([
        ['user-pool', lost],
        ['certificate', lost],
      ]);
      const result = await up(environment(), fakeSteps(cloud));
      const creates = cloud.calls.filter((call) => call.startsWith('create'));
      expect(creates.sort()).toEqual(GRAPH.map(([name]) => `create ${name}`).sort());
      expect(cloud.alive.size).toBe(GRAPH.length);
      // The plan found nothing, so the first try creates without a second read; after the lost answer it reads afresh.
      expect(cloud.calls.filter((call) => call === 'read user-pool')).toHaveLength(2);
      expect(cloud.calls.filter((call) => call === 'read cluster')).toHaveLength(1);
      expect(result.outcomes['user-pool']).toBe('unchanged');
      expect(StateFile.open(statePath).get('user-pool')).toMatchObject({ complete: true, data: { id: cloud.resources.get('user-pool')!.id } });
    });
  }

  it('down: a delete whose answer is lost is run again (not found counts as deleted), and down completes', async () => {
    await up(environment(), fakeSteps(cloud));
    cloud.failOnce.add('lose delete load-balancer');
    const result = await down(environment(), fakeSteps(cloud));
    expect(result.remaining).toEqual([]);
    expect(cloud.alive.size).toBe(0);
  });

  it('an error that says the call was refused is not retried: it fails the run with its own message', async () => {
    cloud.loseAnswer = new Map([['user-pool', Object.assign(new Error('Invalid pool name'), { name: 'InvalidParameterException', $metadata: { httpStatusCode: 400 } })]]);
    await expect(up(environment(), fakeSteps(cloud))).rejects.toMatchObject({ step: 'user-pool', message: expect.stringContaining('Invalid pool name') });
  });

  it('waitsFor: up starts a step before a dependency it does not wait for (the service before the slow certificate chain); down still follows dependsOn', async () => {
    const steps = fakeSteps(cloud);
    const service = steps.find((step) => step.name === 'service') as unknown as Resource<StepName, Record<string, unknown>>;
    const certificate = steps.find((step) => step.name === 'certificate') as unknown as Resource<StepName, Record<string, unknown>>;
    // As the real service with the HTTP listener: attached early, so it need not wait for the HTTPS side.
    service.waitsFor = (config) => (config.httpRedirect ? service.dependsOn.filter((dependency) => dependency !== 'https-listener') : service.dependsOn);
    // Its desired state reads no https-listener output, as a step left out of waitsFor must not.
    service.desired = (config) => ({ ...settingFor('service', config), upstream: [] });
    // ACM is slow: the certificate is issued only once the service exists (or after 2 s, when the engine waited wrongly).
    let serviceCreated!: () => void;
    const created = new Promise<void>((resolve) => (serviceCreated = resolve));
    const createService = service.create.bind(service);
    service.create = async (context, want) => {
      const output = await createService(context, want);
      serviceCreated();
      return output;
    };
    const createCertificate = certificate.create.bind(certificate);
    certificate.create = async (context, want) => {
      await Promise.race([created, new Promise((resolve) => setTimeout(resolve, 2000))]);
      return createCertificate(context, want);
    };

    const result = await up(environment(), steps);
    const creates = cloud.calls.filter((call) => call.startsWith('create')).map((call) => call.slice(7));
    expect(creates.indexOf('service')).toBeLessThan(creates.indexOf('certificate'));
    expect(creates.indexOf('service')).toBeLessThan(creates.indexOf('https-listener'));
    for (const dependency of ['cluster', 'capacity', 'user-pool']) expect(creates.indexOf(dependency)).toBeLessThan(creates.indexOf('service'));
    expect(result.outcomes.service).toBe('created');

    cloud.calls = [];
    await down(environment(), steps);
    const deletes = cloud.calls.filter((call) => call.startsWith('delete')).map((call) => call.replace('delete ', ''));
    expect(deletes.indexOf('service')).toBeLessThan(deletes.indexOf('https-listener'));

    // Without the HTTP listener the service waits for the whole chain again.
    cloud.calls = [];
    await up(environment({ httpRedirect: false }), steps);
    const again = cloud.calls.filter((call) => call.startsWith('create')).map((call) => call.slice(7));
    expect(again.indexOf('https-listener')).toBeLessThan(again.indexOf('service'));
  });

  it('waitsFor never adds an edge: a name outside dependsOn is ignored, and a disabled dependency is not waited for', () => {
    const steps = fakeSteps(cloud);
    const service = steps.find((step) => step.name === 'service') as unknown as Resource<StepName, Record<string, unknown>>;
    service.waitsFor = () => ['cluster', 'capacity', 'dns-record'];
    expect(upWaitsFor(service as unknown as AnyResource, articleConfig(), new Set(['cluster', 'capacity', 'dns-record']))).toEqual(['cluster', 'capacity']);
    expect(upWaitsFor(service as unknown as AnyResource, articleConfig(), new Set(['cluster']))).toEqual(['cluster']);
  });

  it('read gets a context that refuses to write the state file', async () => {
    const steps = fakeSteps(cloud);
    const network = steps[0] as unknown as Resource<StepName, Record<string, unknown>>;
    network.read = async (context) => {
      context.save({ data: {} as never });
      return undefined;
    };
    await expect(plan(environment(), steps)).rejects.toMatchObject({ code: 'STATE_WRITE_IN_READ' });
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

describe('the real step graph (src/steps/index.ts)', () => {
  /** Every step `up` waits for, directly or not, before it starts `name`. */
  async function upstreamOf(name: StepName, config: Config): Promise<Set<string>> {
    const { STEPS } = await import('../../src/steps/index.js');
    const enabled = new Set<string>(STEPS.filter((step) => step.enabled?.(config) ?? true).map((step) => step.name));
    const seen = new Set<string>();
    const visit = (current: string) => {
      const step = STEPS.find((candidate) => candidate.name === current)!;
      for (const dependency of upWaitsFor(step, config, enabled)) {
        if (!seen.has(dependency)) {
          seen.add(dependency);
          visit(dependency);
        }
      }
    };
    visit(name);
    return seen;
  }

  it('with the HTTP listener, the service waits for the parking rule, not for the certificate chain (validation, HTTPS listener, host rule)', async () => {
    const upstream = await upstreamOf('service', articleConfig());
    expect(upstream).toContain('parking-rule');
    expect(upstream).toContain('http-redirect-listener');
    expect(upstream).toContain('target-group');
    for (const step of ['certificate', 'https-listener', 'host-rule', 'hosted-zone', 'dns-record']) expect(upstream, step).not.toContain(step);
  });

  it('with --no-http-redirect there is no parking rule: the service waits for the host rule, as before', async () => {
    const upstream = await upstreamOf('service', articleConfig({ httpRedirect: false }));
    expect(upstream).toContain('host-rule');
    expect(upstream).toContain('certificate');
    expect(upstream).not.toContain('parking-rule');
  });
});
