/**
 * The client side of a container monitor's socket, `<bundle>/attach.sock`
 * (protocol: native-rs/runtime/src/monitor/clients.rs; the vm daemon serves
 * the same one). One JSON request line per connection; `attach` then
 * carries docker stdcopy frames both ways.
 */
import { connect, type Socket } from "node:net";
import { PassThrough, type Readable, Writable } from "node:stream";
import { isErrno, viaSocketAddress } from "../fs-util.js";
import { CONTROL, encodeStdcopy, STDERR, StdcopyDecoder, STDIN, STDOUT } from "./stdcopy.js";

export const MONITOR_SOCKET = "attach.sock";

/** How a run ended, as the monitor reports it. */
export interface RunEnd {
  exitCode: number;
  signal: string | null;
  oomKilled: boolean;
  error: string | null;
}

export type MonitorReply = { ok: true } & Record<string, unknown>;

/**
 * Connects to the monitor; undefined when there is none (no socket, or
 * nobody listening: the container is not supervised by a live monitor).
 * A bundle path can be longer than a socket address may be (108 bytes):
 * the socket is reached through the opened bundle (viaSocketAddress).
 */
export async function connectMonitor(bundleDir: string): Promise<Socket | undefined> {
  try {
    return await viaSocketAddress(bundleDir, MONITOR_SOCKET, (address) =>
      new Promise<Socket | undefined>((resolve, reject) => {
        const socket = connect(address);
        socket.once("connect", () => resolve(socket));
        socket.once("error", (err) => {
          // No socket, nobody listening, or a monitor that closed it as we came: none.
          if (isErrno(err, "ENOENT") || isErrno(err, "ECONNREFUSED") || isErrno(err, "ECONNRESET")) resolve(undefined);
          else reject(err);
        });
      }),
    );
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined; // no bundle
    throw err;
  }
}

/**
 * One request, one reply. Undefined when no monitor answers (it is gone, or
 * went away before replying: the container ended). A refusal (`ok: false`)
 * throws with the monitor's message.
 */
export async function monitorRequest(bundleDir: string, request: Record<string, unknown>, signal?: AbortSignal, replyWithinMs?: number): Promise<MonitorReply | undefined> {
  const socket = await connectMonitor(bundleDir);
  if (!socket) return undefined;
  // Aborted (a library's wait({ signal })): the connection goes, and with it the wait for the reply.
  const abort = () => socket.destroy();
  if (signal?.aborted) abort();
  signal?.addEventListener("abort", abort, { once: true });
  // A monitor that accepted but never answers (stopped, stuck) held `stop` for ever: past `replyWithinMs`, a MonitorUnresponsive.
  let late = false;
  const timer = replyWithinMs === undefined ? undefined : setTimeout(() => ((late = true), socket.destroy()), replyWithinMs);
  socket.write(JSON.stringify(request) + "\n");
  const line = await firstLine(socket);
  clearTimeout(timer);
  signal?.removeEventListener("abort", abort);
  socket.destroy();
  if (late) throw new MonitorUnresponsive(`the container's monitor did not answer within ${Math.round(replyWithinMs! / 1000)} s`);
  if (line === undefined) return undefined;
  const reply = JSON.parse(line) as Record<string, unknown>;
  if (reply.ok !== true) throw new MonitorRefusal(typeof reply.error === "string" ? reply.error : "the monitor refused the request");
  return reply as MonitorReply;
}

export class MonitorRefusal extends Error {}

/** No reply in the time a request allows (monitorRequest's `replyWithinMs`). */
export class MonitorUnresponsive extends Error {}

/** The reply line, leaving anything after it unshifted on the socket. */
function firstLine(socket: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        text += chunk.toString("utf8");
        return;
      }
      text += chunk.subarray(0, nl).toString("utf8");
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onEnd);
      socket.off("close", onEnd);
      socket.pause();
      if (nl + 1 < chunk.length) socket.unshift(chunk.subarray(nl + 1));
      resolve(text);
    };
    const onEnd = () => {
      socket.off("data", onData);
      resolve(undefined);
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", onEnd);
    // Destroyed here (an aborted request): no end or error comes.
    socket.once("close", onEnd);
  });
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Ending `stdin` closes the container's stdin (`run -i`, `start -ai`). */
  stdinOnce?: boolean;
  /**
   * False: the connection keeps Node running only while it is used (a stream read, or `hold()`), as a
   * monitored container outlives this process (`run({ restart })`); default true.
   */
  keepAlive?: boolean;
}

