/**
 * Cross-process locks on a file. `flock` through the native addon: the
 * kernel drops a lock with its holder, so a SIGKILLed process never leaves
 * one behind, and one held for long is never taken from a live holder
 * (the mkdir locks these replace were broken after 30 s, and a killed
 * holder stalled everyone for those 30 s). Where there is no addon (macOS,
 * Windows: only the vm backend), `<path>.owner` is created exclusively with
 * our pid; a dead owner's is taken over. The two kinds never meet: every
 * process on a data dir either has the addon or has not.
 *
 * The store's own locks (`directory: true`) are a directory, flocked: an
 * older tsbox (before the flocks) takes the same path by `mkdir`, and breaks
 * one older than 30 s by `rmdir`; a regular file there, which it can neither
 * make nor remove, had it spin for ever after a downgrade.
 */
import { type BigIntStats, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, rmdirSync, unlinkSync, utimesSync, writeSync } from "node:fs";
import { addonPresent, loadAddon, loadAddonSync, type NativeAddon } from "./backends/native/addon.js";
import { ContainerError, type ContainerErrorReason, TsboxError, type TsboxErrorCode } from "./errors.js";
import { isErrno } from "./fs-util.js";
import { pidAlive } from "./process-alive.js";

/** What a lock's errors say, how long to wait for a busy one (default 30 s), and the error's code (default "container"). */
export interface LockWords {
  missing: string;
  busy: string;
  waitMs?: number;
  code?: TsboxErrorCode;
  /** A ContainerError's reason when what it locks is missing (a container's bundle: `no_such_container`). */
  missingReason?: ContainerErrorReason;
  /**
   * The lock is a directory (the image index's, volumes', networks', credentials' and migration's, which tsbox
   * before the flocks took by `mkdir` at the same paths), so that an older tsbox run on the data dir after this
   * one still gets through; a container's and a network's lock stay a file the Rust side opens too.
   */
  directory?: boolean;
}

const WAIT_MS = 30_000;

/** One lock being taken: tries without blocking, then releases. */
interface Locker {
  tryTake(): boolean;
  /** The locked descriptor, or the owner file's (a monitor being started inherits it, and with it the lock). */
  readonly fd: number;
  release(): void;
}

/**
 * Runs `fn` holding the lock on `path` (created if missing; its directory
 * must exist). Never blocks Node's thread: a busy lock is retried on a timer.
 */
