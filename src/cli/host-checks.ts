import { readFileSync } from "node:fs";

/** Reads a one-line /proc or /sys value; undefined when absent. */
function readValue(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

export interface HostChecks {
  kernel: string | undefined;
  overlayfs: boolean;
  warnings: string[];
}

/** What this kernel allows an unprivileged user, from sysctls anyone can read. */
export function hostChecks(uid: number): HostChecks {
  const warnings: string[] = [];
  if (uid !== 0) {
    if (readValue("/proc/sys/kernel/unprivileged_userns_clone") === "0") {
      warnings.push("unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0): rootless containers cannot start");
    }
    if (readValue("/proc/sys/user/max_user_namespaces") === "0") {
      warnings.push("user namespaces are disabled (sysctl user.max_user_namespaces=0): rootless containers cannot start");
    }
    if (readValue("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") === "1") {
      warnings.push("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): rootless containers may fail");
    }
    if (readValue("/proc/sys/vm/memfd_noexec") === "2") {
      warnings.push("executable memfds are forbidden (sysctl vm.memfd_noexec=2): rootless containers cannot start (tsbox's helper runs from a sealed memfd copy of itself, CVE-2019-5736)");
    }
  }
  const filesystems = readValue("/proc/filesystems") ?? "";
  const overlayfs = /\toverlay$/m.test(filesystems);
  if (!overlayfs) warnings.push("overlayfs is not listed in /proc/filesystems (the module may load on first use)");
  return { kernel: readValue("/proc/sys/kernel/osrelease"), overlayfs, warnings };
}
