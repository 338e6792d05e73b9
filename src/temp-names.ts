/**
 * Temp entries in the data dir carry their maker's pid (`<prefix><pid>-…`):
 * a process killed mid-way (kill -9, a crash, a full disk) leaves them, and
 * a prune takes those whose maker is gone. Never one a live process is
 * still writing.
 */
import { join } from "node:path";
import { readdirOrEmpty } from "./fs-util.js";
import { pidAlive } from "./process-alive.js";

/** `<prefix><our pid>-`: for mkdtemp, or followed by a unique part of a file's name. */
export function ownTempPrefix(prefix: string): string {
  return `${prefix}${process.pid}-`;
}

/** The paths in `dir` named by `ownTempPrefix(prefix)` of a process that no longer runs. */
export function abandonedTemps(dir: string, prefix: string): string[] {
  return readdirOrEmpty(dir).flatMap((name) => {
    if (!name.startsWith(prefix)) return [];
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    return pid > 0 && !pidAlive(pid) ? [join(dir, name)] : [];
  });
}