/** An attached client: the container's streams from now on, and its end. */
export interface Attachment {
  tty: boolean;
  /** Input for the container (only if it keeps stdin open and it was asked for). */
  stdin: Writable | null;
  stdout: Readable | null;
  /** Null with a terminal (one stream). */
  stderr: Readable | null;
  /** How the run ended; undefined when the connection ended first (the monitor died). */
  ended: Promise<RunEnd | undefined>;
  resize(cols: number, rows: number): void;
  /** Detaches (the container keeps running). */
  close(): void;
  /** Keeps Node running until the returned function is called (for `keepAlive: false`; otherwise a no-op). */
  hold(): () => void;
}

/** Attaches to the running container; undefined when no monitor supervises it. */
export async function attachMonitor(bundleDir: string, options: AttachOptions): Promise<Attachment | undefined> {
  const { keepAlive = true, ...request } = options;
  const socket = await connectMonitor(bundleDir);
  if (!socket) return undefined;
  socket.write(JSON.stringify({ op: "attach", ...request }) + "\n");
  const line = await firstLine(socket);
  if (line === undefined) {
    socket.destroy();
    return undefined;
  }
  const reply = JSON.parse(line) as { ok: boolean; tty?: boolean; stdin?: boolean; error?: string };
  if (!reply.ok) {
    socket.destroy();
    throw new MonitorRefusal(reply.error ?? "cannot attach");
  }
  const tty = reply.tty === true;
  const stdout = options.stdout ? new PassThrough() : null;
  const stderr = options.stderr && !tty ? new PassThrough() : null;
  let resolveEnd!: (end: RunEnd | undefined) => void;
  const ended = new Promise<RunEnd | undefined>((r) => (resolveEnd = r));
  let end: RunEnd | undefined;

  const decoder = new StdcopyDecoder();
  socket.on("data", (chunk: Buffer) => {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const { stream, payload } of frames) {
      const target = stream === STDOUT ? stdout : stream === STDERR ? stderr : null;
      if (target && !target.write(payload)) {
        // Backpressure: the monitor stops reading the container while we lag.
        socket.pause();
        target.once("drain", () => socket.resume());
      } else if (stream === CONTROL) {
        const event = JSON.parse(payload.toString("utf8")) as { exited?: RunEnd };
        if (event.exited) end = event.exited;
      }
    }
  });
  const finish = () => {
    stdout?.end();
    stderr?.end();
    resolveEnd(end);
  };
  socket.once("close", finish);
  socket.on("error", () => {});
  socket.resume();
  const hold = keepAlive ? () => () => {} : holder(socket);
  if (!keepAlive) for (const stream of [stdout, stderr]) if (stream) holdWhileRead(stream, hold);

  const control = (body: unknown) => {
    if (!socket.destroyed) socket.write(encodeStdcopy(CONTROL, Buffer.from(JSON.stringify(body))));
  };
  const stdin =
    options.stdin && reply.stdin
      ? new Writable({
          write(chunk: Buffer, _enc, done) {
            if (socket.destroyed) return done();
            socket.write(encodeStdcopy(STDIN, Buffer.from(chunk)), () => done());
          },
          final(done) {
            control({ closeStdin: true });
            done();
          },
        })
      : null;
  return {
    tty,
    stdin,
    stdout,
    stderr,
    ended,
    resize: (cols, rows) => control({ resize: { cols, rows } }),
    close: () => socket.destroy(),
    hold,
  };
}

/** The socket unref'd, ref'd while anyone holds it. */
function holder(socket: Socket): () => () => void {
  let holds = 0;
  socket.unref();
  return () => {
    if (holds++ === 0) socket.ref();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--holds === 0) socket.unref();
    };
  };
}

/** Held once the stream flows (`data`, `pipe`) or is read (`readable`, `for await`), until it ends or is destroyed. */
function holdWhileRead(stream: Readable, hold: () => () => void): void {
  let release: (() => void) | undefined;
  const take = () => void (release ??= hold());
  const drop = () => release?.();
  stream.once("resume", take);
  stream.on("newListener", (event) => event === "readable" && take());
  stream.once("close", drop);
  stream.once("end", drop);
}
