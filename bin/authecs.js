#!/usr/bin/env node
// Thin entry: run the compiled CLI and exit with the code it returns.

// The AWS SDK warns on every run that its 2027 releases will need Node 22; authecs pins
// SDK versions that support Node 20 (README, "Requirements"), so the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// dist/bundle is dist/cli/main.js bundled (scripts/bundle.mjs): it starts in half the time.
const { main } = await import('../dist/bundle/main.js');
const code = await main(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
process.exitCode = code;
