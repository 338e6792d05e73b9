/**
 * Host device nodes for a container: docker's `--device HOST[:CONTAINER[:rwm]]`
 * and the host's whole /dev for `--privileged`. Each becomes a bind mount of
 * the host's node (mknod means nothing in the container's user namespace, and
 * a node on a mount made there would not open), so a device keeps the host's
 * owner and mode: a rootless container opens only what its user could.
 */
import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from "node:fs";
import { isAbsolute, join, posix, relative } from "node:path";
import { isErrno } from "../fs-util.js";
import { UsageError } from "../errors.js";
import type { DeviceOption } from "../spec/run-options.js";

/** One node to bind: the host's (symlinks resolved) at the container's path. */
export interface DeviceBind {
  source: string;
  target: string;
  /** docker's `HostConfig.Devices` entry. */
  inspect: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string };
}

const PERMISSIONS = /^[rwm]{1,3}$/;

/** `--device` text → DeviceOption (docker's parse: a second field of only r, w and m is the permissions). */
export function parseDeviceFlag(text: string): DeviceOption {
  const parts = text.split(":");
  if (parts.length > 3 || parts.some((p) => p === "")) throw new UsageError(`invalid --device ${text}: expected HOST[:CONTAINER[:PERMISSIONS]]`);
  const [path, second, third] = parts as [string, string | undefined, string | undefined];
  if (third !== undefined) return { path, containerPath: second!, permissions: third };
  if (second !== undefined && PERMISSIONS.test(second)) return { path, permissions: second };
  return { path, ...(second !== undefined ? { containerPath: second } : {}) };
}

/** The binds of the user's `--device`s: each host path a device node, or a directory of them. */
export function requestedDevices(devices: readonly DeviceOption[]): DeviceBind[] {
  const out: DeviceBind[] = [];
  for (const d of devices) {
    const label = [d.path, d.containerPath, d.permissions].filter((x) => x !== undefined).join(":");
    if (typeof d.path !== "string" || !isAbsolute(d.path)) throw new UsageError(`invalid --device ${label}: the host path must be absolute`);
    const inside = d.containerPath ?? d.path;
    if (!posix.isAbsolute(inside)) throw new UsageError(`invalid --device ${label}: the container path must be absolute`);
    const permissions = d.permissions ?? "rwm";
    if (!PERMISSIONS.test(permissions)) throw new UsageError(`invalid --device ${label}: permissions are r, w and m`);
    // Without a device cgroup a node cannot be limited to reads or writes: refuse rather than pretend.
    if (!permissions.includes("r") || !permissions.includes("w")) {
      throw new UsageError(`invalid --device ${label}: tsbox gives a device read and write access (no device cgroup rules); use rw or rwm`);
    }
    let host: string;
    let st: Stats;
    try {
      host = realpathSync(d.path);
      st = statSync(host);
    } catch (err) {
      throw new UsageError(`invalid --device ${label}: ${isErrno(err, "ENOENT") ? `${d.path} does not exist` : String((err as Error).message)}`);
    }
    const target = posix.normalize(inside);
    if (st.isDirectory()) {
      for (const node of nodesUnder(host)) out.push(bind(node, posix.join(target, relative(host, node)), permissions));
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      out.push(bind(host, target, permissions));
    } else {
      throw new UsageError(`invalid --device ${label}: ${d.path} is not a device node`);
    }
  }
  return out;
}

/**
 * `--privileged`: every device node of the host's /dev but those every
 * container has already (runtime/dev.rs binds null, zero, full, random,
 * urandom and tty; /dev/pts, ptmx and console are the container's own).
 */
export function privilegedDevices(): DeviceBind[] {
  const own = new Set(["null", "zero", "full", "random", "urandom", "tty", "console", "ptmx"].map((n) => `/dev/${n}`));
  return nodesUnder("/dev", new Set(["/dev/pts", "/dev/shm", "/dev/mqueue"]))
    .filter((node) => !own.has(node))
    .map((node) => bind(node, node, "rwm"));
}

function bind(source: string, target: string, permissions: string): DeviceBind {
  return { source, target, inspect: { PathOnHost: source, PathInContainer: target, CgroupPermissions: permissions } };
}

/** Character and block devices under `dir`, not following symlinks. */
function nodesUnder(dir: string, skip: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out; // a directory that went or that we may not read
  }
  for (const name of names) {
    const path = join(dir, name);
    if (skip.has(path)) continue;
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.isDirectory()) out.push(...nodesUnder(path, skip));
    else if (st.isCharacterDevice() || st.isBlockDevice()) out.push(path);
  }
  return out;
}
