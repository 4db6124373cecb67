#!/usr/bin/env node
// Thin entry: run the compiled CLI and exit with the code it returns.
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
process.exitCode = code;
