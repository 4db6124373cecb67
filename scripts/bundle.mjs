#!/usr/bin/env node
// `npm run build`, second half: bundles tsc's dist/cli/main.js into dist/bundle/ for bin/authecs.js.
// Node compiles every module it loads; unbundled, `authecs up` spent about a second loading the
// AWS SDK clients whole (client-ec2 alone is 2 MB) before its first call. Bundled with tree
// shaking, only the commands authecs sends are loaded: start-up is on the critical path of every
// run (README "Performance"). Each CLI command's lazy import() stays a chunk of its own.
// The library export (dist/index.js) stays tsc's output.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

await build({
  // The S3 state worker is loaded by path (new URL('./s3-worker.js', import.meta.url)), so it is an entry beside main.js.
  entryPoints: { main: join(root, 'dist', 'cli', 'main.js'), 's3-worker': join(root, 'dist', 'state', 's3-worker.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The SDK's ES module builds: static imports that esbuild can shake (the CommonJS ones are one file per client).
  mainFields: ['module', 'main'],
  // synckit starts its worker from its own files; it is loaded with createRequire at run time.
  external: ['synckit'],
  sourcemap: true,
  // Bundled CommonJS dependencies call require() for Node's built-in modules.
  banner: { js: "import { createRequire as __authecsCreateRequire } from 'node:module'; const require = __authecsCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
