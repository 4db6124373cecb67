import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../src/aws/clients.js';
import { up } from '../../src/engine/actions.js';
import type { EngineEnvironment } from '../../src/engine/context.js';
import { criticalPath, summarise, Timeline, timingLines, type Span } from '../../src/engine/timing.js';
import { Reporter } from '../../src/report/reporter.js';
import { StateFile } from '../../src/state/state-file.js';
import type { StepName } from '../../src/steps/outputs.js';
import type { AnyResource, Resource } from '../../src/steps/resource.js';
import { articleConfig } from '../support/step-harness.js';
import { VirtualClock } from '../support/virtual-clock.js';

const span = (step: string, startedS: number, endedS: number, after: string[] = [], waitingS = 0, idle = false): Span => ({
  step,
  startedMs: startedS * 1000,
  endedMs: endedS * 1000,
  waitingMs: waitingS * 1000,
  after,
  ...(idle ? { idle } : {}),
});

describe('criticalPath', () => {
  it('walks back from the last to finish through the dependency that finished last before each step started', () => {
    const spans = [
      span('network', 0, 10),
      span('hosted-zone', 0, 1),
      span('load-balancer', 10, 130, ['network']),
      span('certificate', 1, 161, ['hosted-zone']),
      span('https-listener', 161, 164, ['load-balancer', 'certificate']),
      span('target-group', 10, 12, ['network']),
      span('host-rule', 164, 166, ['https-listener', 'target-group']),
      span('cluster', 0, 2),
      span('service', 166, 233, ['host-rule', 'cluster']),
    ];
    expect(criticalPath(spans).map((each) => each.step)).toEqual(['hosted-zone', 'certificate', 'https-listener', 'host-rule', 'service']);
  });

  it('starts from the step that finished last, not the one the graph lists last', () => {
    const spans = [span('a', 0, 50), span('b', 0, 10), span('c', 10, 20, ['b'])];
    expect(criticalPath(spans).map((each) => each.step)).toEqual(['a']);
  });

  it('a step that did nothing links the path but is not shown; the waiting is the path\'s own', () => {
    const spans = [
      span('service', 0, 300, [], 290),
      span('host-rule', 300, 300, ['service'], 0, true),
      span('load-balancer', 0, 30, [], 28),
      span('target-group', 300, 302, ['host-rule', 'load-balancer'], 1),
    ];
    const timing = summarise(spans, 305_000);
    expect(timing.criticalPath).toEqual([
      { step: 'service', startedMs: 0, durationMs: 300_000, waitingMs: 290_000 },
      { step: 'target-group', startedMs: 300_000, durationMs: 2000, waitingMs: 1000 },
    ]);
    expect(timing).toMatchObject({ makespanMs: 305_000, waitingMs: 291_000 });
  });

  it('starts at the last step that did something, even when an idle one ended after it', () => {
    const spans = [span('log-group', 0, 5), span('network', 6, 6, [], 0, true), span('cluster', 0, 1)];
    expect(summarise(spans, 6000).criticalPath.map((each) => each.step)).toEqual(['log-group']);
  });

  it('no spans: an empty path and no lines', () => {
    expect(criticalPath([])).toEqual([]);
    expect(timingLines(summarise([], 12))).toEqual([]);
  });
});

describe('timingLines', () => {
  it('names each step on the path with its duration, and the share of the run spent waiting on AWS', () => {
    const lines = timingLines({
      criticalPath: [
        { step: 'certificate', startedMs: 0, durationMs: 160_000, waitingMs: 150_000 },
        { step: 'https-listener', startedMs: 160_000, durationMs: 3000, waitingMs: 0 },
        { step: 'host-rule', startedMs: 163_000, durationMs: 2000, waitingMs: 0 },
        { step: 'service', startedMs: 165_000, durationMs: 67_000, waitingMs: 61_000 },
      ],
      makespanMs: 241_000,
      waitingMs: 211_000,
    });
    expect(lines).toEqual(['Critical path (3m52s of 4m01s): certificate 2m40s → https-listener 3.0s → host-rule 2.0s → service 1m07s', 'Waiting on AWS: 3m31s (88%)']);
  });
});

