import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { PortMapping } from "../spec/container-spec.js";

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
