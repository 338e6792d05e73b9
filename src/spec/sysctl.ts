/**
 * `linux.sysctl` of a run: docker's default plus the user's `--sysctl`s.
 * Which names a container may set (those of its own IPC, network and UTS
 * namespaces) is checked once, by the runtime that writes them
 * (native-rs/container/src/sysctl.rs), before anything starts.
 */
import { readFileSync } from "node:fs";
import type { ContainerSpec, IdMapping } from "./container-spec.js";
import { createsNamespace } from "./process-rules.js";

/**
 * docker's defaults since 20.10, in a network namespace of its own only:
 * `net.ipv4.ping_group_range` open to every group the container has, so
 * `ping` needs no raw socket (no NET_RAW, no setuid), over the gids mapped
 * from 0 up (the kernel refuses a range with unmapped ids); and
 * `net.ipv4.ip_unprivileged_port_start` 0, so a non-root USER may listen on
 * port 80 (an image that does crash-looped here, and runs under docker).
 */
export function containerSysctls(spec: ContainerSpec, asked: Record<string, string> = {}, defaults = true): Record<string, string> {
  const ownNetwork = createsNamespace(spec, "network") && defaults;
  const out: Record<string, string> = {};
  const top = highestGid(spec);
  if (ownNetwork && top !== undefined) out["net.ipv4.ping_group_range"] = `0 ${top}`;
  if (ownNetwork) out["net.ipv4.ip_unprivileged_port_start"] = "0";
  return { ...out, ...asked };
}

/** The highest gid of the run's contiguous range from 0; undefined when 0 is not mapped. */
function highestGid(spec: ContainerSpec): number | undefined {
  const l = spec.linux;
  const ownUser = createsNamespace(spec, "user");
  if (!ownUser) return l.namespaces.some((n) => n.type === "user") ? undefined : 2147483647;
  const maps: IdMapping[] = l.usernsAuto ? [{ containerID: 0, hostID: 0, size: l.usernsAuto.size }] : l.gidMappings;
  let end = 0;
  for (const m of [...maps].sort((a, b) => a.containerID - b.containerID)) if (m.containerID === end) end += m.size;
  return end === 0 ? undefined : end - 1;
}

/**
 * Whether the caller's /proc/sys is mounted read-only: docker and podman mount a container's so (systempaths), and
 * the native runtime writes a container's sysctls through the caller's /proc. docker's defaults are a convenience:
 * there they are left out (runtime.ts warns once) rather than fail every run; a user's own --sysctl still fails,
 * naming the outer container's options (native-rs/container/src/sysctl.rs).
 */
export function procSysReadOnly(mountinfo = "/proc/self/mountinfo"): boolean {
  let text: string;
  try {
    text = readFileSync(mountinfo, "utf8");
  } catch {
    return false;
  }
  // The last mount on the deepest mount point above /proc/sys/net is the one a write goes through.
  let best: { point: string; ro: boolean } | undefined;
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const point = f[4]?.replace(/\\040/g, " ");
    if (point === undefined || f[5] === undefined) continue;
    const above = point === "/" || "/proc/sys/net/".startsWith(point.endsWith("/") ? point : `${point}/`);
    if (above && (!best || point.length >= best.point.length)) best = { point, ro: f[5].split(",").includes("ro") };
  }
  return best?.ro ?? false;
}
