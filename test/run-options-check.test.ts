/**
 * The library's RunOptions as plain JavaScript hands them over
 * (src/spec/run-options-check.ts), and signal names (src/containers/signals.ts):
 * a wrong kind is a UsageError naming the option. No containers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkResourceTypes, checkRunOptionTypes } from "../src/spec/run-options-check.js";
import { resourcesFromOptions } from "../src/spec/resources.js";
import { checkPort } from "../src/network/plan.js";
import { parseSignal } from "../src/containers/signals.js";
import { UsageError } from "../src/errors.js";

const refused = (options: unknown, message: string) =>
  assert.throws(() => checkRunOptionTypes(options), (e: unknown) => e instanceof UsageError && e.code === "usage" && e.message === message);

test("options of the wrong kind are refused, naming the option", () => {
  refused({ image: "busybox", cmd: "echo hi" }, 'run options: cmd: expected an array of strings, got the string "echo hi"');
  refused({ image: "busybox", entrypoint: ["sh", 1] }, "run options: entrypoint: expected an array of strings, got an array");
  refused({ image: "busybox", env: "A=B" }, 'run options: env: expected an array of "KEY=VALUE" strings or an object of strings, got the string "A=B"');
  refused({ image: "busybox", env: { A: 1 } }, 'run options: env: expected an array of "KEY=VALUE" strings or an object of strings, got an object');
  refused({ image: "busybox", volumes: { host: "/tmp", container: "/x" } }, "run options: volumes: expected an array, got an object");
  refused({ image: "busybox", user: 1000 }, "run options: user: expected a string, got number 1000");
  refused({ image: "busybox", stdout: "ignore" }, 'run options: stdout: expected "pipe" or "inherit", got the string "ignore"');
  refused({ image: "busybox", remove: "yes" }, 'run options: remove: expected true or false, got the string "yes"');
  refused({ image: "busybox", tty: 1 }, "run options: tty: expected true, false or { cols, rows }, got number 1");
  // A size's members: the spec's validator named process.consoleSize, the addon threw a bare Error.
  refused({ image: "busybox", tty: { cols: 70000, rows: 5 } }, "run options: tty.cols: expected a whole number from 1 to 65535, got number 70000");
  refused({ image: "busybox", tty: { cols: 80 } }, "run options: tty.rows: expected a whole number from 1 to 65535, got nothing");
  refused({ image: "busybox", tty: { cols: 80, rows: 0.5 } }, "run options: tty.rows: expected a whole number from 1 to 65535, got number 0.5");
  refused({ image: "busybox", volume: ["/x"] }, 'run options: unknown option "volume"');
  refused({ cmd: ["true"] }, "run options: image: expected a string, got nothing");
  refused("busybox", 'run options: expected an object, got the string "busybox"');
  refused(null, "run options: expected an object, got null");
  // The log's bounds, here rather than as the monitor's usage text at start().
  refused({ image: "busybox", log: { maxSize: -1 } }, "run options: log.maxSize: expected a whole number of bytes above 0, got number -1");
  refused({ image: "busybox", log: { maxFiles: 0 } }, "run options: log.maxFiles: expected a whole number from 1, got number 0");
  refused({ image: "busybox", log: { maxsize: 5 } }, 'log options: unknown option "maxsize" (maxSize, maxFiles)');
  // A misspelt limit was no limit at all; a string where a number goes failed with a misleading range message.
  const names = "memory, memorySwap, memoryReservation, cpus, cpuShares, cpuPeriod, cpuQuota, cpusetCpus, pidsLimit, blkioWeight";
  refused({ image: "busybox", resources: { memroy: "32m" } }, `run options: resources: unknown option "memroy" (${names})`);
  refused({ image: "busybox", resources: { cpus: "0.5" } }, 'run options: resources: cpus: expected a number, got the string "0.5"');
  refused({ image: "busybox", resources: { cpusetCpus: 1 } }, "run options: resources: cpusetCpus: expected a string, got number 1");
  assert.throws(() => checkResourceTypes("update", { memory: "64m", bogus: 1 }, { restart: "string" }), { message: `update: unknown option "bogus" (${names}, restart)` });
  assert.throws(() => checkResourceTypes("update", { restart: 1 }, { restart: "string" }), { message: "update: restart: expected a string, got number 1" });
});

test("publish objects: the host side may be left out; a bad field is named", () => {
  assert.deepEqual(checkPort({ containerPort: 80 }), { hostIp: "0.0.0.0", hostPort: 0, containerPort: 80, protocol: "tcp" });
  assert.deepEqual(checkPort({ containerPort: 53, hostPort: 5353, protocol: "udp", hostIp: "127.0.0.1" }), { hostIp: "127.0.0.1", hostPort: 5353, containerPort: 53, protocol: "udp" });
  assert.throws(() => checkPort({ containerPort: 0 }), { message: 'invalid port mapping {"containerPort":0}: containerPort must be a port from 1 to 65535' });
  assert.throws(() => checkPort({ containerPort: 80, hostPort: "8080" as unknown as number }), { message: 'invalid port mapping {"containerPort":80,"hostPort":"8080"}: hostPort must be a port from 0 (any free one) to 65535' });
  assert.throws(() => checkPort({ containerPort: 80, protocol: "sctp" as "tcp" }), /protocol must be "tcp" or "udp"$/);
  assert.throws(() => checkPort({ containerPort: 80, hostIp: "localhost" }), /hostIp must be an IPv4 address$/);
});

test("memory sizes: docker's units, -1 for unlimited swap, nothing past 8 PiB", () => {
  assert.deepEqual(resourcesFromOptions({ memory: "32m", memorySwap: "-1" }, 2)?.memory, { limit: 32 * 1024 ** 2, swap: -1 });
  assert.deepEqual(resourcesFromOptions({ memory: "1.5g", memorySwap: -1 }, 2)?.memory, { limit: 1.5 * 1024 ** 3, swap: -1 });
  assert.throws(() => resourcesFromOptions({ memory: "100p" }, 2), { message: 'invalid value "100p" for --memory: too large (at most 8p)' });
  assert.throws(() => resourcesFromOptions({ memory: "32m", memorySwap: "-2" }, 2), /invalid value "-2" for --memory-swap: invalid size/);
});

test("options of the right kinds pass, and undefined means unset", () => {
  for (const ok of [
    { image: "busybox" },
    { image: "busybox", cmd: ["true"], env: ["A=1"], tty: { cols: 80, rows: 24 }, stdin: "inherit", healthcheck: false, shmSize: "64m", stopSignal: 15 },
    { image: "busybox", env: { A: "1" }, seccomp: "unconfined", publish: ["8080:80", { containerPort: 80 }], resources: { memory: "32m" }, name: undefined },
    { image: "busybox", log: { maxSize: 1024, maxFiles: 1 } },
  ]) {
    assert.doesNotThrow(() => checkRunOptionTypes(ok));
  }
});

test("signals in docker's forms; anything else is a UsageError", () => {
  assert.deepEqual(parseSignal("KILL"), { number: 9, name: "SIGKILL" });
  assert.deepEqual(parseSignal("sigusr1"), { number: 10, name: "SIGUSR1" });
  assert.deepEqual(parseSignal(6), { number: 6, name: "SIGABRT" });
  assert.deepEqual(parseSignal("RTMIN+3"), { number: 37, name: "SIGRTMIN+3" });
  for (const bad of ["SIGFOO", 0, 99, "1.5", ""]) {
    assert.throws(() => parseSignal(bad), (e: unknown) => e instanceof UsageError && e.message === `invalid signal: ${bad}`);
  }
});
