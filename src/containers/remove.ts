import { mkdtempSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { TsboxError } from "../errors.js";
import { isErrno, removeTree } from "../fs-util.js";
import type { ContainerSpec } from "../spec/container-spec.js";
import { DEFAULT_CAPABILITIES, OCI_VERSION } from "../spec/defaults.js";
import { idMappings } from "../spec/id-mappings.js";
import type { LifecycleContext } from "./context.js";
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
  const anonymous = (options.volumes ?? readState(bundle)?.remove) ? readContainerVolumes(bundle).anonymous : [];
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
  if (moved) await removeOwnedTree(ctx, aside);
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
  // The helper's own bundle (its config.json) sits beside the tree, not in it.
  const helperBundle = mkdtempSync(join(dirname(dir), ".rm-"));
  try {
    await emptyInUserNamespace(ctx, dir, helperBundle);
  } finally {
    await removeTree(helperBundle);
  }
  await removeTree(dir);
}

/** `/bin/sh` and `rm` of the embedded busybox; the globs catch dot files. */
async function emptyInUserNamespace(ctx: LifecycleContext, dir: string, bundleDir: string): Promise<void> {
  const maps = idMappings(ctx.host());
  const caps = [...DEFAULT_CAPABILITIES];
  const spec: ContainerSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ["/bin/sh", "-c", "rm -rf /mnt/* /mnt/.[!.]* /mnt/..?*"],
      env: ["PATH=/bin"],
      cwd: "/",
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: await ctx.helperRoot(), readonly: true },
    mounts: [{ destination: "/mnt", type: "bind", source: dir, options: ["rbind", "rw"] }],
    // A moment's rm needs no cgroup (and the container's name may still be its dead one's).
    linux: { namespaces: [{ type: "user" }, { type: "mount" }], ...maps, maskedPaths: [], readonlyPaths: [], cgroupsMode: "disabled" },
  };
  const proc = await ctx.backend.start({ bundleDir, spec, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const status = await proc.exited;
  if (status.exitCode !== 0) throw new TsboxError(`cannot remove ${dir}: cleanup in the user namespace failed (exit ${status.exitCode})`, { code: "container" });
}
