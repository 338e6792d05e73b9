/**
 * What killed processes (kill -9, a crash, a full disk) left in containers/
 * and names/, swept by `container prune` and `system prune`: bundles half
 * deleted (`.removing-<id>-<pid>`: remove.ts, the monitor's remove.rs) whose
 * remover is gone, bundles whose run died before their state was written
 * (bundle-dir.ts), and names whose container is gone. Never a live one's.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readdirOrEmpty, treeBytes } from "../fs-util.js";
import { pidAlive } from "../process-alive.js";
import type { LifecycleContext } from "./context.js";
import { abandonedTemps } from "../temp-names.js";
import { bundleLive, CREATING_PREFIX } from "./bundle-dir.js";
import { removeOwnedTree } from "./remove.js";

/**
 * Waits, `timeoutMs` at most, until no remover is deleting a bundle here: a `--rm` run's wait() settles once the
 * container is gone for everyone, its files a few ms later (native-rs/runtime/src/run.rs), and a caller that closes
 * its Runtime may delete the data dir next.
 */
export async function removersDone(ctx: LifecycleContext, timeoutMs: number): Promise<void> {
  // A live tsbox process by that pid: the name's pid may be another namespace's, or reused since its remover died.
  const live = () => readdirOrEmpty(ctx.paths.containers).some((entry) => {
    const remover = removerOf(entry);
    return remover > 0 && pidAlive(remover) && commandLine(remover).includes("tsbox-runtime");
  });
  for (let waited = 0; waited < timeoutMs && live(); waited += 10) await new Promise((r) => setTimeout(r, 10));
}

/** Deletes them; returns the bytes freed. */
export async function sweepContainerLeftovers(ctx: LifecycleContext): Promise<number> {
  let bytes = 0;
  const abandoned = readdirOrEmpty(ctx.paths.containers).filter((entry) => {
    const remover = removerOf(entry);
    if (remover > 0) return !pidAlive(remover);
    return /^[0-9a-f]{64}$/.test(entry) && !bundleLive(ctx.paths.container(entry));
  });
  const dirs = [...abandoned.map((entry) => join(ctx.paths.containers, entry)), ...abandonedTemps(ctx.paths.containers, CREATING_PREFIX)];
  for (const dir of dirs) {
    const size = await treeBytes(dir);
    try {
      await removeOwnedTree(ctx, dir);
      bytes += size;
    } catch {
      // another prune took it, or it is not ours to delete: left as it is
    }
  }
  ctx.names.sweep();
  return bytes;
}

/** The pid a bundle renamed aside (`.removing-<id>-<pid>`) names as its remover; NaN for any other entry. */
function removerOf(entry: string): number {
  return Number(/^\.removing-[0-9a-f]{64}-(\d+)$/.exec(entry)?.[1]);
}

/** (A remover is a fork of tsbox-runtime: its command line is the helper's.) */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1");
  } catch {
    return "";
  }
}
