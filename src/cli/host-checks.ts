import { readProcValue, sysctlBlockers } from "../backends/native/sysctl-blockers.js";

export interface HostChecks {
  kernel: string | undefined;
  overlayfs: boolean;
  warnings: string[];
}

/** What this kernel allows tsbox (for this user), from files anyone can read. */
export function hostChecks(uid: number): HostChecks {
  const warnings: string[] = [];
  for (const b of sysctlBlockers(uid === 0)) warnings.push(`${b.what} (sysctl ${b.name}=${b.value}): ${b.effect}`);
  const filesystems = readProcValue("/proc/filesystems") ?? "";
  const overlayfs = /\toverlay$/m.test(filesystems);
  if (!overlayfs) warnings.push("overlayfs is not listed in /proc/filesystems (the module may load on first use)");
  return { kernel: readProcValue("/proc/sys/kernel/osrelease"), overlayfs, warnings };
}
