/**
 * A TCP socket of this host carried over the agent link as two stream
 * channels (host → guest, guest → host) that `op` asks the agent to splice
 * to a guest socket: a published port's connection (`connect`) or a
 * container's connection out (`dialed`).
 */
import type { Socket } from "node:net";
import type { AgentLink } from "./agent-link.js";

export function spliceOverLink(link: AgentLink, conn: Socket, op: "connect" | "dialed", fields: Record<string, unknown>): void {
  const input = link.openInput();
  const output = link.openOutput();
  conn.on("error", () => {});
  conn.pause();
  link.request(op, { ...fields, stdin: input.channel, stdout: output.channel }, 30_000).then(
    () => {
      conn.pipe(input.writable);
      output.readable.pipe(conn);
      conn.resume();
      conn.on("close", () => input.writable.destroyed || input.writable.end());
    },
    () => {
      // Nothing listens there (or the container is gone): the peer sees the close.
      input.finish();
      output.onEof();
      conn.destroy();
    },
  );
}
