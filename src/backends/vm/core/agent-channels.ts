/**
 * Stream-level flow control of the agent protocol, without Node streams (it
 * also runs in browsers): every stdio channel starts with a window of
 * credit each way (agent.rs STREAM_WINDOW). Output: the agent sends within
 * the credit we grant back as the reader consumes. Input: we send within
 * the credit the agent grants as the container's pipe accepts bytes.
 */
import { u32le } from "./bytes.js";
import { FrameType } from "./frame.js";

/** Largest stdin frame we send; the link packs frames into console events anyway. */
const STDIN_FRAME = 16 * 1024;

/**
 * Output credit goes back in batches of at least window/GRANT_FRACTION bytes,
 * not per read: a terminal's echo comes a byte at a time (busybox's line
 * editor reads and echoes each pasted byte), and a CREDIT frame per byte
 * woke the agent (a console event in, a link credit out) for every byte:
 * a paste into the playground's shell went in at ~250 B/s. The guest never
 * waits on this: it is out of credit only once the whole window is
 * delivered, and then at least this much is ungranted.
 */
const GRANT_FRACTION = 4;

/** Container output arriving on a channel. */
export interface OutputEndpoint {
  readonly channel: number;
  /** Returns the error when the data broke the protocol (beyond the credit). */
  onData(payload: Uint8Array): Error | undefined;
  onEof(): void;
  /** The link died. */
  fail(err: Error): void;
}

/** Container input leaving on a channel. */
export interface InputEndpoint {
  readonly channel: number;
  onCredit(n: number): void;
  /** The container or the link is gone: nothing more will be read. */
  fail(err: Error): void;
}

/**
 * The credit a guest has on one output channel: what it may still send
 * before the host grants more. The guest is not trusted to keep to it:
 * data beyond it is a protocol error, so the host never holds more than
 * the window per channel, whatever the guest sends.
 */
export class OutputCredit {
  constructor(private left: number) {}

  /** Takes `n` bytes of credit; false (and nothing taken) when the guest has less. */
  take(n: number): boolean {
    if (n > this.left) return false;
    this.left -= n;
    return true;
  }

  give(n: number): void {
    this.left += n;
  }
}

/** The error for a guest that overran its output credit. */
export function creditOverrun(channel: number, bytes: number): Error {
  return new Error(`the vm guest sent ${bytes} bytes of output beyond its credit on channel ${channel}`);
}

/**
 * Output bookkeeping: the guest's credit, and bytes delivered but not yet
 * granted back. Subclasses hand the bytes on (`deliver` returns false while
 * the reader is full: credit then waits for `giveCredit`). Data beyond the
 * credit fails the channel (`onData` returns the error, for the link to report).
 */
export abstract class OutputChannelBase implements OutputEndpoint {
  private ungranted = 0;
  private ended = false;
  private hungUp = false;
  private readonly credit: OutputCredit;
  private readonly grantAt: number;

  constructor(
    readonly channel: number,
    private readonly send: (type: number, payload?: Uint8Array) => void,
    private readonly release: () => void,
    window: number,
  ) {
    this.credit = new OutputCredit(window);
    this.grantAt = Math.max(1, Math.floor(window / GRANT_FRACTION));
  }

  onData(data: Uint8Array): Error | undefined {
    if (this.ended) return undefined;
    if (!this.credit.take(data.length)) {
      const err = creditOverrun(this.channel, data.length);
      this.fail(err);
      return err;
    }
    this.ungranted += data.length;
    if (this.deliver(data)) this.giveCredit();
    return undefined;
  }

  onEof(): void {
    if (this.ended) return;
    this.ended = true;
    this.end();
    this.release();
  }

  fail(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.abort(err);
    this.release();
  }

  /**
   * Our reader is gone (`run … | head`, a destroyed stream): the agent closes its end of the process's pipe,
   * so the process meets a closed pipe (EPIPE, SIGPIPE) as it would writing to ours, and answers with EOF.
   */
  hangUp(): void {
    if (this.ended || this.hungUp) return;
    this.hungUp = true;
    this.send(FrameType.eof);
  }

  protected giveCredit(): void {
    if (this.ungranted >= this.grantAt && !this.ended) {
      const n = this.ungranted;
      this.ungranted = 0;
      this.credit.give(n);
      this.send(FrameType.credit, u32le(n));
    }
  }