export async function withLockFile<T>(path: string, says: LockWords, fn: (lockFd: number) => Promise<T> | T): Promise<T> {
  // An addon that is there but fails to load is an error, not a reason to take the other kind of lock.
  const lock = locker(path, says, addonPresent() ? await loadAddon() : undefined);
  try {
    const deadline = Date.now() + (says.waitMs ?? WAIT_MS);
    for (let delay = 1; !lock.tryTake(); delay = Math.min(delay * 2, 50)) {
      if (Date.now() > deadline) throw busy(says);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    return await fn(lock.fd);
  } finally {
    lock.release();
  }
}

/** `withLockFile` for synchronous sections (a network's creation): the thread sleeps while the lock is busy. */
export function withLockFileSync<T>(path: string, says: LockWords, fn: () => T): T {
  const lock = locker(path, says, addonPresent() ? loadAddonSync() : undefined);
  try {
    const deadline = Date.now() + (says.waitMs ?? WAIT_MS);
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (let delay = 1; !lock.tryTake(); delay = Math.min(delay * 2, 50)) {
      if (Date.now() > deadline) throw busy(says);
      Atomics.wait(sleeper, 0, 0, delay);
    }
    return fn();
  } finally {
    lock.release();
  }
}

function busy(says: LockWords): TsboxError {
  return failure(says, `${says.busy}: another tsbox process has held its lock for ${(says.waitMs ?? WAIT_MS) / 1000} s`);
}

function failure(says: LockWords, message: string, reason?: ContainerErrorReason): TsboxError {
  return says.code && says.code !== "container" ? new TsboxError(message, { code: says.code }) : new ContainerError(message, reason);
}

function locker(path: string, says: LockWords, addon: NativeAddon | undefined): Locker {
  return addon ? flockLocker(path, says, addon) : ownerFileLocker(path, says);
}

function flockLocker(path: string, says: LockWords, addon: NativeAddon): Locker {
  if (says.directory) return directoryLocker(path, says, addon);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (err) {
    if (isErrno(err, "ENOENT")) throw failure(says, says.missing, says.missingReason);
    if (!isErrno(err, "EISDIR")) throw err;
    // An older tsbox's lock (an exclusively made directory) at this path: left by a process gone, or in use by one
    // still running, which an update does not run beside. Its empty directory goes.
    rmdirSync(path);
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  }
  return {
    fd,
    tryTake: () => addon.tryLock(fd) === 1,
    release: () => closeSync(fd),
  };
}

/**
 * A flock on the directory at `path`, made if missing. A regular file there is a lock of the tsbox between the
 * flocks and this (a flocked file): it is replaced by the directory once it is free, holding its lock while it goes,
 * so a process of that version which has it open waits for it as before. An older tsbox's broken-as-stale `rmdir`
 * of ours and `mkdir` of its own leave a directory too: this opens what is at the path at each try.
 */
function directoryLocker(path: string, says: LockWords, addon: NativeAddon): Locker {
  let fd = openDirectoryLock(path, says);
  return {
    get fd() {
      return fd;
    },
    tryTake() {
      if (addon.tryLock(fd) !== 1) return false;
      const held = fstatSync(fd, { bigint: true });
      const current = isAt(held, path);
      // Only the directory still at the path: an older tsbox's stale-lock rmdir removes ours (dated 1970) even while
      // we wait on it, and a process arriving after locks the new one there; this flock would exclude nobody.
      if (held.isDirectory() && current) return true;
      // The file's lock, taken: no process of that version is inside the section. Another one (or ours) may have
      // replaced it meanwhile, and we hold the unlinked file: the path is opened again either way.
      if (held.isFile() && current) unlinkSync(path);
      const old = fd;
      try {
        fd = openDirectoryLock(path, says);
      } finally {
        closeSync(old);
      }
      // Removed again at once: the next try opens the path again.
      return addon.tryLock(fd) === 1 && isAt(fstatSync(fd, { bigint: true }), path);
    },
    release: () => closeSync(fd),
  };
}

/** Whether `held` (a descriptor's fstat) is the file or directory at `path` now. */
function isAt(held: BigIntStats, path: string): boolean {
  const there = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  return there !== undefined && there.ino === held.ino && there.dev === held.dev;
}

/** The descriptor of the lock at `path`: the directory there (made if missing) or an earlier version's lock file. */
function openDirectoryLock(path: string, says: LockWords): number {
  // Bounded: each round is an older tsbox removing its lock between our mkdir and open.
  for (let round = 0; ; round++) {
    try {
      mkdirSync(path, 0o700);
      // Dated 1970: an older tsbox takes a lock directory older than 30 s for a crashed holder's, so it breaks this
      // one at once instead of waiting those 30 s on every section.
      utimesSync(path, 0, 0);
    } catch (err) {
      if (isErrno(err, "ENOENT")) throw failure(says, says.missing, says.missingReason);
      if (!isErrno(err, "EEXIST")) throw err;
    }
    try {
      return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (!isErrno(err, "ENOENT") || round === 100) throw err;
    }
  }
}

function ownerFileLocker(path: string, says: LockWords): Locker {
  const owner = `${path}.owner`;
  let fd: number | undefined;
  return {
    get fd() {
      return fd ?? -1;
    },
    tryTake() {
      try {
        fd = openSync(owner, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        writeSync(fd, String(process.pid));
        return true;
      } catch (err) {
        if (isErrno(err, "ENOENT")) throw failure(says, says.missing, says.missingReason);
        if (!isErrno(err, "EEXIST")) throw err;
      }
      let holder = NaN;
      try {
        holder = Number(readFileSync(owner, "utf8"));
      } catch {
        return false; // released meanwhile: the next try takes it
      }
      // An empty file is one being written: its maker is alive.
      if (holder > 0 && !pidAlive(holder)) {
        try {
          unlinkSync(owner);
        } catch (err) {
          if (!isErrno(err, "ENOENT")) throw err;
        }
      }
      return false;
    },
    release() {
      if (fd === undefined) return;
      closeSync(fd);
      unlinkSync(owner);
    },
  };
}
