/**
 * Frames on a monitor's attach stream, docker's stdcopy header: stream byte,
 * three zero bytes, payload length (u32 big-endian). Streams: 0 stdin, 1
 * stdout, 2 stderr, 3 control (JSON). Used by the client (monitor-client.ts)
 * and the vm daemon's monitor; the native monitor speaks the same
 * (native-rs/runtime/src/monitor/clients.rs).
 */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const CONTROL = 3;

export function encodeStdcopy(stream: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Splits a byte stream into frames; `push` returns the complete ones. */
export class StdcopyDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxPayload = 1 << 20) {}

  push(chunk: Buffer): { stream: number; payload: Buffer }[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: { stream: number; payload: Buffer }[] = [];
    while (this.pending.length >= 8) {
      const len = this.pending.readUInt32BE(4);
      if (len > this.maxPayload) throw new Error(`attach frame of ${len} bytes is over the limit`);
      if (this.pending.length < 8 + len) break;
      frames.push({ stream: this.pending[0]!, payload: this.pending.subarray(8, 8 + len) });
      this.pending = this.pending.subarray(8 + len);
    }
    return frames;
  }
}
