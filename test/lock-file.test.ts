/**
 * src/lock-file.ts: the data dir's locks (image index, volumes, networks,
 * containers) are flocks, so a holder that is SIGKILLed frees its lock at
 * once, and a live holder keeps it however long it takes. No containers;
 * real processes hold the locks.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { withLockFile, withLockFileSync } from "../src/lock-file.js";

const dir = mkdtempSync(join(tmpdir(), "lock-file-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const words = { missing: "no such dir", busy: "the thing is busy", waitMs: 300 };

/** A process of its own holding the lock on `path` until killed; resolves once it holds it. */
async function holder(path: string, env: NodeJS.ProcessEnv = process.env, directory = false) {
  const child = spawn(process.execPath, ["--import", "tsx", "-e", `
    const { withLockFile } = await import(${JSON.stringify(new URL("../src/lock-file.ts", import.meta.url).pathname)});
    await withLockFile(${JSON.stringify(path)}, { missing: "m", busy: "b", directory: ${directory} }, () => { console.log("held"); return new Promise(() => setInterval(() => {}, 60_000)); });
  `], { stdio: ["ignore", "pipe", "inherit"], env });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => d.toString().includes("held") && resolve());
    child.on("exit", (code) => reject(new Error(`the holder exited (${code})`)));
  });
  return child;
}

it("a live holder keeps the lock; once it is SIGKILLed the lock is free at once, in both forms", async () => {
  const path = join(dir, ".index.lock");
  const child = await holder(path);
  await assert.rejects(withLockFile(path, words, () => "taken"), /the thing is busy: another tsbox process has held its lock/);
  assert.throws(() => withLockFileSync(path, words, () => "taken"), /the thing is busy/);
  child.kill("SIGKILL");
  await new Promise((resolve) => child.on("close", resolve));
  // Before, a killed holder's lock (a directory) stalled everyone for 30 s, then anyone broke it, live holder or not.
  assert.equal(await withLockFile(path, { ...words, waitMs: 0 }, () => "taken"), "taken");
  assert.equal(withLockFileSync(path, { ...words, waitMs: 0 }, () => "again"), "again");
});

