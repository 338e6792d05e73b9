import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, constants, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { lstat, open, readdir, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { fsName, nameFromBytes } from "./name-bytes.js";
import { finished } from "node:stream/promises";

/**
 * Random hex, for temp names and container ids. Read from /dev/urandom:
 * loading node:crypto costs several milliseconds of `tsbox run` start-up.
 */
export function randomHex(bytes: number): string {
  const buf = Buffer.allocUnsafe(bytes);
  // Windows has no /dev/urandom: Web Crypto there (it loads what node:crypto does, once).
  if (process.platform === "win32") return Buffer.from(globalThis.crypto.getRandomValues(buf)).toString("hex");
  const fd = openSync("/dev/urandom", "r");
  try {
    for (let off = 0; off < bytes; ) off += readSync(fd, buf, off, bytes - off, null);
  } finally {
    closeSync(fd);
  }
  return buf.toString("hex");
}

let tempCounter = 0;

/** A temp name beside `path`, unique among live processes (pid) and within this one (counter). */
function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${tempCounter++}.tmp`);
}

/** The pid in a `tempSibling` name (`.<name>.<pid>.<n>.tmp`), so a prune can tell a dead writer's; else undefined. */
export function tempSiblingPid(name: string): number | undefined {
  const pid = Number(/^\..+\.(\d+)\.\d+\.tmp$/.exec(name)?.[1]);
  return pid > 0 ? pid : undefined;
}

/**
 * fsync(2) of an open FileHandle, as `fh.sync()` does, through its descriptor: Yarn Plug'n'Play's patched
 * fs.promises hands out FileHandles whose sync() throws "Method not implemented" (every first image import failed
 * there); its descriptor of a real file is the real one.
 */
export function syncHandle(fh: FileHandle): Promise<void> {
  return new Promise((resolve, reject) => fsync(fh.fd, (err) => (err ? reject(err) : resolve())));
}

/**
 * Write-temp-then-rename: readers see the old or the new file, never a torn
 * one. With `durable`, the data is fsynced before the rename so a crash
 * cannot leave an empty file under the final name either, and the directory
 * after it, so the rename itself is on disk when this returns (a crash right
 * after a pull lost the first index.json it wrote).
 */
export async function writeFileAtomic(path: string, data: string | Buffer, options: { durable?: boolean; mode?: number } = {}): Promise<void> {
  const tmp = tempSibling(path);
  const fh = await open(tmp, "wx", options.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    if (options.durable) await syncHandle(fh);
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  if (options.durable) syncDirectory(dirname(path));
}

/** fsync(2) of a directory: the names made, renamed or removed in it are on disk. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Where a user's output file goes (`outputFile`). */
export interface OutputFile {
  /** The file to create and write. */
  write: string;
  /** Renamed over this once complete; undefined: `write` is the target itself. */
  renameTo?: string;
}

/**
 * A user's output file (`save -o`, `export -o`): a new or regular file is
 * written as a temp sibling renamed over it once complete (a failed write
 * leaves no half file), found through symlinks so a link stays a link;
 * anything else — /dev/null, a FIFO, a terminal — is written into as it is:
 * a rename would replace the device node itself (as root, the host's
 * /dev/null). A directory is refused.
 */
export function outputFile(path: string): OutputFile {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return { write: `${path}.${process.pid}.${randomHex(4)}.tmp`, renameTo: path };
  if (st.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" });
  if (!st.isFile()) return { write: path };
  const target = realpathSync(path);
  return { write: `${target}.${process.pid}.${randomHex(4)}.tmp`, renameTo: target };
}

/**
 * Synchronous writeFileAtomic, for small metadata files on the `run` path:
 * a few syscalls are cheaper than as many thread-pool round trips.
 */
export function writeFileAtomicSync(path: string, data: string | Buffer, options: { durable?: boolean; mode?: number } = {}): void {
  const tmp = tempSibling(path);
  const fd = openSync(tmp, "wx", options.mode ?? 0o644);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    if (options.durable) fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
    if (options.durable) syncDirectory(dirname(path));
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(tmp);
    } catch {
      // never created or already renamed
    }
    throw err;
  }
}

/**
 * Writes a user's output file by `outputFile`'s rules with `write`: a
 * regular file is published (flushed to disk, renamed into place) only once
 * complete, and a failed write leaves no half file.
 */
export async function writeOutputFile(path: string, write: (out: Writable) => Promise<void>): Promise<void> {
  const target = outputFile(path);
  // Opened here, so a missing or unwritable directory is this call's error, named by the user's path (the
  // stream's own open failed as an unhandled 'error' event: a stack trace).
  const handle = await open(target.write, target.renameTo ? "wx" : "w", 0o644).catch((err: NodeJS.ErrnoException) => {
    throw Object.assign(new Error(`cannot write ${path}: ${systemErrorText(err)}`), { code: err.code });
  });
  const file = handle.createWriteStream();
  // An error while writing (a full disk) rejects `finished` below; nothing is left unhandled meanwhile.
  let fileError: NodeJS.ErrnoException | undefined;
  // Never ERR_STREAM_DESTROYED: a write still queued when the catch below destroys the stream fails with it, which
  // hid the writer's own error (export -o of a tree the helper could not read: "Cannot call write after a stream
  // was destroyed"); a stream that destroyed itself did so for an error recorded before.
  file.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "ERR_STREAM_DESTROYED") fileError ??= err;
  });
  try {
    await write(file);
    file.end();
    await finished(file);
    if (target.renameTo) {
      const fh = await open(target.write, "r");
      await syncHandle(fh).finally(() => fh.close());
      await rename(target.write, target.renameTo);
    }
  } catch (err) {
    file.destroy();
    if (!file.closed) await new Promise<void>((resolve) => file.once("close", () => resolve()));
    if (target.renameTo) await unlink(target.write).catch(() => {});
    // The file's own error (known once it closed) says why, not what it made the writer see ("the copy stream
    // was closed"); a full disk names the file (before: "internal error", or that closed stream).
    const cause = (fileError ?? err) as NodeJS.ErrnoException;
    if (isDiskFull(cause)) throw Object.assign(new Error(`cannot write ${path}: ${systemErrorText(cause)}`), { code: cause.code });
    throw cause;
  }
}

/** A system error's description without its syscall and path: "no such file or directory". */
export function systemErrorText(err: NodeJS.ErrnoException): string {
  return /^E[A-Z]+: ([^,]+)/.exec(err.message)?.[1] ?? err.message;
}

/**
 * A child's path from its directory's and its name as the kernel gave it: a
 * container may name files with bytes that are not UTF-8 (`caf\xe9`), which
 * a string name would turn into U+FFFD (ENOENT on unlink, then ENOTEMPTY).
 */
export function childPath(dir: string | Buffer, name: Buffer): Buffer {
  // (No module-level Buffer: the browser bundle loads this module too.)
  return Buffer.concat([typeof dir === "string" ? Buffer.from(dir) : dir, Buffer.from("/"), name]);
}

/** Runs `op`; a missing file is no error. */
export function ignoreMissingSync(op: () => void): void {
  try {
    op();
  } catch (err) {
    if (!isErrno(err, "ENOENT")) throw err;
  }
}

/**
 * Deletes a file if it is there. `rmSync(path, { force: true })` does the same but loads Node's rimraf module,
 * which `tsbox run` and `exec` pay on every start.
 */
export function unlinkIfThere(path: string): void {
  ignoreMissingSync(() => unlinkSync(path));
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** A write the disk refused for want of room: ENOSPC, or the user's quota (EDQUOT). */
export function isDiskFull(err: unknown): boolean {
  return isErrno(err, "ENOSPC") || isErrno(err, "EDQUOT");
}

/**
 * Keeps `bytes` at `path` for a write that must land on a full disk (index.json's, a monitor's state.json), which
 * deletes it first: random bytes, which a compressing file system keeps too. A disk too full for it goes without
 * until there is room.
 */
export function keepSpaceReserve(path: string, bytes: number): void {
  if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) >= bytes) return;
  try {
    writeFileAtomicSync(path, randomBytes(bytes));
  } catch {
    // no room yet
  }
}

/** The longest path a unix socket address holds on macOS and the BSDs (104 bytes with its NUL; Linux: 108). */
const SOCKET_PATH_MAX = 103;

/**
 * Binds or connects (`use`) the unix socket `dir/name` however long `dir` is: libuv cuts a path longer than a socket
 * address silently, and the socket would be made (or sought) at the cut path, outside `dir`. On Linux `use` gets
 * `/proc/self/fd/N/name` of `dir` opened for the call; elsewhere the path itself, refused when too long.
 */
export async function viaSocketAddress<T>(dir: string, name: string, use: (address: string) => Promise<T>): Promise<T> {
  if (process.platform !== "linux") {
    const path = join(dir, name);
    if (process.platform !== "win32" && Buffer.byteLength(path) > SOCKET_PATH_MAX) {
      throw new Error(`${path} is too long for a socket address (${Buffer.byteLength(path)} bytes, at most ${SOCKET_PATH_MAX}): use a shorter directory`);
    }
    return use(path);
  }
  const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return await use(`/proc/self/fd/${dirFd}/${name}`);
  } finally {
    closeSync(dirFd);
  }
}

/** A directory's entries; none when it does not exist (yet). */
export function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
}

/**
 * The size of the files under `dir` (disk usage and prune reports); what
 * cannot be read counts as nothing. A running container may swap a
 * directory of its upper dir or a volume for a symlink while we walk: on
 * Linux each directory is opened `O_NOFOLLOW` below its parent's descriptor
 * (`/proc/self/fd/N/name`), so the walk never leaves the tree.
 */
export async function treeBytes(dir: string | Buffer): Promise<number> {
  if (process.platform !== "linux") return treeBytesByPath(dir.toString());
  const opened = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!opened) return 0;
  try {
    const here = `/proc/self/fd/${opened.fd}`;
    let total = 0;
    // Names as bytes: a container's need not be UTF-8 (see childPath).
    for (const e of await readdir(here, { withFileTypes: true, encoding: "buffer" }).catch(() => [])) {
      if (e.isDirectory()) total += await treeBytes(childPath(here, e.name));
      else total += (await lstat(childPath(here, e.name)).catch(() => ({ size: 0 }))).size;
    }
    return total;
  } finally {
    await opened.close();
  }
}

async function treeBytesByPath(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await treeBytesByPath(path);
    else total += (await lstat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/**
 * `mkdir -p` for a path a user gave. Node's `mkdirSync(…, { recursive: true })`
 * never returns where mkdir fails with ENOENT although the parent exists
 * (procfs: `-v /proc/x:/y` spun at 100 % CPU, deaf to SIGTERM): this goes up
 * at most once per path component and reports the error it got.
 */
export function makeDirs(dir: string, mode: number, parentMade = false): void {
  try {
    mkdirSync(dir, { mode });
  } catch (err) {
    if (isErrno(err, "EEXIST") && statSync(dir).isDirectory()) return;
    // A missing parent is made once: an ENOENT after that (procfs) is the answer.
    if (!isErrno(err, "ENOENT") || parentMade || dirname(dir) === dir) throw err;
    makeDirs(dirname(dir), mode);
    makeDirs(dir, mode, true);
  }
}

/**
 * Makes `dir` (and missing parents) 0700, and takes group and other access
 * off it when it has some and is ours: for what holds an image's files as
 * they are (setuid binaries, device nodes and file capabilities as root, or
 * the user's own setuid copies rootless), which no other user may reach
 * (docker keeps /var/lib/docker 0710 for the same reason).
 */
export function ensurePrivateDir(dir: string): void {
  makeDirs(dir, 0o700);
  const st = statSync(dir);
  if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) chmodSync(dir, st.mode & 0o700);
}

/**
 * realpathSync of a name kept as src/name-bytes.ts keeps it. Node's JS
 * realpath turns a Buffer path into text on the way (a name that is not
 * UTF-8 then is not found); the native one keeps its bytes.
 */
export function realpathName(path: string): string {
  const p = fsName(path);
  return typeof p === "string" ? realpathSync(p) : nameFromBytes(realpathSync.native(p, { encoding: "buffer" }));
}

/** A directory's names as src/name-bytes.ts keeps them (not every name is UTF-8). */
export function readdirNames(dir: string): string[] {
  return readdirSync(fsName(dir), { encoding: "buffer" }).map(nameFromBytes);
}

/** A symlink's target as src/name-bytes.ts keeps names. */
export function readlinkName(path: string): string {
  return nameFromBytes(readlinkSync(fsName(path), { encoding: "buffer" }));
}
