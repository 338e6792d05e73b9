/**
 * Which form this host unpacks layers in (paths.ts WhiteoutForm), and how a
 * layer in the "oci" form is read: an empty `.wh.NAME` beside what it
 * deletes, `.wh..wh..opq` in a directory that hides the layers below. Two
 * readers need these rules: the image's view on the host (layer-view.ts)
 * and the vm guest's 9p server (vm/node/p9/oci-whiteouts.ts), which shows
 * such a layer in overlay's own form; both look for markers only inside
 * oci-form layers (paths.ts `inOciFormLayer`): an overlay-form layer never
 * holds a `.wh.` name, the unpacker turns each into overlay's marker.
 */
import { fsName } from "../name-bytes.js";
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { isErrno } from "../fs-util.js";
import { addonPresent } from "../backends/native/addon.js";
import type { WhiteoutForm } from "../paths.js";
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from "./layer-paths.js";

/** Overlay's markers need xattr calls, which only the native addon gives Node. */
export function hostWhiteoutForm(): WhiteoutForm {
  return addonPresent() ? "overlay" : "oci";
}

/** A marker's own name: never a file of the image. */
export function isMarkerName(name: string): boolean {
  return name.startsWith(WHITEOUT_PREFIX);
}

/** The name `marker` deletes, or undefined for the opaque marker. */
export function deletedName(marker: string): string | undefined {
  return marker === OPAQUE_MARKER ? undefined : marker.slice(WHITEOUT_PREFIX.length);
}

/** The path of the marker that would delete `name` in `dir`. */
export function markerPath(dir: string, name: string): string {
  return join(dir, WHITEOUT_PREFIX + name);
}

/** Does the layer delete `name` in `dir`? */
export function hasWhiteoutMarker(dir: string, name: string): boolean {
  return isMarkerFile(markerPath(dir, name));
}

/** Does `dir` hide what lower layers have in it? False for a file (asked of every file's xattrs: the 9p server). */
export function hasOpaqueMarker(dir: string): boolean {
  return isMarkerFile(join(dir, OPAQUE_MARKER));
}

function isMarkerFile(path: string): boolean {
  try {
    return lstatSync(fsName(path), { throwIfNoEntry: false })?.isFile() ?? false;
  } catch (err) {
    // ENOTDIR: the "directory" is a file, which holds no marker.
    if (isErrno(err, "ENOTDIR")) return false;
    throw err;
  }
}
