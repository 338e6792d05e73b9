import { recordEvent } from "./events.js";
import { renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { isErrno, removeTree } from "../fs-util.js";
import type { LifecycleContext } from "./context.js";
import { inUserNamespace } from "./user-namespace.js";
import { readState } from "./state.js";
import { readContainerVolumes } from "./volumes.js";

/**
 * Deletes a container that no longer runs: its bundle is first renamed
 * aside (`containers/.removing-<id>-<pid>`), one atomic step after which the
 * container is gone for every other process (and nobody can create its lock
 * file in a directory being deleted), then deleted; its name is freed.
 * The monitor does the same for `--rm` containers (native-rs/runtime/src/monitor/remove.rs).
 */
export async function removeBundleDir(ctx: LifecycleContext, id: string, name: string | null, options: { volumes?: boolean } = {}): Promise<void> {
  const bundle = ctx.paths.container(id);
  const dir = bundle.dir;
  // Read before the bundle goes; deleted after, when no container holds them any more.
  const state = readState(bundle);
  const anonymous = (options.volumes ?? state?.remove) ? readContainerVolumes(bundle).anonymous : [];
  // What lives outside the bundle first (a cgroup its dead runtime left), while the bundle still says where.
  await ctx.backend.cleanup?.(dir);
  const aside = join(ctx.paths.containers, `.removing-${id}-${process.pid}`);
  let moved = true;
  try {
    renameSync(dir, aside);
  } catch (err) {
    if (!isErrno(err, "ENOENT")) throw err;
    moved = false;
  }
  if (moved && state) recordEvent(dir, state, "destroy");
  if (moved) await removeOwnedTree(ctx, aside);
  rmSync(ctx.paths.removalMarker(id), { force: true });
  if (name !== null) ctx.names.release(name, id);
  await ctx.volumes?.removeAnonymous(anonymous);
}

/**
 * Deletes a tree containers wrote to (a bundle, a volume). Rootless with subordinate ids, the upper dir can hold directories owned
 * by ids other than the user's (a container process ran as uid 1000): the
 * user cannot delete inside them, but root of the container's user
 * namespace can. Then, like `podman unshare rm`, the deletion runs in a
 * helper container with the same id mappings.
 */
export async function removeOwnedTree(ctx: LifecycleContext, dir: string): Promise<void> {
  try {
    await removeTree(dir);
    return;
  } catch (err) {
    const denied = isErrno(err, "EACCES") || isErrno(err, "EPERM");
    const host = ctx.host();
    if (!denied || host.uid === 0 || !host.subuid) throw err;
  }
  await inUserNamespace(ctx, dir, "rm -rf /mnt/* /mnt/.[!.]* /mnt/..?*", `cannot remove ${dir}: cleanup in the user namespace`);
  await removeTree(dir);
}
