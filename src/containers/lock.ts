import { closeSync, constants, openSync } from "node:fs";
import { join } from "node:path";
import { loadAddon } from "../backends/native/addon.js";
import { ContainerError } from "../errors.js";
import { isErrno } from "../fs-util.js";

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
export async function withContainerLock<T>(bundleDir: string, fn: (lockFd: number) => Promise<T> | T): Promise<T> {
  const addon = await loadAddon();
  let fd: number;
  try {
    fd = openSync(join(bundleDir, LOCK_FILE), constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (err) {
    if (isErrno(err, "ENOENT")) throw new ContainerError(`no such container: ${bundleId(bundleDir)}`);
    throw err;
  }
  try {
    const deadline = Date.now() + WAIT_MS;
    for (let delay = 1; addon.tryLock(fd) !== 1; delay = Math.min(delay * 2, 50)) {
      if (Date.now() > deadline) throw new ContainerError(`container ${bundleId(bundleDir)} is busy: another tsbox process has held its lock for ${WAIT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    return await fn(fd);
  } finally {
    closeSync(fd);
  }
}

function bundleId(bundleDir: string): string {
  return bundleDir.slice(bundleDir.lastIndexOf("/") + 1).slice(0, 12);
}
