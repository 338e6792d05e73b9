/**
 * The host end of the agent protocol over the virtio console
 * (native-rs/agent/src/agent.rs), without Node APIs so it runs in a browser
 * Worker too: requests with ids and timeouts, frame routing to stdio
 * channels, and the link's own flow control (at most `window` console
 * events in flight; the agent reports consumed bytes on channel 0, because
 * v86 drops input the guest has no buffer for).
 *
 * Events: "ready" (agent's unsolicited hello after boot), "dial" and
 * "resolve" (a container's way out: outbound-protocol.ts), "rejected"
 * ({channel, message}: the agent dropped one of our frames), "protocol-error"
 * (we dropped one of its frames).
 */
import { containerErrorCode, nameErrors, TsboxError } from "../../../errors.js";
import type { InputEndpoint, OutputEndpoint } from "./agent-channels.js";
import { fromUtf8, hex, u32le, utf8, view } from "./bytes.js";
import { Emitter } from "./emitter.js";
import { SeccompRefs } from "./seccomp-ref.js";
import { AGENT_MAX_PAYLOAD, encodeFrame, FrameDecoder, FrameType, HOST_MAX_PAYLOAD, type Frame } from "./frame.js";

/** One virtio-console input event: v86 truncates anything longer. */
export const CONSOLE_EVENT_MAX = 4096;
/** Console events in flight before the agent's first credit (its rx queue has 16 buffers). */
const DEFAULT_LINK_WINDOW = 8;
/** Per-stream credit both sides start with (agent.rs STREAM_WINDOW). */
const DEFAULT_STREAM_WINDOW = 64 * 1024;
/**
 * The most the host accepts as the agent's windows (its hello reply says):
 * the stream window is what the host buffers per output channel, so a
 * guest must not choose it; the link window is bounded by the agent's
 * 16 rx buffers.
 */
const MAX_STREAM_WINDOW = 1024 * 1024;
const MAX_LINK_WINDOW = 16;
/**
 * Bytes queued for the link above which stdin waits: a guest that grants
 * stream credit but stops crediting the link must not make the host buffer
 * a container's input without bound.
 */
const LINK_QUEUE_HIGH = 256 * 1024;
/** The agent's unsolicited events (ready; a container's connection out and DNS question: outbound-protocol.ts); anything else is ignored. */
const AGENT_EVENTS: ReadonlySet<string> = new Set(["ready", "dial", "resolve"]);

export interface ConsoleTransport {
  /** Hands one console input event (≤ CONSOLE_EVENT_MAX bytes) to the guest. */
  send(bytes: Uint8Array): void;
}

/**
 * The numbering a session of the link has used: a restored guest may still
 * hold request ids (a `wait`) and channels of the session it was saved in,
 * so the next session numbers on from there.
 */
export interface LinkNumbering {
  nextId: number;
  nextChannel: number;
}

export interface AgentError {
  kind: string;
  message: string;
  exitCode: number;
}

export type Reply = Record<string, unknown>;

/** A request the agent answered with `ok: false`. */
export class AgentRequestError extends TsboxError {
  readonly kind: string;
  constructor(error: AgentError) {
    super(error.message, { exitCode: error.exitCode, code: containerErrorCode(error.kind) });
    this.kind = error.kind;
  }
}
nameErrors({ AgentRequestError });

interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The ops the guest agent serves (native-rs/agent/src/ops; test/fixtures/contract/agent-ops.json). */
export const AGENT_OPS = ["hello", "create", "start", "exec", "signal", "resize", "wait", "stats", "pause", "resume", "delete", "ping", "connect", "dialed", "resolved", "datagram", "net-attach", "net-detach", "update", "copy", "top"] as const;
export type AgentOp = (typeof AGENT_OPS)[number];
/** The agent ops whose request names stream channels (`stdin`, `stdout`, `stderr`): a relay must map them (daemon.ts). */
export const STREAM_OPS: readonly AgentOp[] = ["create", "exec", "copy", "connect", "datagram"];
/**
 * Ops only the `tsbox vm` daemon answers: its 9p exports, detached containers (`launch`, `containers`), its
 * shutdown, `stay` (no idle stop) and `claim` (this connection is at work: no idle stop while it lasts) (daemon.ts).
 */
