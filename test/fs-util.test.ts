/**
 * src/fs-util.ts rules that guard the host from what a container or a user
 * put in a path: the disk-usage walk never follows a symlink (a running
 * container may swap a directory for one), and a user's output file that is
 * a device, FIFO or symlink is written through, never replaced; a tree
 * nested deeper than any path can name is still removed. No containers.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { execFileSync } from "node:child_process";
import { makeDirs, outputFile, syncHandle, treeBytes, writeOutputFile } from "../src/fs-util.js";
import { open } from "node:fs/promises";
import { removeTree, removeTreeNow, removing } from "../src/remove-tree.js";

const dir = mkdtempSync(join(tmpdir(), "fs-util-"));
after(() => rmSync(dir, { recursive: true, force: true }));

it("treeBytes counts the tree's files and no symlink's target", async () => {
  mkdirSync(join(dir, "tree/a/b"), { recursive: true });
  writeFileSync(join(dir, "tree/a/b/f"), "x".repeat(1000));
  writeFileSync(join(dir, "tree/g"), "yy");
  symlinkSync("/usr", join(dir, "tree/usr-link")); // counted as the link itself: 4 bytes
  assert.equal(await treeBytes(join(dir, "tree")), 1006);
  assert.equal(await treeBytes(join(dir, "tree/usr-link")), 0, "a symlink where a directory was is not walked");
  assert.equal(await treeBytes(join(dir, "missing")), 0);
});

it("outputFile: a regular or new file through a temp sibling, a device or FIFO as it is, a symlink's target, never a directory", () => {
  const fresh = outputFile(join(dir, "new.tar"));
  assert.equal(fresh.renameTo, join(dir, "new.tar"));
  assert.match(fresh.write, /new\.tar\.\d+\.[0-9a-f]{8}\.tmp$/);
  writeFileSync(join(dir, "real.tar"), "");
  symlinkSync("real.tar", join(dir, "link.tar"));
  assert.equal(outputFile(join(dir, "link.tar")).renameTo, join(dir, "real.tar"));
  assert.deepEqual(outputFile("/dev/null"), { write: "/dev/null" });
  assert.throws(() => outputFile(dir), /is a directory/);
});

it("writeOutputFile: a writer's failure is the error, not the writes it left queued; no temp file stays", async () => {
  // As export -o when its helper fails after some records: tar blocks still queued when the file stream is
  // destroyed. Before: "Cannot call writev after a stream was destroyed" instead of the helper's error.
  const target = join(dir, "failed.tar");
  const failing = writeOutputFile(target, async (out) => {
    for (let i = 0; i < 100; i++) out.write(Buffer.alloc(512));
    await new Promise((resolve) => setImmediate(resolve));
    throw new Error("reading /deep/a: File name too long");
  });
  await assert.rejects(failing, { message: "reading /deep/a: File name too long" });
  assert.deepEqual(readdirSync(dir).filter((e) => e.startsWith("failed.tar")), []);
});

it("removeTree and removeTreeNow remove a tree nested deeper than PATH_MAX, read-only directories on the way too", async () => {
  // As a container can: 20 directories of 250 characters (5 KB of path), made one `cd` at a time.
  const nest = (top: string) => {
    mkdirSync(top);
    const script = `process.chdir(${JSON.stringify(top)}); const fs = require("fs"); const n = "0".repeat(250);
      for (let i = 1; i <= 20; i++) { fs.mkdirSync(n); process.chdir(n); if (i === 12) fs.chmodSync("..", 0o555); }
      fs.writeFileSync("f", "x");`;
    execFileSync(process.execPath, ["-e", script]);
  };
  for (const [name, remove] of [["async", removeTree], ["sync", async (p: string) => removeTreeNow(p)]] as const) {
    const top = join(dir, `deep-${name}`);
    nest(top);
    await remove(top);
    assert.equal(existsSync(top), false, `${name}: before, ENAMETOOLONG and the tree left`);
  }
});

it("removeTree and removeTreeNow remove names that are not UTF-8, and treeBytes counts their files", async () => {
  // A container may name files with any bytes but "/" and NUL: as a string, caf\xe9 became caf\ufffd (ENOENT on
  // unlink, then ENOTEMPTY, and the container's layer and volumes were left for good).
  for (const [name, remove] of [["async", removeTree], ["sync", async (p: string) => removeTreeNow(p)]] as const) {
    const top = join(dir, `bytes-${name}`);
    const odd = Buffer.concat([Buffer.from(`${top}/caf`), Buffer.from([0xe9])]);
    mkdirSync(top);
    mkdirSync(odd);
    writeFileSync(Buffer.concat([odd, Buffer.from("/x"), Buffer.from([0xff])]), "12345");
    writeFileSync(Buffer.concat([Buffer.from(`${top}/`), Buffer.from([0xfe, 0xff])]), "67");
    assert.equal(await treeBytes(top), 7, `${name}: both files counted`);
    await remove(top);
    assert.equal(existsSync(top), false, `${name}: the tree is gone`);
  }
});

it("removeTree never follows a directory swapped for a symlink while it walks (a container racing its own removal)", () => {
  // The walk opens a directory, yields, then lists it: here, between the two, the directory is renamed away and a
  // symlink to `outside` put in its place, as a process still writing a container's upper dir can do with
  // renameat2(RENAME_EXCHANGE). Before stop 45 the walk went by path and deleted what `outside` held.
  const top = join(dir, "racing");
  const outside = join(dir, "racing-outside");
  mkdirSync(join(top, "d", "sub"), { recursive: true });
  writeFileSync(join(top, "d", "f"), "x");
  mkdirSync(join(outside, "sub"), { recursive: true });
  for (const f of ["keep1", "keep2", "sub/keep3"]) writeFileSync(join(outside, f), "precious");
  const steps = removing(top);
  steps.next(); // the top is open
  steps.next(); // d is open, not listed yet
  renameSync(join(top, "d"), join(top, "moved"));
  symlinkSync(outside, join(top, "d"));
  while (!steps.next().done);
  assert.deepEqual(readdirSync(outside, { recursive: true }).sort(), ["keep1", "keep2", "sub", "sub/keep3"]);
  assert.equal(existsSync(top), false, "the tree, the moved directory and the symlink are gone");
});

it("removeTree removes a chain of directories deeper than it keeps open at once, and a tree whose top is a symlink as a file", async () => {
  const top = join(dir, "chain");
  let here = top;
  for (let i = 0; i < 200; i++) here = join(here, "d");
  mkdirSync(here, { recursive: true, mode: 0o700 });
  writeFileSync(join(here, "f"), "x");
  chmodSync(join(top, "d", "d"), 0o000);
  await removeTree(top);
  assert.equal(existsSync(top), false);
  mkdirSync(join(dir, "target"));
  symlinkSync(join(dir, "target"), join(dir, "link"));
  removeTreeNow(join(dir, "link"));
  assert.deepEqual([existsSync(join(dir, "link")), existsSync(join(dir, "target"))], [false, true]);
});

it("makeDirs: mkdir -p that ends where mkdir says ENOENT under an existing parent (procfs), where Node's recursive mkdir spins", () => {
  assert.throws(() => makeDirs("/proc/tsbox-no-such/a", 0o755), { code: "ENOENT" });
  const made = join(dir, "made", "a", "b");
  makeDirs(made, 0o750);
  makeDirs(made, 0o750); // there already: nothing to do
  assert.equal(statSync(made).mode & 0o777, 0o750 & ~process.umask());
  writeFileSync(join(dir, "made", "file"), "");
  assert.throws(() => makeDirs(join(dir, "made", "file"), 0o755), { code: "EEXIST" });
  assert.throws(() => makeDirs(join(dir, "made", "file", "x"), 0o755), { code: "ENOTDIR" });
});

it("syncHandle fsyncs through the descriptor: a FileHandle without sync() (Yarn Plug'n'Play's) is synced, a closed one refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sync-handle-"));
  try {
    const fh = await open(join(dir, "f"), "w");
    await fh.write("data");
    // Yarn's patched fs.promises: "FIXME: Missing FakeFS version", sync() { throw new Error("Method not implemented.") }.
    Object.defineProperty(fh, "sync", { value: () => Promise.reject(new Error("Method not implemented.")) });
    await syncHandle(fh);
    await fh.close();
    await assert.rejects(syncHandle(fh), { code: "ERR_OUT_OF_RANGE" }, "a closed handle's descriptor is -1");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
