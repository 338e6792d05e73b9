import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ContainerError } from "../errors.js";
import type { PortMapping } from "../spec/container-spec.js";
import { parseIPv4 } from "./ipv4.js";
import { isNetworkName } from "./names.js";

/** `<bundle>/net/attach-<network>.json`, written by the container's network keeper once it is attached. */
export interface Attachment {
  network: string;
  ip: string;
  prefix: number;
  gateway: string;
  bridge: string;
  ifname: string;
  hostInterface: string;
  mac: string;
  aliases: string[];
  keeper: number;
  keeperStart: number;
  /** Published ports with the host ports really bound (`-p 80` gets one picked). */
  ports: PortMapping[];
}

/** Where a network's record is: its name checked as a file name (it may come from a vm guest's answer). */
export function attachmentFile(bundleDir: string, network: string): string {
  if (!isNetworkName(network)) throw new ContainerError(`not a network name: ${JSON.stringify(network)}`);
  return join(bundleDir, "net", `attach-${network}.json`);
}

/**
 * A record as someone else wrote it (the vm guest's keeper, `start`'s and
 * `net-attach`'s answers): its known fields, each of its type, or undefined.
 * Nothing else of it is kept, so a hostile guest cannot put what it likes
 * into the host's record (an `ip` of `../..` would be a path to
 * renameInLeases).
 */
export function attachmentFrom(value: unknown): Omit<Attachment, "ports"> | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const text = (k: string) => (typeof v[k] === "string" && (v[k] as string).length <= 256 ? (v[k] as string) : undefined);
  const int = (k: string, max: number) => (Number.isSafeInteger(v[k]) && (v[k] as number) >= 0 && (v[k] as number) <= max ? (v[k] as number) : undefined);
  const address = (k: string) => (parseIPv4(text(k) ?? "") !== undefined ? text(k) : undefined);
  const aliases = Array.isArray(v.aliases) && v.aliases.every((a) => typeof a === "string" && a.length <= 256) ? (v.aliases as string[]) : undefined;
  const a = {
    network: text("network"),
    ip: address("ip"),
    prefix: int("prefix", 32),
    gateway: address("gateway"),
    bridge: text("bridge"),
    ifname: text("ifname"),
    hostInterface: text("hostInterface"),
    mac: text("mac"),
    aliases,
    keeper: int("keeper", 2 ** 32),
    keeperStart: int("keeperStart", Number.MAX_SAFE_INTEGER),
  };
  if (Object.values(a).some((x) => x === undefined) || !isNetworkName(a.network!)) return undefined;
  return a as Omit<Attachment, "ports">;
}

export function readAttachments(bundleDir: string): Attachment[] {
  const dir = join(bundleDir, "net");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith("attach-") && n.endsWith(".json"))
    .flatMap((n) => {
      try {
        return [JSON.parse(readFileSync(join(dir, n), "utf8")) as Attachment];
      } catch {
        return [];
      }
    });
}
