/**
 * How the guest's overlayfs sees whiteouts and opaque dirs in image layers
 * served from the host. A layer unpacked as root already holds overlay's
 * own form (a 0/0 character device; `trusted.overlay.opaque=y`). Rootless,
 * an opaque dir is marked `user.overlay.opaque=y`, and a whiteout is the
 * same 0/0 device, or (a kernel before 5.8, or a layer unpacked by an
 * earlier version: src/image/unpack.ts) an empty file with
 * `user.overlay.whiteout`. The guest kernel (6.1) knows neither xattr whiteouts nor, in
 * the guest root's overlay mount, `user.` markers, so the 9p server
 * presents the rootless form as the root one: the file as a 0/0 character
 * device, the dir with `trusted.overlay.opaque=y`. The host's `user.overlay.*`
 * attributes themselves are never shown (a container must not forge them).
 */
import type { NativeAddon } from "../../../native/addon.js";
import { addonPath, loadAddonSync } from "../../../native/addon.js";
import { S_IFCHR, S_IFMT, S_IFREG, type P9Stat } from "../../core/p9/fs.js";
import { fsName } from "../../../../name-bytes.js";

type Xattrs = Pick<NativeAddon, "lgetxattr" | "llistxattr">;

let loaded: Xattrs | null | undefined;

/** The addon's xattr calls, or null where it is not built (then: no xattrs at all). */
export function hostXattrs(): Xattrs | null {
  if (loaded !== undefined) return loaded;
  try {
    const path = addonPath();
    if (!path) return (loaded = null);
    // The one loader (process.dlopen): createRequire(import.meta.url) threw in an app's CommonJS bundle (no import.meta.url).
    const addon = loadAddonSync() as Partial<Xattrs>;
    // An addon built before these calls existed: no xattrs rather than a TypeError (EIO in the guest) on every exec.
    loaded = typeof addon.lgetxattr === "function" && typeof addon.llistxattr === "function" ? (addon as Xattrs) : null;
  } catch {
    loaded = null;
  }
  return loaded;
}

const USER_OVERLAY = "user.overlay.";
/** How the guest sees an opaque directory of a layer, whatever the host marked. */
export const TRUSTED_OPAQUE = "trusted.overlay.opaque";

/** `st` as the guest must see it: a rootless whiteout becomes a 0/0 character device. */
export function presentStat(path: string, st: P9Stat, x: Xattrs | null): P9Stat {
  if (!x || (st.mode & S_IFMT) !== S_IFREG || st.size !== 0n) return st;
  try {
    if (x.lgetxattr(fsName(path), `${USER_OVERLAY}whiteout`) === null) return st;
  } catch {
    return st; // no xattrs on this file system (ENOTSUP): no rootless whiteouts either
  }
  return { ...st, mode: S_IFCHR, rdev: 0n };
}

/** An attribute's value as the guest sees it, or null. */
export function presentXattr(path: string, name: string, x: Xattrs): Uint8Array | null {
  if (name.startsWith(USER_OVERLAY)) return null;
  const value = x.lgetxattr(fsName(path), name);
  if (value !== null || name !== TRUSTED_OPAQUE) return value;
  // "x" means "holds xattr whiteouts" (not opaque); only "y" is opaque.
  return isY(x.lgetxattr(fsName(path), `${USER_OVERLAY}opaque`)) ? Uint8Array.of(0x79) : null;
}

/** Attribute names as the guest sees them. */
export function presentXattrNames(path: string, x: Xattrs): string[] {
  const names = x.llistxattr(fsName(path));
  const shown = names.filter((n) => !n.startsWith(USER_OVERLAY));
  if (names.includes(`${USER_OVERLAY}opaque`) && !shown.includes(TRUSTED_OPAQUE) && isY(x.lgetxattr(fsName(path), `${USER_OVERLAY}opaque`))) shown.push(TRUSTED_OPAQUE);
  return shown;
}

const isY = (v: Uint8Array | null) => v !== null && v.length === 1 && v[0] === 0x79;
