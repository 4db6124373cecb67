import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../src/aws/clients.js';
import { down } from '../../src/engine/actions.js';
import type { EngineEnvironment } from '../../src/engine/context.js';
import { runGraph, teardownOrder } from '../../src/engine/graph.js';
import { Reporter } from '../../src/report/reporter.js';
import { StateFile } from '../../src/state/state-file.js';
import type { StepName } from '../../src/steps/outputs.js';
import type { AnyResource, Resource } from '../../src/steps/resource.js';
import { articleConfig } from '../support/step-harness.js';
import { VirtualClock } from '../support/virtual-clock.js';

/**
 * `down` along the shortest path: the ALB is deleted at once, in parallel with the service's drain,
 * and takes its listeners and rules with it (deletedWith). Fake steps over a fake cloud that behaves
 * as AWS does where it matters (the cascade, ENIs that hold the ALB's group, in-use errors), on a
 * simulated clock with the model's timings (scripts/lib/aws-model.mjs: serviceDraining 300 s,
 * albEniLinger 120 s).
 */

const DRAIN_S = 300;
const ENI_LINGER_S = 120;
const ALB_DELETE_S = 30;
const POLL_S = 15;

// The part of the real graph that teardown order is about (src/steps/*.ts dependsOn).
const GRAPH: [StepName, StepName[], StepName?][] = [
  ['network', []],
  ['load-balancer-security-group', ['network']],
  ['load-balancer', ['network', 'load-balancer-security-group']],
  ['hosted-zone', []],
  ['dns-record', ['hosted-zone', 'load-balancer']],
  ['certificate', ['hosted-zone']],
  ['https-listener', ['load-balancer', 'certificate'], 'load-balancer'],
  ['http-redirect-listener', ['load-balancer'], 'load-balancer'],
  ['user-pool', []],
  ['target-group', ['network']],
  ['host-rule', ['https-listener', 'user-pool', 'target-group'], 'load-balancer'],
  ['cluster', []],
  ['service', ['cluster', 'host-rule', 'target-group', 'network']],
];
const CARRIED: StepName[] = ['https-listener', 'http-redirect-listener', 'host-rule'];

interface Cloud {
  live: Set<StepName>;
  /** Mutating calls in order, with the simulated time. */
  calls: { at: number; call: string }[];
  eniUntil: number;
  /** When each delete() began and returned, and when each record left the state file. */
  began: Map<StepName, number>;
  returned: Map<StepName, number>;
  recordGone: Map<StepName, number>;
  /** Makes the next load balancer delete die right after DeleteLoadBalancer, as a killed run. */
  killAfterDeleteLoadBalancer?: boolean;
}

function inUse(what: string): Error {
  return Object.assign(new Error(`${what} is in use`), { name: 'ResourceInUseException' });
}

function fakeSteps(cloud: Cloud, clock: VirtualClock): AnyResource[] {
  const call = (text: string) => cloud.calls.push({ at: clock.nowMs, call: text });
  return GRAPH.map(([name, dependsOn, deletedWith]) => {
    const resource: Resource<StepName, Record<string, unknown>> = {
      name,
      title: `Fake ${name}`,
      articleSection: 'test',
      dependsOn,
      ...(deletedWith ? { deletedWith } : {}),
      desired: () => ({}),
      effects: {},
      async read() {
        call(`read ${name}`);
        return cloud.live.has(name) ? { output: { id: name } as never, observed: {}, created: true, health: { healthy: true, summary: 'ok' } } : undefined;
      },
      async create() {
        throw new Error('not used');
      },
      async delete(context) {
        cloud.began.set(name, clock.nowMs);
        if (!cloud.live.has(name)) {
          cloud.returned.set(name, clock.nowMs);
          return;
        }
        switch (name) {
          case 'load-balancer': {
            call('DeleteLoadBalancer');
            // "Deleting a load balancer also deletes its listeners" (ELBv2 API Reference), and their rules with them.
            for (const gone of ['load-balancer', ...CARRIED] as StepName[]) cloud.live.delete(gone);
            cloud.eniUntil = clock.nowMs + ENI_LINGER_S * 1000;
            if (cloud.killAfterDeleteLoadBalancer) {
              cloud.killAfterDeleteLoadBalancer = false;
              throw new Error('killed');
            }
            await context.sleep(ALB_DELETE_S);
            break;
          }
          case 'service':
            call('DeleteService');
            await context.sleep(DRAIN_S);
            break;
          case 'load-balancer-security-group':
            if (cloud.live.has('load-balancer')) throw inUse('the ALB group');
            // DependencyViolation while the deleted ALB's network interfaces linger.
            while (clock.nowMs < cloud.eniUntil) await context.sleep(POLL_S);
            call('DeleteSecurityGroup');
            break;
          case 'target-group':
            // Used by the rule that forwards to it and the service's tasks.
            if (cloud.live.has('host-rule') || cloud.live.has('service')) throw inUse('the target group');
            call('DeleteTargetGroup');
            break;
          case 'certificate':
            if (cloud.live.has('https-listener')) throw inUse('the certificate');
            call('DeleteCertificate');
            break;
          case 'network':
            if ([...cloud.live].some((other) => other !== 'network' && other !== 'hosted-zone')) throw inUse(`the network (${[...cloud.live].join(', ')})`);
            call('DeleteStack');
            break;
          case 'https-listener':
            if (cloud.live.has('host-rule')) throw inUse('the listener');
            call(`delete ${name}`);
            break;
          default:
            call(`delete ${name}`);
        }
        cloud.live.delete(name);
        cloud.returned.set(name, clock.nowMs);
      },
    };
    return resource as unknown as AnyResource;
  });
}

