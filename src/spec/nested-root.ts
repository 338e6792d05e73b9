/**
 * Root of a user namespace other than the initial one: root inside a
 * container (tsbox's own root containers, rootless podman or docker,
 * docker with userns-remap, most devcontainers and CI jobs "as root").
 * It has every capability, but only over its own namespace: no trusted.*
 * xattrs (they need CAP_SYS_ADMIN in the initial namespace), no device
 * nodes, and only the ids its namespace maps. `getuid() === 0` alone took
 * it for the host's root, and every run failed on the trusted.* probe.
 */
import { readFileSync } from "node:fs";
import { loadAddonSync } from "../backends/native/addon.js";
import type { IdMapping } from "./container-spec.js";

/**
 * True in the initial user namespace. The rule is the container crate's
 * (host::in_initial_user_ns: the namespace's fixed inode number, not the
 * uid_map heuristic an identity map fools); without the addon (a vm-only
 * install) this cannot be told and the host's root is assumed, as before.
 */
export function inInitialUserNamespace(): boolean {
  if (process.platform !== "linux") return true;
  try {
    return loadAddonSync().inInitialUserNs() === 1;
  } catch {
    return true;
  }
}

/**
 * Whether root of this (non-initial) user namespace may make bridges, veths and NAT rules in the network
 * namespace it is in (host::owns_network_ns: a container's own, not the host's seen from `unshare -U`).
 */
export function ownsNetworkNamespace(): boolean {
  try {
    return loadAddonSync().ownsNetworkNs() === 1;
  } catch {
    return true;
  }
}

/**
 * The ids this namespace maps, each onto itself, as the maps of a child
 * namespace its root may write without a helper (CAP_SETUID over its own
 * namespace). One line per line of its own map, never merged: the kernel
 * takes a child's line only when one line of the parent's holds all of it
 * (rootless podman's `0 1001 1` + `1 870000 65536` cannot become 0+65537).
 */
export function ownIdRanges(kind: "uid" | "gid", read = (file: string) => readFileSync(file, "utf8")): IdMapping[] {
  return parseIdMap(read(`/proc/self/${kind}_map`))
    .sort((a, b) => a.start - b.start)
    .map((r) => ({ containerID: r.start, hostID: r.start, size: r.count }));
}

/** The inside ids of /proc/PID/{uid,gid}_map lines (`inside outside count`). */
function parseIdMap(text: string): { start: number; count: number }[] {
  return text.split("\n").flatMap((line) => {
    const [inside, , count] = line.trim().split(/\s+/).map(Number);
    return inside !== undefined && count !== undefined && Number.isSafeInteger(inside) && Number.isSafeInteger(count) && count > 0 ? [{ start: inside, count }] : [];
  });
}

/** How `info` and errors name the situation. */
export const NESTED_ROOT = "root of a user namespace other than the host's (inside a container?)";
