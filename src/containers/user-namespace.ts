/**
 * A moment's work as root of the user's own user namespace, with the
 * subordinate ids mapped as every container's are (what `podman unshare`
 * is for): the embedded busybox's `sh -c SCRIPT` with `dir` at /mnt. Its
 * root is read-only and nothing else is mounted, so a symlink in `dir`
 * leads nowhere but into that read-only root.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { TsboxError } from "../errors.js";
import { removeTree } from "../remove-tree.js";
import type { ContainerSpec, MountSpec, RootSpec } from "../spec/container-spec.js";
import { OCI_VERSION } from "../spec/defaults.js";
import { defaultCapabilitySets } from "../spec/process-rules.js";
import { idMappings } from "../spec/id-mappings.js";
import { spawnCopyHelper } from "../backends/native/copy-helper.js";
import type { LifecycleContext } from "./context.js";

export async function inUserNamespace(ctx: LifecycleContext, dir: string, script: string, what: string): Promise<void> {
  await inHelperBundle(dir, async (bundleDir) => {
    const spec = helperSpec(ctx, { path: await ctx.helperRoot(), readonly: true }, ["/bin/sh", "-c", script], [{ destination: "/mnt", type: "bind", source: dir, options: ["rbind", "rw"] }]);
    const proc = await ctx.hostBackend().start({ bundleDir, spec, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const status = await proc.exited;
    if (status.exitCode !== 0) throw new TsboxError(`${what} failed (exit ${status.exitCode})`, { code: "container" });
  });
}

/**
 * Sets the xattrs of copy `records` (headers only: copy-records.ts) on the
 * files already in `dir`, as root of the user's namespace: `tsbox-runtime
 * copy --op xattrs` in a view whose `/` is `dir` (nothing followed out of it,
 * nothing created). Busybox has no call for it. What only that root may set
 * (a file capability) is set there.
 */
export async function setXattrsInUserNamespace(ctx: LifecycleContext, dir: string, records: Buffer, what: string): Promise<void> {
  await inHelperBundle(dir, async (bundle) => {
    // Its process never runs: the view alone is used.
    writeFileSync(join(bundle, "config.json"), JSON.stringify(helperSpec(ctx, { path: dir, readonly: false }, ["/bin/true"], [])));
    const helper = spawnCopyHelper({ bundle, view: "merged" }, "xattrs", "/", {}, { stdin: true });
    helper.stdin!.end(records);
    await helper.done.catch((err: unknown) => {
      throw new TsboxError(`${what} failed: ${(err as Error).message}`, { code: "container" });
    });
  });
}

/** `work` with a bundle dir of its own beside `dir` (not in it: the helper's config.json is no file of the tree). */
async function inHelperBundle(dir: string, work: (bundleDir: string) => Promise<void>): Promise<void> {
  const bundleDir = mkdtempSync(join(dirname(dir), ".userns-"));
  try {
    await work(bundleDir);
  } finally {
    await removeTree(bundleDir);
  }
}

function helperSpec(ctx: LifecycleContext, root: RootSpec, args: string[], mounts: MountSpec[]): ContainerSpec {
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ["PATH=/bin"],
      cwd: "/",
      capabilities: defaultCapabilitySets(),
      noNewPrivileges: true,
    },
    root,
    mounts,
    // A moment's work needs no cgroup (and a container's name may still be its dead one's).
    linux: { namespaces: [{ type: "user" }, { type: "mount" }], ...idMappings(ctx.host()), maskedPaths: [], readonlyPaths: [], cgroupsMode: "disabled" },
  };
}
