#!/usr/bin/env node
// The CLI lives in dist/cli.cjs (one bundle: `npm run build:ts`). This file
// and the bundle are CommonJS (bin/package.json): a cold start without
// Node's ESM loader is measurably faster (docs/architecture.md).
"use strict";
try {
  require("../dist/cli.cjs");
} catch (err) {
  if (err && err.code === "MODULE_NOT_FOUND" && String(err.message).includes("cli.cjs")) {
    process.stderr.write("tsbox: CLI not built: run npm run build:ts\n");
    process.exit(125);
  }
  throw err;
}