describe('Timeline', () => {
  it('counts overlapping waits of one step once, and each step apart', async () => {
    const clock = new VirtualClock();
    const timeline = new Timeline(clock.now);
    const end = timeline.start('service', []);
    // Two polls at once (e.g. tasks and target health), one nested in an outer wait.
    await timeline.waiting('service', () => Promise.all([clock.sleep(10), timeline.waiting('service', () => clock.sleep(4))]));
    await clock.sleep(5); // work, not waiting
    await timeline.waiting('load-balancer', () => clock.sleep(7));
    end();
    expect(timeline.waitedMs('service')).toBe(10_000);
    expect(timeline.waitedMs('load-balancer')).toBe(7000);
    expect(timeline.recorded).toEqual([{ step: 'service', startedMs: 0, endedMs: 22_000, waitingMs: 10_000, after: [] }]);
  });
});

describe('up reports its critical path (fake steps, simulated clock)', () => {
  let folder: string;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'authecs-timing-'));
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  // name, dependsOn, seconds of work, seconds of it waiting on AWS (sleep)
  const GRAPH: [StepName, StepName[], number, number][] = [
    ['network', [], 10, 8],
    ['hosted-zone', [], 1, 0],
    ['load-balancer', ['network'], 120, 115],
    ['certificate', ['hosted-zone'], 160, 150],
    ['https-listener', ['load-balancer', 'certificate'], 3, 0],
    ['target-group', ['network'], 2, 0],
    ['host-rule', ['https-listener', 'target-group'], 2, 0],
    ['cluster', [], 2, 0],
    ['service', ['cluster', 'host-rule', 'target-group'], 67, 60],
  ];

  function steps(clock: VirtualClock): AnyResource[] {
    const made = new Set<string>();
    return GRAPH.map(([name, dependsOn, seconds, waiting]) => {
      const resource: Resource<StepName, Record<string, unknown>> = {
        name,
        title: `Fake ${name}`,
        articleSection: 'test',
        dependsOn,
        desired: () => ({}),
        effects: {},
        async read() {
          return made.has(name) ? { output: { id: name } as never, observed: {}, created: true, health: { healthy: true, summary: 'ok' } } : undefined;
        },
        async create(context) {
          await clock.sleep(seconds - waiting);
          await context.sleep(waiting);
          made.add(name);
          context.save({ created: true, data: { id: name } as never });
          return { id: name } as never;
        },
        async delete() {},
      };
      return resource as unknown as AnyResource;
    });
  }

  it('the chain that set the makespan, each step with its duration, and the time the chain spent waiting on AWS', async () => {
    const clock = new VirtualClock();
    const config = articleConfig();
    const state = StateFile.open(join(folder, 'state.json'));
    state.initialise(config.cluster, config.region, {});
    const reporter = new Reporter({ json: true, verbosity: 'quiet', stdout: new PassThrough(), stderr: new PassThrough() });
    const environment: EngineEnvironment = { config, clients: {} as AwsClients, state, reporter, stack: config.cluster, pollScale: 1, sleep: clock.sleep, now: clock.now };

    const result = await up(environment, steps(clock));

    expect(result.timing.criticalPath).toEqual([
      { step: 'plan', startedMs: 0, durationMs: 0, waitingMs: 0 },
      { step: 'hosted-zone', startedMs: 0, durationMs: 1000, waitingMs: 0 },
      { step: 'certificate', startedMs: 1000, durationMs: 160_000, waitingMs: 150_000 },
      { step: 'https-listener', startedMs: 161_000, durationMs: 3000, waitingMs: 0 },
      { step: 'host-rule', startedMs: 164_000, durationMs: 2000, waitingMs: 0 },
      { step: 'service', startedMs: 166_000, durationMs: 67_000, waitingMs: 60_000 },
    ]);
    expect(result.timing.makespanMs).toBe(233_000);
    // The load balancer's 115 s of waiting overlapped the certificate's: not on the path, not counted.
    expect(result.timing.waitingMs).toBe(210_000);
    expect(timingLines(result.timing)).toEqual([
      'Critical path (3m53s of 3m53s): plan 0.0s → hosted-zone 1.0s → certificate 2m40s → https-listener 3.0s → host-rule 2.0s → service 1m07s',
      'Waiting on AWS: 3m30s (90%)',
    ]);
  });
});
