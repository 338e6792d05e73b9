/**
 * The host's half of the guest containers' way out (native-rs/agent/src/
 * net_relay): each `dial` becomes a TCP connection from this process,
 * spliced over the link with the `dialed` op; each `resolve` is answered
 * from this host's resolver (getaddrinfo: /etc/hosts, systemd-resolved and
 * all) with `resolved`. The guest's 10.0.2.2 is this host's 127.0.0.1 only
 * where the user allows it (`hostLoopback`: network/host-loopback.ts's
 * TSBOX_HOST_LOOPBACK); else, and for any loopback or unspecified address a
 * guest names itself, the dial is refused: this process's loopback is this
 * host's.
 * Attached to every Node machine's link (machine.ts), so the `tsbox vm`
 * daemon serves its guest's containers too.
 *
 * The events are the guest's, and a hostile guest kernel sends what it
 * likes (docs/security.md): they are served only while a container of the
 * guest has a network that leads out — as the host asked the guest to make
 * them (`GuestWaysOut`) — and only so many at once.
 */
import { lookup } from "node:dns";
import { connect, isIPv4 } from "node:net";
import type { NetworkSpec } from "../../../spec/container-spec.js";
import type { AgentLink } from "./agent-link.js";
import { spliceOverLink } from "./link-socket.js";
import { type DialEvent, GUEST_HOST_LOOPBACK, type ResolveEvent } from "../core/outbound-protocol.js";

/** A connection out that is not made by then fails (as a client's connect timeout would). */
const DIAL_TIMEOUT_MS = 30_000;
/** Connections out open at once (made or being made): each holds a socket of this process, which a shared daemon's every container needs too. */
export const MAX_DIALS = 256;
/** Name lookups at once: getaddrinfo runs on libuv's 4 threads, which this process's file system work shares. */
export const MAX_LOOKUPS = 16;

export function serveOutbound(link: AgentLink, options: { hostLoopback: boolean }): AgentLink {
  const waysOut = new GuestWaysOut();
  link.watchRequests((op, fields) => waysOut.learn(op, fields));
  const busy = { dials: 0, lookups: 0 };
  const refusal = (what: "connections" | "lookups", open: number, max: number) =>
    !waysOut.any() ? "no container of the vm guest has a network that leads out" : open >= max ? `too many ${what} out of the vm guest at once (${max})` : undefined;
  link.on("dial", (e: DialEvent) => {
    const refused = refusal("connections", busy.dials, MAX_DIALS);
    if (refused) return answerDial(link, e, refused);
    const host = dialedHost(e.ip, options.hostLoopback);
    if ("refused" in host) return answerDial(link, e, host.refused);
    busy.dials++;
    dial(link, e, host.ip, () => busy.dials--);
  });
  link.on("resolve", (e: ResolveEvent) => {
    const refused = refusal("lookups", busy.lookups, MAX_LOOKUPS);
    if (refused) return answerResolve(link, e, { error: refused });
    busy.lookups++;
    resolve(link, e, () => busy.lookups--);
  });
  return link;
}

/**
 * Which containers of a guest have a network that leads out (attached, not
 * `--internal`), from what the host asked of the guest: `create`'s spec,
 * `net-attach`, `net-detach`, `delete`. Never from what the guest says.
 */
class GuestWaysOut {
  private readonly byCid = new Map<string, Set<string>>();

  learn(op: string, fields: Record<string, unknown>): void {
    const cid = fields.cid;
    if (typeof cid !== "string") return;
    const leadingOut = (net: NetworkSpec | undefined) => (net?.attach ?? []).filter((a) => a.internal !== true).map((a) => a.name);
    if (op === "create") this.byCid.set(cid, new Set(leadingOut((fields.spec as { network?: NetworkSpec } | undefined)?.network)));
    else if (op === "net-attach") for (const name of leadingOut(fields.network as NetworkSpec | undefined)) this.networksOf(cid).add(name);
    else if (op === "net-detach" && typeof fields.network === "string") this.byCid.get(cid)?.delete(fields.network);
    else if (op === "delete") this.byCid.delete(cid);
  }

  any(): boolean {
    for (const networks of this.byCid.values()) if (networks.size > 0) return true;
    return false;
  }

  private networksOf(cid: string): Set<string> {
    const known = this.byCid.get(cid) ?? new Set<string>();
    this.byCid.set(cid, known);
    return known;
  }
}

function answerDial(link: AgentLink, e: DialEvent, error: string): void {
  void link.request("dialed", { dial: e.dial, error }, 30_000).catch(() => {});
}

function answerResolve(link: AgentLink, e: ResolveEvent, answer: { error: string } | { addresses: string[] }): void {
  void link.request("resolved", { query: e.query, ...answer }, 30_000).catch(() => {});
}

/**
 * Where a guest's dial to `ip` goes on this host, or nowhere: refused, as a closed port is (the agent turns
 * ECONNREFUSED into a reset, so the container's connect() fails at once; an "unreachable" answer left this guest's
 * busybox nc waiting out its own 2-minute timeout).
 */
function dialedHost(ip: string, hostLoopback: boolean): { ip: string } | { refused: "ECONNREFUSED" } {
  // 10.0.2.2: this host's loopback, only where the user opened it (HOST_LOOPBACK_VARIABLE).
  if (ip === GUEST_HOST_LOOPBACK) return hostLoopback ? { ip: "127.0.0.1" } : { refused: "ECONNREFUSED" };
  // Only a hostile guest kernel names these (a container's own loopback never leaves it), and 0.0.0.0 is this host too;
  // its event is its own JSON, whatever the type says.
  if (typeof ip !== "string" || !isIPv4(ip)) return { refused: "ECONNREFUSED" };
  const first = Number(ip.split(".")[0]);
  if (first === 127 || first === 0) return { refused: "ECONNREFUSED" };
  return { ip };
}

/** `closed`: once, when the connection is gone (refused, timed out, or ended after its splice). */
function dial(link: AgentLink, e: DialEvent, ip: string, closed: () => void): void {
  const conn = connect({ host: ip, port: e.port, allowHalfOpen: true }); // a server's FIN ends only its direction
  conn.once("close", closed);
  const fail = (err: NodeJS.ErrnoException) => {
    conn.destroy();
    answerDial(link, e, err.code ?? err.message);
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

function resolve(link: AgentLink, e: ResolveEvent, done: () => void): void {
  lookup(e.name, { family: 4, all: true }, (err, addrs) => {
    done();
    answerResolve(link, e, err ? { error: err.code ?? "ESERVFAIL" } : { addresses: addrs.map((a) => a.address) });
  });
}
