/**
 * An image's root in the Worker's MemoryFs: its layer tarballs applied in
 * order, whiteouts applied (a `.wh.name` removes what lower layers had
 * there; `.wh..wh..opq` empties its directory of lower layers' entries), so
 * the guest gets one read-only lower directory with the merged tree, the
 * same view overlayfs would build from the separate layers.
 *
 * The rules of src/image/unpack.ts, for an in-memory tree: no absolute
 * paths or `..`, never writing through a symlink this layer made, hard
 * links only to files already in the tree, device nodes skipped (as a
 * rootless host does), owners as the image gives them (through `guestId`:
 * the ids a container sees them as), only `user.*` xattrs and never
 * `*.overlay.*` ones (they would forge whiteouts).
 */
import { LayerError } from "../../../errors.js";
import { OPAQUE_MARKER, sanitizeLayerPath, WHITEOUT_PREFIX, whiteoutTarget, XATTR_PREFIX, xattrBytes } from "../../../image/layer-paths.js";
import { readTar, type TarEntry } from "../../../image/tar.js";
import { childPath, isDirectory, O } from "../core/p9/fs.js";
import type { MemoryFs } from "../core/p9/memory-fs.js";


export interface ImageRootResult {
  entries: number;
  /** Device nodes and fifos left out. */
  skipped: string[];
}

/**
 * Applies `layers` (gzip or plain tar blobs, lowest first) to the directory
 * `root` (created); `guestId` turns the tar's owners into the memory fs's.
 */
export async function buildImageRoot(fs: MemoryFs, root: string, layers: readonly Uint8Array[], guestId: (id: number) => number): Promise<ImageRootResult> {
  fs.mkdir(root, 0o755);
  const result: ImageRootResult = { entries: 0, skipped: [] };
  for (const blob of layers) {
    const layer = new LayerApplier(fs, root, result, guestId);
    // tar.ts types its chunks as Node Buffers; its reader takes any Uint8Array.
    for await (const entry of readTar(decompressed(blob) as AsyncIterable<Buffer>)) await layer.add(entry);
    layer.finish();
  }
  return result;
}

