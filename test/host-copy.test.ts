/**
 * The host side of `tsbox cp` in JS (src/containers/host-copy.ts), used
 * where tsbox-runtime is not installed: a host tree read as records and
 * written back elsewhere, and record streams a hostile container could send,
 * which must never write outside the destination or delete what is there.
 * No container: these are the record streams themselves.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostCopy } from "../src/containers/host-copy.js";

const scratch = mkdtempSync(join(tmpdir(), "tsbox-scratch-hostcopy-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** One record: its header line, then a file's bytes. */
function record(path: string, type: string, extra: { body?: string; link?: string; mode?: number; major?: number } = {}): Buffer {
  const body = Buffer.from(extra.body ?? "");
  const header = { path, type, mode: extra.mode ?? (type === "dir" ? 0o755 : 0o644), uid: 0, gid: 0, mtime: 0, size: type === "file" ? body.length : 0, ...(extra.link ? { link: extra.link } : {}), ...(extra.major !== undefined ? { major: extra.major, minor: 200 } : {}) };
  return Buffer.concat([Buffer.from(JSON.stringify(header) + "\n"), type === "file" ? body : Buffer.alloc(0)]);
}

async function write(dir: string, stream: Buffer, archive = false): Promise<void> {
  const writer = hostCopy("write", dir, { archive });
  writer.stdin!.end(stream);
  await writer.done;
}

async function read(path: string, name?: string): Promise<Buffer> {
  const reader = hostCopy("read", path, name === undefined ? {} : { name });
  const chunks: Buffer[] = [];
  for await (const c of reader.stdout!) chunks.push(c as Buffer);
  await reader.done;
  return Buffer.concat(chunks);
}

