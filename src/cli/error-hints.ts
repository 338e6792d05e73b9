/**
 * What to do about a system error the user can fix, added to its one line:
 * Node's own text ("EACCES: permission denied, mkdir '/home/u'") says what
 * failed, not that it was tsbox's data directory nor how to move it.
 */
import { statSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { defaultDataDir, userCacheDir } from "../paths.js";
import { userName } from "../data-dir.js";
import { errorMessage } from "../errors.js";

/** The error's message with its hint, if it has one: `message (hint)`. */
export function hintedMessage(err: unknown, env: NodeJS.ProcessEnv): string {
  const hint = errorHint(err, env);
  return `${errorMessage(err)}${hint ? ` (${hint})` : ""}`;
}

export function errorHint(err: unknown, env: NodeJS.ProcessEnv): string | undefined {
  // Ours wrap the system error they explain (an unpack's "no space left on device while …"): its code counts.
  const wrapped = err instanceof Error && (err.cause as NodeJS.ErrnoException | undefined)?.code !== undefined ? err.cause : err;
  const e = wrapped as NodeJS.ErrnoException | undefined;
  const full = e?.code === "ENOSPC" || e?.code === "EDQUOT";
  // A write's error names no path: the data dir's file system says whether it was ours.
  if (full && typeof e.path !== "string") {
    const data = defaultDataDir(env);
    return nearlyFull(data) ? fullHint(data) : undefined;
  }
  if (!e || typeof e.code !== "string" || typeof e.path !== "string") return undefined;
  const data = defaultDataDir(env);
  const path = e.path;
  const inside = (dir: string) => path === dir || path.startsWith(dir + "/");
  const refused = ["EACCES", "EPERM", "EROFS", "ENOTDIR"].includes(e.code);
  // The data dir itself, inside it, or one of its parents that mkdir -p had to make. The cache only by its own
  // path or one inside it: a missing home is every config and cache dir's parent (`login` without a HOME was
  // told about the vm's state).
  const ours = inside(data) || data.startsWith(path + "/");
  const cache = userCacheDir(env);
  if (!ours && inside(cache) && refused) {
    return `tsbox keeps the vm's saved state in ${cache}: make it writable, or set XDG_CACHE_HOME (or TSBOX_CACHE_DIR) to a directory you own`;
  }
  if (!ours) return undefined;
  // Never "make it writable" when it is another user's: sharing it gives each user the other's containers.
  if (refused) return `tsbox keeps images and containers in ${data}${othersOwner(data)}: set TSBOX_DATA_DIR (or XDG_DATA_HOME) to a directory you own`;
  if (full) return fullHint(data);
  return undefined;
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

function fullHint(data: string): string {
  return `the file system of ${data} is full: free space (tsbox system prune) or set TSBOX_DATA_DIR to another disk`;
}

/** Under 1 MiB free where the data dir is (or would be made). */
function nearlyFull(data: string): boolean {
  for (let dir = data; ; dir = dirname(dir)) {
    try {
      const fs = statfsSync(dir);
      return fs.bavail * fs.bsize < 1024 * 1024;
    } catch {
      if (dir === dirname(dir)) return false;
    }
  }
}