/** The tar inside a layer blob: gzip through DecompressionStream, plain as is. */
export async function* decompressed(blob: Uint8Array): AsyncGenerator<Uint8Array> {
  if (blob[0] === 0x28 && blob[1] === 0xb5 && blob[2] === 0x2f && blob[3] === 0xfd) {
    throw new LayerError("zstd-compressed layers are not supported in the browser (no zstd decompressor there)");
  }
  if (!(blob[0] === 0x1f && blob[1] === 0x8b)) {
    yield blob;
    return;
  }
  const reader = new Blob([blob as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip")).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } catch (err) {
    throw new LayerError(`layer is not valid gzip: ${(err as Error).message}`);
  }
}

class LayerApplier {
  /** Paths this layer wrote: whiteouts and opaque dirs only hide lower layers' entries. */
  private readonly written = new Set<string>();
  /** Directory modes and mtimes, set once the layer's entries are in (adding entries changes mtimes). */
  private readonly dirMeta = new Map<string, { mode: number; mtime: number }>();

  constructor(
    private readonly fs: MemoryFs,
    private readonly root: string,
    private readonly result: ImageRootResult,
    private readonly guestId: (id: number) => number,
  ) {}

  async add(entry: TarEntry): Promise<void> {
    this.result.entries++;
    const rel = sanitizeLayerPath(entry.path, `layer entry ${entry.path}`);
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    if (name.startsWith(WHITEOUT_PREFIX)) return this.whiteout(entry, rel, name);
    if (rel === "") {
      if (entry.type !== "directory") throw new LayerError(`layer root entry ${entry.path} is not a directory`);
      this.dirMeta.set("", { mode: entry.mode, mtime: entry.mtime });
      return;
    }
    this.ensureParents(rel, entry.path);
    const path = this.pathOf(rel);
    switch (entry.type) {
      case "directory":
        if (!this.isDir(path)) {
          this.clear(path);
          this.fs.mkdir(path, 0o755);
        }
        this.dirMeta.set(rel, { mode: entry.mode, mtime: entry.mtime });
        break;
      case "file":
        this.clear(path);
        await this.writeFile(entry, path);
        break;
      case "symlink":
        this.clear(path);
        this.fs.symlink(entry.linkname, path);
        this.fs.lutimes(path, entry.mtime, entry.mtime);
        break;
      case "hardlink":
        this.hardlink(entry, path);
        break;
      default:
        this.result.skipped.push(rel);
        return;
    }
    // A hard link is its target's node, with the target's owner.
    if (entry.type !== "hardlink") this.fs.lchown(path, this.guestId(entry.uid), this.guestId(entry.gid));
    this.written.add(rel);
  }

  finish(): void {
    for (const [rel, meta] of this.dirMeta) {
      const path = this.pathOf(rel);
      this.fs.chmod(path, meta.mode);
      this.fs.utimes(path, meta.mtime, meta.mtime);
    }
  }

  private async writeFile(entry: TarEntry, path: string): Promise<void> {
    const fd = this.fs.open(path, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW, 0o600);
    try {
      let at = 0;
      for await (const chunk of entry.body) at += this.fs.write(fd, chunk, at);
    } finally {
      this.fs.close(fd);
    }
    this.fs.chmod(path, entry.mode);
    this.fs.utimes(path, entry.mtime, entry.mtime);
    for (const [key, value] of Object.entries(entry.pax)) {
      if (!key.startsWith(XATTR_PREFIX)) continue;
      const attr = key.slice(XATTR_PREFIX.length);
      if (attr.startsWith("user.") && !attr.startsWith("user.overlay.")) this.fs.setxattr(path, attr, xattrBytes(value));
    }
  }

  private hardlink(entry: TarEntry, path: string): void {
    const targetRel = sanitizeLayerPath(entry.linkname, `hard link ${entry.path} -> ${entry.linkname}`);
    if (targetRel === "") throw new LayerError(`hard link ${entry.path} points at the layer root`);
    const target = this.pathOf(targetRel);
    // Resolved with symlinks followed: the target must be the tree's own file at that very path.
    let ok = false;
    try {
      ok = this.fs.realpath(target) === target && !isDirectory(this.fs.lstat(target));
    } catch {
      // missing
    }
    if (!ok) throw new LayerError(`hard link ${entry.path} points at ${entry.linkname}, which is not a file in the image`);
    this.clear(path);
    this.fs.link(target, path);
  }

  private whiteout(entry: TarEntry, rel: string, name: string): void {
    const dirRel = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    this.ensureParents(rel, entry.path);
    const dir = this.pathOf(dirRel);
    if (name === OPAQUE_MARKER) {
      for (const child of this.fs.readdir(dir)) {
        const childRel = dirRel === "" ? child : `${dirRel}/${child}`;
        if (!this.written.has(childRel)) this.fs.removeTree(childPath(dir, child));
      }
      return;
    }
    const hidden = whiteoutTarget(name, entry.path);
    this.clear(childPath(dir, hidden));
  }

  /**
   * Parent directories: missing ones are made (0755); a non-directory from
   * a lower layer is replaced (the upper directory hides it, as in overlayfs);
   * a symlink or file this layer made is refused.
   */
  private ensureParents(rel: string, raw: string): void {
    const parts = rel.split("/");
    let current = "";
    for (let i = 0; i < parts.length - 1; i++) {
      current = current === "" ? parts[i]! : `${current}/${parts[i]}`;
      const path = this.pathOf(current);
      if (this.isDir(path)) continue;
      if (this.written.has(current)) throw new LayerError(`refusing to write ${raw} through ${current}, which is not a directory`);
      this.clear(path);
      this.fs.mkdir(path, 0o755);
    }
  }

  /** Removes whatever is at `path` (a whole directory tree too); nothing there is fine. */
  private clear(path: string): void {
    try {
      this.fs.removeTree(path);
    } catch (err) {
      if ((err as { code?: string }).code !== "ENOENT") throw err;
    }
  }

  private isDir(path: string): boolean {
    try {
      return isDirectory(this.fs.lstat(path));
    } catch {
      return false;
    }
  }

  private pathOf(rel: string): string {
    return rel === "" ? this.root : childPath(this.root, rel);
  }
}