it("one process at a time: sections that overlap in time run one after the other", async () => {
  const path = join(dir, "order.lock");
  const events: string[] = [];
  const section = (n: number) =>
    withLockFile(path, words, async () => {
      events.push(`in ${n}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      events.push(`out ${n}`);
    });
  await Promise.all([section(1), section(2)]);
  assert.deepEqual(events, ["in 1", "out 1", "in 2", "out 2"]);
});

it("an older tsbox's lock directory left at the path is taken over; a missing directory is the caller's error", async () => {
  const path = join(dir, ".lock");
  mkdirSync(path);
  assert.equal(await withLockFile(path, words, () => "taken"), "taken");
  await assert.rejects(withLockFile(join(dir, "gone", ".lock"), words, () => "taken"), /^ContainerError: no such dir$/);
});

it("without the addon (macOS, Windows) the lock is an owner file: busy while its holder lives, taken over once it is gone", async () => {
  const path = join(dir, "owner.lock");
  const noAddon = { ...process.env, TSBOX_ADDON: join(dir, "no-such-addon.node") };
  const child = await holder(path, noAddon);
  const saved = process.env.TSBOX_ADDON;
  process.env.TSBOX_ADDON = noAddon.TSBOX_ADDON;
  try {
    assert.ok(existsSync(`${path}.owner`));
    await assert.rejects(withLockFile(path, words, () => "taken"), /the thing is busy/);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.on("close", resolve));
    assert.equal(await withLockFile(path, words, () => "taken"), "taken");
    assert.equal(existsSync(`${path}.owner`), false, "released");
  } finally {
    if (saved === undefined) delete process.env.TSBOX_ADDON;
    else process.env.TSBOX_ADDON = saved;
  }
});

const dirWords = { ...words, directory: true };

it("the store's locks are a flocked directory: busy while a holder lives, free once it is SIGKILLed, in both forms", async () => {
  const path = join(dir, "store", ".index.lock");
  mkdirSync(join(dir, "store"));
  const child = await holder(path, process.env, true);
  await assert.rejects(withLockFile(path, dirWords, () => "taken"), /the thing is busy/);
  assert.throws(() => withLockFileSync(path, dirWords, () => "taken"), /the thing is busy/);
  child.kill("SIGKILL");
  await new Promise((resolve) => child.on("close", resolve));
  assert.equal(await withLockFile(path, { ...dirWords, waitMs: 0 }, () => "taken"), "taken");
  assert.equal(withLockFileSync(path, { ...dirWords, waitMs: 0 }, () => "again"), "again");
  await assert.rejects(withLockFile(join(dir, "gone", ".index.lock"), dirWords, () => "taken"), /^ContainerError: no such dir$/);
});

it("an older tsbox after this one (a downgrade) gets its mkdir lock: the path is an empty directory its stale-lock rmdir removes", async () => {
  const path = join(dir, "downgrade.lock");
  await withLockFile(path, dirWords, () => undefined);
  // What tsbox before the flocks did (fs-util.ts tryFileLock): mkdir, EEXIST, the lock older than 30 s broken by
  // rmdir. A regular file here failed that rmdir with ENOTDIR, which it ignored, and it tried again for ever.
  assert.ok(statSync(path).isDirectory());
  assert.deepEqual(readdirSync(path), []);
  assert.ok(Date.now() - statSync(path).mtimeMs > 30_000, "older than its 30 s: broken at once, not after a wait");
  rmdirSync(path);
  mkdirSync(path);
  // Its lock directory, held or left behind, is what this one then locks.
  assert.equal(await withLockFile(path, dirWords, () => "taken"), "taken");
  assert.ok(statSync(path).isDirectory());
});

it("the lock file of the version between is respected while held, then replaced by the directory", async () => {
  const path = join(dir, "between.lock");
  const child = await holder(path);
  assert.ok(statSync(path).isFile());
  await assert.rejects(withLockFile(path, dirWords, () => "taken"), /the thing is busy/);
  child.kill("SIGKILL");
  await new Promise((resolve) => child.on("close", resolve));
  assert.equal(await withLockFile(path, dirWords, () => "taken"), "taken");
  assert.ok(statSync(path).isDirectory());
  // A file left by that version's last run, never held: replaced at the first use.
  const left = join(dir, "left.lock");
  writeFileSync(left, "");
  assert.equal(withLockFileSync(left, dirWords, () => "taken"), "taken");
  assert.ok(statSync(left).isDirectory());
});

it("a lock directory an older tsbox removed while we waited on it is not taken: one holder at a time after a downgrade's run", async () => {
  const path = join(dir, "broken.lock");
  const { readlinkSync } = await import("node:fs");
  /** How many of our descriptors are open on the directory at `path` (the waiter's is there once it tries). */
  const opened = () => readdirSync("/proc/self/fd").filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`) === path; } catch { return false; } }).length;
  let second: unknown = "not run";
  let waiter: Promise<void> | undefined;
  await withLockFile(path, dirWords, async () => {
    // B waits on the directory we hold …
    waiter = withLockFile(path, { ...dirWords, waitMs: 60_000 }, () => {
      // … and once in, a third process (C) must find the lock busy.
      try {
        second = withLockFileSync(path, dirWords, () => "C got in beside B");
      } catch (err) {
        second = err;
      }
    });
    while (opened() < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    // An older tsbox run meanwhile: it breaks our 1970 directory by rmdir, takes its own, and removes that when done.
    rmdirSync(path);
    mkdirSync(path);
    rmdirSync(path);
  });
  await waiter;
  // Before, B took the flock of the removed directory and C that of a new one at the path: both were inside.
  assert.match(String(second), /the thing is busy/);
  assert.ok(statSync(path).isDirectory());
});
