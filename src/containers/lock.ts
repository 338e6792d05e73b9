import { join } from "node:path";
import { type LockWords, withLockFile } from "../lock-file.js";

/** The lock file in a bundle; the monitor (native-rs/runtime/src/state_file.rs) locks the same file. */
export const LOCK_FILE = "lock";

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
  return withDirLock(bundleDir, { missing: `no such container: ${id}`, missingReason: "no_such_container", busy: `container ${id} is busy` }, fn);
}

/**
 * The same lock on another directory's `lock` file, e.g. a network's state
 * (native-rs/container/src/net/lock.rs takes it there); `says` words the
 * errors.
 */
export function withDirLock<T>(dir: string, says: LockWords, fn: (lockFd: number) => Promise<T> | T): Promise<T> {
  return withLockFile(join(dir, LOCK_FILE), says, fn);
}

function bundleId(bundleDir: string): string {
  return bundleDir.slice(bundleDir.lastIndexOf("/") + 1).slice(0, 12);
}
