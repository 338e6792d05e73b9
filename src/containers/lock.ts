import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { addonPresent, loadAddon } from "../backends/native/addon.js";
import { ContainerError } from "../errors.js";
import { isErrno } from "../fs-util.js";
import { pidAlive } from "../process-alive.js";

/** The lock file in a bundle; the monitor (native-rs/runtime/src/state_file.rs) locks the same file. */
export const LOCK_FILE = "lock";

const WAIT_MS = 30_000;

/**
 * Runs `fn` holding the container's lock: `flock` on `<bundle>/lock`, which
 * every tsbox process and the container's monitor take before they change
 * its state.json. A lock dies with its holder, so a SIGKILLed process never
 * leaves one behind. `fn` gets the locked fd (a monitor being started
 * inherits it, and with it the lock, until it has written its first state).
 * Never blocks Node's thread: a busy lock is retried on a timer.
 */
export function withContainerLock<T>(bundleDir: string, fn: (lockFd: number) => Promise<T> | T): Promise<T> {
  const id = bundleId(bundleDir);
  return withDirLock(bundleDir, { missing: `no such container: ${id}`, busy: `container ${id} is busy` }, fn);
}

/** What a lock's errors say, and how long to wait for a busy one (default 30 s). */
export interface LockWords {
  missing: string;
  busy: string;
  waitMs?: number;
}

/**
 * The same lock on another directory's `lock` file, e.g. a network's state
 * (native-rs/container/src/net/lock.rs takes it there); `says` words the
 * errors.
 */
export async function withDirLock<T>(dir: string, says: LockWords, fn: (lockFd: number) => Promise<T> | T): Promise<T> {
  // No native addon here at all (macOS, Windows: only the vm backend, whose monitors are ours too): Node has
  // no flock. One that is there but fails to load is an error, not a reason to take the other kind of lock.
  if (!addonPresent()) return withOwnerFile(dir, says, fn);
  const waitMs = says.waitMs ?? WAIT_MS;
  const addon = await loadAddon();
  let fd: number;
  try {
    fd = openSync(join(dir, LOCK_FILE), constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (err) {
    if (isErrno(err, "ENOENT")) throw new ContainerError(says.missing);
    throw err;
  }
  try {
    const deadline = Date.now() + waitMs;
    for (let delay = 1; addon.tryLock(fd) !== 1; delay = Math.min(delay * 2, 50)) {
      if (Date.now() > deadline) throw new ContainerError(`${says.busy}: another tsbox process has held its lock for ${waitMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    return await fn(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The lock without flock: `<bundle>/lock.owner`, created exclusively and
 * holding our pid, removed when done; one whose process is gone (killed
 * while holding it) is stale and taken over. Only where every process on
 * the data dir lacks the addon, so the two kinds never meet.
 */
async function withOwnerFile<T>(dir: string, says: LockWords, fn: (lockFd: number) => Promise<T> | T): Promise<T> {
  const path = join(dir, `${LOCK_FILE}.owner`);
  const waitMs = says.waitMs ?? WAIT_MS;
  const deadline = Date.now() + waitMs;
  let fd: number | undefined;
  for (let delay = 1; fd === undefined; delay = Math.min(delay * 2, 50)) {
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, String(process.pid));
      break;
    } catch (err) {
      if (isErrno(err, "ENOENT")) throw new ContainerError(says.missing);
      if (!isErrno(err, "EEXIST")) throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(path, "utf8"));
    } catch {
      continue; // released meanwhile
    }
    // An empty file is one being written: its maker is alive.
    if (owner > 0 && !pidAlive(owner)) {
      try {
        unlinkSync(path);
      } catch (err) {
        if (!isErrno(err, "ENOENT")) throw err;
      }
      continue;
    }
    if (Date.now() > deadline) throw new ContainerError(`${says.busy}: another tsbox process has held its lock for ${waitMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  try {
    return await fn(fd);
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
}

function bundleId(bundleDir: string): string {
  return bundleDir.slice(bundleDir.lastIndexOf("/") + 1).slice(0, 12);
}
