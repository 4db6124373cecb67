/**
 * Generated from the config schema: for every setting, a completed `up` is recorded, the setting
 * is changed, and the plan must show exactly the resources, fields and effects (update in place
 * or replace) that test/support/setting-cases.ts lists. A setting without an entry fails here.
 * The live side is what the last apply wanted (each step's own desired() with the old settings),
 * so the plan below is the real engine over the real steps' desired, effects and diff.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AwsClients } from '../../src/aws/clients.js';
import { isSticky, SETTINGS, type Config } from '../../src/config/schema.js';
import { plan } from '../../src/engine/actions.js';
import { Reporter } from '../../src/report/reporter.js';
import { defaultStatePath, StateFile } from '../../src/state/state-file.js';
import { STEPS } from '../../src/steps/index.js';
import type { StepName } from '../../src/steps/outputs.js';
import type { AnyResource, Inputs, Resource } from '../../src/steps/resource.js';
import { SETTING_CASES } from '../support/setting-cases.js';
import { articleConfig, SAMPLE_OUTPUTS } from '../support/step-harness.js';

type LooseResource = Resource<StepName, Record<string, unknown>>;

const enabled = (step: AnyResource, config: Config) => step.enabled?.(config) ?? true;

/** Each step reads back exactly what the last apply (with `base`) wanted, over the sample outputs. */
function appliedWith(base: Config): AnyResource[] {
  return STEPS.map((step) => {
    const inputs: Record<string, unknown> = {};
    for (const dependency of step.dependsOn) {
      if (enabled(STEPS.find((candidate) => candidate.name === dependency)!, base)) inputs[dependency] = SAMPLE_OUTPUTS[dependency];
    }
    const resource = step as unknown as LooseResource;
    const observed = resource.desired(base, inputs as Inputs);
    const mirrored: LooseResource = {
      ...resource,
      preflight: undefined,
      read: async () => (enabled(step, base) ? { output: SAMPLE_OUTPUTS[step.name], observed, created: true, settled: true, health: { healthy: true, summary: 'ok' } } : undefined),
    };
    return mirrored as unknown as AnyResource;
  });
}

async function planSignature(base: Config, changed: Config): Promise<string[]> {
  const folder = mkdtempSync(join(tmpdir(), 'authecs-settings-'));
  try {
    const state = StateFile.open(join(folder, 'state.json'));
    state.initialise(base.cluster, base.region, {});
    for (const step of STEPS) if (enabled(step, base)) state.update(step.name, { created: true, complete: true, data: SAMPLE_OUTPUTS[step.name] as object });
    const reporter = new Reporter({ json: true, verbosity: 'quiet', stdout: new PassThrough(), stderr: new PassThrough() });
    const planned = await plan({ config: changed, clients: {} as AwsClients, state, reporter, stack: changed.cluster, pollScale: 1 }, appliedWith(base), { withLoss: false });
    return planned
      .filter((entry) => entry.action !== 'none' && entry.action !== 'skip')
      .map((entry) => `${entry.step}:${entry.action}[${entry.changes.map((change) => `${change.field}/${change.effect}`).join(',')}]`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe('every setting converges (generated from the config schema)', () => {
  it('every setting in the schema has a reconcile case, and no case names a setting that is gone', () => {
    const keys = SETTINGS.map((setting) => setting.key);
    expect(keys.filter((key) => !(key in SETTING_CASES))).toEqual([]);
    expect(Object.keys(SETTING_CASES).filter((key) => !keys.includes(key as never))).toEqual([]);
  });

  for (const setting of SETTINGS) {
    const entry = SETTING_CASES[setting.key];
    if (!entry) continue;
    if (entry.kind === 'identity') {
      it(`${setting.key}: the stack's identity (${entry.why})`, () => {
        expect(isSticky(setting)).toBe(true);
        if (setting.key === 'cluster') expect(defaultStatePath('/w', 'other')).not.toBe(defaultStatePath('/w', 'ecsauth'));
      });
      continue;
    }
    if (entry.kind !== 'stack') {
      it(`${setting.key}: ${entry.kind} setting, never part of the desired state nor recorded`, () => {
        expect(setting.scope).toBe(entry.kind);
        expect(isSticky(setting)).toBe(false);
      });
      continue;
    }
    const stackCase = entry;
    it(`${setting.key} → ${JSON.stringify(stackCase.value)}: ${stackCase.plan.join(' ') || 'no resource change'}`, async () => {
      expect(isSticky(setting)).toBe(true);
      const base = articleConfig(stackCase.base ?? {});
      const changed = articleConfig({ ...(stackCase.base ?? {}), [setting.key]: stackCase.value } as Partial<Config>);
      expect(changed[setting.key]).not.toEqual(base[setting.key]);
      expect(await planSignature(base, changed)).toEqual(stackCase.plan);
      // Nothing is refused: every stack setting has a plan that `up` can carry out.
      expect(stackCase.plan.length).toBeGreaterThan(0);
    });
  }

  it('the same settings plan no change (the table is not trivially satisfied)', async () => {
    expect(await planSignature(articleConfig(), articleConfig())).toEqual([]);
  });
});
