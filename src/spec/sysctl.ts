/**
 * `linux.sysctl` of a run: docker's default plus the user's `--sysctl`s.
 * Which names a container may set (those of its own IPC, network and UTS
 * namespaces) is checked once, by the runtime that writes them
 * (native-rs/container/src/sysctl.rs), before anything starts.
 */
import type { ContainerSpec, IdMapping } from "./container-spec.js";
import { createsNamespace } from "./process-rules.js";

/**
 * docker's default since 20.10: `net.ipv4.ping_group_range` open to every
 * group the container has, so `ping` needs no raw socket (no NET_RAW, no
 * setuid) — in a network namespace of its own only, over the gids mapped
 * from 0 up (the kernel refuses a range with unmapped ids).
 */
export function containerSysctls(spec: ContainerSpec, asked: Record<string, string> = {}): Record<string, string> {
  const ownNetwork = createsNamespace(spec, "network");
  const out: Record<string, string> = {};
  const top = highestGid(spec);
  if (ownNetwork && top !== undefined) out["net.ipv4.ping_group_range"] = `0 ${top}`;
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
