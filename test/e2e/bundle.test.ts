/**
 * Start-up is on the critical path of every run (README "Performance"): Node compiles every line
 * it loads. These check what `npm run build` put in dist/bundle, so code authecs never runs does not
 * creep back: no SDK package imported whole, and zod only in English.
 * No timing here; `npm run bench` prints the start-up figures.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/cli.js';

const BUNDLE = join(PROJECT_ROOT, 'dist', 'bundle');

function bundledSource(): string {
  if (!existsSync(join(BUNDLE, 'main.js'))) throw new Error('dist/bundle is missing: run `npm run build` first (npm test does it).');
  return readdirSync(BUNDLE)
    .filter((name) => name.endsWith('.js'))
    .map((name) => readFileSync(join(BUNDLE, name), 'utf8'))
    .join('\n');
}

describe('the bundled CLI (dist/bundle)', () => {
  const source = bundledSource();

  it('has no aggregated client (IAM, CloudWatchLogs): a package imported whole would carry every command of its service', () => {
    expect(source).not.toMatch(/var IAM = class extends IAMClient/);
    expect(source).not.toMatch(/var CloudWatchLogs = class extends CloudWatchLogsClient/);
    expect(source).not.toMatch(/var EC2 = class extends EC2Client/);
  });

  it("carries zod's English messages only, not its 60 other locales", () => {
    expect(source).toContain('// node_modules/zod/v4/locales/en.js');
    expect(source).not.toContain('// node_modules/zod/v4/locales/de.js');
    expect(source).not.toContain('// node_modules/zod/v4/locales/he.js');
  });
});
