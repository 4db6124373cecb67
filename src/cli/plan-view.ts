import type { SettingChange } from '../config/load.js';
import { formatChange, formatValue, type ResourcePlan } from '../engine/actions.js';
import { canonical, isUnknown } from '../steps/resource.js';

// How a plan and the settings that changed look to people and to CI (`--json`).

const SYMBOL: Record<ResourcePlan['action'], string> = { none: '=', create: '+', update: '~', replace: '±', wait: '…', delete: '-', skip: ' ' };

/** JSON-safe: UNKNOWN becomes "(known after apply)", as people see it. */
function jsonValue(value: unknown): unknown {
  if (isUnknown(value)) return '(known after apply)';
  return value === undefined ? null : (JSON.parse(canonical(value)) as unknown);
}

export function planDocument(plan: ResourcePlan[]): Record<string, unknown>[] {
  return plan
    .filter((entry) => entry.action !== 'skip')
    .map((entry) => ({
      resource: entry.step,
      title: entry.title,
      action: entry.action,
      changes: entry.changes.map((change) => ({ field: change.field, from: jsonValue(change.from), to: jsonValue(change.to), effect: change.effect, ...(change.cause ? { cause: change.cause } : {}) })),
      ...(entry.reason ? { reason: entry.reason } : {}),
      ...(entry.loss ? { loss: entry.loss } : {}),
    }));
}

export function settingChangesDocument(changes: SettingChange[]): Record<string, unknown>[] {
  return changes.map((change) => ({ setting: change.setting, flag: change.flag, from: jsonValue(change.from), to: jsonValue(change.to), source: change.source }));
}

export function pendingCount(plan: ResourcePlan[]): number {
  return plan.filter((entry) => entry.action !== 'none' && entry.action !== 'skip').length;
}

export function settingChangeLines(changes: SettingChange[]): string[] {
  if (changes.length === 0) return [];
  return ['Settings changed since the last run:', ...changes.map((change) => `  ${change.flag}: ${formatValue(change.from)} → ${formatValue(change.to)}`), ''];
}

export function planLines(plan: ResourcePlan[]): string[] {
  const lines: string[] = [];
  const width = Math.max(...plan.map((entry) => entry.title.length));
  for (const entry of plan) {
    if (entry.action === 'skip') continue;
    const label = entry.action === 'none' ? 'no change' : entry.action === 'wait' ? 'wait until ready' : entry.action;
    lines.push(`${SYMBOL[entry.action]} ${entry.title.padEnd(width)}  ${label}${entry.reason && entry.action !== 'none' ? ` (${entry.reason})` : ''}`);
    for (const change of entry.changes) lines.push(`      ${formatChange(change)}${change.effect === 'replace' ? '  [forces replacement]' : ''}${change.cause === 'drift' ? '  [changed outside authecs]' : ''}`);
    if (entry.loss) lines.push(`      ! destroys: ${entry.loss}`);
  }
  const count = (action: ResourcePlan['action']) => plan.filter((entry) => entry.action === action).length;
  lines.push('', `Plan: ${count('create')} to create, ${count('update')} to update, ${count('replace')} to replace, ${count('delete')} to delete, ${count('wait')} to wait for.`);
  return lines;
}
