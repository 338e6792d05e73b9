/**
 * The rootless network's settings from the environment (src/network/rootless.ts):
 * which helper, and how long the namespace stays once idle. No containers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_IDLE_SECONDS, rootlessNetwork } from "../src/network/rootless.js";
import { UsageError } from "../src/errors.js";
import { onPath } from "../src/on-path.js";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { networkLines, networkReport } from "../src/network/host-report.js";
import { processStartTime } from "../src/containers/state.js";

const env = (vars: Record<string, string>) => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", ...vars });

test("the namespace stays a minute by default, TSBOX_ROOTLESS_NETWORK_IDLE seconds when set (0: not at all)", () => {
  assert.equal(rootlessNetwork(env({})).idleSeconds, DEFAULT_IDLE_SECONDS);
  assert.equal(DEFAULT_IDLE_SECONDS, 60);
  assert.equal(rootlessNetwork(env({ TSBOX_ROOTLESS_NETWORK_IDLE: "" })).idleSeconds, 60);
  assert.equal(rootlessNetwork(env({ TSBOX_ROOTLESS_NETWORK_IDLE: "0" })).idleSeconds, 0);
  assert.equal(rootlessNetwork(env({ TSBOX_ROOTLESS_NETWORK_IDLE: "300" })).idleSeconds, 300);
  for (const bad of ["-1", "1.5", "1m", "ten", "9999999999"]) {
    assert.throws(() => rootlessNetwork(env({ TSBOX_ROOTLESS_NETWORK_IDLE: bad })), (e: unknown) => e instanceof UsageError && e.message === `TSBOX_ROOTLESS_NETWORK_IDLE=${bad}: expected a whole number of seconds (0: stop with the last container)`);
  }
});

test("TSBOX_ROOTLESS_NETWORK names the helper, or says why there is none", () => {
  const bad = rootlessNetwork(env({ TSBOX_ROOTLESS_NETWORK: "vpnkit" }));
  assert.deepEqual([bad.helper, bad.reason], [null, "TSBOX_ROOTLESS_NETWORK=vpnkit is neither pasta nor slirp4netns"]);
  const asked = rootlessNetwork(env({ TSBOX_ROOTLESS_NETWORK: "slirp4netns" }));
  assert.ok(asked.helper === "slirp4netns" ? asked.reason === "TSBOX_ROOTLESS_NETWORK=slirp4netns" : /^slirp4netns is not installed|^\/dev\/net\/tun/.test(asked.reason), asked.reason);
  // Set but empty: as if unset (it refused every rootless bridge run).
  assert.deepEqual(rootlessNetwork(env({ TSBOX_ROOTLESS_NETWORK: "" })), rootlessNetwork(env({})));
});

test("unasked, slirp4netns is the helper where it is installed, else pasta", () => {
  // The distributions' pasta hangs a client that half-closes first (src/network/rootless.ts; network.test.ts sees it end).
  const installed = (["slirp4netns", "pasta"] as const).filter((h) => onPath(h, env({})));
  const chosen = rootlessNetwork(env({}));
  if (installed.length === 0) return assert.match(chosen.reason, /^slirp4netns or pasta is not installed/);
  assert.ok(chosen.helper === installed[0] || /^\/dev\/net\/tun/.test(chosen.reason), chosen.reason);
  if (chosen.helper) assert.equal(chosen.reason, `${installed[0]} is installed`);
});

test("tsbox info names the helper the running namespace uses when it is not today's choice (one started before an upgrade)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rootless-netns-"));
  // A real live process stands for the holder: holder.json is read against /proc (pid and start time).
  const holder = spawn("sleep", ["600"], { stdio: "ignore" });
  try {
    assert.equal(networkReport(true, env({}), dir).rootlessRunning, null, "no holder.json: nothing running");
    writeFileSync(join(dir, "holder.json"), JSON.stringify({ pid: holder.pid, start: Number(processStartTime(holder.pid!)), helper: "pasta" }));
    const report = networkReport(true, env({ TSBOX_ROOTLESS_NETWORK: "slirp4netns" }), dir);
    assert.equal(report.rootlessRunning, "pasta");
    const line = networkLines({ ...report, rootlessHelper: "slirp4netns", rootlessReason: "TSBOX_ROOTLESS_NETWORK=slirp4netns" }, true).line;
    assert.match(line, /rootless through slirp4netns \(TSBOX_ROOTLESS_NETWORK=slirp4netns, kept 60 s after the last container\); the running namespace still uses pasta \(started so earlier\), until its last container stops$/);
    assert.doesNotMatch(networkLines({ ...report, rootlessHelper: "pasta", rootlessReason: "pasta is installed" }, true).line, /still uses/);
  } finally {
    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.on("close", resolve));
  }
  assert.equal(networkReport(true, env({}), dir).rootlessRunning, null, "a holder that is gone runs nothing");
  rmSync(dir, { recursive: true, force: true });
});
