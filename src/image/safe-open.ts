/**
 * Reading files in trees that someone else controls — a container's layers
 * (its writable upper dir included), a 9p export — without ever following a
 * symlink out of the tree, opening a device node (opening one can act on
 * the device) or blocking on a FIFO, and without a window between a check
 * and the open (the tree may change under us).
 *
 * Node has no openat(2): a directory fd plus `/proc/self/fd/<fd>/<name>`
 * gives the same one-name-at-a-time walk (the kernel resolves the magic
 * link to that very directory, then `name` with O_NOFOLLOW). A file is
 * first opened O_PATH (which opens nothing), checked with fstat, and only
 * then reopened for reading through its own /proc link, which reaches that
 * inode whatever the path names by then.
 */
import { fsName } from "../name-bytes.js";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { TsboxError } from "../errors.js";

const O_RDONLY = 0;
const O_NOCTTY = 0o400;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;

/** An errno error like Node's fs ones (`code` set), for callers that map codes. */
function fsError(code: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });
}

/**
 * Opens an existing regular file with `flags` (O_NOFOLLOW is implied; a
 * final symlink fails with ELOOP). Anything else fails with EACCES without
 * having been opened.
 */
export function openRegular(path: string, flags: number): number {
  const pathFd = openSync(fsName(path), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  try {
    const st = fstatSync(pathFd);
    if (st.isSymbolicLink()) throw fsError("ELOOP", "open", path);
    if (!st.isFile()) throw fsError("EACCES", "open", path);
    // O_NOFOLLOW would refuse the /proc link itself; the O_PATH open did not follow.
    return openSync(`/proc/self/fd/${pathFd}`, (flags & ~O_NOFOLLOW) | O_NOCTTY | O_CLOEXEC);
  } finally {
    closeSync(pathFd);
  }
}

export type TreeFile = { kind: "file"; data: Buffer } | { kind: "missing" } | { kind: "hidden" };

/**
 * `rel` ("etc/passwd") inside `root`, walked one name at a time without
 * following symlinks: "missing" when a name does not exist, "hidden" when a
 * parent is not a directory or the file is not a regular file (a symlink,
 * an overlay whiteout, a FIFO…), else its content. A file larger than
 * `maxBytes` is an error naming it.
 */
export function readFileInTree(root: string, rel: string, maxBytes: number): TreeFile {
  const names = rel.split("/").filter((n) => n !== "" && n !== ".");
  const fds: number[] = [];
  try {
    let dir = openSync(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fds.push(dir);
    for (let i = 0; i < names.length - 1; i++) {
      const next = openOrNull(`/proc/self/fd/${dir}/${names[i]}`, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (typeof next === "string") return { kind: next };
      fds.push((dir = next));
    }
    const pathFd = openOrNull(`/proc/self/fd/${dir}/${names[names.length - 1]}`, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (typeof pathFd === "string") return { kind: pathFd };
    fds.push(pathFd);
    const st = fstatSync(pathFd);
    if (!st.isFile()) return { kind: "hidden" };
    if (st.size > maxBytes) throw new TsboxError(`${rel} is larger than ${maxBytes} bytes: not read`, { code: "usage" });
    const fd = openSync(`/proc/self/fd/${pathFd}`, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    fds.push(fd);
    // The file may grow while we read: never past maxBytes.
    const buf = Buffer.alloc(Math.min(Number(st.size), maxBytes) + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    if (n > maxBytes) throw new TsboxError(`${rel} is larger than ${maxBytes} bytes: not read`, { code: "usage" });
    return { kind: "file", data: buf.subarray(0, n) };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** An fd, or what a failed open means for the walk. */
function openOrNull(path: string, flags: number): number | "missing" | "hidden" {
  try {
    return openSync(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "missing";
    if (code === "ELOOP" || code === "ENOTDIR") return "hidden";
    throw err;
  }
}