  protected abstract deliver(data: Uint8Array): boolean;
  protected abstract end(): void;
  protected abstract abort(err: Error): void;
}

/**
 * Input queued until the agent's credit lets it out, then EOF once drained.
 * Bytes leave only while the link has room too (`room`), so the writer
 * feels backpressure even from a guest that grants credit and then stops
 * reading its link.
 */
export class InputPump implements InputEndpoint {
  private credit: number;
  private queue: { data: Uint8Array; done: (err?: Error | null) => void }[] = [];
  private finalCb: (() => void) | undefined;
  private finished = false;
  private waitingForRoom = false;

  constructor(
    readonly channel: number,
    window: number,
    private readonly send: (type: number, payload?: Uint8Array) => void,
    private readonly release: () => void,
    private readonly room: (wake: () => void) => boolean = () => true,
  ) {
    this.credit = window;
  }

  /** Queues bytes; `done` runs once they are on the link (or with the error that dropped them). */
  write(data: Uint8Array, done: (err?: Error | null) => void = () => {}): void {
    // EPIPE as a pipe's write to a reader gone: callers that feed input they were given ignore it (stream-write.ts).
    if (this.finished) return done(Object.assign(new Error("the container's stdin is closed"), { code: "EPIPE" }));
    this.queue.push({ data, done });
    this.pump();
  }

  /** EOF after everything queued; `done` runs once it is sent. */
  end(done: () => void = () => {}): void {
    if (this.finished) return done();
    this.finalCb = done;
    this.pump();
  }

  onCredit(n: number): void {
    this.credit += n;
    this.pump();
  }

  fail(err: Error): void {
    for (const q of this.queue) q.done(err);
    this.queue = [];
    this.finish();
  }

  /** Stops without EOF (the writer was destroyed). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
  }

  private pump(): void {
    while (this.queue.length > 0 && this.credit > 0 && !this.finished) {
      if (this.waitingForRoom) return;
      if (!this.room(() => ((this.waitingForRoom = false), this.pump()))) {
        this.waitingForRoom = true;
        return;
      }
      const head = this.queue[0]!;
      const n = Math.min(head.data.length, this.credit, STDIN_FRAME);
      this.send(FrameType.data, head.data.subarray(0, n));
      this.credit -= n;
      if (n === head.data.length) {
        this.queue.shift();
        head.done();
      } else {
        head.data = head.data.subarray(n);
      }
    }
    if (this.queue.length === 0 && this.finalCb) {
      const cb = this.finalCb;
      this.finalCb = undefined;
      this.send(FrameType.eof);
      this.finish();
      cb();
    }
  }
}

/**
 * Datagrams leaving on a channel (a published UDP port's peer): each is one
 * DATA frame, which the agent sends as one datagram. Nothing is queued: one
 * beyond the agent's credit or while the link is full is dropped, as a
 * full socket buffer drops UDP.
 */
export class DatagramInput implements InputEndpoint {
  private credit: number;
  private finished = false;

  constructor(
    readonly channel: number,
    window: number,
    private readonly sendFrame: (type: number, payload?: Uint8Array) => void,
    private readonly release: () => void,
    private readonly room: (wake: () => void) => boolean = () => true,
  ) {
    this.credit = window;
  }

  /** False: dropped. */
  send(datagram: Uint8Array): boolean {
    if (this.finished || datagram.length > this.credit || !this.room(() => {})) return false;
    this.credit -= datagram.length;
    this.sendFrame(FrameType.data, datagram);
    return true;
  }

  onCredit(n: number): void {
    this.credit += n;
  }

  /** EOF: the agent closes its socket and ends the other direction. */
  end(): void {
    if (this.finished) return;
    this.sendFrame(FrameType.eof);
    this.fail();
  }

  fail(): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
  }
}

/** Datagrams arriving on a channel, handed on one by one (the credit goes straight back). */
export class DatagramOutput extends OutputChannelBase {
  constructor(
    channel: number,
    send: (type: number, payload?: Uint8Array) => void,
    release: () => void,
    window: number,
    private readonly handlers: { datagram(data: Uint8Array): void; end(): void },
  ) {
    super(channel, send, release, window);
  }

  protected deliver(data: Uint8Array): boolean {
    this.handlers.datagram(data);
    return true;
  }

  protected end(): void {
    this.handlers.end();
  }

  protected abort(): void {
    this.handlers.end();
  }
}
