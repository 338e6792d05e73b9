/**
 * What to do about a system error the user can fix, added to its one line:
 * Node's own text ("EACCES: permission denied, mkdir '/home/u'") says what
 * failed, not that it was tsbox's data directory nor how to move it.
 */
import { defaultDataDir } from "../paths.js";

export function errorHint(err: unknown, env: NodeJS.ProcessEnv): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!e || typeof e.code !== "string" || typeof e.path !== "string") return undefined;
  const data = defaultDataDir(env);
  // The data dir itself, inside it, or one of its parents that mkdir -p had to make.
  const ours = e.path === data || e.path.startsWith(data + "/") || data.startsWith(e.path + "/");
  if (!ours) return undefined;
  if (["EACCES", "EPERM", "EROFS", "ENOTDIR"].includes(e.code)) return `tsbox keeps images and containers in ${data}: make it writable, or set TSBOX_DATA_DIR (or XDG_DATA_HOME) to a directory you own`;
  if (e.code === "ENOSPC" || e.code === "EDQUOT") return `the file system of ${data} is full: free space (tsbox system prune) or set TSBOX_DATA_DIR to another disk`;
  return undefined;
}
