/**
 * The last release before state schema 2 (issue 7), built from this repository's own history,
 * so the migration test runs the real old `up` and the new `status`, `plan`, `up` and `down`
 * against the state file it wrote.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './cli.js';

/** The commit of the first landing (schema 1): c15f4e3. */
export const SCHEMA_1_RELEASE = 'c15f4e3';

/** Builds the release once (cached under node_modules/.cache) and returns its bin/authecs.js, or why it cannot. */
export function buildPreviousRelease(commit = SCHEMA_1_RELEASE): { bin: string } | { unavailable: string } {
  const folder = join(PROJECT_ROOT, 'node_modules', '.cache', `authecs-${commit}`);
  const bin = join(folder, 'bin', 'authecs.js');
  if (existsSync(join(folder, 'dist', 'cli', 'main.js'))) return { bin };
  try {
    execFileSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: PROJECT_ROOT, stdio: 'ignore' });
  } catch {
    return { unavailable: `commit ${commit} is not in this clone's history (a shallow clone?)` };
  }
  mkdirSync(folder, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${commit} bin src templates package.json tsconfig.json tsconfig.build.json | tar -x -C "${folder}"`], { cwd: PROJECT_ROOT });
  if (!existsSync(join(folder, 'node_modules'))) symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(folder, 'node_modules'), 'dir');
  execFileSync(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: folder, stdio: 'inherit' });
  return { bin };
}
