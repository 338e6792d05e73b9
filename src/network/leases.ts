import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { withDirLock } from "../containers/lock.js";
import { processStartTime } from "../containers/state.js";
import { writeFileAtomicSync } from "../fs-util.js";
import type { ContainerSpec } from "../spec/container-spec.js";
import { readAttachments } from "./attachments.js";

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

/**
 * `rename` of a running container: in each lease it holds, its old name
 * becomes the new one (kept too where it is also the hostname), under the
 * network's lock as the allocator works, so the networks' DNS answers to the
 * new name at once (the record gives later starts theirs: connected.ts).
 */
export async function renameInLeases(bundleDir: string, spec: ContainerSpec, id: string, from: string, to: string): Promise<void> {
  for (const attached of readAttachments(bundleDir)) {
    // A vm container's network state is the guest's.
    const dir = spec.network?.attach.find((a) => a.name === attached.network)?.dir;
    if (!dir || !existsSync(join(dir, "leases", attached.ip))) continue;
    const file = join(dir, "leases", attached.ip);
    await withDirLock(dir, { missing: `network ${attached.network} has no state`, busy: `network ${attached.network} is busy` }, () => {
      let lease: Omit<Lease, "ip">;
      try {
        lease = JSON.parse(readFileSync(file, "utf8")) as Omit<Lease, "ip">;
      } catch {
        return; // released meanwhile
      }
      if (lease.container !== id) return;
      lease.names = lease.names.flatMap((n) => (n !== from ? [n] : n === spec.hostname ? [n, to] : [to]));
      writeFileAtomicSync(file, JSON.stringify(lease));
    });
  }
}
