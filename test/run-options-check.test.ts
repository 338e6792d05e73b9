/**
 * The library's RunOptions as plain JavaScript hands them over
 * (src/spec/run-options-check.ts), and signal names (src/containers/signals.ts):
 * a wrong kind is a UsageError naming the option. No containers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkOptions, checkResourceTypes, checkRunOptionTypes, describeValue } from "../src/spec/run-options-check.js";
import { cgroupSettings, mergeResources, resourcesFromOptions, undoResources } from "../src/spec/resources.js";
import { shmMode } from "../src/spec/ipc-pid.js";
import { checkPort, parseMac } from "../src/network/plan.js";
import { parsePublish } from "../src/network/ports.js";
import { parseSignal } from "../src/containers/signals.js";
import { removeRunningRefusal, UsageError } from "../src/errors.js";
import { spawnSync } from "node:child_process";
import { cliPath } from "./helpers/cli.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container, Runtime } from "../src/index.js";

const KERNEL = { cpus: 2, pidMax: 4_194_304 };

const refused = (options: unknown, message: string) =>
  assert.throws(() => checkRunOptionTypes(options), (e: unknown) => e instanceof UsageError && e.code === "usage" && e.message === message);

test("a refused value is named by its kind, a class's instance by its class", () => {
  assert.deepEqual(
    [null, [1], "x", 5, undefined, () => 1, {}, Object.create(null), new AbortController().signal, new Map(), Buffer.from("x")].map(describeValue),
    ["null", "an array", 'the string "x"', "number 5", "undefined", "a function", "an object", "an object", "an AbortSignal", "a Map", "a Buffer"],
  );
  // stop()'s `signal` is the one to send: an AbortSignal there (every other verb's `signal`) says what it got.
  assert.throws(() => checkOptions("stop", { signal: new AbortController().signal }, { signal: "stringOrNumber" }), {
    message: "stop options: signal: expected a string or a number, got an AbortSignal",
  });
});

test("options of the wrong kind are refused, naming the option", () => {
  refused({ image: "busybox", cmd: "echo hi" }, 'run options: cmd: expected an array of strings, got the string "echo hi"');
  // The member named (before: "…, got an array", "…, got an object", whichever of many was wrong).
  refused({ image: "busybox", entrypoint: ["sh", 1] }, "run options: entrypoint[1]: expected a string, got number 1");
  refused({ image: "busybox", env: "A=B" }, 'run options: env: expected an array of "KEY=VALUE" strings or an object of strings, got the string "A=B"');
  refused({ image: "busybox", env: { A: 1 } }, "run options: env.A: expected a string, got number 1");
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
  refused({ image: "busybox", log: { maxsize: 5 } }, 'run options: log: unknown option "maxsize" (driver, maxSize, maxFiles)');
  refused({ image: "busybox", log: { driver: "syslog" } }, 'run options: log.driver: expected "json-file" or "none", got the string "syslog"');
  // healthcheck's fields too (`intervl` was the default 30 s).
  refused({ image: "busybox", healthcheck: { test: "true", intervl: 5 } }, 'run options: healthcheck: unknown option "intervl" (test, interval, timeout, startPeriod, startInterval, retries)');
  refused({ image: "busybox", healthcheck: { interval: "5s" } }, 'run options: healthcheck: interval: expected a number, got the string "5s"');
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
  assert.deepEqual(checkPort({ containerPort: 80, hostPort: 8000, hostPortEnd: 8010 }), { hostIp: "0.0.0.0", hostPort: 8000, hostPortEnd: 8010, containerPort: 80, protocol: "tcp" });
  for (const bad of [{ hostPort: 0, hostPortEnd: 10 }, { hostPort: 8000, hostPortEnd: 7999 }, { hostPort: 8000, hostPortEnd: 70000 }]) {
    assert.throws(() => checkPort({ containerPort: 80, ...bad }), /hostPortEnd must be a port from hostPort to 65535$/);
  }
});

test("-p: docker's forms, a host range for one container port, IPv6 refused by name", () => {
  const one = (hostPort: number, containerPort: number, extra: object = {}) => ({ hostIp: "0.0.0.0", hostPort, containerPort, protocol: "tcp", ...extra });
  assert.deepEqual(parsePublish("8080:80"), [one(8080, 80)]);
  assert.deepEqual(parsePublish("9000-9001:90-91"), [one(9000, 90), one(9001, 91)]);
  // go-connections' ParsePortSpec: "use the host port range as the dynamic host port range to allocate into".
  assert.deepEqual(parsePublish("127.0.0.1:8000-8010:80/udp"), [{ hostIp: "127.0.0.1", hostPort: 8000, hostPortEnd: 8010, containerPort: 80, protocol: "udp" }]);
  assert.throws(() => parsePublish("8000-8010:80-81"), { message: 'invalid port mapping "8000-8010:80-81": the host and container port ranges differ in length' });
  assert.throws(() => parsePublish("0-10:80"), { message: 'invalid port mapping "0-10:80": a host port range starts at 1' });
  assert.throws(() => parsePublish("[::1]:8080:80"), /^UsageError: invalid port mapping "\[::1\]:8080:80": IPv6 host addresses are not supported/);
});

test("memory sizes: docker's units, -1 for unlimited swap, nothing past 8 PiB", () => {
  assert.deepEqual(resourcesFromOptions({ memory: "32m", memorySwap: "-1" }, KERNEL)?.memory, { limit: 32 * 1024 ** 2, swap: -1 });
  assert.deepEqual(resourcesFromOptions({ memory: "1.5g", memorySwap: -1 }, KERNEL)?.memory, { limit: 1.5 * 1024 ** 3, swap: -1 });
  assert.throws(() => resourcesFromOptions({ memory: "100p" }, KERNEL), { message: 'invalid value "100p" for the memory option: too large (below 8p)' });
  assert.throws(() => resourcesFromOptions({ memory: "32m", memorySwap: "-2" }, KERNEL), /invalid value "-2" for the memorySwap option: invalid size/);
});

test("options of the right kinds pass, and undefined means unset", () => {
  for (const ok of [
    { image: "busybox" },
    { image: "busybox", cmd: ["true"], env: ["A=1"], tty: { cols: 80, rows: 24 }, stdin: "inherit", healthcheck: false, shmSize: "64m", stopSignal: 15 },
    { image: "busybox", env: { A: "1" }, seccomp: "unconfined", publish: ["8080:80", { containerPort: 80 }], resources: { memory: "32m" }, name: undefined },
    { image: "busybox", log: { maxSize: 1024, maxFiles: 1 } },
    { image: "busybox", log: { driver: "none" } },
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

test("every verb's options: an unknown one or one of the wrong kind is a UsageError naming it, before anything is done", async () => {
  const dir = mkdtempSync(join(tmpdir(), "verb-options-"));
  try {
    const usage = (message: string) => (e: unknown) => e instanceof UsageError && e.message === message;
    // A misspelt dataDir was the user's default data dir, silently; dockerode's `new Docker("/path")` form likewise.
    assert.throws(() => new Runtime({ datadir: dir } as never), usage('Runtime options: unknown option "datadir" (dataDir, backend, network)'));
    assert.throws(() => new Runtime(dir as never), usage(`Runtime options: expected an object, got the string ${JSON.stringify(dir)} (a data dir: new Runtime({ dataDir: ${JSON.stringify(dir)} }))`));
    assert.throws(() => new Runtime({ dataDir: 5 } as never), usage("Runtime options: dataDir: expected a string, got number 5"));
    const rt = new Runtime({ dataDir: dir });
    // No container needed: the options are checked first (this id names none).
    const c = new Container(rt, "0".repeat(64), null);
    const drain = async (it: AsyncIterable<unknown>) => { for await (const _ of it) break; };
    const calls: [() => unknown, string][] = [
      [() => rt.list({ al: true } as never), 'list options: unknown option "al" (all, labels)'],
      // docker answers a bad name 400: the caller's mistake (it was a ContainerError without a reason).
      [() => rt.create({ image: "busybox", name: "bad name!" }), 'invalid container name "bad name!": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'],
      // Before: the hint offered the CLI's own detach and handOff.
      [() => c.spawn(["true"], { signal: AbortSignal.timeout(1) } as never), 'spawn options: unknown option "signal" (env, cwd, user, tty, privileged, stdin)'],
      [() => rt.list({ labels: { a: 1 } } as never), "list options: labels.a: expected a string, got number 1"],
      [() => rt.containers({ all: "yes" } as never), 'containers options: all: expected true or false, got the string "yes"'],
      [() => rt.images({ al: true } as never), 'images options: unknown option "al" (all)'],
      [() => drain(c.logs({ folow: true } as never)), 'logs options: unknown option "folow" (follow, tail, since, until, signal)'],
      [() => drain(c.logs({ tail: -1 })), "logs options: tail: expected a whole number from 0, got number -1"],
      [() => drain(c.statsStream({ interval: 100 } as never)), 'statsStream options: unknown option "interval" (intervalMs)'],
      [() => drain(c.statsStream({ intervalMs: -5 })), "statsStream options: intervalMs: expected a number of milliseconds above 0, got number -5"],
      [() => drain(c.statsStream({ intervalMs: 0 })), "statsStream options: intervalMs: expected a number of milliseconds above 0, got number 0"],
      [() => c.commit({ nmae: "snap" } as never), 'commit options: unknown option "nmae" (name, message, author, changes, signal)'],
      [() => c.start({ foo: 1 } as never), 'start options: unknown option "foo" (handOff, onWarning)'],
      [() => c.stop({ timeout: "abc" } as never), 'stop options: timeout: expected a number of seconds, got the string "abc"'],
      [() => c.stop({ timeout: Number.NaN }), "stop options: timeout: expected a number of seconds, got number NaN"],
      [() => c.restart({ onWarning: "x" } as never), 'restart options: onWarning: expected a function, got the string "x"'],
      [() => c.remove({ volume: true } as never), 'remove options: unknown option "volume" (force, volumes)'],
      [() => rt.removeContainer("x", { forse: true } as never), 'removeContainer options: unknown option "forse" (force, volumes)'],
      [() => c.copyTo("/x", "/y", { archiv: true } as never), 'copyTo options: unknown option "archiv" (archive, follow, signal)'],
      [() => c.copyFrom("/x", "/y", { end: 1 } as never), "copyFrom options: end: expected true or false, got number 1"],
      [() => c.exec(["true"], { stdin: 5 } as never), "exec options: stdin: expected a string or a Uint8Array, got number 5"],
      [() => c.attach({ stdn: true } as never), 'attach options: unknown option "stdn" (stdin, stdout, stderr, stdinOnce, keepAlive)'],
      [() => c.waitForLog("x", { stream: "both" } as never), 'waitForLog options: stream: expected "stdout" or "stderr", got the string "both"'],
      [() => rt.networks.create("n9", { subnett: "10.99.0.0/24" } as never), 'networks.create options: unknown option "subnett" (subnet, gateway, internal, mtu, labels)'],
      [() => rt.volumes.create("v9", { lables: { a: "b" } } as never), "volumes.create labels: expected an object of strings, got an object with a value that is no string"],
      [() => rt.volumes.remove("v9", { forse: true } as never), 'volumes.remove options: unknown option "forse" (force)'],
      [() => rt.pull("busybox", { platfrom: "linux/amd64" } as never), 'pull options: unknown option "platfrom" (platform, signal, env, onProgress, concurrency)'],
      [() => rt.build({ contxt: "." } as never), 'build options: unknown option "contxt" (context, dockerfile, dockerfileText, tags, buildArgs, target, noCache, pull, labels, network, onOutput, signal)'],
      [() => rt.build({ dockerfileText: "FROM busybox" } as never), "build options: context: expected a string (the build context's directory), got nothing"],
      [() => rt.removeImage("busybox", { forse: true } as never), 'removeImage options: unknown option "forse" (platform, force, prune)'],
      [() => rt.create({ image: "busybox" }, { signl: AbortSignal.timeout(1) } as never), 'create control options: unknown option "signl" (newSession, onPullProgress, signal, onWarning, handOff, onCreated)'],
    ];
    // Thrown or rejected: each call as an async function's (networks.create is synchronous).
    for (const [call, message] of calls) await assert.rejects(async () => call(), usage(message), message);
    // Nothing was made: no container, network or volume.
    assert.deepEqual(await rt.containers(), []);
    assert.deepEqual(rt.networks.list().map((n) => n.name), []);
    assert.deepEqual(rt.volumes.list(), []);
    await rt.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--pids-limit: docker's ≤ 0 is unlimited (0 at create: none asked); past the kernel's PID_MAX_LIMIT refused up front", () => {
  assert.deepEqual(resourcesFromOptions({ pidsLimit: -2 }, KERNEL)?.pids, { limit: -1 });
  assert.equal(resourcesFromOptions({ pidsLimit: 0 }, KERNEL), undefined);
  assert.deepEqual(mergeResources({ pids: { limit: 10 } }, 0, { pidsLimit: 0 }, KERNEL).resources.pids, { limit: -1 });
  // `changed`: the change's own limits (what an update's warning may name), not the whole merged set.
  assert.deepEqual(mergeResources({ pids: { limit: 10 } }, 0, { pidsLimit: 0 }, KERNEL).changed, { pids: { limit: -1 } });
  const merged = mergeResources({ blockIO: { weight: 200 }, pids: { limit: 10 } }, 0, { memory: "64m" }, KERNEL);
  assert.deepEqual(Object.keys(merged.resources).sort(), ["blockIO", "memory", "pids"]);
  assert.deepEqual(Object.keys(merged.changed), ["memory"]);
  assert.throws(() => resourcesFromOptions({ pidsLimit: KERNEL.pidMax + 1 }, KERNEL), { message: "invalid value 4194305 for the pidsLimit option: at most 4194304 (the kernel's PID_MAX_LIMIT)" });
  assert.throws(() => resourcesFromOptions({ pidsLimit: 2 ** 60 }, KERNEL), /expected a whole number/);
  assert.throws(() => resourcesFromOptions({ memory: 2 ** 60 }, KERNEL), /expected a whole number of bytes \(below 8p\)/);
});

test("undoResources: what a half-applied update wrote goes back, a limit it added reset to none", () => {
  const before = { memory: { limit: 64 << 20 } };
  const attempted = { memory: { limit: 48 << 20 }, cpu: { period: 100_000, quota: 50_000, cpus: "1" }, pids: { limit: 20 } };
  assert.deepEqual(undoResources(before, attempted), { memory: { limit: 64 << 20 }, cpu: { period: 100_000, quota: -1 }, pids: { limit: -1 } });
  assert.deepEqual(undoResources(undefined, { cpu: { shares: 512 } }), { cpu: { shares: 1024 } });
});

test("--cpu-shares out of the kernel's 2..262144 is clamped as docker's gets it, not refused", () => {
  assert.deepEqual([1, 262_145, 512].map((cpuShares) => resourcesFromOptions({ cpuShares }, KERNEL)?.cpu?.shares), [2, 262_144, 512]);
});

test("a message names the library's option to a library caller and the CLI's flag in the CLI (one wording, the process's vocabulary)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vocabulary-"));
  try {
    // Before: `unknown backend "docker" (from --backend)` for new Runtime({ backend: "docker" }), and "use --force".
    const usage = (message: string) => (e: unknown) => e instanceof UsageError && e.message === message;
    assert.throws(() => new Runtime({ dataDir: dir, backend: "docker" as never }), usage('unknown backend "docker" (from the backend option): use native, vm or auto'));
    assert.equal(removeRunningRefusal("0123456789ab").message, "cannot remove running container 0123456789ab: stop it first or use force: true");
    const cli = spawnSync(process.execPath, [cliPath, "run", "--backend", "docker", "busybox", "true"], { env: { ...process.env, TSBOX_DATA_DIR: dir }, encoding: "utf8" });
    assert.deepEqual([cli.status, cli.stderr], [125, 'tsbox: unknown backend "docker" (from --backend): use native, vm or auto\n']);
    // The limits' checks too (before: `invalid value "abc" for --memory` to a library caller of resources: { memory: "abc" }).
    assert.throws(() => resourcesFromOptions({ memory: "abc" }, KERNEL), usage('invalid value "abc" for the memory option: invalid size (expected e.g. 32m, 1.5g, 512k)'));
    assert.throws(() => resourcesFromOptions({ cpusetCpus: "0-" }, KERNEL), usage('invalid value "0-" for the cpusetCpus option (expected e.g. 0-2,4)'));
    assert.throws(() => resourcesFromOptions({ pidsLimit: 1.5 }, KERNEL), usage("invalid value 1.5 for the pidsLimit option: expected a whole number (0 or less: unlimited)"));
    assert.throws(() => cgroupSettings("0".repeat(64), { resources: { memory: "32m" }, cgroups: "disabled" }, {}, KERNEL), usage('resource limits need a cgroup: they cannot be used with cgroups: "disabled"'));
    assert.throws(() => shmMode({ shmSize: "1x" }), usage('invalid value "1x" for the shmSize option: invalid size (expected e.g. 32m, 1.5g, 512k)'));
    assert.throws(() => shmMode({ shmSize: 0 }), usage("the shmSize option must be positive"));
    assert.throws(() => shmMode({ shmSize: "1m", ipc: "host" }), usage('the shmSize option has no /dev/shm to size with ipc: "host"'));
    const flags = spawnSync(process.execPath, [cliPath, "run", "-m", "abc", "--cpuset-cpus", "0", "busybox", "true"], { env: { ...process.env, TSBOX_DATA_DIR: dir }, encoding: "utf8" });
    assert.deepEqual([flags.status, flags.stderr], [125, 'tsbox: invalid value "abc" for --memory: invalid size (expected e.g. 32m, 1.5g, 512k)\n']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--mac-address: Go's net.ParseMAC forms of 6 bytes, as the runtime takes them; a multicast or malformed one is refused", () => {
  for (const form of ["02:42:AC:11:00:02", "02-42-ac-11-00-02", "0242.ac11.0002"]) assert.equal(parseMac(form), "02:42:ac:11:00:02");
  assert.throws(() => parseMac("01:00:5e:00:00:01"), /a multicast address \(the first byte is odd\)/);
  for (const bad of ["02:42:ac:11:00", "02:42-ac:11:00:02", "02:42:ac:11:00:02:03", "zz:42:ac:11:00:02", ""]) {
    assert.throws(() => parseMac(bad), new RegExp(`^UsageError: invalid value "${bad}" for the macAddress option: expected a MAC address such as 02:42:ac:11:00:02$`));
  }
});

test("a page's Runtime and run tell a misspelt option (as Node does) from one a page cannot have", async () => {
  const web = await import("../src/backends/vm/browser/web-runtime.js");
  const usage = (f: () => unknown, message: RegExp) => assert.throws(f, (e: unknown) => e instanceof UsageError && message.test(e.message));
  usage(() => web.runRequest({ image: "busybox", comand: ["true"] } as never), /^run options: unknown option "comand" \(image, cmd, /);
  usage(() => web.runRequest({ image: "busybox", publish: [{ container: 80 }] } as never), /^run option "publish" is not supported in the browser: a page cannot open sockets/);
  usage(() => new web.Runtime({ asset: "/tsbox/" } as never), /^Runtime options: unknown option "asset" \(assets, /);
  usage(() => new web.Runtime({ network: "none" } as never), /^Runtime option "network" is not supported in the browser$/);
});
