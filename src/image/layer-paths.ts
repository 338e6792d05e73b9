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

/** Layer-relative path ("" for the root), or a LayerError for anything that could escape. */
export function sanitizeLayerPath(path: string, what: string): string {
  if (path.startsWith("/")) throw new LayerError(`refusing ${what}: absolute path`);
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
