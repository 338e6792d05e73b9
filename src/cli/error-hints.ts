/**
 * What to do about a system error the user can fix, added to its one line:
 * Node's own text ("EACCES: permission denied, mkdir '/home/u'") says what
 * failed, not that it was tsbox's data directory nor how to move it.
 */
import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { defaultDataDir, userCacheDir } from "../paths.js";
import { dataDirAdvice, REFUSED_CODES } from "../data-dir.js";
import { errorMessage } from "../errors.js";

/** The error's message with its hint, if it has one: `message (hint)`. */
export function hintedMessage(err: unknown, env: NodeJS.ProcessEnv): string {
  const hint = errorHint(err, env);
  return `${errorMessage(err)}${hint ? ` (${hint})` : ""}`;
}

export function errorHint(err: unknown, env: NodeJS.ProcessEnv): string | undefined {
  const hint = systemErrorHint(err, env);
  // The library's own error may say it already (openDataDir's: the data dir it could not make).
  return hint !== undefined && !errorMessage(err).includes(hint) ? hint : undefined;
}

function systemErrorHint(err: unknown, env: NodeJS.ProcessEnv): string | undefined {
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
  const refused = REFUSED_CODES.includes(e.code);
  // The data dir itself, inside it, or one of its parents that mkdir -p had to make. The cache only by its own
  // path or one inside it: a missing home is every config and cache dir's parent (`login` without a HOME was
  // told about the vm's state).
  const ours = inside(data) || data.startsWith(path + "/");
  const cache = userCacheDir(env);
  if (!ours && inside(cache) && refused) {
    return `tsbox keeps the vm's saved state in ${cache}: make it writable, or set XDG_CACHE_HOME (or TSBOX_CACHE_DIR) to a directory you own`;
  }
  if (!ours) return undefined;
  if (refused) return dataDirAdvice(e, data);
  if (full) return fullHint(data);
  return undefined;
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
