/**
 * docker's "init layer": the mount points of the files tsbox binds over an
 * image's own (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`), empty
 * files in a small directory that sits on top of the image's layers.
 * Without it the kernel's mount point would be created in the container's
 * writable layer, and `diff`, `commit` and `export` would show files the
 * user never wrote. Its content depends only on which files are bound, so
 * one per set of files is shared read-only by every container of a data dir
 * (`<data>/init-layers/<key>`): a run neither makes nor deletes it.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { isErrno } from "../fs-util.js";
import type { MountSpec } from "../spec/container-spec.js";

/**
 * The layer's directory name: the files themselves, escaped (one-to-one, and no
 * node:crypto to load on a run's path, which brings Node's whole stream stack
 * with it); a digest only for a set too long for a file name.
 */
function layerKey(files: string[]): string {
  const text = encodeURIComponent(files.join("\n"));
  return text.length <= 200 ? text : createHash("sha256").update(files.join("\0")).digest("hex").slice(0, 32);
}

/** The init layer for the file mounts among `mounts` (made on first use); undefined when there are none. */
export function ensureInitLayer(dataDir: string, mounts: MountSpec[]): string | undefined {
  const files = [...new Set(mounts.filter((m) => m.type === "bind" && m.destination.startsWith("/etc/")).map((m) => posix.normalize(m.destination)))].sort();
  if (files.length === 0) return undefined;
  const parent = join(dataDir, "init-layers");
  const root = join(parent, layerKey(files));
  if (existsSync(root)) return root;
  // Made aside, then renamed: a layer that exists is whole, and a racing run's copy is simply dropped.
  mkdirSync(parent, { recursive: true });
  const tmp = mkdtempSync(join(parent, ".tmp-"));
  try {
    // Modes set, not asked of mkdir and open: the caller's umask (077) made /etc root's only.
    const dirs = new Set<string>([tmp]);
    for (const file of files) {
      const path = join(tmp, file);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, "");
      chmodSync(path, 0o644);
      for (let d = dirname(path); d !== tmp; d = dirname(d)) dirs.add(d);
    }
    for (const d of dirs) chmodSync(d, 0o755);
    renameSync(tmp, root);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (!(isErrno(err, "EEXIST") || isErrno(err, "ENOTEMPTY")) || !existsSync(root)) throw err;
  }
  return root;
}
