/** 9P message marshalling: little-endian integers, u16-length strings, 13-byte qids. */

export class MessageReader {
  private off = 0;
  private readonly view: Buffer;

  constructor(buf: Uint8Array) {
    this.view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.off + n > this.view.length) throw Object.assign(new Error("9p message too short"), { code: "EPROTO" });
  }

  u8(): number {
    this.need(1);
    return this.view.readUInt8(this.off++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.readUInt16LE(this.off);
    this.off += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.readBigUInt64LE(this.off);
    this.off += 8;
    return v;
  }

  str(): string {
    const n = this.u16();
    return this.bytes(n).toString("utf8");
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.view.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
}

export class MessageWriter {
  private parts: Buffer[] = [];
  length = 0;

  private push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }

  u8(v: number): void {
    const b = Buffer.allocUnsafe(1);
    b.writeUInt8(v, 0);
    this.push(b);
  }

  u16(v: number): void {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16LE(v, 0);
    this.push(b);
  }

  u32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0, 0);
    this.push(b);
  }

  u64(v: bigint): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v), 0);
    this.push(b);
  }

  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u16(b.length);
    this.push(b);
  }

  qid(q: Buffer): void {
    this.push(q);
  }

  raw(b: Uint8Array): void {
    this.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }

  body(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }

  /** The whole message: size[4] type[1] tag[2] body. */
  finish(type: number, tag: number): Buffer {
    const head = Buffer.allocUnsafe(7);
    head.writeUInt32LE(7 + this.length, 0);
    head.writeUInt8(type, 4);
    head.writeUInt16LE(tag, 5);
    return Buffer.concat([head, ...this.parts], 7 + this.length);
  }
}
