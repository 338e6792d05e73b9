/**
 * The host side of `tsbox cp` where tsbox-runtime is not installed (macOS,
 * Windows, musl: containers run in the vm guest alone): the same record
 * streams (copy-records.ts), read from host paths and written below a host
 * directory by this process, as the calling user.
 *
 * Writing goes through the layer unpacker (image/unpack.ts) into a private
 * directory beside the destination: its checks keep every entry inside that
 * directory whatever the container sent (`..`, absolute paths, a symlink it
 * sent and then a file "through" it). Only then are the entries moved into
 * place, one rename each, never through a symlink.
 */
import { createReadStream, lstatSync, mkdtempSync, readlinkSync, renameSync, rmSync, statSync, type Stats } from "node:fs";
import { basename, join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import type { CopyHelper, CopyOptionsOfOp } from "../backends/backend.js";
import { ContainerError, errorMessage, isTsboxError } from "../errors.js";
import type { TarEntry } from "../image/tar.js";
import { unpackLayer } from "../image/unpack.js";
import { fsName } from "../name-bytes.js";
import { readdirNames, readlinkName } from "../fs-util.js";
import { assertAsked, readRecords, recordToTar, writeRecordsFromTar } from "./copy-records.js";

/** `tsbox-runtime copy` without namespaces, in JS. */
export function hostCopy(op: "stat" | "read" | "write", path: string, options: CopyOptionsOfOp): CopyHelper {
  if (op === "stat") {
    const out = new PassThrough();
    out.end(JSON.stringify(pathStat(path)) + "\n");
    return { stdin: null, stdout: out, done: Promise.resolve(), kill: () => {} };
  }
  if (op === "read") {
    const out = new PassThrough();
    const done = writeRecordsFromTar(walk(path, options), out).then(
      () => void out.end(),
      (err: unknown) => {
        out.end();
        throw hostError(err, path);
      },
    );
    done.catch(() => {});
    return { stdin: null, stdout: out, done, kill: () => out.destroy() };
  }
  const input = new PassThrough();
  const done = writeBelow(path, input, Boolean(options.archive), options.name);
  done.catch(() => {});
  return { stdin: input, stdout: null, done, kill: () => input.destroy() };
}

/** What `cp` asks of a path before copying (the helper's `stat` answer). */
function pathStat(path: string): object {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return { exists: false };
  }
  const kind = (s: Stats) => (s.isDirectory() ? "dir" : s.isSymbolicLink() ? "symlink" : s.isFile() ? "file" : "other");
  const answer: Record<string, unknown> = { exists: true, type: kind(st), mode: st.mode & 0o7777, size: st.size };
  if (st.isSymbolicLink()) {
    answer.link = readlinkSync(path);
    try {
      answer.targetType = kind(statSync(path));
    } catch {
      answer.targetType = null;
    }
  }
  return answer;
}

/** `path` and what is below it as tar entries, named `options.name` (default its base name; "": its entries at the top). */
async function* walk(path: string, options: CopyOptionsOfOp): AsyncGenerator<TarEntry> {
  const top = options.follow ? statSync(path) : lstatSync(path);
  yield* below(path, options.name ?? basename(path), top);
}

async function* below(abs: string, rel: string, st: Stats): AsyncGenerator<TarEntry> {
  if (rel !== "") {
    const entry = toEntry(abs, rel, st);
    // Sockets and device nodes of the host are not copied into a container.
    if (entry) yield entry;
  }
  if (!st.isDirectory()) return;
  // Names as their bytes are (src/name-bytes.ts): not every one is UTF-8.
  for (const name of readdirNames(abs).sort()) {
    const child = join(abs, name);
    yield* below(child, rel === "" ? name : `${rel}/${name}`, lstatSync(fsName(child)));
  }
}

function toEntry(abs: string, rel: string, st: Stats): TarEntry | undefined {
  const type = st.isFile() ? "file" : st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : st.isFIFO() ? "fifo" : undefined;
  if (!type) return undefined;
  const size = type === "file" ? st.size : 0;
  return {
    path: rel,
    type,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size,
    mtime: Math.floor(st.mtimeMs / 1000),
    linkname: type === "symlink" ? readlinkName(abs) : "",
    devmajor: 0,
    devminor: 0,
    pax: {},
    body: type === "file" ? exactly(abs, size) : (async function* () {})(),
  };
}

/** A file's first `size` bytes, padded with zeros if it shrank meanwhile: the record announced that many. */
async function* exactly(path: string, size: number): AsyncGenerator<Buffer> {
  let sent = 0;
  if (size > 0) {
    for await (const chunk of createReadStream(fsName(path), { start: 0, end: size - 1 }) as AsyncIterable<Buffer>) {
      sent += chunk.length;
      yield chunk;
    }
  }
  if (sent < size) yield Buffer.alloc(size - sent);
}

/**
 * A record stream written below the directory `dir` on the host: unpacked
 * beside it, then moved in. Without `archive` (`cp -a`)
 * what a container chose never becomes a privilege of whoever copies: device
 * nodes are left out, setuid/setgid bits cleared (the helper's rule too:
 * native-rs/container/src/copy/write.rs `WriteOptions.host`). With `name`
 * (the name its reader was asked for) a record outside it fails the write
 * before anything is moved in (`assertAsked`).
 */
async function writeBelow(dir: string, input: Readable, archive: boolean, name: string | undefined): Promise<void> {
  let stage: string;
  try {
    stage = mkdtempSync(join(dir, ".tsbox-cp-"));
  } catch (err) {
    throw hostError(err, dir);
  }
  try {
    const entries = (async function* () {
      for await (const r of readRecords(input)) {
        if (name !== undefined) assertAsked(r, name);
        if (!archive && (r.type === "char" || r.type === "block")) continue;
        yield recordToTar(archive || r.type !== "file" ? r : { ...r, mode: r.mode & ~0o6000 }, r.body);
      }
    })();
    // "oci" whiteouts: a file named `.wh.x` stays a file, never a deletion.
    await unpackLayer(entries, stage, { privileged: false, whiteouts: "oci" });
    mergeInto(stage, dir);
  } catch (err) {
    throw hostError(err, dir);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Moves `from`'s entries into `to`: into a directory that exists, over anything else but a directory. */
function mergeInto(from: string, to: string): void {
  for (const name of readdirNames(from)) {
    const src = join(from, name);
    const dest = join(to, name);
    const isDir = lstatSync(fsName(src)).isDirectory();
    let existing: Stats | undefined;
    try {
      existing = lstatSync(fsName(dest));
    } catch {
      existing = undefined;
    }
    if (isDir && existing?.isDirectory()) {
      mergeInto(src, dest);
      continue;
    }
    if (existing?.isDirectory()) throw new ContainerError(`cannot overwrite the directory ${dest} with a non-directory`);
    if (isDir && existing) throw new ContainerError(`cannot overwrite the non-directory ${dest} with a directory`);
    renameSync(fsName(src), fsName(dest));
  }
}

function hostError(err: unknown, path: string): Error {
  if (isTsboxError(err)) return err;
  return new ContainerError(`copying on the host at ${path}: ${errorMessage(err)}`);
}
