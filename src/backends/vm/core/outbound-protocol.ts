/**
 * The agent's outbound events (native-rs/agent/src/net_relay): a container
 * in the guest connects out (`dial`) or asks a name (`resolve`), and the
 * host answers with the `dialed` and `resolved` ops. Shared by Node
 * (outbound.ts) and the browser Worker, which refuses both.
 */
import type { AgentProtocol } from "./agent-protocol.js";

/** The host's loopback as a guest container sees it, where the user allows it (network/host-loopback.ts). */
export const GUEST_HOST_LOOPBACK = "10.0.2.2";

export interface DialEvent {
  dial: number;
  ip: string;
  port: number;
}

export interface ResolveEvent {
  query: number;
  name: string;
}

/** Where there is no way out (a browser page has no sockets): every connection and question fails at once, named. */
export function refuseOutbound(link: AgentProtocol<any>, why: string): void {
  link.on("dial", (e: DialEvent) => void link.request("dialed", { dial: e.dial, error: why }, 30_000).catch(() => {}));
  link.on("resolve", (e: ResolveEvent) => void link.request("resolved", { query: e.query, error: why }, 30_000).catch(() => {}));
}