export const DAEMON_OPS = ["export", "unexport", "shutdown", "launch", "containers", "stay", "claim"] as const;
export type DaemonOp = (typeof DAEMON_OPS)[number];

export function isAgentOp(op: unknown): op is AgentOp {
  return (AGENT_OPS as readonly unknown[]).includes(op);
}

/** P: the payload type of relayed frames (Buffer in Node, Uint8Array in browsers). */
export class AgentProtocol<P extends Uint8Array = Buffer> extends Emitter {
  private readonly decoder: FrameDecoder<P>;
  private window = DEFAULT_LINK_WINDOW;
  protected streamWindow = DEFAULT_STREAM_WINDOW;
  /** Cumulative end offsets of the console events the agent has not consumed yet. */
  private inFlight: number[] = [];
  private sent = 0;
  private consumed = 0;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private roomWaiters: (() => void)[] = [];
  private nextId = 1;
  private nextChannel = 1;
  private readonly pending = new Map<number, Pending>();
  /**
   * Frames sent while a session's `hello` is unanswered, sent after it: the
   * link's accounting restarts at the answer, and a frame sent across that
   * restart could be counted twice or not at all (and overrun the guest's
   * receive buffers). undefined: no `hello` is pending.
   */
  private held: Uint8Array[] | undefined;
  private sendingHello = false;
  private readonly seccompRefs = new SeccompRefs();
  private readonly inputs = new Map<number, InputEndpoint>();
  private readonly outputs = new Map<number, OutputEndpoint>();
  private closedWith: Error | undefined;
  /** Frames on channels this link did not open go here (the vm daemon relays them). */
  relay: ((frame: Frame<P>) => boolean) | undefined;
  private readonly requestWatchers: ((op: string, fields: Record<string, unknown>) => void)[] = [];

  constructor(
    private readonly transport: ConsoleTransport,
    wrap?: (bytes: Uint8Array) => P,
  ) {
    super();
    this.decoder = new FrameDecoder<P>(HOST_MAX_PAYLOAD, wrap);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Console output from the guest. */
  receive(bytes: Uint8Array): void {
    for (const item of this.decoder.push(bytes)) {
      if (item.kind === "rejected") {
        this.emit("protocol-error", { channel: item.channel, message: item.reason });
        continue;
      }
      this.onFrame(item.frame);
    }
  }

  /**
   * (Re)starts a session: the guest's clock and entropy, and fresh link
   * accounting. Retried until `timeoutMs`: after a restore the agent may
   * not have been scheduled yet.
   */
  async hello(timeoutMs: number): Promise<Reply> {
    this.resetLink();
    this.seccompRefs.reset(false);
    this.held ??= [];
    const seed = new Uint8Array(32);
    globalThis.crypto.getRandomValues(seed);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      try {
        this.sendingHello = true;
        const answer = this.request("hello", { time: Date.now(), seed: hex(seed) }, Math.min(left, 1500));
        this.sendingHello = false;
        const reply = await answer;
        this.resetLink();
        this.seccompRefs.reset(reply.seccompRef === true);
        if (typeof reply.window === "number" && reply.window > 0) this.window = Math.min(Math.floor(reply.window), MAX_LINK_WINDOW);
        if (typeof reply.streamWindow === "number" && reply.streamWindow > 0) this.streamWindow = Math.min(Math.floor(reply.streamWindow), MAX_STREAM_WINDOW);
        const held = this.held ?? [];
        this.held = undefined;
        for (const bytes of held) this.enqueue(bytes);
        return reply;
      } catch (err) {
        this.sendingHello = false;
        if (this.closed || Date.now() + 10 >= deadline || !(err instanceof TsboxError && /did not answer/.test(err.message))) {
          this.held = undefined;
          throw err;
        }
      }
    }
  }

