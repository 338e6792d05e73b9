/**
 * A container's network traffic as `stats` shows it (docker's NET I/O): the
 * bytes received and sent on every interface of its network namespace but
 * loopback, read from /proc/<pid>/net/dev of a process in that namespace.
 */
import { readFileSync, statSync } from "node:fs";

export interface NetIO {
  rxBytes: number;
  txBytes: number;
}

/**
 * Undefined when the process is gone or its namespace cannot be read. A process in this one's namespace
 * (`--network host`) has no traffic of its own: zero, as docker's host-mode sandbox has no endpoints (the host's
 * counters, counted once per such container, made a sum of containers' traffic count the host's again and again).
 */
export function readNetIO(pid: number): NetIO | undefined {
  if (sameNetworkNamespace(pid)) return { rxBytes: 0, txBytes: 0 };
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/dev`, "utf8");
  } catch {
    return undefined;
  }
  return parseNetDev(text);
}

/** /proc/net/dev: two header lines, then `name: rx_bytes rx_packets … (8 fields) tx_bytes …`. */
export function parseNetDev(text: string): NetIO {
  const io: NetIO = { rxBytes: 0, txBytes: 0 };
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() === "lo") continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    io.rxBytes += fields[0] ?? 0;
    io.txBytes += fields[8] ?? 0;
  }
  return io;
}

function sameNetworkNamespace(pid: number): boolean {
  try {
    const theirs = statSync(`/proc/${pid}/ns/net`);
    const ours = statSync("/proc/self/ns/net");
    return theirs.ino === ours.ino && theirs.dev === ours.dev;
  } catch {
    return false;
  }
}
