/**
 * A moment's work as root of the user's own user namespace, with the
 * subordinate ids mapped as every container's are (what `podman unshare`
 * is for): the embedded busybox's `sh -c SCRIPT` with `dir` at /mnt. Its
 * root is read-only and nothing else is mounted, so a symlink in `dir`
 * leads nowhere but into that read-only root.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { TsboxError } from "../errors.js";
import { removeTree } from "../remove-tree.js";
import type { ContainerSpec, MountSpec, RootSpec } from "../spec/container-spec.js";
import { OCI_VERSION } from "../spec/defaults.js";
import { defaultCapabilitySets } from "../spec/process-rules.js";
import { idMappings } from "../spec/id-mappings.js";
import { spawnCopyHelper } from "../backends/native/copy-helper.js";
import type { LifecycleContext } from "./context.js";

/** `text` as one word of the `sh` scripts `inUserNamespace` runs: single-quoted. */
export const shQuote = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;

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

/**
 * What the image (`layers`, topmost first) has below `imagePath` copied into
 * `dir` (empty), as root of the user's namespace: `tsbox-runtime copy --op
 * read` in a read-only view of the layers piped into `--op write --archive`
 * in a view whose `/` is `dir`. Files and directories only their owner (a
 * subordinate id) may read are copied, with their owners and modes: the
 * user outside the namespace can read neither.
 */
export async function copyImageTreeInUserNamespace(ctx: LifecycleContext, layers: string[], imagePath: string, dir: string, what: string): Promise<void> {
  await inHelperBundle(dir, async (readBundle) => {
    // The view mounts an overlay of the layers under an upper dir of none: an empty one.
    const root = join(readBundle, "root");
    const empty = join(readBundle, "empty");
    mkdirSync(root);
    mkdirSync(empty);
    writeFileSync(join(readBundle, "config.json"), JSON.stringify(helperSpec(ctx, { path: root, readonly: true, overlay: { lower: layers, upper: empty, work: empty } }, ["/bin/true"], [])));
    await inHelperBundle(dir, async (writeBundle) => {
      writeFileSync(join(writeBundle, "config.json"), JSON.stringify(helperSpec(ctx, { path: dir, readonly: false }, ["/bin/true"], [])));
      const reader = spawnCopyHelper({ bundle: readBundle, view: "layers" }, "read", imagePath, { name: "" }, { stdout: true });
      const writer = spawnCopyHelper({ bundle: writeBundle, view: "merged" }, "write", "/", { archive: true, name: "" }, { stdin: true });
      reader.stdout!.pipe(writer.stdin!);
      const [read, written] = await Promise.allSettled([reader.done, writer.done]);
      if (read.status === "fulfilled" && written.status === "fulfilled") return;
      // The cause, not its echo: a writer that failed breaks the reader's pipe.
      const readError = read.status === "rejected" ? (read.reason as Error) : undefined;
      const cause = readError && (written.status === "fulfilled" || !/broken pipe|EPIPE/i.test(readError.message)) ? readError : (written as PromiseRejectedResult).reason as Error;
      throw new TsboxError(`${what} failed: ${cause.message}`, { code: "container" });
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
