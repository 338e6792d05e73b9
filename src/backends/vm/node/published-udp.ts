/**
 * A published UDP port on the vm backend, as docker's userland proxy serves
 * one: the host socket receives; each peer (address and port) gets a
 * `datagram` op, a UDP socket in the guest connected to the container's
 * port on two channels of one datagram per frame, and what the container
 * answers on it goes back to that peer. A peer silent both ways for 60 s
 * (the native proxy's expiry, net/proxy.rs) is forgotten: EOF, and the
 * agent closes its socket.
 */
import { createSocket, type RemoteInfo } from "node:dgram";
import type { DatagramInput } from "../core/agent-channels.js";
import type { AgentLink } from "./agent-link.js";

export const UDP_IDLE_MS = 60_000;
/** Datagrams of a new peer held while its `datagram` op is answered; more are dropped. */
const MAX_WAITING = 64;

interface Peer {
  input?: DatagramInput;
  waiting: Buffer[];
  timer?: NodeJS.Timeout;
  end(): void;
}

export interface UdpListener {
  port: number;
  serve(link: AgentLink, cid: string): void;
  close(): void;
}

/** Binds `hostIp:hostPort` (0: any free port); rejects with the socket's error. */
export async function bindUdp(hostIp: string, hostPort: number, containerPort: number): Promise<UdpListener> {
  const socket = createSocket("udp4");
  const peers = new Map<string, Peer>();
  let target: { link: AgentLink; cid: string } | undefined;
  let closed = false;

  const open = (key: string, from: RemoteInfo, link: AgentLink, cid: string): Peer => {
    const input = link.openDatagramInput();
    const forget = () => {
      if (peers.get(key) === peer) peers.delete(key);
      clearTimeout(peer.timer);
    };
    const output = link.openDatagramOutput({
      datagram: (data) => {
        touch();
        if (!closed) socket.send(data, from.port, from.address);
      },
      end: () => {
        forget();
        input.end();
      },
    });
    const peer: Peer = {
      waiting: [],
      end: () => {
        forget();
        input.end();
      },
    };
    const touch = () => {
      clearTimeout(peer.timer);
      peer.timer = setTimeout(peer.end, UDP_IDLE_MS).unref();
    };
    touch();
    link.request("datagram", { cid, port: containerPort, stdin: input.channel, stdout: output.channel }, 30_000).then(
      () => {
        peer.input = input;
        for (const d of peer.waiting.splice(0)) input.send(d);
      },
      () => {
        // The container is gone or has no address: this peer's datagrams are dropped until it asks again.
        forget();
        input.fail();
        output.onEof();
      },
    );
    return peer;
  };

  socket.on("message", (msg, from) => {
    if (!target) return;
    const key = `${from.address}:${from.port}`;
    let peer = peers.get(key);
    if (!peer) peers.set(key, (peer = open(key, from, target.link, target.cid)));
    clearTimeout(peer.timer);
    peer.timer = setTimeout(peer.end, UDP_IDLE_MS).unref();
    if (peer.input) peer.input.send(msg);
    else if (peer.waiting.length < MAX_WAITING) peer.waiting.push(msg);
  });
  socket.on("error", () => {});
  const port = await new Promise<number>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(hostPort, hostIp, () => {
      socket.off("error", reject);
      resolve(socket.address().port);
    });
  });
  return {
    port,
    serve: (link, cid) => (target = { link, cid }),
    close: () => {
      if (closed) return;
      closed = true;
      for (const p of [...peers.values()]) p.end();
      socket.close();
    },
  };
}
