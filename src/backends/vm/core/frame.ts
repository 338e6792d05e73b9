/**
 * The wire format between the host and the guest agent (native-rs/agent/src/frame.rs):
 * a 12-byte header — magic "TB", type, flags, channel (u32 LE), payload length
 * (u32 LE) — then the payload. Kept byte-for-byte in step with frame.rs.
 * Plain Uint8Array, so it runs in browsers too; Node callers get Buffer payloads.
 */
import { concat, view } from "./bytes.js";

export const MAGIC0 = 0x54; // 'T'
export const MAGIC1 = 0x42; // 'B'
export const HEADER = 12;

export const FrameType = {
  ctrl: 1,
  data: 2,
  eof: 3,
  credit: 4,
  error: 5,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** Largest payload the agent accepts (frame.rs MAX_IN_PAYLOAD). */
export const AGENT_MAX_PAYLOAD = 64 * 1024;
/** Largest payload the host accepts from the agent (its MAX_OUT_PAYLOAD is 32 KiB). */
export const HOST_MAX_PAYLOAD = 64 * 1024;

export interface Frame<P extends Uint8Array = Buffer> {
  type: number;
  channel: number;
  payload: P;
}

export function encodeFrame(type: number, channel: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  const v = view(out);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = type;
  out[3] = 0;
  v.setUint32(4, channel >>> 0, true);
  v.setUint32(8, payload.length, true);
  out.set(payload, HEADER);
  return out;
}

export type DecodedItem<P extends Uint8Array = Buffer> = { kind: "frame"; frame: Frame<P> } | { kind: "rejected"; channel: number; reason: string };

/** Node's default payload type: a Buffer over the copied bytes. */
const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * Incremental decoder. A frame longer than `maxPayload` is skipped without
 * buffering it; bad magic resynchronises on the next "TB". Either is
 * reported once and the stream goes on: one bad frame never wedges the rest.
 * `wrap` turns each (copied) payload into P: a Buffer unless told otherwise
 * (browsers pass the identity).
 */
export class FrameDecoder<P extends Uint8Array = Buffer> {
  private buf: Uint8Array = new Uint8Array(0);
  private skip = 0;
  private lostSync = false;

  constructor(
    private readonly maxPayload: number,
    private readonly wrap: (bytes: Uint8Array) => P = asBuffer as unknown as (bytes: Uint8Array) => P,
  ) {}

  push(data: Uint8Array): DecodedItem<P>[] {
    const out: DecodedItem<P>[] = [];
    let chunk = data;
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
    }
    this.buf = this.buf.length === 0 ? chunk.slice() : concat([this.buf, chunk]);
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buf.length);
        this.skip -= n;
        this.buf = this.buf.subarray(n);
        if (this.skip > 0) break;
      }
      if (this.buf.length < 2) break;
      if (this.buf[0] !== MAGIC0 || this.buf[1] !== MAGIC1) {
        let next = 1;
        while (next < this.buf.length && !(this.buf[next] === MAGIC0 && (next + 1 === this.buf.length || this.buf[next + 1] === MAGIC1))) next++;
        this.buf = this.buf.subarray(next);
        if (!this.lostSync) {
          this.lostSync = true;
          out.push({ kind: "rejected", channel: 0, reason: "bad frame magic: skipping to the next frame" });
        }
        continue;
      }
      if (this.buf.length < HEADER) break;
      this.lostSync = false;
      const type = this.buf[2]!;
      const header = view(this.buf);
      const channel = header.getUint32(4, true);
      const len = header.getUint32(8, true);
      if (len > this.maxPayload) {
        this.buf = this.buf.subarray(HEADER);
        this.skip = len;
        out.push({ kind: "rejected", channel, reason: `frame of ${len} bytes exceeds the limit of ${this.maxPayload}` });
        continue;
      }
      if (this.buf.length < HEADER + len) break;
      const payload = this.wrap(this.buf.slice(HEADER, HEADER + len));
      this.buf = this.buf.subarray(HEADER + len);
      if (type < FrameType.ctrl || type > FrameType.error) {
        out.push({ kind: "rejected", channel, reason: `unknown frame type ${type}` });
        continue;
      }
      out.push({ kind: "frame", frame: { type, channel, payload } });
    }
    // Do not pin a large backing buffer for a few leftover bytes.
    if (this.buf.length < 4096 && this.buf.byteOffset > 65536) this.buf = this.buf.slice();
    return out;
  }
}