describe("host-side copy without tsbox-runtime", () => {
  it("reads a tree as records and writes it back: files, modes, directories, a symlink kept as a link", async () => {
    const src = join(scratch, "src");
    mkdirSync(join(src, "sub"), { recursive: true });
    writeFileSync(join(src, "a.txt"), "alpha\n", { mode: 0o640 });
    writeFileSync(join(src, "sub", "b"), "beta\n");
    symlinkSync("/etc/passwd", join(src, "link"));
    const dest = join(scratch, "dest");
    mkdirSync(dest);
    await write(dest, await read(src, "copy"));
    assert.equal(readFileSync(join(dest, "copy", "a.txt"), "utf8"), "alpha\n");
    assert.equal(lstatSync(join(dest, "copy", "a.txt")).mode & 0o777, 0o640);
    assert.equal(readFileSync(join(dest, "copy", "sub", "b"), "utf8"), "beta\n");
    assert.equal(readlinkSync(join(dest, "copy", "link")), "/etc/passwd");
    // Into a directory that exists: merged, what was there stays; no staging dir is left.
    writeFileSync(join(scratch, "other"), "other\n");
    await write(join(dest, "copy"), await read(join(scratch, "other")));
    assert.deepEqual(readdirSync(join(dest, "copy")).sort(), ["a.txt", "link", "other", "sub"]);
    const stat = hostCopy("stat", join(src, "link"), {});
    let answer = "";
    for await (const c of stat.stdout!) answer += String(c);
    assert.deepEqual(JSON.parse(answer), { exists: true, type: "symlink", mode: 0o777, size: "/etc/passwd".length, link: "/etc/passwd", targetType: "file" });
  });

  it("names that are not UTF-8 (a directory, a file, a symlink and its target) keep their bytes, both ways; their `..` is still refused", async () => {
    // Before: the walk read names as text, so a name with \xff became U+FFFD and its lstat failed (ENOENT).
    const src = join(scratch, "raw-src");
    const b = (text: string) => Buffer.from(text, "latin1");
    mkdirSync(Buffer.concat([b(`${src}/`), b("d\xe9")]), { recursive: true });
    writeFileSync(b(`${src}/d\xe9/f\xff\nx`), "bytes\n");
    symlinkSync(b("t\xfd"), b(`${src}/l\x80`));
    const stream = await read(src, "copy");
    assert.ok(stream.includes('"pathHex":"636f70792f64e9"'), "a name that is not UTF-8 travels as its bytes");
    const dest = join(scratch, "raw-dest");
    mkdirSync(dest);
    await write(dest, stream);
    assert.equal(readFileSync(b(`${dest}/copy/d\xe9/f\xff\nx`), "utf8"), "bytes\n");
    assert.deepEqual(readlinkSync(b(`${dest}/copy/l\x80`), { encoding: "buffer" }), b("t\xfd"));
    assert.deepEqual(readdirSync(b(`${dest}/copy`), { encoding: "buffer" }).sort(Buffer.compare), [b("d\xe9"), b("l\x80")]);
    const escape = Buffer.from(JSON.stringify({ pathHex: b("\xff/../../escaped").toString("hex"), type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 }) + "\n");
    await assert.rejects(write(dest, escape), /escapes the layer root/);
    assert.ok(!existsSync(join(scratch, "escaped")));
  });

  it("a hostile stream writes nothing outside the destination and deletes nothing there", async () => {
    const dest = join(scratch, "victim");
    const outside = join(scratch, "outside");
    mkdirSync(dest);
    mkdirSync(outside);
    writeFileSync(join(dest, "keep"), "mine\n");
    const attempts: Buffer[] = [
      record("../escaped", "file", { body: "x" }),
      Buffer.concat([record("l", "symlink", { link: outside }), record("l/through", "file", { body: "x" })]),
      Buffer.concat([record("d", "dir"), record("d/up", "symlink", { link: ".." }), record("d/up/up/escaped", "file", { body: "x" })]),
    ];
    for (const stream of attempts) await assert.rejects(write(dest, stream));
    // An absolute name is taken under the destination, as docker's unpack takes it (layer-paths.ts sanitizeLayerPath).
    await write(dest, record("/abs-escaped", "file", { body: "x" }));
    assert.equal(readFileSync(join(dest, "abs-escaped"), "utf8"), "x");
    assert.deepEqual(readdirSync(outside), []);
    assert.ok(!existsSync(join(scratch, "escaped")) && !existsSync("/abs-escaped"));
    // A file named like a whiteout is a file, not a deletion; a file over a directory is refused.
    await write(dest, record(".wh.keep", "file", { body: "" }));
    assert.equal(readFileSync(join(dest, "keep"), "utf8"), "mine\n");
    mkdirSync(join(dest, "dir"));
    await assert.rejects(write(dest, record("dir", "file", { body: "x" })), /cannot overwrite the directory/);
    assert.deepEqual(readdirSync(dest).filter((n) => n.startsWith(".tsbox-cp-")), []);
    // A stream cut short (an entry announcing more bytes than come) fails too.
    const cut = record("short", "file", { body: "0123456789" }).subarray(0, -4);
    await assert.rejects(write(dest, cut));
    assert.ok(!existsSync(join(dest, "short")));
  });

  it("without -a a container's setuid/setgid bits and device nodes give the copier nothing (the helper's rule)", async () => {
    const stream = Buffer.concat([record("suid", "file", { body: "x", mode: 0o4755 }), record("sgid", "file", { body: "x", mode: 0o2755 }), record("disk", "block", { mode: 0o666, major: 7 })]);
    const plain = join(scratch, "plain");
    const archived = join(scratch, "archived");
    mkdirSync(plain);
    mkdirSync(archived);
    await write(plain, stream);
    assert.deepEqual([statSync(join(plain, "suid")).mode & 0o7777, statSync(join(plain, "sgid")).mode & 0o7777, existsSync(join(plain, "disk"))], [0o755, 0o755, false]);
    await write(archived, stream, true);
    assert.deepEqual([statSync(join(archived, "suid")).mode & 0o7777, statSync(join(archived, "sgid")).mode & 0o7777], [0o4755, 0o2755]);
  });
});
