/**
 * docker's "init layer": the mount points of the files tsbox binds over an
 * image's own (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`), made as
 * empty files in a small directory of the bundle that sits on top of the
 * image's layers. Without it the kernel's mount point would be created in
 * the container's writable layer, and `diff`, `commit` and `export` would
 * show files the user never wrote.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import type { MountSpec } from "../spec/container-spec.js";

/** Makes `<bundle>/init` for the file mounts among `mounts`; its path, or undefined when there are none. */
export function makeInitLayer(bundleDir: string, mounts: MountSpec[]): string | undefined {
  const files = mounts.filter((m) => m.type === "bind" && m.destination.startsWith("/etc/")).map((m) => posix.normalize(m.destination));
  if (files.length === 0) return undefined;
  const root = join(bundleDir, "init");
  for (const file of files) {
    const path = join(root, file);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, "", { mode: 0o644 });
  }
  return root;
}
