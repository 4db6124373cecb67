import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSticky, SETTINGS } from '../../src/config/schema.js';
import { EXIT_CODES } from '../../src/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const envExample = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('documentation stays in step with the code', () => {
  it('the README documents every flag and environment variable', () => {
    for (const setting of SETTINGS) {
      if (setting.flag) expect(readme, setting.flag).toContain(setting.flag.split(' ')[0]);
      for (const name of setting.env) expect(readme, name).toContain(name);
    }
  });

  it('the README says what changing each setting does to a live stack', () => {
    const section = readme.slice(readme.indexOf('## Changing a live stack'), readme.indexOf('## How the steps map to the article'));
    expect(section.length).toBeGreaterThan(0);
    for (const setting of SETTINGS) expect(section, setting.key).toContain(`\`${setting.flag!.split(' ')[0]}`);
    expect(SETTINGS.filter(isSticky).length).toBeGreaterThan(30);
  });

  it('.env.example lists every environment variable with a comment', () => {
    for (const setting of SETTINGS) {
      for (const name of setting.env) expect(envExample, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
    }
  });

  it('the README documents every exit code', () => {
    for (const [name, code] of Object.entries(EXIT_CODES)) expect(readme).toContain(`| ${code} | \`${name}\` |`);
  });

  it('the README gives every dependency one line saying why it is there', () => {
    for (const name of [...Object.keys(packageJson.dependencies), ...Object.keys(packageJson.devDependencies)]) {
      expect(readme, name).toMatch(new RegExp(`^\\| \`${name.replace(/[/.]/g, '\\$&')}\`( \\(dev\\))? \\| .+ \\|$`, 'm'));
    }
  });
});
