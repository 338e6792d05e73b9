/** 9P message marshalling: little-endian integers, u16-length strings, 13-byte qids (plain Uint8Array). */
import { nameFromBytes, nameToBytes } from "../../../../name-bytes.js";

export class MessageReader {
  private off = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): number {
    if (this.off + n > this.buf.length) throw Object.assign(new Error("9p message too short"), { code: "EPROTO" });
    const at = this.off;
    this.off += n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }

  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }

  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }

  u64(): bigint {
    return this.view.getBigUint64(this.need(8), true);
  }

  /** A string: a file name's bytes as they are (src/name-bytes.ts), so a guest's name that is not UTF-8 reaches the host unchanged. */
  str(): string {
    return nameFromBytes(this.bytes(this.u16()));
  }

  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }
}

/** Builds a message body in one growing buffer; `finish` prepends size, type and tag. */
export class MessageWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      bigger.set(this.buf.subarray(0, this.length));
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  // reserve() first: it may replace the buffer and its view.
  u8(v: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }

  u16(v: number): void {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
  }

  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v >>> 0, true);
  }

  u64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt.asUintN(64, v), true);
  }

  str(s: string): void {
    const b = nameToBytes(s);
    this.u16(b.length);
    this.raw(b);
  }

  qid(q: Uint8Array): void {
    this.raw(q);
  }

  raw(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }

  body(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  /** The whole message: size[4] type[1] tag[2] body. */
  finish(type: number, tag: number): Uint8Array {
    const out = new Uint8Array(7 + this.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, 7 + this.length, true);
    v.setUint8(4, type);
    v.setUint16(5, tag, true);
    out.set(this.buf.subarray(0, this.length), 7);
    return out;
  }
}
