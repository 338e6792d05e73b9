import { readFileSync } from "node:fs";

/**
 * Kernel settings that keep the native backend from starting containers: one
 * table for the automatic backend choice (backends/select.ts, which falls
 * back to the vm and says why) and for `tsbox info`'s warnings
 * (cli/host-checks.ts), so the two never disagree about a host.
 */
export interface SysctlBlocker {
  /** The sysctl's name, as `sysctl -w` takes it. */
  name: string;
  /** The value that blocks. */
  value: string;
  /** What the value means, as the start of a sentence. */
  what: string;
  /** Why that matters to tsbox, where the name alone does not say. */
  why?: string;
  /** What to change. */
  fix: string;
  /** What the user will see, for a warning. */
  effect: string;
}

interface BlockerRule extends SysctlBlocker {
  /** Root is blocked too (else only other users are). */
  root: boolean;
}

const RULES: readonly BlockerRule[] = [
  { name: "user.max_user_namespaces", value: "0", root: true, what: "user namespaces are disabled", fix: "sudo sysctl -w user.max_user_namespaces=15000", effect: "native containers cannot start" },
  { name: "kernel.unprivileged_userns_clone", value: "0", root: false, what: "unprivileged user namespaces are disabled", fix: "sudo sysctl -w kernel.unprivileged_userns_clone=1", effect: "rootless containers cannot start" },
  {
    name: "kernel.apparmor_restrict_unprivileged_userns",
    value: "1",
    root: false,
    what: "AppArmor restricts unprivileged user namespaces (Ubuntu 24.04+)",
    fix: "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile that allows userns for node",
    effect: "rootless containers may fail",
  },
  {
    // Root protects its helper with a read-only bind instead (native-rs/container/src/sealed_exe.rs).
    name: "vm.memfd_noexec",
    value: "2",
    root: false,
    what: "executable memfds are forbidden",
    why: "a user other than root has no other way to run tsbox's helper from a copy no container can write",
    fix: "sudo sysctl -w vm.memfd_noexec=1, or run tsbox as root",
    effect: "rootless containers cannot start (tsbox's helper runs from a sealed memfd copy of itself, CVE-2019-5736)",
  },
];

/** A one-line /proc or /sys value, trimmed; undefined when absent (an older kernel, another distribution). */
export function readProcValue(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** The settings of this host that block the native backend for root (`root`) or another user, in the table's order. */
export function sysctlBlockers(root: boolean, read: (path: string) => string | undefined = readProcValue): SysctlBlocker[] {
  return RULES.filter((r) => (r.root || !root) && read(`/proc/sys/${r.name.replace(/\./g, "/")}`) === r.value).map(({ root: _root, ...blocker }) => blocker);
}
