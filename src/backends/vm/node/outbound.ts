/**
 * The host's half of the guest containers' way out (native-rs/agent/src/
 * net_relay): each `dial` becomes a TCP connection from this process (to
 * 127.0.0.1 for the guest's 10.0.2.2, `host-gateway`), spliced over the link
 * with the `dialed` op; each `resolve` is answered from this host's resolver
 * (getaddrinfo: /etc/hosts, systemd-resolved and all) with `resolved`.
 * Attached to every Node machine's link (machine.ts), so the `tsbox vm`
 * daemon serves its guest's containers too.
 */
import { lookup } from "node:dns";
import { connect } from "node:net";
import type { AgentLink } from "./agent-link.js";
import { spliceOverLink } from "./link-socket.js";
import { type DialEvent, GUEST_HOST_LOOPBACK, type ResolveEvent } from "../core/outbound-protocol.js";

/** A connection out that is not made by then fails (as a client's connect timeout would). */
const DIAL_TIMEOUT_MS = 30_000;

export function serveOutbound(link: AgentLink): AgentLink {
  link.on("dial", (e: DialEvent) => dial(link, e));
  link.on("resolve", (e: ResolveEvent) => resolve(link, e));
  return link;
}

function dial(link: AgentLink, e: DialEvent): void {
  const conn = connect({ host: e.ip === GUEST_HOST_LOOPBACK ? "127.0.0.1" : e.ip, port: e.port, allowHalfOpen: true }); // a server's FIN ends only its direction
  const fail = (err: NodeJS.ErrnoException) => {
    conn.destroy();
    void link.request("dialed", { dial: e.dial, error: err.code ?? err.message }, 30_000).catch(() => {});
  };
  conn.once("error", fail);
  conn.setTimeout(DIAL_TIMEOUT_MS, () => fail(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
  conn.once("connect", () => {
    conn.off("error", fail);
    conn.setTimeout(0);
    conn.setNoDelay(true);
    spliceOverLink(link, conn, "dialed", { dial: e.dial });
  });
}

function resolve(link: AgentLink, e: ResolveEvent): void {
  lookup(e.name, { family: 4, all: true }, (err, addrs) => {
    const answer = err ? { error: err.code ?? "ESERVFAIL" } : { addresses: addrs.map((a) => a.address) };
    void link.request("resolved", { query: e.query, ...answer }, 30_000).catch(() => {});
  });
}
