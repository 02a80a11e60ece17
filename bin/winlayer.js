#!/usr/bin/env node
// The installed entry point: runs the compiled CLI (`npm run build` makes dist/).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env })
  .then((code) => {
    process.exitCode = code;
  })
  .catch((e) => {
    process.stderr.write(`winlayer: ${String(e)}\n`);
    process.exitCode = 1;
  });
