#!/usr/bin/env node
// The CLI lives in dist/cli.mjs (one bundled module: `npm run build:ts`).
try {
  await import("../dist/cli.mjs");
} catch (err) {
  if (err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("cli.mjs")) {
    process.stderr.write("tsbox: CLI not built: run npm run build:ts\n");
    process.exit(125);
  }
  throw err;
}
