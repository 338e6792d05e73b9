/**
 * An image's file system as overlayfs shows it, read from its unpacked layer
 * directories without mounting anything: upper layers hide lower ones,
 * whiteouts delete, opaque directories hide everything below them. Layers
 * hold overlay's own markers (src/image/unpack.ts): as root a 0/0 character
 * device and `trusted.overlay.opaque=y`; rootless the same device (on older
 * kernels an empty file with `user.overlay.whiteout`) and
 * `user.overlay.opaque=y`; on hosts without the
 * native addon, the layer's own `.wh.` files (whiteout-form.ts).
 *
 * Used where the image's content matters outside a container: filling a new
 * volume with what the image has at its mount point, and telling added from
 * changed files in `tsbox diff`.
 */
import { fsName } from "../name-bytes.js";
import { isErrno, readdirNames, readlinkName } from "../fs-util.js";
import { lstatSync, type Stats } from "node:fs";
import { join, posix } from "node:path";
import type { NativeAddon } from "../backends/native/addon.js";
import { hostXattrs } from "../backends/vm/node/p9/overlay-markers.js";
import { inOciFormLayer } from "../paths.js";
import { deletedName, hasOpaqueMarker, hasWhiteoutMarker, isMarkerName } from "./whiteout-form.js";

type Xattrs = Pick<NativeAddon, "lgetxattr">;

export interface LayerEntry {
  /** The file in the layer that provides it. */
  path: string;
  /** That layer's directory, and the file's path in it (`a/b`). */
  layer: string;
  rel: string;
  stat: Stats;
}

export class LayerView {
  private readonly xattrs: Xattrs | null;

  /** `layers`: unpacked layer directories, topmost first (overlay's lowerdir order). */
  constructor(private readonly layers: string[]) {
    this.xattrs = hostXattrs();
  }

  /**
   * What the image has at `path` (absolute in the image), following symlinks
   * in the parent directories inside the image, never the last component.
   */
  lookup(path: string): LayerEntry | undefined {
    const resolved = this.resolveParents(path);
    return resolved === undefined ? undefined : this.find(resolved);
  }

  /** A directory the image has at `dir`, every symlink on the way resolved inside the image (its own too). */
  realPath(dir: string): string | undefined {
    const parts = this.resolveParents(posix.join(dir, "_"));
    return parts && `/${parts.slice(0, -1).join("/")}`;
  }

  /** Names in the directory at `path` (resolved like `lookup`), upper layers first, whiteouts applied. */
  list(path: string): string[] {
    const dir = this.resolveParents(path);
    if (dir === undefined) return [];
    const parts = dir;
    const seen = new Map<string, boolean>(); // name → visible
    for (const layer of this.layers) {
      const state = this.walk(layer, parts);
      if (state === "absent") continue;
      if (state === "hidden" || state === "notdir") break;
      let names: string[];
      try {
        // Names as their bytes are (src/name-bytes.ts): an image's need not be UTF-8.
        names = readdirNames(join(layer, ...parts));
      } catch (err) {
        // Gone meanwhile is empty; a directory this user may not read is no empty one (a volume's fill says so).
        if (!isErrno(err, "ENOENT") && !isErrno(err, "ENOTDIR")) throw err;
        names = [];
      }
      for (const name of names) {
        if (isMarkerName(name)) {
          const deleted = deletedName(name);
          if (deleted !== undefined && !seen.has(deleted)) seen.set(deleted, false);
          continue;
        }
        if (seen.has(name)) continue;
        seen.set(name, !this.isWhiteout(join(layer, ...parts, name)));
      }
      if (state === "opaque") break;
    }
    return [...seen].filter(([, visible]) => visible).map(([name]) => name).sort();
  }

  /** The entry at `parts` with no symlink resolution: the topmost layer that has it, unless hidden above. */
  private find(parts: string[]): LayerEntry | undefined {
    for (const layer of this.layers) {
      const state = this.walk(layer, parts.slice(0, -1));
      if (state === "absent") continue;
      if (state === "hidden" || state === "notdir") return undefined;
      const path = join(layer, ...parts);
      const stat = lstatOrUndefined(path);
      if (stat) return this.isWhiteout(path, stat) ? undefined : { path, layer, rel: parts.join("/"), stat };
      if (state === "opaque" || (inOciFormLayer(layer) && hasWhiteoutMarker(join(layer, ...parts.slice(0, -1)), parts[parts.length - 1]!))) return undefined;
    }
    return undefined;
  }

  /**
   * How a layer treats the directory `parts`: it has it ("dir", or "opaque"
   * when it or a parent hides the layers below), it has nothing there
   * ("absent": look further down), or it deleted/replaced it ("hidden",
   * "notdir": nothing below it shows).
   */
  private walk(layer: string, parts: string[]): "dir" | "opaque" | "absent" | "hidden" | "notdir" {
    let opaque = false;
    for (let i = 0; i <= parts.length; i++) {
      const path = join(layer, ...parts.slice(0, i));
      const stat = lstatOrUndefined(path);
      if (!stat) return i > 0 && inOciFormLayer(layer) && hasWhiteoutMarker(join(layer, ...parts.slice(0, i - 1)), parts[i - 1]!) ? "hidden" : "absent";
      if (this.isWhiteout(path, stat)) return "hidden";
      if (!stat.isDirectory()) return "notdir";
      if (i > 0 && this.isOpaque(path, inOciFormLayer(layer))) opaque = true;
    }
    return opaque ? "opaque" : "dir";
  }

  /** `path` with its parent directories' symlinks resolved inside the image (at most 40, like the kernel). */
  private resolveParents(path: string, depth = 0): string[] | undefined {
    const parts = split(path);
    const out: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      out.push(parts[i]!);
      if (i === parts.length - 1) break;
      const entry = this.find(out);
      if (!entry) return undefined;
      if (entry.stat.isSymbolicLink()) {
        if (depth >= 40) return undefined;
        const target = readlinkName(entry.path);
        const base = target.startsWith("/") ? target : posix.join("/", ...out.slice(0, -1), target);
        return this.resolveParents(posix.join(base, ...parts.slice(i + 1)), depth + 1);
      }
      if (!entry.stat.isDirectory()) return undefined;
    }
    return out;
  }

  private isWhiteout(path: string, stat = lstatOrUndefined(path)): boolean {
    if (!stat) return false;
    if (isMarkerName(posix.basename(path))) return true;
    if (stat.isCharacterDevice()) return stat.rdev === 0;
    if (!stat.isFile() || stat.size !== 0 || !this.xattrs) return false;
    return attr(this.xattrs, path, "user.overlay.whiteout") !== null;
  }

  private isOpaque(path: string, ociForm: boolean): boolean {
    if (ociForm) return hasOpaqueMarker(path);
    if (!this.xattrs) return false;
    return ["trusted.overlay.opaque", "user.overlay.opaque"].some((name) => attr(this.xattrs!, path, name)?.toString() === "y");
  }
}

/** `/a/b/../c` → ["a", "c"], never above the root. */
function split(path: string): string[] {
  return posix.normalize(posix.join("/", path)).split("/").filter((p) => p !== "");
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(fsName(path));
  } catch {
    return undefined;
  }
}

function attr(x: Xattrs, path: string, name: string): Buffer | null {
  try {
    return x.lgetxattr(fsName(path), name);
  } catch {
    return null; // no xattrs here (ENOTSUP), or not ours to read
  }
}
