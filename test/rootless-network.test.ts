/**
 * The rootless network's settings from the environment (src/network/rootless.ts):
 * which helper, and how long the namespace stays once idle. No containers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_IDLE_SECONDS, rootlessNetwork } from "../src/network/rootless.js";
import { UsageError } from "../src/errors.js";
import { onPath } from "../src/on-path.js";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { networkLines, networkReport } from "../src/network/host-report.js";
import { hostAddress, hostLoopbackAllowed, userModeHostGateway } from "../src/network/host-loopback.js";
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
    const line = networkLines({ ...report, rootlessHelper: "slirp4netns", rootlessReason: "TSBOX_ROOTLESS_NETWORK=slirp4netns" }, true, env({})).line;
    assert.match(line, /rootless through slirp4netns \(TSBOX_ROOTLESS_NETWORK=slirp4netns, kept 60 s after the last container\); the running namespace still uses pasta \(started so earlier\), until its last container stops; /);
    assert.doesNotMatch(networkLines({ ...report, rootlessHelper: "pasta", rootlessReason: "pasta is installed" }, true, env({})).line, /still uses/);
    // A holder older than the loopback setting had it open: info says the running namespace's, not only this environment's.
    assert.equal(report.rootlessRunningLoopback, true);
    assert.match(networkLines(report, true, env({})).line, /; this host's loopback closed to containers \(TSBOX_HOST_LOOPBACK=1 opens it at 10\.0\.2\.2\); the running namespace has it open \(started so\), until its last container stops$/);
    assert.doesNotMatch(networkLines({ ...report, hostLoopback: true }, true, env({ TSBOX_HOST_LOOPBACK: "1" })).line, /running namespace has it/);
    writeFileSync(join(dir, "holder.json"), JSON.stringify({ pid: holder.pid, start: Number(processStartTime(holder.pid!)), helper: "pasta", hostLoopback: false }));
    assert.equal(networkReport(true, env({}), dir).rootlessRunningLoopback, false);
  } finally {
    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.on("close", resolve));
  }
  assert.equal(networkReport(true, env({}), dir).rootlessRunning, null, "a holder that is gone runs nothing");
  assert.equal(networkReport(true, env({}), dir).rootlessRunningLoopback, null);
  rmSync(dir, { recursive: true, force: true });
});

test("this host's loopback is closed to containers of user-mode networks unless TSBOX_HOST_LOOPBACK=1; host-gateway is then this host's own address", () => {
  for (const off of [undefined, "", "0", "false", "no", " NO "]) assert.equal(hostLoopbackAllowed(env(off === undefined ? {} : { TSBOX_HOST_LOOPBACK: off })), false, String(off));
  for (const on of ["1", "true", "yes", "True"]) assert.equal(hostLoopbackAllowed(env({ TSBOX_HOST_LOOPBACK: on })), true, on);
  for (const bad of ["2", "on", "allow"]) {
    assert.throws(() => hostLoopbackAllowed(env({ TSBOX_HOST_LOOPBACK: bad })), (e: unknown) => e instanceof UsageError && e.message.startsWith(`TSBOX_HOST_LOOPBACK=${bad}: expected 1 `));
  }
  assert.deepEqual(userModeHostGateway("10.0.2.2", env({ TSBOX_HOST_LOOPBACK: "1" })), { address: "10.0.2.2" });
  const own = hostAddress();
  assert.deepEqual(userModeHostGateway("10.0.2.2", env({})), own === undefined ? { reason: "this host has no address but its loopback, which containers of user-mode networks reach only with TSBOX_HOST_LOOPBACK=1" } : { address: own });
  if (own !== undefined) {
    assert.doesNotMatch(own, /^127\./);
    // The default route's interface's, where there is one (the kernel's pick for an address out there).
    const route = spawnSync("ip", ["-4", "-o", "route", "get", "1.1.1.1"], { encoding: "utf8" }).stdout ?? "";
    const src = /\bsrc (\S+)/.exec(route)?.[1];
    if (src && !src.startsWith("127.")) assert.equal(own, src);
  }
  const report = networkReport(true, env({}));
  assert.equal(report.hostLoopback, false);
  if (report.rootlessHelper) {
    assert.match(networkLines(report, true, env({})).line, /; this host's loopback closed to containers \(TSBOX_HOST_LOOPBACK=1 opens it at 10\.0\.2\.2\)$/);
    assert.match(networkLines(report, true, env({ TSBOX_HOST_LOOPBACK: "1" })).line, /; this host's loopback open to containers at 10\.0\.2\.2 \(TSBOX_HOST_LOOPBACK=1\)$/);
  }
  assert.equal(networkReport(true, env({ TSBOX_HOST_LOOPBACK: "maybe" })).hostLoopback, null, "info goes on, its line says why");
});
