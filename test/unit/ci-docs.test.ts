/**
 * docs/ci.md is a workflow people copy: every `npx authecs …` line in it must name a command
 * and flags that exist, and every exit code it explains must be one authecs documents.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { EXIT_CODES } from '../../src/errors.js';

const recipe = readFileSync(new URL('../../docs/ci.md', import.meta.url), 'utf8');

function program(): Command {
  const io = { cwd: process.cwd(), env: {}, stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough() };
  return buildProgram(io as never, async () => {});
}

/** The command a line runs, and the long flags it passes. */
function invocations(): { line: string; words: string[]; flags: string[] }[] {
  return [...recipe.matchAll(/npx authecs ([^\n>|]+)/g)].map((match) => {
    const words = match[1]!.trim().split(/\s+/);
    return { line: match[0], words: words.filter((word) => !word.startsWith('-') && !word.startsWith('"')), flags: words.filter((word) => word.startsWith('--')) };
  });
}

function optionNames(command: Command): Set<string> {
  const names = new Set<string>();
  for (let current: Command | null = command; current; current = current.parent) {
    for (const option of current.options) {
      if (option.long) names.add(option.long);
      if (option.negate && option.long) names.add(option.long);
    }
  }
  return names;
}

describe('docs/ci.md stays in step with the CLI', () => {
  const lines = invocations();

  it('runs up, smoke --sign-in and down --yes with --json, and keeps the state in S3', () => {
    const commands = lines.map((entry) => entry.words[0]);
    expect(commands).toEqual(expect.arrayContaining(['up', 'smoke', 'down']));
    expect(lines.find((entry) => entry.words[0] === 'smoke')?.flags).toEqual(expect.arrayContaining(['--sign-in', '--json']));
    expect(lines.find((entry) => entry.words[0] === 'down')?.flags).toEqual(expect.arrayContaining(['--yes', '--json']));
    expect(recipe).toMatch(/AUTHECS_STATE: s3:\/\//);
    expect(recipe).toContain('id-token: write');
  });

  for (const entry of lines) {
    it(`\`${entry.line}\`: the command and each flag exist`, () => {
      let command: Command = program();
      for (const word of entry.words.slice(0, 2)) {
        const sub = command.commands.find((candidate) => candidate.name() === word);
        if (sub) command = sub;
      }
      expect(command.name(), entry.line).toBe(entry.words.find((word) => command.name() === word) ?? entry.words[0]);
      const known = optionNames(command);
      for (const flag of entry.flags) expect(known, `${flag} in "${entry.line}"`).toContain(flag);
    });
  }

  it('explains only exit codes authecs has', () => {
    const table = recipe.slice(recipe.indexOf('## Exit codes'));
    const codes = [...table.matchAll(/^\| ([\d, ]+) \|/gm)].flatMap((match) => match[1]!.split(',').map((code) => Number(code.trim())));
    expect(codes.length).toBeGreaterThan(5);
    for (const code of codes) expect(Object.values(EXIT_CODES), `exit code ${code}`).toContain(code);
  });
});
