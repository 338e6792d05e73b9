/**
 * What `RUN --mount=type=bind` shows of the build context: the context as
 * `.dockerignore` filters it (BuildKit's rule), not the directory on disk,
 * so ignored files (`.env`, `.git`, keys) stay out of reach of a build
 * step — one of the user's own Dockerfile, or an ONBUILD trigger of a base
 * image. Made for the step that runs (a cache hit makes none) in the data
 * dir, `.bind-<pid>-…` (prune sweeps a killed build's), from the same walk
 * COPY uses (links judged by where they lead): files hard-linked where the file system allows (the bind is
 * read-only), else copied; symlinks kept as links; modes and times kept.
 */
import { copyFileSync, constants, linkSync, mkdirSync, mkdtempSync, symlinkSync, chmodSync, utimesSync, lutimesSync } from "node:fs";
import { join } from "node:path";
import type { MountOption } from "../spec/run-options.js";
import { ownTempPrefix } from "../temp-names.js";
import type { BuildContext, ContextSource } from "./context.js";
import { removeTree } from "../remove-tree.js";

/** Where a build step's context snapshots are made (temp-names.ts). */
export const BIND_PREFIX = ".bind-";

/** A bind of the context in a step's mounts: its index there and its source as written. */
export interface ContextBind {
  index: number;
  source: string;
}

/**
 * `mounts` with each context bind's source replaced by a filtered snapshot
 * of it; `remove` deletes the snapshots once the step has run.
 */
export function snapshotBinds(mounts: MountOption[], binds: ContextBind[], context: BuildContext, dataDir: string, line: number): { mounts: MountOption[]; remove: () => Promise<void> } {
  if (binds.length === 0) return { mounts, remove: async () => {} };
  const dir = mkdtempSync(join(dataDir, ownTempPrefix(BIND_PREFIX)));
  const remove = () => removeTree(dir);
  try {
    const out = [...mounts];
    binds.forEach((bind, i) => {
      const [source] = context.resolve([bind.source], line);
      out[bind.index] = { ...out[bind.index]!, source: materialize(source!, join(dir, String(i))) } as MountOption;
    });
    return { mounts: out, remove };
  } catch (err) {
    void remove();
    throw err;
  }
}

/** The source's entries under `at` (a file source: the file itself); returns `at`. */
function materialize(source: ContextSource, at: string): string {
  if (!source.isDir) {
    const file = source.items[0]!;
    place(file.path, at, file.mode, file.mtime);
    return at;
  }
  mkdirSync(at, { mode: 0o755 });
  const dirs: { path: string; mode: number; mtime: number }[] = [];
  for (const item of source.items) {
    const path = join(at, item.name);
    if (item.type === "dir") {
      mkdirSync(path, { mode: 0o700 });
      dirs.push({ path, mode: item.mode, mtime: item.mtime });
    } else if (item.type === "symlink") {
      symlinkSync(item.link, path);
      lutimesSync(path, item.mtime, item.mtime);
    } else place(item.path, path, item.mode, item.mtime);
  }
  // Modes and times of directories last: their entries are made first (a 0555 one could not take them).
  for (const d of dirs.reverse()) {
    chmodSync(d.path, d.mode);
    utimesSync(d.path, d.mtime, d.mtime);
  }
  return at;
}

/** A file: a hard link to it (same inode, read-only through the bind), else a copy with its mode and time. */
function place(from: string, to: string, mode: number, mtime?: number): void {
  try {
    linkSync(from, to);
    return;
  } catch {
    // another file system, or fs.protected_hardlinks and a file not ours: a copy
  }
  copyFileSync(from, to, constants.COPYFILE_FICLONE);
  chmodSync(to, mode);
  if (mtime !== undefined) utimesSync(to, mtime, mtime);
}
