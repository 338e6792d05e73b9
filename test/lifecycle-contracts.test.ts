/**
 * The fast tier of the lifecycle (no containers): the restart-policy rules
 * on the fixture the monitor's Rust tests read too, the json-file log reader
 * on files laid out as the monitor writes and rotates them, state.json
 * defaults and the refresh of a dead supervisor, the CLI's time and signal
 * arguments, an exec into a container removed meanwhile.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nextRestartDelay, parseRestartPolicy, restartsAfter } from "../src/containers/restart-policy.js";
import { LOG_TRUNCATED, logIncomplete, logTruncated, readLogs, type LogEntry } from "../src/containers/logs.js";
import { LogWriter, type LogStream } from "../src/containers/log-writer.js";
import { readCurrentState, refreshStatus, readState, type ContainerState } from "../src/containers/state.js";
import { parseSignal } from "../src/containers/signals.js";
import { generatedName } from "../src/containers/generated-name.js";
import { checkContainerName } from "../src/containers/names.js";
import { parseTimeArg } from "../src/cli/time-arg.js";
import { DataPaths } from "../src/paths.js";

const fixture = JSON.parse(readFileSync(new URL("./fixtures/contract/restart-policy.json", import.meta.url), "utf8"));
const temp = mkdtempSync(join(tmpdir(), "tsbox-lc-contracts-"));
after(() => rmSync(temp, { recursive: true, force: true }));

describe("restart policy (test/fixtures/contract/restart-policy.json, shared with the monitor)", () => {
  it("parses", () => {
    for (const c of fixture.parse) {
      if (c.error) assert.throws(() => parseRestartPolicy(c.input), { message: c.error, exitCode: 125 });
      else assert.deepEqual(parseRestartPolicy(c.input), c.policy, c.input);
    }
  });
  it("decides", () => {
    for (const c of fixture.decide) {
      assert.equal(restartsAfter(parseRestartPolicy(c.policy), c.exitCode, c.restartCount, c.manuallyStopped), c.restart, JSON.stringify(c));
    }
  });
  it("backs off", () => {
    for (const c of fixture.backoff) assert.equal(nextRestartDelay(c.previousMs, c.ranMs), c.delayMs, JSON.stringify(c));
  });
});

const line = (stream: string, log: string, time: string) => JSON.stringify({ log, stream, time }) + "\n";

async function collect(dir: string, options: Parameters<typeof readLogs>[1], active = () => false): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of readLogs(dir, options, active)) out.push(e);
  return out;
}

describe("log writer (test/fixtures/contract/log-lines.json, shared with the monitor)", () => {
  const cases = JSON.parse(readFileSync(new URL("./fixtures/contract/log-lines.json", import.meta.url), "utf8")).cases as { name: string; writes: [LogStream, string][]; entries: [string, string][] }[];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = mkdtempSync(join(temp, "w-"));
      const w = new LogWriter(dir, 1 << 20, 1);
      for (const [stream, hex] of c.writes) w.write(stream, Buffer.from(hex, "hex"), 0n);
      w.close();
      // The file's entries as written (the reader joins a line's parts: "log reader" below).
      const got = readFileSync(join(dir, "container.log"), "utf8").split("\n").filter(Boolean).map((l) => [JSON.parse(l).stream, JSON.parse(l).log]);
      assert.deepEqual(got, c.entries);
      assert.ok(readFileSync(join(dir, "container.log"), "utf8").split("\n").filter(Boolean).every((l) => JSON.parse(l).time === "1970-01-01T00:00:00.000000000Z"));
    });
  }
  it("rotates per entry: one write of many lines passes max-size in no file (the fixture's rotation)", async () => {
    const r = JSON.parse(readFileSync(new URL("./fixtures/contract/log-lines.json", import.meta.url), "utf8")).rotation as { maxSize: number; maxFiles: number; write: [LogStream, string]; files: Record<string, string[]> };
    const dir = mkdtempSync(join(temp, "per-entry-"));
    const w = new LogWriter(dir, r.maxSize, r.maxFiles);
    w.write(r.write[0], Buffer.from(r.write[1], "hex"), 0n);
    w.close();
    for (const [name, logs] of Object.entries(r.files)) {
      const text = readFileSync(join(dir, name), "utf8");
      assert.ok(Buffer.byteLength(text) <= r.maxSize, `${name}: ${Buffer.byteLength(text)} bytes`);
      assert.deepEqual(text.split("\n").filter(Boolean).map((l) => JSON.parse(l).log), logs, name);
    }
  });
  it("rotates, keeping max-file files", async () => {
    const dir = mkdtempSync(join(temp, "rot-"));
    const w = new LogWriter(dir, 200, 3);
    for (let i = 0; i < 20; i++) w.write("stdout", Buffer.from(`line ${i}\n`), 0n);
    w.close();
    // The oldest went, and the mark says so (output() reports it).
    assert.deepEqual(readdirSync(dir).sort(), ["container.log", "container.log.1", "container.log.2", LOG_TRUNCATED]);
    assert.equal(logTruncated(dir), true);
    const all = (await collect(dir, {})).map((e) => e.data);
    assert.equal(all[all.length - 1], "line 19\n");
    assert.ok(all.length < 20, "the oldest are gone");
    const kept = mkdtempSync(join(temp, "kept-"));
    const k = new LogWriter(kept, 200, 3);
    for (let i = 0; i < 6; i++) k.write("stdout", Buffer.from(`line ${i}\n`), 0n);
    k.close();
    assert.ok(readdirSync(kept).includes("container.log.1"));
    assert.equal(logTruncated(kept), false, "rotated, nothing dropped");
  });
  it("a write that fails (a full disk) never throws into its monitor: the log is marked incomplete and goes on", async () => {
    const dir = mkdtempSync(join(temp, "incomplete-"));
    const w = new LogWriter(dir, 1 << 20, 3);
    w.write("stdout", Buffer.from("kept\n"), 0n);
    assert.equal(logIncomplete(dir), false);
    // A descriptor that refuses writes stands in for the full disk (the vm monitor's data handler threw, and it died).
    const writable = (w as unknown as { fd: number }).fd;
    (w as unknown as { fd: number }).fd = openSync(join(dir, "container.log"), "r");
    w.write("stdout", Buffer.from("lost\n"), 0n);
    assert.equal(logIncomplete(dir), true);
    closeSync((w as unknown as { fd: number }).fd);
    (w as unknown as { fd: number }).fd = writable;
    w.write("stdout", Buffer.from("after\n"), 0n);
    w.close();
    assert.deepEqual((await collect(dir, {})).map((e) => e.data), ["kept\n", "after\n"]);
  });
});

describe("log reader", () => {
  const dir = join(temp, "logs");
  it("reads rotated files oldest first, with tail, since and until", async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(join(dir, "container.log.2"), line("stdout", "one\n", "2024-01-01T00:00:01.000000000Z"));
    writeFileSync(join(dir, "container.log.1"), line("stderr", "two\n", "2024-01-01T00:00:02.000000000Z"));
    // A partial entry (no newline in `log`) and a line still being written at the end.
    writeFileSync(join(dir, "container.log"), line("stdout", "thr", "2024-01-01T00:00:03.000000000Z") + line("stdout", "ee\n", "2024-01-01T00:00:03.500000000Z") + '{"log":"half');
    // The parts of a line are one entry, with the time of the part that ended it (docker's json-file).
    const all = await collect(dir, {});
    assert.deepEqual(all.map((e) => `${e.stream}:${e.data}`), ["stdout:one\n", "stderr:two\n", "stdout:three\n"]);
    assert.equal(all[2]!.time, "2024-01-01T00:00:03.500000000Z");
    assert.deepEqual((await collect(dir, { tail: 2 })).map((e) => e.data), ["two\n", "three\n"]);
    const since = await collect(dir, { since: new Date("2024-01-01T00:00:02Z") });
    assert.deepEqual(since.map((e) => e.data), ["two\n", "three\n"]);
    const until = await collect(dir, { until: new Date("2024-01-01T00:00:02Z") });
    assert.deepEqual(until.map((e) => e.data), ["one\n"]);
  });

  it("tail keeps exactly the last N of a long log, across files and the backlog's batched trims", async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const file = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => line("stdout", `${from + i}\n`, "2024-01-01T00:00:01.000000000Z")).join("");
    writeFileSync(join(dir, "container.log.1"), file(0, 6000));
    writeFileSync(join(dir, "container.log"), file(6000, 10000));
    for (const tail of [0, 1, 1023, 1024, 3000, 4000, 4500, 9999, 10000, 20000]) {
      const got = (await collect(dir, { tail })).map((e) => Number(e.data));
      const want = Array.from({ length: Math.min(tail, 10000) }, (_, i) => 10000 - Math.min(tail, 10000) + i);
      assert.deepEqual(got, want, `tail ${tail}`);
    }
  });

  it("follows growth and a rotation until the container stops", async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(join(dir, "container.log"), line("stdout", "a\n", "2024-01-01T00:00:01.000000000Z"));
    let running = true;
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(dir, { follow: true }, () => running)) seen.push(e.data);
    })();
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(join(dir, "container.log"), line("stdout", "b\n", "2024-01-01T00:00:02.000000000Z"));
    await new Promise((r) => setTimeout(r, 100));
    // Rotated as the monitor does it: the old file renamed, a new one begun.
    appendFileSync(join(dir, "container.log"), line("stdout", "c\n", "2024-01-01T00:00:03.000000000Z"));
    renameSync(join(dir, "container.log"), join(dir, "container.log.1"));
    writeFileSync(join(dir, "container.log"), line("stdout", "d\n", "2024-01-01T00:00:04.000000000Z"));
    await new Promise((r) => setTimeout(r, 100));
    running = false;
    await reader;
    assert.deepEqual(seen, ["a\n", "b\n", "c\n", "d\n"]);
  });
});

describe("log follow across rotations", () => {
  it("reads every rotated file written between two looks, in order (a small max-size, a fast writer)", async () => {
    const dir = mkdtempSync(join(temp, "many-"));
    const w = new LogWriter(dir, 120, 100);
    w.write("stdout", Buffer.from("line 0\n"), 0n);
    let running = true;
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(dir, { follow: true }, () => running)) seen.push(e.data);
    })();
    await new Promise((r) => setTimeout(r, 100));
    // In one go, between two of the reader's looks: a dozen rotations.
    for (let i = 1; i < 40; i++) w.write("stdout", Buffer.from(`line ${i}\n`), 0n);
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 40; i < 60; i++) w.write("stdout", Buffer.from(`line ${i}\n`), 0n);
    w.close();
    running = false;
    await reader;
    assert.ok(readdirSync(dir).length > 10, "it rotated many times");
    assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => `line ${i}\n`));
    // Read again from the start: the same, from the oldest rotated file on.
    assert.deepEqual((await collect(dir, {})).map((e) => e.data), seen);
  });
});

describe("state.json", () => {
  const paths = new DataPaths(join(temp, "data")).container("f".repeat(64));
  it("gives old records the new fields, and a dead supervisor's container is exited", () => {
    mkdirSync(paths.dir, { recursive: true });
    writeFileSync(paths.state, JSON.stringify({ id: "f".repeat(64), name: null, status: "running", monitorPid: 2 ** 22 + 1, monitorStartTime: "1", created: "2024-01-01T00:00:00.000Z" }));
    const s = readState(paths)!;
    assert.deepEqual([s.restartCount, s.restartPolicy, s.stopSignal, s.stopTimeout, s.supervisor, s.oomKilled], [0, { name: "no", maximumRetryCount: 0 }, "SIGTERM", 10, null, false]);
    assert.equal(refreshStatus(s).status, "exited");
    const created: ContainerState = { ...s, status: "created", creatorPid: null };
    assert.equal(refreshStatus(created).status, "created", "created for good: no creator to outlive");
    assert.equal(refreshStatus({ ...created, creatorPid: 2 ** 22 + 1, creatorStartTime: "1" }).status, "exited", "its creator died while starting it");
    assert.equal(refreshStatus({ ...s, monitorPid: process.pid, monitorStartTime: readFileSync(`/proc/${process.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]! }).status, "running");
  });
  it("reads a record again once its supervisor is found dead: the end it wrote before dying wins", () => {
    const dead = { id: "f".repeat(64), name: null, status: "running", exitCode: null, monitorPid: 2 ** 22 + 1, monitorStartTime: "1", created: "2024-01-01T00:00:00.000Z" };
    writeFileSync(paths.state, JSON.stringify(dead));
    assert.deepEqual([readCurrentState(paths)!.status, readCurrentState(paths)!.exitCode], ["exited", null], "died unseen: the code is unknown");
    writeFileSync(paths.state, JSON.stringify({ ...dead, status: "exited", exitCode: 137, signal: "SIGKILL" }));
    assert.deepEqual([readCurrentState(paths)!.status, readCurrentState(paths)!.exitCode], ["exited", 137]);
  });
});

describe("CLI arguments", () => {
  it("signals in docker's forms", () => {
    assert.deepEqual(parseSignal("TERM"), { number: 15, name: "SIGTERM" });
    assert.deepEqual(parseSignal("sigkill"), { number: 9, name: "SIGKILL" });
    assert.deepEqual(parseSignal("10"), { number: 10, name: "SIGUSR1" });
    assert.throws(() => parseSignal("NOPE"), { message: "invalid signal: NOPE", exitCode: 125 });
    // Linux's numbers whatever the host (macOS's SIGUSR1 is 30, Linux's SIGPWR), and docker's real-time forms.
    assert.deepEqual(parseSignal("USR1"), { number: 10, name: "SIGUSR1" });
    assert.deepEqual(parseSignal("PWR"), { number: 30, name: "SIGPWR" });
    assert.deepEqual(parseSignal("6"), { number: 6, name: "SIGABRT" });
    assert.deepEqual(parseSignal("RTMIN+3"), { number: 37, name: "SIGRTMIN+3" });
    assert.deepEqual(parseSignal("sigrtmax"), { number: 64, name: "SIGRTMAX" });
    assert.deepEqual(parseSignal("40"), { number: 40, name: "SIG40" });
    assert.throws(() => parseSignal("RTMAX+1"), { message: "invalid signal: RTMAX+1" });
    assert.throws(() => parseSignal("RTMIN+31"), { message: "invalid signal: RTMIN+31" });
  });
  it("times: RFC 3339, Unix seconds, durations before now", () => {
    const now = Date.parse("2024-06-01T12:00:00Z");
    assert.equal(parseTimeArg("2024-01-02T15:04:05Z", "--since").toISOString(), "2024-01-02T15:04:05.000Z");
    assert.equal(parseTimeArg("1700000000.5", "--since").toISOString(), "2023-11-14T22:13:20.500Z");
    assert.equal(parseTimeArg("1h30m", "--since", now).toISOString(), "2024-06-01T10:30:00.000Z");
    assert.equal(parseTimeArg("45s", "--since", now).toISOString(), "2024-06-01T11:59:15.000Z");
    assert.throws(() => parseTimeArg("yesterday", "--since"), /invalid value "yesterday" for --since/);
  });
});

describe("generated container names", () => {
  it("are docker's adjective_surname, valid names, with a digit once a pick was taken", () => {
    const seq = (values: number[]) => () => values.shift() ?? 0;
    assert.equal(generatedName(0, seq([0, 0])), "agile_babbage");
    assert.equal(generatedName(0, seq([0.9999, 0.9999])), "zen_yonath");
    assert.equal(generatedName(3, seq([0, 0, 0.75])), "agile_babbage7");
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const name = generatedName(i % 2);
      checkContainerName(name);
      assert.match(name, /^[a-z]+_[a-z_]+\d?$/);
      seen.add(name);
    }
    assert.ok(seen.size > 150, `${seen.size} different names of 200`);
  });
});

describe("exec into a container removed meanwhile", () => {
  it("is the container's error (not running: removed), not a bare ENOENT", async () => {
    const { NativeBackend } = await import("../src/backends/native/native-backend.js");
    const { isTsboxError } = await import("../src/errors.js");
    const gone = join(temp, "containers", "0123456789ab".repeat(5) + "cdef");
    const exec = new NativeBackend().exec({ pid: 1, bundleDir: gone, process: { args: ["true"], env: [], cwd: "/", user: { uid: 0, gid: 0 } } as never, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    await assert.rejects(exec, (err: unknown) => isTsboxError(err) && err.code === "container" && err.message === "container 0123456789ab is not running: it was removed");
  });
});
