/**
 * Library scenarios for test/lifecycle.test.ts, each in a Node process of
 * its own (as the identity under test): one process creates a container,
 * another manages it by id. Prints one JSON object.
 *   node --import tsx test/helpers/lifecycle-script.ts SCENARIO [ARG]
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ContainerError, isTsboxError, Runtime } from "../../src/index.js";
import { fdsUnder } from "./leaks.js";

const rt = new Runtime({});
const [name, arg] = process.argv.slice(2);

async function settled<T>(what: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await what();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out");
}

/** A rejection's name and message, or "resolved". */
async function failure(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "resolved",
    (e: Error) => `${e.name}: ${e.message}`,
  );
}

/** A rejection as `failure` says it, and its ContainerError reason. */
async function withReason(p: Promise<unknown>): Promise<[string, string | undefined]> {
  return p.then(
    () => ["resolved", undefined],
    (e: ContainerError) => [`${e.name}: ${e.message}`, e.reason],
  );
}

const scenarios: Record<string, () => Promise<unknown>> = {
  async waitForLog() {
    // Lines on both streams, "ready" twice, the first before the wait begins (the log is read from the start).
    const server = await rt.create({ image: "busybox", cmd: ["sh", "-c", "echo booting; echo ready 1; echo warn >&2; sleep 1; echo ready 2; echo -n tail; exec sleep 600"] });
    await server.start();
    const first = await server.waitForLog("ready");
    const second = await server.waitForLog(/^ready \d$/g, { times: 2 });
    const onStderr = await server.waitForLog(/warn|ready/, { stream: "stderr" });
    const noNewline = await server.waitForLog("tail", { timeoutMs: 2_000 }).catch((e: Error) => e.message);
    const [timedOut, timedOutReason] = await withReason(server.waitForLog("never", { timeoutMs: 300 }));
    const badTimes = await failure(server.waitForLog("ready", { times: 0 }));
    await server.remove({ force: true });
    const quitter = await rt.create({ image: "busybox", cmd: ["sh", "-c", "echo bye; exit 4"] });
    await quitter.start();
    const [exited, exitedReason] = await withReason(quitter.waitForLog("ready"));
    await quitter.remove();
    await using run = await rt.run({ image: "busybox", cmd: ["sleep", "600"], remove: true });
    const foreground = await failure(run.waitForLog("x"));
    // logs() of it: the library's advice (not the CLI's flags), and a reason to branch on.
    const [foregroundLogs, foregroundLogsReason] = await withReason((async () => { for await (const _ of run.logs()) break; })());
    // Set up between create() and start(), as a harness does so that no line slips by: it waits for the start.
    const early = await rt.create({ image: "busybox", cmd: ["sh", "-c", "echo up early; exec sleep 600"] });
    const waiting = early.waitForLog("up early", { timeoutMs: 30_000 }).catch((e: Error) => `${e.name}: ${e.message}`);
    await new Promise((r) => setTimeout(r, 200));
    await early.start();
    const beforeStart = await waiting;
    await early.remove({ force: true });
    // Never started: its timeout, not at once.
    const idle = await rt.create({ image: "busybox", cmd: ["true"] });
    const neverStarted = await failure(idle.waitForLog("x", { timeoutMs: 300 }));
    // output() of it waits for its start too: a signal ends that wait (before, nothing could).
    const outputNeverStarted = await failure(idle.output({ signal: AbortSignal.timeout(300) }));
    await idle.remove();
    return { first, second, onStderr, noNewline, timedOut, exited, foreground, foregroundLogs, badTimes, beforeStart, neverStarted, outputNeverStarted, reasons: [timedOutReason, exitedReason, foregroundLogsReason] };
  },

  /** A log read left early (a break, logs() without follow, waitForLog's line already there) closes its files. */
  async logsStoppedEarly() {
    const c = await rt.create({ image: "busybox", cmd: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"] });
    await c.start();
    await c.waitForLog("tick 2");
    const dir = join(process.env.TSBOX_DATA_DIR!, "containers");
    const before = fdsUnder(dir);
    for (let i = 0; i < 20; i++) {
      for await (const _ of c.logs({ follow: true, tail: 1 })) break;
      for await (const _ of c.logs({ tail: 1 })) break;
      for await (const _ of c.logs()) break;
      await c.waitForLog("tick 1");
    }
    const after = fdsUnder(dir);
    await c.remove({ force: true });
    return { before, after, afterRemove: fdsUnder(dir) };
  },

  /** testcontainers' Wait.forHealthCheck: healthy once the probe passes; unhealthy, stopped, no check: clear errors. */
  async waitForHealthy() {
    const fast = { interval: 200, retries: 2 };
    const server = await rt.create({ image: "busybox", cmd: ["sh", "-c", "sleep 1; touch /tmp/ok; exec sleep 600"], healthcheck: { test: "test -e /tmp/ok", ...fast, startPeriod: 10_000 } }); // failures in the start period do not count
    await server.start();
    const healthy = await server.waitForHealthy({ timeoutMs: 30_000 });
    await server.remove({ force: true });
    const failing = await rt.create({ image: "busybox", cmd: ["sleep", "600"], healthcheck: { test: "echo not yet; exit 3", ...fast } });
    await failing.start();
    const [unhealthy, unhealthyReason] = await withReason(failing.waitForHealthy());
    await failing.remove({ force: true });
    const slow = await rt.create({ image: "busybox", cmd: ["sleep", "600"], healthcheck: { test: "exit 1", interval: 60_000 } });
    await slow.start();
    const [timedOut, timedOutReason] = await withReason(slow.waitForHealthy({ timeoutMs: 300 }));
    await slow.remove({ force: true });
    const quitter = await rt.create({ image: "busybox", cmd: ["sh", "-c", "sleep 0.3; exit 4"], healthcheck: { test: "exit 1", interval: 60_000 } });
    await quitter.start();
    const [exited, exitedReason] = await withReason(quitter.waitForHealthy());
    await quitter.remove();
    // A crash loop: its process ends before any check, the monitor marks it unhealthy between its runs.
    const looping = await rt.create({ image: "busybox", cmd: ["sh", "-c", "exit 1"], restart: "on-failure:20", healthcheck: { test: "true", interval: 60_000 } });
    await looping.start();
    const crashLoop = await failure(looping.waitForHealthy({ timeoutMs: 20_000 }));
    await looping.remove({ force: true });
    // Waited for between create() and start(): the wait spans the start.
    const early = await rt.create({ image: "busybox", cmd: ["sleep", "600"], healthcheck: { test: "true", ...fast } });
    const waiting = early.waitForHealthy({ timeoutMs: 30_000 }).then((h) => h.Status, (e: Error) => `${e.name}: ${e.message}`);
    await new Promise((r) => setTimeout(r, 200));
    await early.start();
    const beforeStart = await waiting;
    await early.remove({ force: true });
    const plain = await rt.create({ image: "busybox", cmd: ["sleep", "600"] });
    const noCheck = await failure(plain.waitForHealthy());
    const typo = await failure(plain.waitForHealthy({ timeout: 5 } as never));
    await plain.remove();
    await using run = await rt.run({ image: "busybox", cmd: ["sleep", "600"], remove: true, healthcheck: { test: "true" } }, { onWarning: () => {} });
    const foreground = await failure(run.waitForHealthy());
    return { healthy: healthy.Status, unhealthy, timedOut, exited, crashLoop, noCheck, typo, foreground, beforeStart, reasons: [unhealthyReason, timedOutReason, exitedReason] };
  },

  /** waitForHealthy on the container named ARG, as a test harness would after its monitor died unseen. */
  async waitForHealthyOf() {
    return { result: await failure((await rt.get(arg!)).waitForHealthy({ timeoutMs: 3_000 })) };
  },

  /** testcontainers' getMappedPort (run by network.test.ts in its namespace): the host port a client connects to. */
  async mappedPort() {
    await using web = await rt.create({ image: "busybox", publish: ["127.0.0.1::80"], cmd: ["sh", "-c", "mkdir -p /www && echo hello from httpd > /www/index.html && exec httpd -f -p 80 -h /www"] });
    await web.start();
    const port = await web.mappedPort(80);
    const body = await settled(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => ""), (t) => t !== "");
    const ports = await web.ports();
    const unpublished = await failure(web.mappedPort(81));
    const unpublishedReason = await web.mappedPort(81).catch((e: ContainerError) => e.reason);
    const badPort = await failure(web.mappedPort(0));
    await web.stop({ timeout: 0 });
    const stopped = await failure(web.mappedPort(80));
    const stoppedReason = await web.mappedPort(80).catch((e: ContainerError) => e.reason);
    const afterStop = await web.ports();
    await web.remove();
    return { port, body, ports, unpublished, badPort, stopped, afterStop, reasons: [unpublishedReason, stoppedReason] };
  },

  /** rt.networks.remove, the counterpart of rt.networks.create: the bridge, rules and DNS server go with the record. */
  async networksRemove() {
    const name = `libnet-${process.pid}`;
    rt.networks.create(name);
    await (await rt.run({ image: "busybox", network: name, cmd: ["true"], remove: true })).wait();
    rt.networks.remove(name);
    return { listed: rt.networks.list().some((n) => n.name === name) };
  },

  /** What a library user met (an exploratory pass): each resolves or fails at once, with a clear error. */
  async apiEdges() {
    const created = await rt.create({ image: "busybox", cmd: ["sh", "-c", "echo one; exec sleep 600"] });
    // A container that never started stops at once (stop waited for a next run, for ever).
    const stoppedCreated = await Promise.race([created.stop(), new Promise((r) => setTimeout(() => r("still pending after 5 s"), 5000))]);
    await created.start();
    await created.waitForLog("one");
    // since/until as documented: a Date, an ISO string or Unix seconds (a string threw a TypeError).
    const lines = async (since: Date | string | number) => {
      const out: string[] = [];
      for await (const e of created.logs({ since })) out.push(e.data.trim());
      return out.join(",");
    };
    const logs = [await lines("2000-01-01T00:00:00Z"), await lines(946684800), await lines(new Date(Date.now() + 3_600_000))];
    const badSince = await failure((async () => { for await (const _ of created.logs({ since: "yesterday-ish" })) break; })());
    // A misspelt option is an error, not the default (stop({ timeot: 1 }) waited 10 s).
    const typo = await failure(created.stop({ timeot: 1 } as never));
    const execTypo = await failure(created.exec(["true"], { timeout: 5 } as never));
    await created.kill("KILL" as string);
    const killed = await created.wait();
    // ContainerError.reason: what a caller branches on (dockerode's 404/409) instead of the message's wording.
    const reason = (p: Promise<unknown>) => p.then(() => "resolved", (e: { reason?: string }) => e.reason ?? "none");
    const named = await rt.create({ image: "busybox", name: "edges-named", cmd: ["true"] });
    const reasons = {
      missing: await reason(rt.get("no-such-container-here")),
      taken: await reason(rt.create({ image: "busybox", name: "edges-named", cmd: ["true"] })),
      stopped: await reason(created.exec(["true"])),
    };
    await named.remove();
    await created.remove();
    // output() of a handle reads its log: one that rotation cut says so (nothing told the head was gone).
    const output = async (log: { maxSize: number; maxFiles: number }) => {
      // A line a read (rotation goes between the monitor's reads): 60 entries of ~70 bytes.
      const c = await rt.create({ image: "busybox", cmd: ["sh", "-c", "for i in $(seq 1 60); do echo $i; usleep 2000; done"], log });
      await c.start();
      const out = await c.output();
      await c.remove();
      return { first: out.stdout.split("\n")[0], truncated: out.truncated ?? false };
    };
    const cut = [await output({ maxSize: 1024, maxFiles: 2 }), await output({ maxSize: 1 << 20, maxFiles: 2 })];
    // A started container's stop with a fraction of a second (stop(1500) is 1.5 s): the monitor read only whole
    // numbers and waited its default 10 s. The trap makes SIGTERM do nothing, so only the SIGKILL ends it.
    const stubborn = await rt.create({ image: "busybox", cmd: ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 1; done"] });
    await stubborn.start();
    await stubborn.waitForLog("up");
    const t0 = Date.now();
    const fraction = { status: await stubborn.stop(1500), withinDefault: Date.now() - t0 < 8000 };
    await stubborn.remove();
    // A relative dataDir is the current directory's; close() ends the warm helper, and a later run starts one again.
    const scratch = mkdtempSync(join(tmpdir(), "relative-data-"));
    process.chdir(scratch);
    const relative = new Runtime({ dataDir: "data" });
    const relativeDir = relative.dataDir === join(scratch, "data");
    rmSync(scratch, { recursive: true, force: true });
    const closing = new Runtime({});
    const before = (await closing.run({ image: "busybox", cmd: ["true"], remove: true }).then((c) => c.wait())).exitCode;
    await closing.close();
    const after = (await closing.run({ image: "busybox", cmd: ["true"], remove: true }).then((c) => c.wait())).exitCode;
    await closing.close();
    return { cut, stoppedCreated, logs, badSince, typo, execTypo, killed, reasons, relativeDir, before, after, fraction };
  },

  async create() {
    const c = await rt.create({ image: "busybox", name: "lib", labels: { "test.run": "lib", tier: "a" }, cmd: ["sh", "-c", "echo a; sleep 1; echo b; exit 2"] });
    await c.start();
    return { id: c.id };
  },

  async manage() {
    const c = await rt.get(arg!);
    let first: unknown;
    let logs = "";
    for await (const e of c.logs({ follow: true })) {
      first ??= { stream: e.stream, data: e.data };
      logs += e.data;
    }
    const listed = (await rt.list({ all: true })).some((x) => x.id === c.id);
    // By label (docker's --filter label=K=V), as a harness finds its own: every one given must hold.
    const byLabel = async (labels: Record<string, string>) => (await rt.list({ all: true, labels })).map((x) => x.id);
    const labelled = { both: await byLabel({ "test.run": "lib", tier: "a" }), other: await byLabel({ "test.run": "lib", tier: "b" }), missing: await byLabel({ nope: "" }) };
    const wait = await c.wait();
    const elsewhere = await rt.get(arg!);
    await c.rename("lib-renamed");
    const renamedElsewhere = elsewhere.name;
    const inspect = await c.state();

    const sleeper = await rt.create({ image: "busybox", cmd: ["sleep", "600"] });
    await sleeper.start();
    await sleeper.restart({ timeout: 0 });
    const running = sleeper.running;
    await sleeper.kill("SIGKILL");
    const killed = await sleeper.wait();
    await sleeper.remove();

    const printer = await rt.create({ image: "busybox", cmd: ["sh", "-c", "echo out; echo err >&2"] });
    await printer.start();
    const output = await printer.output();
    await printer.remove();

    const monitored = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo first; exit 5"], restart: "on-failure:1" });
    const out = await monitored.output();
    const after = await settled(() => monitored.state(), (s) => s.status === "exited" && s.restartCount === 1);
    await monitored.remove();

    await c.remove();
    let gone: unknown;
    try {
      await rt.get("lib-renamed");
      gone = "still there";
    } catch (err) {
      gone = (err as Error).message;
    }
    return {
      first,
      listed,
      labelled,
      renamedElsewhere,
      logs,
      wait,
      inspect: { status: inspect.status, name: inspect.name },
      restarted: { running, killed },
      output,
      monitoredRun: { exitCode: out.exitCode, stdout: out.stdout, restartCount: after.restartCount },
      gone,
    };
  },

  /** `container prune` in another process while this one's run is made but not yet started. */
  async pruneWhileStarting() {
    const cli = fileURLToPath(new URL("../../bin/tsbox.js", import.meta.url));
    let pruned = "";
    const c = await rt.run({ image: "busybox", cmd: ["echo", "ran"] }, {
      onCreated: () => {
        pruned = spawnSync(process.execPath, ["--", cli, "container", "prune", "-f"], { encoding: "utf8" }).stdout;
      },
    });
    const out = await c.output();
    await c.remove();
    return { id: c.id, pruned, exitCode: out.exitCode, stdout: out.stdout };
  },

  /**
   * ContainerError.reason of the refusals a harness branches on, given where thrown (the pause ones need a cgroup:
   * ARG "pause"). A path with a refusal's wording in it is no refusal.
   */
  async reasons() {
    const reason = async (f: () => unknown) => {
      try {
        await f();
        return "resolved";
      } catch (e) {
        return (e as ContainerError).reason ?? `none: ${(e as Error).message}`;
      }
    };
    const c = await rt.create({ image: "busybox", name: "reasons", cmd: ["sleep", "60"], volumes: [{ volume: "reasons-vol", container: "/d" }] });
    await c.start();
    const out: Record<string, string> = {};
    if (arg === "pause") {
      out.notPaused = await reason(() => c.unpause());
      await c.pause();
      out.pausePaused = await reason(() => c.pause());
      out.startPaused = await reason(() => c.start());
      await c.unpause();
    }
    rt.networks.create("reasons-net");
    out.networkExists = await reason(() => rt.networks.create("reasons-net"));
    rt.networks.remove("reasons-net");
    out.networkMissing = await reason(() => rt.networks.remove("reasons-net"));
    out.volumeInUse = await reason(() => rt.volumes.remove("reasons-vol"));
    out.volumeMissing = await reason(() => rt.volumes.remove("no-such-volume-here"));
    const dest = mkdtempSync(join(tmpdir(), "reasons-"));
    out.copyMissing = await reason(() => c.copyFrom("/nonexistent", join(dest, "x")));
    out.copyPausedWords = await reason(() => c.copyFrom("/data is paused", join(dest, "x")));
    out.copyNotRunningWords = await reason(() => c.copyFrom("/x it is not running", join(dest, "x")));
    rmSync(dest, { recursive: true, force: true });
    // Of 17 containers two share their id's first digit: that prefix is ambiguous.
    const made = [c];
    while (new Set(made.map((m) => m.id[0])).size === made.length) made.push(await rt.create({ image: "busybox", cmd: ["true"] }));
    const last = made[made.length - 1]!;
    out.ambiguous = await reason(() => rt.get(last.id[0]!));
    for (const m of made.slice(1)) await m.remove();
    await c.remove({ force: true });
    await rt.volumes.remove("reasons-vol");
    return out;
  },

  /**
   * wait() from this process on a foreground `remove: true` run of another, which exits: the container dies with
   * it (SIGKILL) and its record goes; wait said 255 ("unknown"), docker's the real code.
   */
  async waitRemovedOwnerDied() {
    const owner = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "ownRemovedRun"], { stdio: ["pipe", "pipe", "inherit"] });
    const closed = once(owner, "close");
    await once(owner.stdout, "data");
    const c = await rt.get("owner-died");
    const waited = c.wait();
    owner.stdin.end();
    const status = await waited;
    await closed;
    return { status, gone: await rt.get("owner-died").then(() => "still there", (e: ContainerError) => e.reason) };
  },

  /** waitRemovedOwnerDied's other process: runs it, says so, and exits once its stdin ends. */
  async ownRemovedRun() {
    await rt.run({ image: "busybox", name: "owner-died", cmd: ["sleep", "60"], remove: true });
    process.stdout.write("running\n");
    process.stdin.on("end", () => process.exit(0)).resume();
    return new Promise(() => {});
  },

  /**
   * A run's container removed by another process (`rm -f`, a cleanup job) before this one's event loop saw its
   * end (the synchronous spawn holds it): exec/spawn/remove said ENOENT of config.json, or "cannot remove running".
   */
  async removedElsewhere() {
    const cli = fileURLToPath(new URL("../../bin/tsbox.js", import.meta.url));
    const c = await rt.run({ image: "busybox", name: "removed-elsewhere", cmd: ["sleep", "60"] });
    const rm = spawnSync(process.execPath, ["--", cli, "rm", "-f", "removed-elsewhere"], { encoding: "utf8" });
    const running = c.running;
    const refusal = (p: Promise<unknown>) => p.then(() => "resolved", (e: ContainerError) => ({ tsbox: isTsboxError(e), reason: e.reason, message: e.message }));
    return {
      rm: rm.status,
      running,
      exec: await refusal(c.exec(["true"])),
      spawn: await refusal(c.spawn(["true"])),
      remove: await refusal(c.remove()),
      wait: await c.wait(),
      runningAfter: c.running,
    };
  },
};

console.log(JSON.stringify(await scenarios[name!]!()));
