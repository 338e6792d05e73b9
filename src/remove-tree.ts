import { chmodSync, closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, renameSync, rmdirSync, unlinkSync } from "node:fs";
import { childPath, ignoreMissingSync as ignoreMissing, isErrno as isCode } from "./fs-util.js";

/**
 * `rm -rf` of a tree that a hostile process may still be writing: a container's writable layer while it is
 * removed (a process of a `--pid container:` container that outlived it, or one holding a descriptor of its root).
 *
 * On Linux every step is taken relative to a descriptor of the directory it is in, never by a path walked again:
 * a directory is opened with O_PATH | O_NOFOLLOW and reached afterwards through its `/proc/self/fd/N` link (which
 * the kernel resolves to the opened directory itself, whatever has been renamed since), its entries are unlinked
 * as `/proc/self/fd/N/name` (unlink and rmdir never follow a last component), and a child is opened the same way.
 * So a directory swapped for a symlink to `/home/user` after it was opened is never followed: the walk goes on in
 * the directory it opened, and the symlink is removed as a file. A path walk (before stop 45) sent every later
 * unlink through the symlink, on the host, as root if tsbox ran as root.
 *
 * Directories the owner cannot read or write (layer dirs with mode 0555, overlay's work/work with mode 000) are
 * granted u+rwx first, through the same descriptor. Sequential on purpose: fs.rm's parallel walk keeps deleting
 * after its first error, which makes a retry racy. Elsewhere (macOS, for the vm backend's host-side files, which
 * nothing else writes) the walk goes by path.
 */

/** open(2)'s O_PATH on Linux (the same on x86 and arm); node:fs's constants do not list it. */
const O_PATH = 0o10000000;
/** Linux: by descriptor (read when a walk runs: the browser bundle loads this module, and has no `process`). */
const byDescriptor = (): boolean => process.platform === "linux";
/** Directories open at once along one branch; a deeper one is moved up to the top and emptied from there. */
const MAX_DEPTH = 64;
/**
 * Walking by path (not Linux): past this many bytes a directory is moved up to the top too, so every path stays
 * far below PATH_MAX (a container can nest directories deeper than any path names: before stop 40 its `rm` then
 * failed with ENAMETOOLONG, and its writable layer was left for good).
 */
const DEEP_PATH = 2048;
/** Passes over one directory that keeps getting new entries (a writer racing the walk) before giving up. */
const MAX_PASSES = 100;
/** Passes over the top: each takes the directories moved up by the one before (64 levels of a deep chain). */
const MAX_TOP_PASSES = 10_000;

/** An open directory: `ref` names it (`/proc/self/fd/N`, or its path where there is no descriptor). */
interface Dir {
  ref: Buffer;
  fd?: number;
}

interface Walk {
  top: Dir;
  moved: number;
}

type Opened = Dir | "gone" | "not-dir";

/**
 * Deletes the tree at `path` (a file or symlink there is unlinked). Synchronous calls, with a turn of the event
 * loop every few milliseconds: a `--rm` bundle (an empty upper dir) is gone in a dozen syscalls instead of as many
 * thread-pool round trips, and a container that wrote thousands of files does not stall the process meanwhile.
 */
export async function removeTree(path: string | Buffer): Promise<void> {
  const steps = removing(path);
  let since = Date.now();
  while (!steps.next().done) {
    if (Date.now() - since < 4) continue;
    await new Promise((resolve) => setImmediate(resolve));
    since = Date.now();
  }
}

/** `removeTree` all at once, for synchronous callers. */
export function removeTreeNow(path: string | Buffer): void {
  const steps = removing(path);
  while (!steps.next().done);
}

/**
 * The walk, a step per directory: it yields once it has opened a directory, before it lists it — where the async
 * caller may let other work run, and where a test swaps the directory for a symlink, as a racing container would.
 */
