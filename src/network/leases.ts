import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { processStartTime } from "../containers/state.js";

/** A network's lease file (written by native-rs/container/src/net/ipam.rs). */
export interface Lease {
  ip: string;
  container: string;
  names: string[];
  keeper: number;
  keeperStart: number;
}

/** Leases whose keeper process still runs (a stale one belongs to nobody). */
export function liveLeases(networkDir: string): Lease[] {
  let files: string[];
  try {
    files = readdirSync(join(networkDir, "leases"));
  } catch {
    return [];
  }
  const out: Lease[] = [];
  for (const ip of files) {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) continue;
    try {
      const lease = JSON.parse(readFileSync(join(networkDir, "leases", ip), "utf8")) as Omit<Lease, "ip">;
      if (processStartTime(lease.keeper) === String(lease.keeperStart)) out.push({ ip, ...lease });
    } catch {
      // half-gone: not live
    }
  }
  return out;
}
