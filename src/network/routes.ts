import { readFileSync } from "node:fs";
import { overlaps, type Subnet } from "./ipv4.js";

/**
 * The IPv4 routes of this process's network namespace (/proc/net/route:
 * little-endian hex), without the default route: the subnets a new bridge
 * network must not overlap (but those through `exceptDevice`).
 */
export function routedSubnets(file = "/proc/net/route", exceptDevice?: string): Subnet[] {
  return routes(file).filter((r) => r.device !== exceptDevice).map((r) => r.subnet);
}

/** The route of this namespace that overlaps `subnet` (another data dir's bridge, a LAN), if any. */
export function routeOverlapping(subnet: Subnet, file = "/proc/net/route"): { device: string; subnet: Subnet } | undefined {
  return routes(file).find((r) => overlaps(r.subnet, subnet));
}

/** The subnets routed through `device` (a bridge's own subnets, one per address on it). */
export function deviceSubnets(device: string, file = "/proc/net/route"): Subnet[] {
  return routes(file).filter((r) => r.device === device).map((r) => r.subnet);
}

/**
 * Whether the namespace whose /proc/PID/net/route `file` is has an IPv4 default route (undefined when it cannot be
 * read): a running container's gateway endpoint (network/gateway.ts).
 */
export function hasDefaultRoute(file: string): boolean | undefined {
  return routeTable(file)?.some((r) => r.dest === 0 && r.mask === 0);
}

/** The device of the namespace's IPv4 default route with the lowest metric (the host's address for containers: host-loopback.ts). */
export function defaultRouteDevice(file = "/proc/net/route"): string | undefined {
  const defaults = (routeTable(file) ?? []).filter((r) => r.dest === 0 && r.mask === 0);
  return defaults.sort((a, b) => a.metric - b.metric)[0]?.device;
}

/** The subnets routed, the default route (mask 0) left out. */
function routes(file: string): { device: string; subnet: Subnet }[] {
  return (routeTable(file) ?? []).filter((r) => r.mask !== 0).map((r) => ({ device: r.device, subnet: { base: r.dest, prefix: 32 - zeroBits(r.mask) } }));
}

/** Every IPv4 route of the table in `file` (/proc/net/route's format); undefined when it cannot be read. */
function routeTable(file: string): { device: string; dest: number; mask: number; metric: number }[] | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const out: { device: string; dest: number; mask: number; metric: number }[] = [];
  for (const line of text.trim().split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const dest = leHex(f[1]);
    const mask = leHex(f[7]);
    if (f[0] === undefined || dest === undefined || mask === undefined) continue;
    out.push({ device: f[0], dest, mask, metric: Number(f[6]) || 0 });
  }
  return out;
}

/** "0000A8C0" (little-endian) → 192.168.0.0 as a number. */
function leHex(hex: string | undefined): number | undefined {
  if (hex === undefined || !/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  const n = parseInt(hex, 16);
  return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | ((n >>> 24) & 0xff)) >>> 0;
}

function zeroBits(m: number): number {
  let zeros = 0;
  for (let i = 0; i < 32; i++) if (((m >>> i) & 1) === 0) zeros++;
  return zeros;
}
