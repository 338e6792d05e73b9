/**
 * An "oci"-form layer (paths.ts: unpacked on a host with no xattr calls —
 * macOS, Windows) as the guest's overlayfs must see it: each `.wh.NAME`
 * marker as a 0/0 character device NAME (overlay's whiteout), a directory
 * holding `.wh..wh..opq` with `trusted.overlay.opaque=y`, and the markers
 * themselves never shown. The layer on the host stays as the image had it;
 * whiteout-form.ts holds the rules, this only presents them.
 */
import { basename, dirname } from "node:path";
import { deletedName, hasOpaqueMarker, isMarkerName, markerPath } from "../../../../image/whiteout-form.js";
import { FsError } from "../../core/p9/errno.js";
import { isRegular, S_IFCHR, type P9Stat } from "../../core/p9/fs.js";
import { TRUSTED_OPAQUE } from "./overlay-markers.js";

/** `stat(path)` of the layer, with whiteouts where the markers say (built from the marker's own times and inode). */
export function presentOciStat(path: string, stat: (path: string) => P9Stat): P9Stat {
  const name = basename(path);
  if (isMarkerName(name)) throw new FsError("ENOENT", "lstat", path);
  try {
    return stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    let marker: P9Stat;
    try {
      marker = stat(markerPath(dirname(path), name));
    } catch {
      throw err;
    }
    if (!isRegular(marker)) throw err;
    return { ...marker, mode: S_IFCHR, rdev: 0n, size: 0n, blocks: 0n, nlink: 1n };
  }
}

/** A directory's names: markers out, the names they delete in (an entry of the layer with that name wins). */
export function presentOciNames(names: string[]): string[] {
  const shown = new Set(names.filter((n) => !isMarkerName(n)));
  for (const n of names) {
    const deleted = isMarkerName(n) ? deletedName(n) : undefined;
    if (deleted !== undefined && !isMarkerName(deleted)) shown.add(deleted);
  }
  return [...shown];
}

/** overlay's opaque attribute on a directory with the marker; null for every other attribute (the layer has none). */
export function presentOciXattr(path: string, name: string): Uint8Array | null {
  return name === TRUSTED_OPAQUE && hasOpaqueMarker(path) ? Uint8Array.of(0x79) : null;
}

export function presentOciXattrNames(path: string): string[] {
  return hasOpaqueMarker(path) ? [TRUSTED_OPAQUE] : [];
}
