/**
 * What killed processes (kill -9, a crash, a full disk) left in containers/
 * and names/, swept by `container prune` and `system prune`: bundles half
 * deleted (`.removing-<id>-<pid>`: remove.ts, the monitor's remove.rs) whose
 * remover is gone, and names whose container is gone. Never a live one's.
 */
import { join } from "node:path";
import { readdirOrEmpty, treeBytes } from "../fs-util.js";
import { pidAlive } from "../process-alive.js";
import type { LifecycleContext } from "./context.js";
import { removeOwnedTree } from "./remove.js";

/** Deletes them; returns the bytes freed. */
export async function sweepContainerLeftovers(ctx: LifecycleContext): Promise<number> {
  let bytes = 0;
  for (const entry of readdirOrEmpty(ctx.paths.containers)) {
    const remover = Number(/^\.removing-[0-9a-f]{64}-(\d+)$/.exec(entry)?.[1]);
    if (!(remover > 0) || pidAlive(remover)) continue;
    const dir = join(ctx.paths.containers, entry);
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
