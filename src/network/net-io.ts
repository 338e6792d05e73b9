/**
 * A container's network traffic as `stats` shows it (docker's NET I/O): the
 * bytes received and sent on every interface of its network namespace but
 * loopback, read from /proc/<pid>/net/dev of a process in that namespace.
 */
import { readFileSync } from "node:fs";

export interface NetIO {
  rxBytes: number;
  txBytes: number;
}

/** Undefined when the process is gone or its namespace cannot be read. */
export function readNetIO(pid: number): NetIO | undefined {
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
