/**
 * Capability names and docker's `--cap-add`/`--cap-drop` arithmetic. Pure
 * (the browser bundle may use it). The list is the kernel's (numbers are
 * the index), the same as native-rs/container/src/caps.rs NAMES, which the
 * runtime checks the spec's names against.
 */
import { UsageError } from "../errors.js";
import type { Capabilities } from "./container-spec.js";

export const ALL_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/** `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `all` → `ALL`. */
export function capabilityName(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === "ALL") return "ALL";
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(full)) throw new UsageError(`unknown capability: "${name}"`);
  return full;
}

/**
 * Docker's rules: `ALL` in add means every capability but the dropped ones;
 * `ALL` in drop means only the added ones; otherwise the defaults without
 * the dropped ones, plus the added ones (an add wins over a drop).
 */
export function tweakCapabilities(defaults: readonly string[], add: readonly string[] = [], drop: readonly string[] = []): string[] {
  const adds = new Set(add.map(capabilityName));
  const drops = new Set(drop.map(capabilityName));
  let caps: Set<string>;
  if (adds.has("ALL")) {
    caps = new Set(ALL_CAPABILITIES.filter((c) => !drops.has(c)));
  } else if (drops.has("ALL")) {
    caps = adds;
  } else {
    caps = new Set([...defaults.filter((c) => !drops.has(c)), ...adds]);
  }
  caps.delete("ALL");
  // In the kernel's order, so the spec reads the same whatever the flags' order.
  return ALL_CAPABILITIES.filter((c) => caps.has(c));
}

/** A process's capability sets for `caps`: bounding, effective and permitted (docker leaves inheritable and ambient empty). */
export function capabilitySets(caps: string[]): Capabilities {
  return { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] };
}
