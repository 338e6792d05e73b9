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
 */
export async function removeBundle(bundle: ContainerPaths, ctx: RemoveContext): Promise<void> {
  // What lives outside the bundle first (a cgroup its dead runtime left), while the bundle still says where.
  await ctx.backend.cleanup?.(bundle.dir);
  try {
    await removeTree(bundle.dir);
    return;
  } catch (err) {
    const denied = isErrno(err, "EACCES") || isErrno(err, "EPERM");
    if (!denied || ctx.host.uid === 0 || !ctx.host.subuid) throw err;
  }
  await removeInUserNamespace(bundle, ctx);
  await removeTree(bundle.dir);
}

async function removeInUserNamespace(bundle: ContainerPaths, ctx: RemoveContext): Promise<void> {
  const maps = idMappings(ctx.host);
  const caps = [...DEFAULT_CAPABILITIES];
  const spec: ContainerSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ["/bin/rm", "-rf", "/mnt/upper", "/mnt/work", "/mnt/rootfs"],
      env: ["PATH=/bin"],
      cwd: "/",
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: await ctx.helperRoot(), readonly: true },
    mounts: [{ destination: "/mnt", type: "bind", source: bundle.dir, options: ["rbind", "rw"] }],
    // A moment's rm needs no cgroup (and the container's name may still be its dead one's).
    linux: { namespaces: [{ type: "user" }, { type: "mount" }], ...maps, maskedPaths: [], readonlyPaths: [], cgroupsMode: "disabled" },
  };
  const proc = await ctx.backend.start({ bundleDir: bundle.dir, spec, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const status = await proc.exited;
  if (status.exitCode !== 0) throw new TsboxError(`cannot remove ${bundle.dir}: cleanup in the user namespace failed (exit ${status.exitCode})`, { code: "container" });
}