export function* removing(path: string | Buffer): Generator<void, void, void> {
  const top = openDir(Buffer.from(path));
  if (top === "gone") return;
  if (top === "not-dir") return ignoreMissing(() => unlinkSync(path));
  try {
    grantAccess(top);
    const walk: Walk = { top, moved: 0 };
    // Until a pass finds the top empty: directories moved up (too deep), or moved here by a writer racing the
    // walk, are its entries by then (the race test's swapped directory is one).
    for (let pass = 0; (yield* emptyDir(top, 0, walk)) > 0; pass++) {
      if (pass > MAX_TOP_PASSES) throw Object.assign(new Error(`cannot remove ${String(path)}: entries keep appearing`), { code: "ENOTEMPTY" });
    }
  } finally {
    closeDir(top);
  }
  // The top is tsbox's own path (a bundle renamed aside, a layer, a volume): nothing of a container's is on it.
  ignoreMissing(() => rmdirSync(path));
}

/** Removes every entry of `dir`; how many it found. */
function* emptyDir(dir: Dir, depth: number, walk: Walk): Generator<void, number, void> {
  yield;
  const entries = readdirSync(dir.ref, { withFileTypes: true, encoding: "buffer" });
  for (const entry of entries) {
    const child = childPath(dir.ref, entry.name);
    if (!entry.isDirectory() && unlinkUnlessDir(child)) continue;
    yield* removeDir(child, depth + 1, walk);
  }
  return entries.length;
}

function* removeDir(child: Buffer, depth: number, walk: Walk): Generator<void, void, void> {
  for (let pass = 0; ; pass++) {
    const dir = openDir(child);
    if (dir === "gone") return;
    // Swapped for a file or a symlink since it was listed: removed as one, never followed.
    if (dir === "not-dir") return ignoreMissing(() => unlinkSync(child));
    try {
      grantAccess(dir);
      if (depth >= MAX_DEPTH || (!byDescriptor() && child.length > DEEP_PATH)) {
        // Its parent's descriptor names the source, the top's the destination: nothing on the way is a path.
        return moveToTop(child, walk);
      }
      yield* emptyDir(dir, depth, walk);
    } finally {
      closeDir(dir);
    }
    try {
      return ignoreMissing(() => rmdirSync(child));
    } catch (err) {
      // A file or symlink there now: unlinked. New entries (a writer racing the walk): emptied again.
      if (isCode(err, "ENOTDIR")) return ignoreMissing(() => unlinkSync(child));
      if (!isCode(err, "ENOTEMPTY") || pass >= MAX_PASSES) throw err;
    }
  }
}

function moveToTop(child: Buffer, walk: Walk): void {
  for (;;) {
    try {
      return renameSync(child, childPath(walk.top.ref, Buffer.from(`.tsbox-deep-${process.pid}-${walk.moved++}`)));
    } catch (err) {
      // A name an earlier, interrupted walk left: the next one.
      if (!isCode(err, "EEXIST") && !isCode(err, "ENOTEMPTY")) throw err;
    }
  }
}

/** Unlinks `path` unless it is a directory (false then). */
function unlinkUnlessDir(path: Buffer): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    // Linux says EISDIR for a directory, macOS EPERM.
    if (isCode(err, "EISDIR") || isCode(err, "EPERM")) return false;
    if (isCode(err, "ENOENT")) return true;
    throw err;
  }
}

function openDir(path: Buffer): Opened {
  try {
    if (!byDescriptor()) return lstatSync(path).isDirectory() ? { ref: path } : "not-dir";
    const fd = openSync(path, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW); // (libuv adds O_CLOEXEC)
    return { ref: Buffer.from(`/proc/self/fd/${fd}`), fd };
  } catch (err) {
    if (isCode(err, "ENOENT")) return "gone";
    // O_NOFOLLOW on a symlink: ELOOP; O_DIRECTORY on anything else: ENOTDIR.
    if (isCode(err, "ENOTDIR") || isCode(err, "ELOOP")) return "not-dir";
    throw err;
  }
}

function closeDir(dir: Dir): void {
  if (dir.fd !== undefined) closeSync(dir.fd);
}

/** u+rwx on a directory that lacks it (chmod through `/proc/self/fd/N` acts on the opened directory itself). */
function grantAccess(dir: Dir): void {
  const mode = (dir.fd !== undefined ? fstatSync(dir.fd) : lstatSync(dir.ref)).mode & 0o7777;
  if ((mode & 0o700) === 0o700) return;
  try {
    chmodSync(dir.ref, mode | 0o700);
  } catch {
    // listing it reports the real problem
  }
}
