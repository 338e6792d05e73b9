/**
 * `tsbox vm start`: one long-lived guest that `tsbox run --backend vm` (and
 * the library's VmBackend) use instead of restoring their own. The daemon
 * owns the machine and relays the agent protocol over a Unix socket (mode
 * 0600, in the user's cache dir): requests get fresh ids on the guest link,
 * a client's stdio channels are renumbered onto guest channels and their
 * frames (DATA, EOF, CREDIT) pass through untouched, so stream flow control
 * stays end to end. `export`/`unexport` register 9p exports here. A client
 * that disconnects has its containers deleted. `launch` runs a detached
 * container under a monitor of the daemon's own (monitor.ts), which outlives
 * the client; `containers` says what runs. As its guest starts it brings
 * back the restart-policy containers, once (restart-at-start.ts).
 */
import type { ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { basename, dirname } from "node:path";
import { errorMessage, TsboxError } from "../../../errors.js";
import { viaSocketAddress } from "../../../fs-util.js";
import { creditOverrun, OutputCredit } from "../core/agent-channels.js";
import { isAgentOp, STREAM_OPS } from "../core/agent-protocol.js";
import { encodeFrame, type Frame, FrameDecoder, FrameType, AGENT_MAX_PAYLOAD } from "../core/frame.js";
import type { Export } from "../core/p9/server.js";
import { isId32 } from "../../../spec/mapped-ids.js";
import { KILLED_WITH_GUEST, type LaunchRequest, VmMonitor } from "./monitor.js";
import { restartAtStart } from "./restart-at-start.js";
import { DAEMON_STOPPING, type DaemonStatus, daemonPaths, openMachine, type OpenOptions } from "./session.js";

export type { DaemonStatus };


export interface ServeOptions extends OpenOptions {
  /** Started on demand: stop after this many seconds with no client connected and no detached container. */
  idleSeconds?: number;
}

export async function serveVm(options: ServeOptions = {}): Promise<void> {
  const env = options.env ?? process.env;
  const paths = daemonPaths(env);
  mkdirSync(paths.dir, { recursive: true });
  const { machine, start } = await openMachine(options);
  const link = machine.link;
  /** guest channel → (client, its channel, and for output the guest's credit on it) */
  const routes = new Map<number, { conn: Socket; channel: number; credit?: OutputCredit }>();
  link.relay = (frame: Frame) => {
    const r = routes.get(frame.channel);
    if (!r) return false;
    // The guest keeps to the client's credit, or the stream ends here: the
    // daemon never queues more than the window for a client.
    if (frame.type === FrameType.data && r.credit && !r.credit.take(frame.payload.length)) {
      link.emit("protocol-error", { channel: frame.channel, message: creditOverrun(frame.channel, frame.payload.length).message });
      r.conn.write(encodeFrame(FrameType.eof, r.channel));
      routes.delete(frame.channel);
      return true;
    }
    r.conn.write(encodeFrame(frame.type, r.channel, frame.payload));
    if (frame.type === FrameType.eof) routes.delete(frame.channel);
    return true;
  };

  // Exports are counted across clients and the daemon's own containers: one
  // layer may be used by both, and must stay until its last user is gone.
  const exportUsers = new Map<string, number>();
  const exports = {
    add: (name: string, exp: Export) => {
      const n = exportUsers.get(name) ?? 0;
      if (n === 0) machine.p9.addExport(name, exp);
      exportUsers.set(name, n + 1);
    },
    remove: (name: string) => {
      const n = (exportUsers.get(name) ?? 1) - 1;
      if (n <= 0) {
        exportUsers.delete(name);
        machine.p9.removeExport(name);
      } else exportUsers.set(name, n);
    },
  };
  /** Client connections, told of their containers' end before the daemon exits. */
  const clients = new Set<Socket>();
  /** Detached containers, by bundle. */
  const monitors = new Map<string, VmMonitor>();
  const ownExportRefs = new Map<string, number>();
  /** Containers of connected clients (their foreground runs), by connection. */
  const clientContainers = new Set<Set<string>>();
  /**
   * Connected clients that asked for work (not a status ping: `vm status` keeps no guest up). Started on demand,
   * the client that started it counts from the start: its first request, not the idle clock, comes first (an
   * idle stay of 0 s, or a short one on a busy host, would stop the guest before the `launch` it was started
   * for), unless it never comes.
   */
  let workingClients = options.idleSeconds === undefined ? 0 : 1;
  let starter: NodeJS.Timeout | undefined = options.idleSeconds === undefined ? undefined : setTimeout(() => starterCame(), STARTER_GRACE_MS);
  const starterCame = () => {
    if (!starter) return;
    clearTimeout(starter);
    starter = undefined;
    workingClients--;
    idleCheck();
  };
  let idleTimer: NodeJS.Timeout | undefined;
  /** Connections that have sent no request yet: one may be a client come to work just as the idle stay ends. */
  let unasked = 0;
  /** A guest started on demand goes after its idle stay with no client at work and no detached container. */
  const idleCheck = () => {
    const idle = status?.idleSeconds;
    if (idle === undefined || workingClients > 0 || monitors.size > 0) {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = undefined;
    } else if (!idleTimer) idleTimer = setTimeout(idleStop, idle * 1000);
  };
  const idleStop = () => {
    idleTimer = undefined;
    if (unasked === 0) return void stop();
    // A new connection's first request says whether it comes to work (a status ping does not): wait for it.
    idleTimer = setTimeout(idleStop, 100);
  };
  // Set once serving (below); the idle check reads it.
  let status: DaemonStatus | undefined;
  let stopping = false;

  const server = createServer((conn) => {
    const decoder = new FrameDecoder(AGENT_MAX_PAYLOAD);
    const channels = new Map<number, number>(); // client channel → guest channel
    let uncredited = 0;
    let waitingForRoom = false;
    const creditClient = () => {
      waitingForRoom = false;
      if (uncredited === 0 || conn.destroyed) return;
      const credit = Buffer.alloc(4);
      credit.writeUInt32LE(uncredited, 0);
      uncredited = 0;
      conn.write(encodeFrame(FrameType.credit, 0, credit));
    };
    const containers = new Set<string>();
    const reply = (body: Record<string, unknown>) => conn.write(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify(body))));
    let working = false;
    let asked = false;
    unasked++;
    const onRequest = async (req: Record<string, unknown>) => {
      const { id, op, ...fields } = req;
      if (!asked) {
        asked = true;
        unasked--;
      }
      const work = !PINGS.has(String(op));
      // Its idle stop began as this client connected: no work starts in a guest going away.
      if (stopping && work) return reply({ id, ok: false, error: { kind: "runtime", message: DAEMON_STOPPING, exitCode: 125 } });
      if (!working && work) {
        working = true;
        workingClients++;
        starterCame();
        idleCheck();
      }
      try {
        if (op === "export") {
          exports.add(String(fields.name), { path: String(fields.path), readonly: fields.readonly === true, ...shownOwnerField(fields.shownOwner), ...identityField(fields.identity) });
          return reply({ id, ok: true });
        }
        if (op === "unexport") {
          exports.remove(String(fields.name));
          return reply({ id, ok: true });
        }
        if (op === "launch") {
          const req = fields as unknown as LaunchRequest;
          if (monitors.has(req.bundle)) return reply({ id, ok: true });
          const m = await VmMonitor.launch({ link, p9: exports, exportRefs: ownExportRefs }, req, (done) => {
            monitors.delete(done.bundle);
            idleCheck();
          });
          monitors.set(req.bundle, m);
          return reply({ id, ok: true, warnings: m.warnings });
        }
        if (op === "containers") {
          const foreground = [...clientContainers].reduce((n, set) => n + set.size, 0);
          return reply({ id, ok: true, detached: [...monitors.values()].filter((m) => m.running).map((m) => m.bundle), foreground });
        }
        if (op === "shutdown") {
          reply({ id, ok: true });
          setTimeout(() => void stop(), 50);
          return;
        }
        if (op === "hello") return reply({ id, ok: true, daemon: true });
        // A client come to work in the guest: from now until it disconnects (counted as work above).
        if (op === "claim") return reply({ id, ok: true });
        if (op === "stay") {
          // `tsbox vm start` on a guest started on demand: it stays until `vm stop` now.
          if (status) {
            delete status.idleSeconds;
            writeStatus();
            idleCheck();
          }
          return reply({ id, ok: true });
        }
        // Every op that opens stream channels (`connect`, `datagram`: a published port's connection or UDP peer).
        if ((STREAM_OPS as readonly unknown[]).includes(op)) {
          for (const k of ["stdin", "stdout", "stderr"]) {
            if (typeof fields[k] !== "number") continue;
            const guest = link.allocChannel();
            channels.set(fields[k] as number, guest);
            routes.set(guest, { conn, channel: fields[k] as number, ...(k === "stdin" ? {} : { credit: new OutputCredit(link.streamCredit) }) });
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
        // A client's container (or exec'd process) killed with the guest (`vm stop --force`): its end is the
        // same as a detached one's, not an error of its run.
        if (op === "wait" && stopping) return reply({ id, ok: true, ...KILLED_WITH_GUEST });
        const e = err as { kind?: string; code?: string; exitCode?: number };
        // A TsboxError of ours (not the agent's) keeps its kind: 127 stays "not found".
        const kind = e.kind ?? (e.code === "not_found" || e.code === "permission" || e.code === "spec" ? e.code : "setup");
        reply({ id, ok: false, error: { kind, message: errorMessage(err), exitCode: e.exitCode ?? 125 } });
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
          if (guest === undefined) continue;
          if (f.type === FrameType.credit && f.payload.length === 4) routes.get(guest)?.credit?.give(f.payload.readUInt32LE(0));
          link.sendFrame(f.type, guest, f.payload);
        }
      }
      // What was read is credited back (the client's link window) once the
      // guest's link has room for it: a guest that stops reading must not
      // make the daemon buffer a client's input without bound.
      uncredited += data.length;
      if (!waitingForRoom && link.whenRoom(creditClient)) creditClient();
      else waitingForRoom = true;
    });
    clientContainers.add(containers);
    const forget = () => {
      if (!asked) unasked--;
      asked = true;
      if (working) workingClients--;
      working = false;
      idleCheck();
      clientContainers.delete(containers);
      for (const cid of containers) void link.request("delete", { cid }, 30_000).catch(() => {});
      for (const [, guest] of channels) routes.delete(guest);
    };
    conn.on("close", () => {
      clients.delete(conn);
      forget();
    });
    conn.on("error", () => {});
    clients.add(conn);
  });

  rmSync(paths.socket, { force: true });
  await viaSocketAddress(dirname(paths.socket), basename(paths.socket), (address) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(address, () => resolve());
    }),
  );
  chmodSync(paths.socket, 0o600);
  status = {
    pid: process.pid,
    socket: paths.socket,
    started: new Date().toISOString(),
    start: start.kind === "restore" ? `restored from ${start.path}` : `cold boot (${start.reason})`,
    bootMs: Math.round(machine.bootMs),
    ...(options.idleSeconds !== undefined ? { idleSeconds: options.idleSeconds } : {}),
    hostLoopback: machine.outbound.hostLoopback,
  };
  function writeStatus() {
    writeFileSync(paths.status, JSON.stringify(status, null, 2) + "\n");
  }
  writeStatus();
  // Docker Desktop's VM coming up: the restart-policy containers run again, once, while the guest serves (its
  // starter does not wait); at work until done, so an idle stay of 0 s does not end the guest under it.
  let restarter: ChildProcess | undefined;
  workingClients++;
  void restartAtStart(env, (line) => process.stderr.write(`tsbox: ${line}\n`), (child) => (restarter = child)).finally(() => {
    restarter = undefined;
    workingClients--;
    idleCheck();
  });
  idleCheck();

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearTimeout(starter);
    restarter?.kill("SIGTERM");
    // Unnamed first: a client whose connection the close ends finds no status naming this daemon, and starts another.
    rmSync(paths.status, { force: true });
    rmSync(paths.socket, { force: true });
    server.close();
    // Detached containers die with the guest: their records say so.
    await Promise.all([...monitors.values()].map((m) => m.shutdown().catch(() => {})));
    await machine.destroy();
    // The clients' pending waits are answered (above, once the link's close has failed them): flushed before the exit.
    await new Promise((r) => setImmediate(r));
    await Promise.all([...clients].map((c) => new Promise<void>((r) => (c.end(r), setTimeout(r, 2000).unref()))));
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

/** How long a guest started on demand waits for the client that started it before its idle clock runs. */
const STARTER_GRACE_MS = 60_000;

/** Requests that keep no guest up: `vm status`'s ping, `vm stop`'s question. */
const PINGS = new Set(["hello", "stats", "containers", "stay", "shutdown"]);

/** An `export` request's shownOwner (guest ids), when it is one. */
/** A checked bind source's identity (decimal dev and ino); anything else pins nothing, and is refused. */
function identityField(value: unknown): Pick<Export, "identity"> {
  if (value === undefined) return {};
  const o = value as { dev?: unknown; ino?: unknown } | null;
  const decimal = (v: unknown): v is string => typeof v === "string" && /^\d+$/.test(v);
  if (o && decimal(o.dev) && decimal(o.ino)) return { identity: { dev: o.dev, ino: o.ino } };
  throw new TsboxError("export: a bad identity", { code: "setup" });
}

function shownOwnerField(value: unknown): Pick<Export, "shownOwner"> {
  const o = value as { uid?: unknown; gid?: unknown } | null | undefined;
  return o && isId32(o.uid) && isId32(o.gid) ? { shownOwner: { uid: o.uid, gid: o.gid } } : {};
}