describe('down along the shortest path', () => {
  let folder: string;
  let clock: VirtualClock;
  let cloud: Cloud;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'authecs-teardown-'));
    clock = new VirtualClock();
    cloud = { live: new Set(), calls: [], eniUntil: 0, began: new Map(), returned: new Map(), recordGone: new Map() };
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  /** A complete stack: every resource live and recorded; `preExisting` ones recorded as found, not made. */
  function stack(preExisting: StepName[] = ['hosted-zone']): void {
    const state = StateFile.open(join(folder, 'state.json'));
    const config = articleConfig();
    state.initialise(config.cluster, config.region, {});
    for (const [name] of GRAPH) {
      cloud.live.add(name);
      state.update(name, { created: !preExisting.includes(name), complete: true, data: { id: name } });
    }
  }

  function environment(): EngineEnvironment {
    const config = articleConfig();
    const state = StateFile.open(join(folder, 'state.json'));
    const remove = state.remove.bind(state);
    state.remove = (step: string) => {
      cloud.recordGone.set(step as StepName, clock.nowMs);
      remove(step);
    };
    const reporter = new Reporter({ json: true, verbosity: 'quiet', stdout: new PassThrough(), stderr: new PassThrough() });
    return { config, clients: {} as AwsClients, state, reporter, stack: config.cluster, pollScale: 1, sleep: clock.sleep, now: clock.now };
  }

  const mutations = () => cloud.calls.filter((entry) => !entry.call.startsWith('read')).map((entry) => entry.call);

  it('starts deleting the ALB at once, while the service drains; the ENIs linger during the drain, not after it', async () => {
    stack();
    const result = await down(environment(), fakeSteps(cloud, clock));

    expect(result.remaining).toEqual([]);
    expect(cloud.live).toEqual(new Set(['hosted-zone']));
    // The DNS record goes before the ALB, and the ALB well before the drain ends.
    expect(cloud.returned.get('dns-record')!).toBeLessThanOrEqual(cloud.began.get('load-balancer')!);
    expect(cloud.began.get('load-balancer')!).toBeLessThan(cloud.returned.get('service')!);
    expect(cloud.began.get('load-balancer')).toBe(0);
    // Drain (300 s) and ALB deletion + ENI release (30 + 120 s) overlap: the run takes the drain, not their sum.
    expect(result.timing.makespanMs).toBe(DRAIN_S * 1000);
    expect(result.timing.criticalPath.map((step) => step.step)).toEqual(['service', 'target-group', 'network']);
    expect(result.timing.waitingMs).toBe(DRAIN_S * 1000);
  });

  it('the old order, for comparison: drain, then the ALB, then its ENIs, one after the other', async () => {
    stack();
    const steps = fakeSteps(cloud, clock).map((step) => ({ ...step, deletedWith: undefined }) as unknown as AnyResource);
    const result = await down(environment(), steps);
    // The ENIs linger from the DeleteLoadBalancer call on, so the ALB's own wait overlaps them.
    expect(result.timing.makespanMs).toBe((DRAIN_S + ENI_LINGER_S) * 1000);
    expect(cloud.began.get('load-balancer')).toBe(DRAIN_S * 1000);
  });

  it('AWS deletes the listeners and the rule with the ALB: no call of their own, and their records go only once the ALB deletion is confirmed', async () => {
    stack();
    const result = await down(environment(), fakeSteps(cloud, clock));

    for (const name of CARRIED) {
      expect(mutations()).not.toContain(`delete ${name}`);
      expect(result.outcomes[name]).toBe('deleted');
      expect(cloud.recordGone.get(name)!, name).toBeGreaterThanOrEqual(cloud.returned.get('load-balancer')!);
      expect(cloud.recordGone.get(name)!, name).toBeGreaterThanOrEqual(cloud.recordGone.get('load-balancer')!);
    }
    // ALB_DELETE_S after it began: the waiter's confirmation, not the call.
    expect(cloud.returned.get('load-balancer')).toBe(ALB_DELETE_S * 1000);
    expect(cloud.calls.map((entry) => entry.call)).toEqual(expect.arrayContaining(['read https-listener', 'read http-redirect-listener', 'read host-rule']));
  });

  it('every guarantee of the old order still holds: the certificate after its listener, the target group after the ALB and the service, the ALB group after the ALB', async () => {
    stack();
    await down(environment(), fakeSteps(cloud, clock));
    const order = mutations();
    expect(order.indexOf('DeleteLoadBalancer')).toBeLessThan(order.indexOf('DeleteCertificate'));
    expect(order.indexOf('DeleteLoadBalancer')).toBeLessThan(order.indexOf('DeleteTargetGroup'));
    expect(order.indexOf('DeleteService')).toBeLessThan(order.indexOf('DeleteTargetGroup'));
    expect(order.indexOf('DeleteLoadBalancer')).toBeLessThan(order.indexOf('DeleteSecurityGroup'));
    expect(order.at(-1)).toBe('DeleteStack');
    // The fake refuses (ResourceInUse) any deletion whose users are still there, so none happened out of order.
  });

  it('a pre-existing ALB is never deleted, and the old order applies: service, rule, listeners one by one', async () => {
    // A load balancer of someone else's uses their group in their network too.
    stack(['hosted-zone', 'load-balancer', 'load-balancer-security-group', 'network']);
    const result = await down(environment(), fakeSteps(cloud, clock));

    expect(mutations()).not.toContain('DeleteLoadBalancer');
    expect(cloud.live.has('load-balancer')).toBe(true);
    expect(result.outcomes['load-balancer']).toBe('kept');
    const order = mutations();
    expect(order.indexOf('DeleteService')).toBeLessThan(order.indexOf('delete host-rule'));
    expect(order.indexOf('delete host-rule')).toBeLessThan(order.indexOf('delete https-listener'));
    expect(order).toContain('delete http-redirect-listener');
    expect(cloud.returned.get('service')!).toBeLessThanOrEqual(cloud.began.get('host-rule')!);
    expect(result.remaining).toEqual([]);
  });

  it('killed right after DeleteLoadBalancer: the next down carries on and finishes, with nothing deleted twice', async () => {
    stack();
    cloud.killAfterDeleteLoadBalancer = true;
    await expect(down(environment(), fakeSteps(cloud, clock))).rejects.toMatchObject({ step: 'load-balancer' });
    const state = StateFile.open(join(folder, 'state.json'));
    // Nothing was confirmed gone, so every record that AWS took with the ALB is still there.
    for (const name of ['load-balancer', ...CARRIED]) expect(state.get(name), name).toBeDefined();

    const again = await down(environment(), fakeSteps(cloud, clock));
    expect(again.remaining).toEqual([]);
    expect(mutations().filter((call) => call === 'DeleteLoadBalancer')).toHaveLength(1);
    for (const name of CARRIED) expect(mutations()).not.toContain(`delete ${name}`);
    expect(cloud.live).toEqual(new Set(['hosted-zone']));
  });

  it('killed after the ALB record went but before the listener and rule records did: the next down checks they are gone and finishes', async () => {
    stack();
    // As the run left it: the ALB deleted and its record removed, the rest untouched.
    for (const gone of ['load-balancer', ...CARRIED] as StepName[]) cloud.live.delete(gone);
    const state = StateFile.open(join(folder, 'state.json'));
    state.remove('load-balancer');

    const result = await down(environment(), fakeSteps(cloud, clock));
    expect(result.remaining).toEqual([]);
    for (const name of CARRIED) expect(result.outcomes[name]).toBe('deleted');
    expect(mutations()).toEqual(expect.arrayContaining(['DeleteService', 'DeleteTargetGroup', 'DeleteCertificate', 'DeleteSecurityGroup', 'DeleteStack']));
    expect(cloud.live).toEqual(new Set(['hosted-zone']));
    // Nothing waits for the drain to check the listeners.
    expect(cloud.recordGone.get('https-listener')!).toBeLessThan(cloud.returned.get('service')!);
  });

  it('a listener that is somehow still there after the ALB went is deleted as usual', async () => {
    stack();
    const steps = fakeSteps(cloud, clock);
    const balancer = steps.find((step) => step.name === 'load-balancer') as unknown as Resource<StepName, Record<string, unknown>>;
    const deleteBalancer = balancer.delete.bind(balancer);
    balancer.delete = async (context) => {
      await deleteBalancer(context);
      cloud.live.add('http-redirect-listener');
    };
    const result = await down(environment(), steps);
    expect(mutations()).toContain('delete http-redirect-listener');
    expect(result.remaining).toEqual([]);
  });
});

