/**
 * What killed processes (kill -9, a crash, a full disk) left in containers/
 * and names/, swept by `container prune` and `system prune`: bundles half
 * deleted (`.removing-<id>-<pid>`: remove.ts, the monitor's remove.rs) whose
 * remover is gone, bundles whose run died before their state was written
 * (bundle-dir.ts), and names whose container is gone. Never a live one's.
 */
import { join } from "node:path";
import { readdirOrEmpty, treeBytes } from "../fs-util.js";
import { pidAlive } from "../process-alive.js";
import type { LifecycleContext } from "./context.js";
import { abandonedTemps } from "../temp-names.js";
import { bundleLive, CREATING_PREFIX } from "./bundle-dir.js";
import { removeOwnedTree } from "./remove.js";

/** Deletes them; returns the bytes freed. */
export async function sweepContainerLeftovers(ctx: LifecycleContext): Promise<number> {
  let bytes = 0;
  const abandoned = readdirOrEmpty(ctx.paths.containers).filter((entry) => {
    const remover = Number(/^\.removing-[0-9a-f]{64}-(\d+)$/.exec(entry)?.[1]);
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