  /**
   * Calls `watch` with every request sent (the daemon's relayed ones too):
   * what the host asked the guest to make, which the guest's events are
   * checked against (outbound.ts: the containers' networks).
   */
  watchRequests(watch: (op: string, fields: Record<string, unknown>) => void): void {
    this.requestWatchers.push(watch);
  }

  /** Sends a request; resolves with the reply, rejects with AgentRequestError or a timeout. */
  request(op: AgentOp | DaemonOp, fields: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<Reply> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    for (const watch of this.requestWatchers) watch(op, fields);
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TsboxError(`the vm guest did not answer ${op} within ${Math.round(timeoutMs / 100) / 10} s`, { code: "runtime" }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const wire = op === "create" ? this.seccompRefs.encode(fields) : fields;
      this.sendFrame(FrameType.ctrl, 0, utf8(JSON.stringify({ id, op, ...wire })));
    });
  }

  /** Where this session's numbering is (kept with a saved state: `continueNumbering`). */
  numbering(): LinkNumbering {
    return { nextId: this.nextId, nextChannel: this.nextChannel };
  }

  /** Numbers on from a saved session's numbering, so no id or channel of that session is reused. */
  continueNumbering(saved: LinkNumbering): void {
    if (Number.isSafeInteger(saved.nextId)) this.nextId = Math.max(this.nextId, saved.nextId);
    if (Number.isSafeInteger(saved.nextChannel)) this.nextChannel = Math.max(this.nextChannel, saved.nextChannel);
  }

  /** Nothing waits in the host's queue: what was sent is in the guest's memory (and in a state saved now). */
  get drained(): boolean {
    return this.queued === 0 && !this.held?.length;
  }

  /** A fresh channel number for a stream someone else carries (the daemon's relay). */
  allocChannel(): number {
    return this.nextChannel++;
  }

  /** Test hook: bytes straight onto the link, framing bypassed (flow control still applies). */
  sendRaw(bytes: Uint8Array): void {
    this.enqueue(bytes.slice());
  }

  sendFrame(type: number, channel: number, payload?: Uint8Array): void {
    if (payload && payload.length > AGENT_MAX_PAYLOAD) throw new TsboxError(`frame of ${payload.length} bytes is over the agent's limit`, { code: "runtime" });
    this.enqueue(encodeFrame(type, channel, payload));
  }

  /** Everything pending fails with `err`; streams end. */
  close(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    for (const ch of this.outputs.values()) ch.fail(err);
    for (const ch of this.inputs.values()) ch.fail(err);
    this.queue = [];
    this.queued = 0;
    this.roomWaiters = [];
  }

  /** True when the link takes more bytes now; else `wake` runs once it does (never, if it closes). */
  whenRoom(wake: () => void): boolean {
    if (this.queued < LINK_QUEUE_HIGH || this.closedWith) return true;
    this.roomWaiters.push(wake);
    return false;
  }

  /** The credit every stream starts with, each way (as agreed in `hello`). */
  get streamCredit(): number {
    return this.streamWindow;
  }

  /**
   * Registers an output channel built by `make` (with its number, a frame
   * sender for its credit and hang-up, a release and the stream window);
   * `channel`: one a restored guest already uses (a container it kept),
   * else a fresh one.
   */
  protected addOutput<T extends OutputEndpoint>(make: (channel: number, send: (type: number, payload?: Uint8Array) => void, release: () => void, window: number) => T, channel = this.nextChannel++): T {
    const ch = make(
      channel,
      (type, payload) => this.sendFrame(type, channel, payload),
      () => this.outputs.delete(channel),
      this.streamWindow,
    );
    this.outputs.set(channel, ch);
    return ch;
  }

  /** Registers an input channel built by `make` (with its number, the stream window, a frame sender, a release and the link's room). */
  protected addInput<T extends InputEndpoint>(
    make: (channel: number, window: number, send: (type: number, payload?: Uint8Array) => void, release: () => void, room: (wake: () => void) => boolean) => T,
    channel = this.nextChannel++,
  ): T {
    const ch = make(
      channel,
      this.streamWindow,
      (type, payload) => this.sendFrame(type, channel, payload),
      () => this.inputs.delete(channel),
      (wake) => this.whenRoom(wake),
    );
    this.inputs.set(channel, ch);
    return ch;
  }

  private resetLink(): void {
    this.inFlight = [];
    this.sent = 0;
    this.consumed = 0;
  }

  private enqueue(bytes: Uint8Array): void {
    if (this.closedWith || bytes.length === 0) return;
    if (this.held && !this.sendingHello) {
      this.held.push(bytes);
      return;
    }
    this.queue.push(bytes);
    this.queued += bytes.length;
    this.pump();
  }

  private pump(): void {
    while (this.queued > 0 && this.inFlight.length < this.window) {
      const size = Math.min(CONSOLE_EVENT_MAX, this.queued);
      const event = new Uint8Array(size);
      let filled = 0;
      while (filled < size) {
        const head = this.queue[0]!;
        const n = Math.min(head.length, size - filled);
        event.set(head.subarray(0, n), filled);
        filled += n;
        if (n === head.length) this.queue.shift();
        else this.queue[0] = head.subarray(n);
      }
      this.queued -= size;
      this.sent += size;
      this.inFlight.push(this.sent);
      this.transport.send(event);
    }
    if (this.queued < LINK_QUEUE_HIGH && this.roomWaiters.length > 0) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private onFrame(frame: Frame<P>): void {
    if (frame.channel !== 0 && this.relay && !this.outputs.has(frame.channel) && !this.inputs.has(frame.channel) && this.relay(frame)) return;
    switch (frame.type) {
      case FrameType.ctrl:
        return this.onControl(frame.payload);
      case FrameType.data: {
        const ch = this.outputs.get(frame.channel);
        const err = ch ? ch.onData(frame.payload) : new Error("data on an unknown channel");
        if (err) this.emit("protocol-error", { channel: frame.channel, message: err.message });
        return;
      }
      case FrameType.eof:
        this.outputs.get(frame.channel)?.onEof();
        return;
      case FrameType.credit: {
        if (frame.payload.length !== 4) return;
        const n = view(frame.payload).getUint32(0, true);
        if (frame.channel === 0) {
          this.consumed = Math.min(this.consumed + n, this.sent);
          while (this.inFlight.length > 0 && this.inFlight[0]! <= this.consumed) this.inFlight.shift();
          this.pump();
        } else {
          this.inputs.get(frame.channel)?.onCredit(n);
        }
        return;
      }
      case FrameType.error: {
        let message = fromUtf8(frame.payload);
        try {
          message = (JSON.parse(message) as { message?: string }).message ?? message;
        } catch {
          // keep the raw text
        }
        this.emit("rejected", { channel: frame.channel, message });
        return;
      }
    }
  }

  private onControl(payload: Uint8Array): void {
    let msg: Reply;
    try {
      msg = JSON.parse(fromUtf8(payload)) as Reply;
    } catch {
      this.emit("protocol-error", { channel: 0, message: "malformed control message from the agent" });
      return;
    }
    if (typeof msg.event === "string") {
      if (AGENT_EVENTS.has(msg.event)) this.emit(msg.event, msg);
      return;
    }
    const p = typeof msg.id === "number" ? this.pending.get(msg.id) : undefined;
    if (!p) return; // a late reply to a request that timed out, or a retried hello
    this.pending.delete(msg.id as number);
    clearTimeout(p.timer);
    if (msg.ok === true) p.resolve(msg);
    else p.reject(new AgentRequestError(toAgentError(msg.error)));
  }
}

function toAgentError(e: unknown): AgentError {
  const o = (typeof e === "object" && e !== null ? e : {}) as Record<string, unknown>;
  return {
    kind: typeof o.kind === "string" ? o.kind : "setup",
    message: typeof o.message === "string" ? o.message : "the vm guest agent reported an error",
    exitCode: typeof o.exitCode === "number" ? o.exitCode : 125,
  };
}

