import { mkdtempSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Backend } from "../backends/backend.js";
import { TsboxError } from "../errors.js";
import { isErrno, removeTree } from "../fs-util.js";
import type { ContainerPaths } from "../paths.js";
import type { ContainerSpec } from "../spec/container-spec.js";
import { DEFAULT_CAPABILITIES, OCI_VERSION } from "../spec/defaults.js";
import { type HostIdentity, idMappings } from "../spec/id-mappings.js";

export interface RemoveContext {
  host: HostIdentity;
  backend: Backend;
  /** A read-only rootfs with /bin/rm and an empty /mnt (the embedded busybox layer). */
  helperRoot: () => Promise<string>;
}

/**
 * Deletes a container bundle. Rootless with subordinate ids, the upper dir
 * can hold directories owned by ids other than the user's (a container
 * process ran as uid 1000): the user cannot delete inside them, but root of
 * the container's user namespace can. Then, like `podman unshare rm`, the
 * deletion runs in a helper container with the same id mappings.
 * (`/bin/sh` and `rm` of the embedded busybox; the globs catch dot files.)
 */
export async function removeBundle(bundle: ContainerPaths, ctx: RemoveContext): Promise<void> {
  await removeOwnedTree(bundle.dir, ctx);
}

/**
 * Deletes a tree containers wrote to (a bundle, a volume), falling back to
 * emptying it in a user namespace with the containers' id maps.
 */
export async function removeOwnedTree(dir: string, ctx: RemoveContext): Promise<void> {
  try {
    await removeTree(dir);
    return;
  } catch (err) {
    const denied = isErrno(err, "EACCES") || isErrno(err, "EPERM");
    if (!denied || ctx.host.uid === 0 || !ctx.host.subuid) throw err;
  }
  // The helper's own bundle (its config.json) sits beside the tree, not in it.
  const helperBundle = mkdtempSync(join(dirname(dir), ".rm-"));
  try {
    await emptyInUserNamespace(dir, helperBundle, ctx);
  } finally {
    await removeTree(helperBundle);
  }
  await removeTree(dir);
}

async function emptyInUserNamespace(dir: string, bundleDir: string, ctx: RemoveContext): Promise<void> {
  const maps = idMappings(ctx.host);
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
    linux: { namespaces: [{ type: "user" }, { type: "mount" }], ...maps, maskedPaths: [], readonlyPaths: [] },
  };
  const proc = await ctx.backend.start({ bundleDir, spec, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const status = await proc.exited;
  if (status.exitCode !== 0) throw new TsboxError(`cannot remove ${dir}: cleanup in the user namespace failed (exit ${status.exitCode})`, { code: "container" });
}
