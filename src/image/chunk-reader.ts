/**
 * Pull-based reading of exact byte counts from an async stream of chunks,
 * without concatenating large bodies: what a streaming tar parser needs.
 * It never calls `return()` on the source, so the caller can keep reading
 * (e.g. to hash trailing padding after the tar end marker).
 */
export class ChunkReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Exactly `n` bytes, or null at a clean end of input; throws on a truncated read. */
  async readExact(n: number): Promise<Buffer | null> {
    while (this.buf.length < n && !this.ended) await this.pull();
    if (this.buf.length === 0 && this.ended) return null;
    if (this.buf.length < n) throw new Error(`unexpected end of data (wanted ${n} bytes, got ${this.buf.length})`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Yields exactly `n` bytes as they arrive; throws if the input ends first. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0) {
        if (this.ended) throw new Error(`unexpected end of data (${left} bytes missing)`);
        await this.pull();
        continue;
      }
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield out;
    }
  }

  /** The bytes up to the next newline (not included), or null at a clean end of input; throws past `max` bytes. */
  async readLine(max = 1 << 20): Promise<Buffer | null> {
    for (let from = 0; ; ) {
      const nl = this.buf.indexOf(0x0a, from);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl);
        this.buf = this.buf.subarray(nl + 1);
        return line;
      }
      if (this.buf.length > max) throw new Error(`line longer than ${max} bytes`);
      if (this.ended) {
        if (this.buf.length === 0) return null;
        throw new Error("unexpected end of data inside a line");
      }
      from = this.buf.length;
      await this.pull();
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n));
  }

  private async pull(): Promise<void> {
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }
}
