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

/** The lock file that serializes a container's network changes (`withNetworkChangeLock`). */
export const NETWORK_LOCK_FILE = "network.lock";

/**
 * Runs `fn` holding the lock on the container's network changes: `network connect` and `disconnect` each read what is
 * attached, then detach, attach and move the gateway endpoint in several steps (runtime.ts moveGateway). Two of them
 * at once interleaved those steps: a move re-attached a network a concurrent `disconnect` had just taken off (the
 * container stayed on it, its record said not), or two moves each took the published ports (one failed, both were
 * lost). Not the container's own lock: the monitor and an exec's OOM watcher take that one to record what happened,
 * which must not wait for a network change, and a change never waits for them.
 */
export function withNetworkChangeLock<T>(bundleDir: string, fn: () => Promise<T>): Promise<T> {
  const id = bundleId(bundleDir);
  return withLockFile(join(bundleDir, NETWORK_LOCK_FILE), { missing: `no such container: ${id}`, missingReason: "no_such_container", busy: `the networks of container ${id} are being changed` }, fn);
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
