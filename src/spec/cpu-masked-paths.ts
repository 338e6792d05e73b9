/**
 * Each CPU's `thermal_throttle` directory on this host, masked in every container since docker 28 (moby#49560,
 * GHSA-6fw5-f8r9-fgfm): its counters are a side channel of the host's activity. Read once per process (the CPUs
 * of a host do not come and go between runs often enough to matter; a CPU added later is masked from the next
 * process on). A host without them (most VMs) gives none.
 */
import { existsSync, readdirSync } from "node:fs";

const CPUS = "/sys/devices/system/cpu";
let found: string[] | undefined;

export function thermalThrottleDirs(): string[] {
  if (found) return found;
  let entries: string[] = [];
  try {
    entries = readdirSync(CPUS).filter((name) => /^cpu\d+$/.test(name));
  } catch {
    // no sysfs (another OS): nothing to mask
  }
  found = entries.map((cpu) => `${CPUS}/${cpu}/thermal_throttle`).filter((dir) => existsSync(dir));
  return found;
}
