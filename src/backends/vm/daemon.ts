/**
 * `tsbox vm start`: one long-lived guest that `tsbox run --backend vm` (and
 * the library's VmBackend) use instead of restoring their own. The daemon
 * owns the machine and relays the agent protocol over a Unix socket (mode
 * 0600, in the user's cache dir): requests get fresh ids on the guest link,
 * a client's stdio channels are renumbered onto guest channels and their
 * frames (DATA, EOF, CREDIT) pass through untouched, so stream flow control
 * stays end to end. `export`/`unexport` register 9p exports here. A client
 * that disconnects has its containers deleted.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { errorMessage } from "../../errors.js";
import { isAgentOp } from "./agent-protocol.js";
import { encodeFrame, type Frame, FrameDecoder, FrameType, AGENT_MAX_PAYLOAD } from "./frame.js";
import { daemonPaths, openMachine, type OpenOptions } from "./session.js";

export interface DaemonStatus {
  pid: number;
  socket: string;
  started: string;
  start: string;
  bootMs: number;
}

export async function serveVm(options: OpenOptions = {}): Promise<void> {
  const env = options.env ?? process.env;
  const paths = daemonPaths(env);
  mkdirSync(paths.dir, { recursive: true });
  const { machine, start } = await openMachine(options);
  const link = machine.link;
  /** guest channel → (client, its channel) */
  const routes = new Map<number, { conn: Socket; channel: number }>();
  link.relay = (frame: Frame) => {
    const r = routes.get(frame.channel);
    if (!r) return false;
    r.conn.write(encodeFrame(frame.type, r.channel, frame.payload));
    if (frame.type === FrameType.eof) routes.delete(frame.channel);
    return true;
  };

  const server = createServer((conn) => {
    const decoder = new FrameDecoder(AGENT_MAX_PAYLOAD);
    const channels = new Map<number, number>(); // client channel → guest channel
    const containers = new Set<string>();
    const reply = (body: Record<string, unknown>) => conn.write(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify(body))));
    const onRequest = async (req: Record<string, unknown>) => {
      const { id, op, ...fields } = req;
      try {
        if (op === "export") {
          machine.p9.addExport(String(fields.name), { path: String(fields.path), readonly: fields.readonly === true });
          return reply({ id, ok: true });
        }
        if (op === "unexport") {
          machine.p9.removeExport(String(fields.name));
          return reply({ id, ok: true });
        }
        if (op === "shutdown") {
          reply({ id, ok: true });
          setTimeout(() => void stop(), 50);
          return;
        }
        if (op === "hello") return reply({ id, ok: true, daemon: true });
        // Every op that opens stream channels (`connect`: a published port's connection).
        if (op === "create" || op === "exec" || op === "connect") {
          for (const k of ["stdin", "stdout", "stderr"]) {
            if (typeof fields[k] !== "number") continue;
            const guest = link.allocChannel();
            channels.set(fields[k] as number, guest);
            routes.set(guest, { conn, channel: fields[k] as number });
            fields[k] = guest;
          }
          // Deleting a container deletes the processes exec'd into it too.
          if (op === "create") containers.add(String(fields.cid));
        }
        if (!isAgentOp(op)) return reply({ id, ok: false, error: { kind: "spec", message: `unknown request ${JSON.stringify(op)}`, exitCode: 125 } });
        const r = await link.request(op, fields, op === "wait" ? 0x7fffffff : 120_000);
        if (op === "delete") containers.delete(String(fields.cid));
        reply({ ...r, id });
      } catch (err) {
        const e = err as { kind?: string; exitCode?: number };
        reply({ id, ok: false, error: { kind: e.kind ?? "setup", message: errorMessage(err), exitCode: e.exitCode ?? 125 } });
      }
    };
    conn.on("data", (data: Buffer) => {
      for (const item of decoder.push(data)) {
        if (item.kind === "rejected") continue;
        const f = item.frame;
        if (f.type === FrameType.ctrl) {
          try {
            void onRequest(JSON.parse(f.payload.toString("utf8")) as Record<string, unknown>);
          } catch {
            // malformed: nothing to answer
          }
        } else if (f.channel !== 0) {
          const guest = channels.get(f.channel);
          if (guest !== undefined) link.sendFrame(f.type, guest, f.payload);
        }
      }
      // Everything read is buffered here: credit it at once (the client's link window).
      const credit = Buffer.alloc(4);
      credit.writeUInt32LE(data.length, 0);
      conn.write(encodeFrame(FrameType.credit, 0, credit));
    });
    const forget = () => {
      for (const cid of containers) void link.request("delete", { cid }, 30_000).catch(() => {});
      for (const [, guest] of channels) routes.delete(guest);
    };
    conn.on("close", forget);
    conn.on("error", () => {});
  });

  rmSync(paths.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(paths.socket, () => resolve());
  });
  chmodSync(paths.socket, 0o600);
  const status: DaemonStatus = {
    pid: process.pid,
    socket: paths.socket,
    started: new Date().toISOString(),
    start: start.kind === "restore" ? `restored from ${start.path}` : `cold boot (${start.reason})`,
    bootMs: Math.round(machine.bootMs),
  };
  writeFileSync(paths.status, JSON.stringify(status, null, 2) + "\n");

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    rmSync(paths.status, { force: true });
    rmSync(paths.socket, { force: true });
    await machine.destroy();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}
