/**
 * `-p` on the vm backend, as Docker Desktop does it: the host listens, and
 * carries each accepted connection over the agent link (`connect` op: a
 * TCP connection to the container's port, on two credit-controlled
 * channels) to the container's address in the guest; UDP per peer
 * (published-udp.ts). The listeners live as long as the container (they are
 * closed with its release).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { TsboxError } from "../../../errors.js";
import { attachmentFile, attachmentFrom } from "../../../network/attachments.js";
import type { PortMapping } from "../../../spec/container-spec.js";
import type { AgentLink } from "./agent-link.js";
import { spliceOverLink } from "./link-socket.js";
import { bindUdp, type UdpListener } from "./published-udp.js";

export interface Published {
  /** With the host ports really bound (0 asked for any). */
  ports: PortMapping[];
  /** Starts carrying connections to container `cid`. */
  serve(link: AgentLink, cid: string): void;
  close(): void;
}

/** The mapping as bound: its host port the one really bound (of a range, or for 0). */
function boundAt(p: PortMapping, port: number): PortMapping {
  const { hostPortEnd: _range, ...one } = p;
  return { ...one, hostPort: port };
}

/**
 * `bind` on the mapping's host port, or on each of its host range until one is free (docker's `-p 8000-8010:80`,
 * as proxy.rs `bind_one`); a taken port (or the whole range) fails with the error the start reports.
 */
async function firstFree<T>(p: PortMapping, bind: (port: number) => Promise<T>): Promise<T> {
  const last = p.hostPortEnd ?? p.hostPort;
  const shown = `${p.hostIp}:${p.hostPort}${p.hostPortEnd !== undefined ? `-${p.hostPortEnd}` : ""}/${p.protocol}`;
  for (let port = p.hostPort; ; port++) {
    try {
      return await bind(port);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "EADDRINUSE" && port < last) continue;
      const why = err.code !== "EADDRINUSE" ? err.message : p.hostPortEnd !== undefined ? "every port of the range is in use" : "it is already in use";
      throw new TsboxError(`cannot publish port ${shown}: ${why}`, { code: "setup" });
    }
  }
}

/** Binds every port first, so a taken one fails the start before the container runs. */
export async function bindPorts(ports: PortMapping[]): Promise<Published> {
  const closers: (() => void)[] = [];
  const udp: UdpListener[] = [];
  const bound: PortMapping[] = [];
  let target: { link: AgentLink; cid: string } | undefined;
  const close = () => closers.forEach((c) => c());
  try {
    for (const p of ports) {
      if (p.protocol === "udp") {
        const listener = await firstFree(p, (port) => bindUdp(p.hostIp, port, p.containerPort));
        closers.push(listener.close);
        udp.push(listener);
        bound.push(boundAt(p, listener.port));
        continue;
      }
      // allowHalfOpen: a client's FIN (`echo req | nc host port`) only ends its direction, carried to the
      // container (the agent shuts down its socket's sending side); the answer still comes back, as with docker.
      const splice = (conn: Socket) => (target ? spliceOverLink(target.link, conn, "connect", { cid: target.cid, port: p.containerPort }) : conn.destroy());
      const port = await firstFree(p, (port) => {
        const server = createServer({ allowHalfOpen: true }, splice);
        return new Promise<number>((resolve, reject) => {
          server.once("error", reject);
          server.listen(port, p.hostIp, () => {
            closers.push(() => server.close());
            resolve((server.address() as { port: number }).port);
          });
        });
      });
      bound.push(boundAt(p, port));
    }
  } catch (err) {
    close();
    throw err;
  }
  return {
    ports: bound,
    serve: (link, cid) => {
      target = { link, cid };
      for (const u of udp) u.serve(link, cid);
    },
    close,
  };
}

/**
 * `<bundle>/net/attach-<network>.json` on the host (what `tsbox port` reads;
 * the guest's keeper wrote the guest's copy), with the host ports bound here
 * (the first network's). The guest's answer is not trusted
 * (docs/security.md): only a network the host asked for (`asked`: the
 * spec's, or the one `network connect` sent) is recorded, and of its record
 * only the known fields (`attachmentFrom`).
 */
export function recordAttachments(bundleDir: string, networks: unknown, asked: readonly string[], ports: PortMapping[]): void {
  if (!Array.isArray(networks)) return;
  mkdirSync(join(bundleDir, "net"), { recursive: true });
  for (const n of networks) {
    const record = attachmentFrom(n);
    if (!record || !asked.includes(record.network)) continue;
    writeFileSync(attachmentFile(bundleDir, record.network), JSON.stringify({ ...record, ports: record.network === asked[0] ? ports : [] }));
  }
}

/** The host's copy of one network's record (`network disconnect`). */
export function removeAttachment(bundleDir: string, network: string): void {
  rmSync(attachmentFile(bundleDir, network), { force: true });
}

/** Every record, once the container is gone from the guest (its keepers have torn down there). */
export function removeAttachments(bundleDir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(join(bundleDir, "net"));
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith("attach-") && n.endsWith(".json")) rmSync(join(bundleDir, "net", n), { force: true });
}
