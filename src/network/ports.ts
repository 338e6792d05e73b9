import { UsageError } from "../errors.js";
import type { PortMapping } from "../spec/container-spec.js";
import { parseIPv4 } from "./ipv4.js";

/**
 * docker's `-p` forms: `CTR`, `HOST:CTR`, `IP:HOST:CTR`, `IP::CTR`, each with
 * an optional `/tcp` or `/udp`, ports or equal-length ranges (`8000-8001:80-81`),
 * or a host range for one container port (`8000-8010:80`: the first free one of
 * them, go-connections' ParsePortSpec). A missing host port (0) means any free one.
 */
export function parsePublish(text: string): PortMapping[] {
  const bad = (why: string) => new UsageError(`invalid port mapping "${text}": ${why}`);
  const [spec, proto = "tcp", extra] = text.split("/");
  if (extra !== undefined || (proto !== "tcp" && proto !== "udp")) throw bad("the protocol must be tcp or udp");
  // docker's bracketed IPv6 (`[::1]:8080:80`): tsbox's networks are IPv4 only.
  if (spec!.startsWith("[")) throw bad("IPv6 host addresses are not supported (tsbox's networks are IPv4 only): give an IPv4 address, e.g. 127.0.0.1");
  const parts = spec!.split(":");
  if (parts.length > 3) throw bad("expected [IP:][HOST_PORT:]CONTAINER_PORT");
  const ctr = parts.at(-1)!;
  const host = parts.length >= 2 ? parts.at(-2)! : "";
  const ip = parts.length === 3 ? parts[0]! : "0.0.0.0";
  if (parseIPv4(ip) === undefined) throw bad(`${ip} is not an IPv4 address`);
  const ctrRange = range(ctr, 1, bad);
  const hostRange = host === "" ? undefined : range(host, 0, bad);
  if (hostRange && hostRange[1] !== hostRange[0] && ctrRange[1] === ctrRange[0]) {
    if (hostRange[0] === 0) throw bad("a host port range starts at 1");
    return [{ hostIp: ip, hostPort: hostRange[0], hostPortEnd: hostRange[1], containerPort: ctrRange[0], protocol: proto }];
  }
  if (hostRange && hostRange[1] - hostRange[0] !== ctrRange[1] - ctrRange[0]) throw bad("the host and container port ranges differ in length");
  if (ctrRange[1] - ctrRange[0] >= 1000) throw bad("at most 1000 ports per mapping");
  const out: PortMapping[] = [];
  for (let i = 0; i <= ctrRange[1] - ctrRange[0]; i++) {
    out.push({ hostIp: ip, hostPort: hostRange ? hostRange[0] + i : 0, containerPort: ctrRange[0] + i, protocol: proto });
  }
  return out;
}

function range(text: string, min: number, bad: (why: string) => UsageError): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) throw bad(`${text === "" ? "missing port" : `"${text}" is not a port or range`}`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < min || b > 65535 || b < a) throw bad(`port ${text} is out of range (${min}-65535)`);
  return [a, b];
}

/**
 * The image's ExposedPorts plus the run's `--expose` entries (`80`, `53/udp`,
 * `8000-8002/tcp`), keyed as docker keys them (`"80/tcp": {}`).
 */
export function withExposed(image: Record<string, unknown> | null | undefined, expose: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(image ?? {}) };
  for (const entry of expose) {
    const r = parsePortRange(entry, ["tcp", "udp"]);
    if (!r || r.last - r.first >= 4096) throw new UsageError(`invalid --expose ${entry}: PORT[-PORT][/tcp|udp], ports 1 to 65535`);
    for (let p = r.first; p <= r.last; p++) out[`${p}/${r.protocol}`] = {};
  }
  return out;
}

/**
 * `PORT[-PORT][/PROTO]` (`--expose`, `ps --filter publish=|expose=`): ports 1 to 65535 in order and a protocol
 * of `protocols` (default tcp), or undefined when it is none.
 */
export function parsePortRange(text: string, protocols: readonly string[]): { first: number; last: number; protocol: string } | undefined {
  const m = /^(\d+)(?:-(\d+))?(?:\/([a-z]+))?$/.exec(text);
  if (!m) return undefined;
  const [first, last, protocol] = [Number(m[1]), Number(m[2] ?? m[1]), m[3] ?? "tcp"];
  return first >= 1 && last <= 65535 && last >= first && protocols.includes(protocol) ? { first, last, protocol } : undefined;
}

/** `-P`: every port the image EXPOSEs (`"80/tcp": {}`), on free host ports. */
export function exposedPorts(exposed: Record<string, unknown> | undefined): PortMapping[] {
  return Object.keys(exposed ?? {}).flatMap((key) => {
    const [port, proto = "tcp"] = key.split("/");
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535 || (proto !== "tcp" && proto !== "udp")) return [];
    return [{ hostIp: "0.0.0.0", hostPort: 0, containerPort: n, protocol: proto }];
  });
}

/** `0.0.0.0:8080->80/tcp`, as `docker ps` and `docker port` show it. */
export function formatPort(p: PortMapping): string {
  return `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`;
}
