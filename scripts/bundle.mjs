#!/usr/bin/env node
// `npm run build`, second half: bundles tsc's dist/cli/main.js into dist/bundle/ for bin/authecs.js.
// Node compiles every module it loads; unbundled, `authecs up` spent about a second loading the
// AWS SDK clients whole (client-ec2 alone is 2 MB) before its first call. Bundled with tree
// shaking, only the commands authecs sends are loaded: start-up is on the critical path of every
// run (README "Performance"). Each CLI command's lazy import() stays a chunk of its own.
// The library export (dist/index.js) stays tsc's output.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Each SDK client's schemas file declares every shape of the service (EC2's is 1.3 MB) with computed
// keys such as `{ [_xN]: _PEA }`, where `_xN` is a string constant of the same file. esbuild cannot
// prove a computed key free of side effects, so it kept every shape: a megabyte parsed on each run.
// Spelled as the literal they hold ("xmlName"), the unused shapes are shaken out; nothing else changes.
const schemaLiteralKeys = {
  name: 'schema-literal-keys',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]@aws-sdk[\\/][^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const strings = new Map([...source.matchAll(/^const (_\w+) = ("[^"\\\n]*");$/gm)].map((match) => [match[1], match[2]]));
      // Only a key: an identifier in brackets right after `{` or `,` and right before `:`.
      return { contents: source.replace(/(?<=[{,]\s*)\[(_\w+)\](?=:)/g, (key, name) => strings.get(name) ?? key), loader: 'js' };
    });
  },
};

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
  plugins: [schemaLiteralKeys],
  logLevel: 'warning',
});
