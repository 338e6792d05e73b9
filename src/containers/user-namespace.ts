/**
 * A moment's work as root of the user's own user namespace, with the
 * subordinate ids mapped as every container's are (what `podman unshare`
 * is for): the embedded busybox's `sh -c SCRIPT` with `dir` at /mnt. Its
 * root is read-only and nothing else is mounted, so a symlink in `dir`
 * leads nowhere but into that read-only root.
 */
import { mkdtempSync } from "node:fs";
import { dirname, join } from "node:path";
import { TsboxError } from "../errors.js";
import { removeTree } from "../remove-tree.js";
import type { ContainerSpec } from "../spec/container-spec.js";
import { OCI_VERSION } from "../spec/defaults.js";
import { defaultCapabilitySets } from "../spec/process-rules.js";
import { idMappings } from "../spec/id-mappings.js";
import type { LifecycleContext } from "./context.js";

export async function inUserNamespace(ctx: LifecycleContext, dir: string, script: string, what: string): Promise<void> {
  // The helper's own bundle (its config.json) sits beside the tree, not in it.
  const bundleDir = mkdtempSync(join(dirname(dir), ".userns-"));
  try {
    const spec: ContainerSpec = {
      ociVersion: OCI_VERSION,
      process: {
        terminal: false,
        user: { uid: 0, gid: 0 },
        args: ["/bin/sh", "-c", script],
        env: ["PATH=/bin"],
        cwd: "/",
        capabilities: defaultCapabilitySets(),
        noNewPrivileges: true,
      },
      root: { path: await ctx.helperRoot(), readonly: true },
      mounts: [{ destination: "/mnt", type: "bind", source: dir, options: ["rbind", "rw"] }],
      // A moment's work needs no cgroup (and a container's name may still be its dead one's).
      linux: { namespaces: [{ type: "user" }, { type: "mount" }], ...idMappings(ctx.host()), maskedPaths: [], readonlyPaths: [], cgroupsMode: "disabled" },
    };
    const proc = await ctx.hostBackend().start({ bundleDir, spec, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const status = await proc.exited;
    if (status.exitCode !== 0) throw new TsboxError(`${what} failed (exit ${status.exitCode})`, { code: "container" });
  } finally {
    await removeTree(bundleDir);
  }
}