describe('teardownOrder on the real steps (src/steps/index.ts)', () => {
  async function realOrder(goes: (name: string) => boolean) {
    const { STEPS } = await import('../../src/steps/index.js');
    return { STEPS, order: teardownOrder(STEPS, goes) };
  }

  /** Everything `down` finishes before it starts `name`, directly or not. */
  function before(order: Map<string, string[]>, name: string): Set<string> {
    const seen = new Set<string>();
    const visit = (current: string) => {
      for (const next of order.get(current) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          visit(next);
        }
      }
    };
    visit(name);
    return seen;
  }

  it('the ALB waits only for the DNS record; the target group for the ALB and the service; the certificate and the ALB group for the ALB; no cycle', async () => {
    const { STEPS, order } = await realOrder(() => true);
    expect(order.waitsFor.get('load-balancer')).toEqual(['dns-record']);
    expect(before(order.waitsFor, 'load-balancer')).toEqual(new Set(['dns-record']));
    for (const name of ['load-balancer', 'service', 'host-rule']) expect(before(order.waitsFor, 'target-group'), name).toContain(name);
    expect(before(order.waitsFor, 'certificate')).toContain('load-balancer');
    expect(before(order.waitsFor, 'load-balancer-security-group')).toContain('load-balancer');
    for (const name of ['service', 'load-balancer', 'target-group', 'load-balancer-security-group', 'capacity']) expect(before(order.waitsFor, 'network'), name).toContain(name);
    const finished = await runGraph(STEPS.map((step) => ({ name: step.name, waitsFor: order.waitsFor.get(step.name) ?? [], run: async () => {} })));
    expect(finished.notStarted).toEqual([]);
  });

  it('every listener and rule on the ALB is carried by it', async () => {
    const { STEPS, order } = await realOrder(() => true);
    const onTheAlb = ['https-listener', 'http-redirect-listener', 'host-rule', 'public-path-rule', 'parking-rule'].filter((name) => STEPS.some((step) => step.name === name));
    for (const name of onTheAlb) expect(order.carriedBy.get(name), name).toBe('load-balancer');
    for (const step of STEPS) if (!order.carriedBy.has(step.name)) expect(step.deletedWith, step.name).toBeUndefined();
  });

  it('when the ALB stays (not created by authecs), nothing is carried and the reverse dependencies apply', async () => {
    const { order } = await realOrder((name) => name !== 'load-balancer');
    expect(order.carriedBy.size).toBe(0);
    expect(order.waitsFor.get('load-balancer')).toEqual(expect.arrayContaining(['dns-record', 'https-listener', 'http-redirect-listener']));
    expect(before(order.waitsFor, 'https-listener')).toContain('service');
  });
});
