/**
 * The path rules of unpacking a layer, wherever it is unpacked (unpack.ts on
 * a host's disk, the browser Worker's image-root.ts into memory): entry
 * names relative to the layer root with no way out of it, and the names
 * that mean whiteouts.
 */
import { LayerError } from "../errors.js";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";
/**
 * pax records carrying extended attributes. Their values are bytes, not
 * text (file capabilities, ACLs): in a TarEntry's `pax` they are kept as
 * byte strings, one char per byte (latin1); `xattrBytes` gives them back.
 */
export const XATTR_PREFIX = "SCHILY.xattr.";

/** The bytes of an xattr record's value (see XATTR_PREFIX). */
export function xattrBytes(value: string): Uint8Array {
  return Uint8Array.from(value, (c) => c.charCodeAt(0) & 0xff);
}

/**
 * Layer-relative path ("" for the root), or a LayerError for anything that could escape. A leading `/` is
 * dropped (`tar -P`'s `/etc/x` is `etc/x`), as docker's unpack joins every name under the layer root
 * (moby pkg/archive: `filepath.Join(dest, filepath.Clean(name))`); `..` is refused wherever it stands.
 */
export function sanitizeLayerPath(path: string, what: string): string {
  if (path.includes("\0")) throw new LayerError(`refusing ${what.replace(/\0/g, "\\0")}: a NUL byte in its name`);
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new LayerError(`refusing ${what}: it escapes the layer root`);
  return parts.join("/");
}

/** The name a `.wh.NAME` entry hides, refusing names that are no file name. */
export function whiteoutTarget(name: string, entryPath: string): string {
  const hidden = name.slice(WHITEOUT_PREFIX.length);
  if (hidden === "" || hidden === "." || hidden === ".." || hidden.includes("/")) throw new LayerError(`invalid whiteout entry ${entryPath}`);
  return hidden;
}

/**
 * The path rules of a layer unpacked onto nothing (an `import`ed tar, the one layer of its image), checked
 * from the tar's own entries with the unpacker's words: an archive no container could unpack is refused
 * when it is imported, not at every run. Each path's type is the one the entries so far left it with.
 */
export class StandaloneLayerCheck {
  private readonly types = new Map<string, string>([["", "directory"]]);

  add(entry: { path: string; type: string; linkname: string }): void {
    const rel = sanitizeLayerPath(entry.path, `layer entry ${entry.path}`);
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    if (name.startsWith(WHITEOUT_PREFIX)) return void (name === OPAQUE_MARKER || whiteoutTarget(name, entry.path));
    if (rel === "") {
      if (entry.type !== "directory") throw new LayerError(`layer root entry ${entry.path} is not a directory`);
      return;
    }
    if (entry.type === "hardlink") {
      const source = sanitizeLayerPath(entry.linkname, `hard link ${entry.path} -> ${entry.linkname}`);
      if (source === "") throw new LayerError(`hard link ${entry.path} points at the layer root`);
      this.parents(source, (at) => `hard link ${entry.path} points through ${at}, which is not a directory in the layer`);
      const type = this.types.get(source);
      if (type === undefined) throw new LayerError(`hard link ${entry.path} points at ${entry.linkname}, which is not in the layer`);
      if (type === "directory") throw new LayerError(`hard link ${entry.path} points at a directory`);
    }
    this.parents(rel, (at, type) => (type === "symlink" ? `refusing to write ${entry.path} through the symlink ${at}` : `cannot write ${entry.path}: ${at} is not a directory`));
    const before = this.types.get(rel);
    // A later entry replaces an earlier one; what was below a directory goes with it.
    if (before === "directory" && entry.type !== "directory") for (const p of this.types.keys()) if (p.startsWith(`${rel}/`)) this.types.delete(p);
    this.types.set(rel, entry.type === "hardlink" ? "file" : entry.type);
  }

  /** Every parent of `rel` a directory (one no entry named yet is made as one), else `refused(parent, its type)`. */
  private parents(rel: string, refused: (at: string, type: string) => string): void {
    for (let slash = rel.indexOf("/"); slash >= 0; slash = rel.indexOf("/", slash + 1)) {
      const at = rel.slice(0, slash);
      const type = this.types.get(at);
      if (type === undefined) this.types.set(at, "directory");
      else if (type !== "directory") throw new LayerError(refused(at, type));
    }
  }
}
