/**
 * A guest process as the page sees it: the backend's ContainerProcess with
 * WHATWG streams (stdin a WritableStream, stdout/stderr ReadableStreams of
 * bytes, async-iterable). Output flows with credit: the Worker stops the
 * agent once PAGE_WINDOW bytes are unread here, and this side gives credit
 * back (`ack`) as the stream's reader takes chunks, so a container that
 * prints forever to a stream nobody reads stops, as it would on a pipe.
 */
import type { ContainerProcess, ExitStatus } from "../../backend.js";
import { TsboxError } from "../../../errors.js";
import { type Signal, signalNumber } from "../../../signals.js";
import type { PageMessage, WorkerMessage } from "./protocol.js";
import { reviveError } from "./revive-error.js";
import { describeValue } from "../../../spec/run-options-check.js";

export type WebStdin = WritableStream<Uint8Array>;
/**
 * Async-iterable in its type too: TypeScript declares ReadableStream's
 * iterator only in lib "dom.asynciterable", which projects listing their
 * `lib` (Vite's templates: ES2022, DOM, DOM.Iterable) leave out.
 */
export type WebOutput = ReadableStream<Uint8Array> & AsyncIterable<Uint8Array>;

/** Bytes the page's stream may queue before its reader is waited for. */
const QUEUE_BYTES = 1024 * 1024;

export interface ProcessWiring {
  id: number;
  send(msg: PageMessage): void;
  /** Every output chunk, as it arrives (the container's log). */
  onOutput?: (stream: "stdout" | "stderr", data: Uint8Array) => void;
}

export interface WebProcessOptions {
  stdin: boolean;
  /** With a terminal, all output is on stdout and there is no stderr. */
  terminal: boolean;
}

export class WebProcess implements ContainerProcess<WebStdin, WebOutput> {
  pid = -1;
  /** The page is the monitor: signals go through the Worker. */
  readonly monitorPid = 0;
  readonly stdin: WebStdin | null;
  readonly stdout: WebOutput;
  readonly stderr: WebOutput | null;
  /** The guest's container id, once started (not for an exec). */
  cid: string | undefined;
  readonly started: Promise<number>;
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | undefined;
  private readonly outputs: Partial<Record<"stdout" | "stderr", OutputFeed>> = {};
  private settle!: { started: (pid: number) => void; exit: (s: ExitStatus) => void; fail: (e: Error) => void };

  constructor(
    private readonly wiring: ProcessWiring,
    options: WebProcessOptions,
  ) {
    let started!: (pid: number) => void;
    let failStart!: (e: Error) => void;
    this.started = new Promise((resolve, reject) => ((started = resolve), (failStart = reject)));
    this.exited = new Promise((resolve, reject) => {
      this.settle = { started, exit: resolve, fail: (e) => (failStart(e), reject(e)) };
    });
    this.started.catch(() => {});
    this.exited.catch(() => {});
    const out = (stream: "stdout" | "stderr") => {
      const feed = new OutputFeed(
        (bytes) => wiring.send({ type: "ack", id: wiring.id, stream, bytes }),
        () => {
          if (!this.status) wiring.send({ type: "hang-up", id: wiring.id, stream });
        },
      );
      this.outputs[stream] = feed;
      return feed.readable;
    };
    this.stdout = out("stdout");
    this.stderr = options.terminal ? null : out("stderr");
    this.stdin = options.stdin
      ? new WritableStream<Uint8Array>({
          write: (chunk) => {
            if (this.status) throw new TsboxError("the process has exited: its stdin is closed", { code: "container" });
            let data: Uint8Array;
            try {
              data = stdinBytes(chunk);
            } catch (err) {
              // The stream is errored for good: the process's stdin ends, as a broken pipe's would.
              wiring.send({ type: "stdin-end", id: wiring.id });
              throw err;
            }
            wiring.send({ type: "stdin", id: wiring.id, data });
          },
          close: () => wiring.send({ type: "stdin-end", id: wiring.id }),
          abort: () => wiring.send({ type: "stdin-end", id: wiring.id }),
        })
      : null;
  }

  kill(signal: Signal): boolean {
    const n = signalNumber(signal);
    if (this.status || n === undefined) return false;
    this.wiring.send({ type: "kill", id: this.wiring.id, signal: n });
    return true;
  }

  resize(cols: number, rows: number): void {
    if (!this.status) this.wiring.send({ type: "resize", id: this.wiring.id, cols, rows });
  }

  /** The Worker's messages for this process; true once it is done with. */
  onMessage(msg: WorkerMessage): boolean {
    switch (msg.type) {
      case "started":
        this.pid = msg.pid;
        this.cid = msg.cid;
        this.settle.started(msg.pid);
        return false;
      case "stdout":
      case "stderr":
        this.wiring.onOutput?.(msg.type, msg.data);
        this.outputs[msg.type]?.push(msg.data);
        return false;
      case "exit":
        this.status = { exitCode: msg.exitCode, signal: msg.signal, oomKilled: msg.oomKilled };
        // The agent sends a process's output before its exit: it is all here.
        for (const feed of Object.values(this.outputs)) feed.close();
        this.settle.exit(this.status);
        return true;
      case "run-failed":
        this.abort(reviveError(msg.error));
        return true;
      default:
        return false;
    }
  }

  /** It cannot start, or the Worker is gone. */
  abort(err: Error): void {
    if (this.status) return;
    this.status = { exitCode: 125, signal: null, oomKilled: false };
    for (const feed of Object.values(this.outputs)) feed.close();
    this.settle.fail(err);
  }
}

/** One output stream: chunks queue in the ReadableStream; credit goes back as they are taken. */
class OutputFeed {
  readonly readable: WebOutput;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private owed = 0;
  private closed = false;

  constructor(
    private readonly ack: (bytes: number) => void,
    private readonly hangUp: () => void,
  ) {
    this.readable = asyncIterable(new ReadableStream<Uint8Array>(
      {
        start: (c) => void (this.controller = c),
        pull: () => this.settle(),
        cancel: () => {
          // Nobody will read: the process's pipe is closed (it meets EPIPE or SIGPIPE, as a child process whose
          // reader went does, and as the Node library's destroyed stream does); what is on its way is taken.
          this.closed = true;
          this.ack(Number.MAX_SAFE_INTEGER);
          this.hangUp();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES }),
    ));
  }

  push(data: Uint8Array): void {
    if (this.closed) return this.ack(data.length);
    this.controller.enqueue(data);
    this.owed += data.length;
    if ((this.controller.desiredSize ?? 0) > 0) this.settle();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.close();
  }

  private settle(): void {
    if (this.owed === 0) return;
    const n = this.owed;
    this.owed = 0;
    this.ack(n);
  }
}

/** The stream, iterable with `for await` where the browser's ReadableStream is not (Safari): as the standard's, leaving early cancels it. */
function asyncIterable(stream: ReadableStream<Uint8Array>): WebOutput {
  if (typeof (stream as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] === "function") return stream as WebOutput;
  return Object.assign(stream, {
    async *[Symbol.asyncIterator]() {
      const reader = stream.getReader();
      let done = false;
      try {
        for (;;) {
          const next = await reader.read();
          if (next.done) break;
          yield next.value;
        }
        done = true;
      } finally {
        if (!done) await reader.cancel().catch(() => {});
        reader.releaseLock();
      }
    },
  });
}

/** A chunk written to stdin as bytes; what is not bytes or text errors this stream only (in the Worker it broke the guest's link). */
function stdinBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return new TextEncoder().encode(chunk);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`stdin takes Uint8Array chunks (or strings), not ${describeValue(chunk)}`);
}
