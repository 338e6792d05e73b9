/**
 * A container's log in docker's json-file format, written by the vm
 * daemon's monitor (src/backends/vm/node/monitor.ts) exactly as the native monitor
 * writes it (native-rs/runtime/src/monitor/logfile.rs; both checked on
 * test/fixtures/contract/log-lines.json): one entry per line of output or per
 * write that ends inside a line, invalid UTF-8 as U+FFFD, a character cut
 * between two writes kept whole; rotated to `container.log.1`, … past
 * `maxSize`, `maxFiles` files in all. logs.ts reads it.
 */
import { closeSync, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { LOG_FILE, LOG_TRUNCATED } from "./logs.js";

export type LogStream = "stdout" | "stderr";

export class LogWriter {
  private fd: number;
  private size: number;
  private readonly decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  private readonly path: string;

  constructor(
    dir: string,
    private readonly maxSize: number,
    private readonly maxFiles: number,
  ) {
    this.path = join(dir, LOG_FILE);
    this.fd = openSync(this.path, "a", 0o600);
    this.size = fstatSync(this.fd).size;
  }

  /** Logs one write of `stream`; `now` in nanoseconds since the epoch. */
  write(stream: LogStream, data: Uint8Array, now = nowNanos()): void {
    // The decoder holds back an incomplete character until its rest arrives.
    const text = this.decoders[stream].write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    const time = nanoIso(now);
    let out = "";
    for (let start = 0; start < text.length; ) {
      const nl = text.indexOf("\n", start);
      const end = nl < 0 ? text.length : nl + 1;
      out += JSON.stringify({ log: text.slice(start, end), stream, time }) + "\n";
      start = end;
    }
    this.append(out);
  }

  /** What a stream still holds (a cut character at its very end) goes out as is. */
  flush(stream: LogStream): void {
    const rest = this.decoders[stream].end();
    if (rest !== "") this.append(JSON.stringify({ log: rest, stream, time: nanoIso(nowNanos()) }) + "\n");
  }

  close(): void {
    closeSync(this.fd);
  }

  private append(text: string): void {
    if (text === "") return;
    const bytes = Buffer.from(text);
    if (this.size > 0 && this.size + bytes.length > this.maxSize) this.rotate();
    writeSync(this.fd, bytes);
    this.size += bytes.length;
  }

  private rotate(): void {
    closeSync(this.fd);
    const n = (i: number) => `${this.path}.${i}`;
    const oldest = this.maxFiles <= 1 ? this.path : n(this.maxFiles - 1);
    if (existsSync(oldest)) closeSync(openSync(join(dirname(this.path), LOG_TRUNCATED), "a", 0o600));
    if (this.maxFiles <= 1) rmSync(this.path, { force: true });
    else {
      rmSync(n(this.maxFiles - 1), { force: true });
      for (let i = this.maxFiles - 2; i >= 1; i--) {
        try {
          renameSync(n(i), n(i + 1));
        } catch {
          // not there yet
        }
      }
      renameSync(this.path, n(1));
    }
    this.fd = openSync(this.path, "a", 0o600);
    this.size = 0;
  }
}

function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

/** RFC 3339 UTC with nanoseconds, as the native monitor writes it. */
export function nanoIso(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, "0");
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}
