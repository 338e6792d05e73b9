/**
 * Opening the data dir a Runtime uses: made if missing (0700), resolved to
 * its real path once, and refused when another user owns it.
 */
import { readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadAddonSync } from "./backends/native/addon.js";
import { ensurePrivateDir, isErrno } from "./fs-util.js";
import { errorMessage, TsboxError } from "./errors.js";
import { parsePasswd } from "./spec/user-lookup.js";

/**
 * The real path of the data dir `dir`, made if missing. Resolved here, once, before anything is made below it
 * (docker and podman resolve their root the same way): every path tsbox then derives (a bundle's net/hosts, an
 * unpack's dir) has no symlink in it, so the runtime's rule against links a container could have planted (which
 * holds for `-v` sources) never meets the user's own `~/.local -> /disk/…` link. A container cannot plant a link
 * above its own bundle.
 */
export function openDataDir(dir: string): string {
  let real: string;
  try {
    ensurePrivateDir(dir);
    real = realpathSync(dir);
  } catch (err) {
    // Node's own line ("EACCES: permission denied, mkdir '/home/u/.local'") says what failed, not that it was the
    // data dir nor how to move it. A TsboxError as every failure; the errno error (its code, path) is the cause.
    const advice = dataDirAdvice(err, dir);
    throw new TsboxError(`${errorMessage(err)}${advice ? ` (${advice})` : ""}`, { cause: err });
  }
  checkOwner(real, statSync(real).uid);
  return real;
}

/** The system errors that say a directory (the data dir, a parent mkdir -p had to make) is not this user's to write. */
export const REFUSED_CODES: readonly string[] = ["EACCES", "EPERM", "EROFS", "ENOTDIR"];

/**
 * What to do when `err` refused the data dir `data` (made, or written in it): the library's error and the CLI's
 * hint (cli/error-hints.ts) say the same. Never "make it writable" when it is another user's: sharing it gives each
 * user the other's containers.
 */
export function dataDirAdvice(err: unknown, data: string): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string" || !REFUSED_CODES.includes(code)) return undefined;
  return `tsbox keeps images and containers in ${data}${othersOwner(data)}: set TSBOX_DATA_DIR (or XDG_DATA_HOME) to a directory you own`;
}

/**
 * ", which belongs to <user>" when the data dir is another user's; when it does not exist, that its nearest existing
 * parent, where mkdir failed, is (HOME=/nonexistent: `/` is root's, not the data dir).
 */
function othersOwner(data: string): string {
  const uid = process.geteuid?.();
  if (uid === undefined) return "";
  for (let dir = data; ; dir = dirname(dir)) {
    try {
      const owner = statSync(dir).uid;
      if (owner === uid) return "";
      return dir === data ? `, which belongs to ${userName(owner)}` : `, which does not exist and cannot be made: ${dir} belongs to ${userName(owner)}`;
    } catch {
      if (dir === dirname(dir)) return "";
    }
  }
}

/**
 * What `openDataDir` gives for a data dir that exists and is this user's, made or changed by nothing (the run
 * cache's replay, which only reads what a full run made there, and goes back to one where this says undefined).
 */
export function existingOwnDataDir(dir: string): string | undefined {
  try {
    const real = realpathSync.native(dir);
    return statSync(real).uid === process.geteuid?.() ? real : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Another user's data dir is theirs alone: whoever can write it can stop, remove or rewrite that user's containers
 * (each monitor obeys its socket there) and images. Refused rather than used, as ssh refuses another user's
 * authorized_keys; root only uses its own too (a user's store made root's would lock the user out of it).
 */
function checkOwner(dir: string, owner: number): void {
  const uid = process.geteuid?.();
  if (uid === undefined || owner === uid) return;
  throw new TsboxError(
    `the data dir ${dir} belongs to ${userName(owner)}, not to you (uid ${uid}): each user needs a data dir of their own; set TSBOX_DATA_DIR (or XDG_DATA_HOME) to a directory you own`,
  );
}

/** "name (uid N)" from the host's /etc/passwd, or "uid N". */
export function userName(uid: number): string {
  let name: string | undefined;
  try {
    name = parsePasswd(readFileSync("/etc/passwd", "utf8")).find((e) => e.uid === uid)?.name;
  } catch {
    // No passwd file: the number alone.
  }
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

/** Where a data dir's file system passed `checkOverlayBacking`: its device number, so a move to another disk checks again. */
const CHECKED = "fs-checked";

/**
 * Refuses a data dir on a file system overlayfs cannot use as its layers and upper dirs, which it would mount and
 * then misbehave on: without d_type a container's `rm -rf` of an image directory fails "Directory not empty"
 * (docker's overlay2 refuses such a backing file system too); without the extended attributes overlayfs keeps
 * its opaque-directory and whiteout marks in (`userXattrs`: user.* rootless and as root inside a container, trusted.*
 * as the host's root) a `mkdir` after that gives EIO.
 * Probed once per data dir and file system (a readdir and an xattr write), the native backend's only.
 */
export function checkOverlayBacking(dir: string, userXattrs: boolean): void {
  const dev = String(statSync(dir).dev);
  const marker = join(dir, CHECKED);
  try {
    if (readFileSync(marker, "utf8") === dev) return;
  } catch {
    // Not checked yet.
  }
  const problem = overlayBackingProblem(dir, userXattrs);
  if (problem) throw new TsboxError(`the data dir ${dir} is on a file system ${problem}, which overlayfs needs for containers: set TSBOX_DATA_DIR to a directory on another file system (ext4, XFS made with ftype=1, btrfs, tmpfs)`);
  writeFileSync(marker, dev);
}

/** What the data dir's file system lacks, or undefined. */
function overlayBackingProblem(dir: string, userXattrs: boolean): string | undefined {
  const addon = loadAddonSync();
  if (addon.direntTypes(dir) === 0) return "that does not record file types in its directories (d_type: ext4 made without filetype, XFS with ftype=0)";
  const probe = join(dir, `.fs-probe-${process.pid}`);
  const kind = userXattrs ? "user" : "trusted";
  writeFileSync(probe, "");
  try {
    addon.lsetxattr(probe, `${kind}.tsbox.probe`, "1");
  } catch (err) {
    if (isErrno(err, "ENOTSUP") || isErrno(err, "EOPNOTSUPP")) return `without ${kind}.* extended attributes (ramfs, NFS, CIFS and many FUSE file systems lack them)`;
    // Only the initial user namespace's root may set trusted.*: a root the namespace check took for the host's.
    if (!userXattrs && isErrno(err, "EPERM")) {
      throw new TsboxError(
        `setting a trusted.* extended attribute in the data dir ${dir} was refused (EPERM): tsbox runs as root but not as the host's root (root of a user namespace, inside a container?), and could not tell: run it as a non-root user there, or report this with the output of tsbox info`,
      );
    }
    throw err;
  } finally {
    rmSync(probe, { force: true });
  }
  return undefined;
}
