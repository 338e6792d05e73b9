/**
 * A container's log in docker's json-file format, written by the vm
 * daemon's monitor (src/backends/vm/node/monitor.ts) exactly as the native monitor
 * writes it (native-rs/runtime/src/monitor/logfile.rs; both checked on
 * test/fixtures/contract/log-lines.json): one entry per line of output or per
 * write that ends inside a line, invalid UTF-8 as U+FFFD, a character cut
 * between two writes kept whole; rotated to `container.log.1`, … before an
 * entry would pass `maxSize`, `maxFiles` files in all. logs.ts reads it.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { LOG_FILE, LOG_INCOMPLETE, LOG_TRUNCATED } from "./logs.js";

export type LogStream = "stdout" | "stderr";

export class LogWriter {
  private fd: number;
  private size: number;
  private incompleteMarked = false;
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
    const entries: Buffer[] = [];
    for (let start = 0; start < text.length; ) {
      const nl = text.indexOf("\n", start);
      const end = nl < 0 ? text.length : nl + 1;
      entries.push(entry(text.slice(start, end), stream, time));
      start = end;
    }
    this.append(entries);
  }

  /** What a stream still holds (a cut character at its very end) goes out as is. */
  flush(stream: LogStream): void {
    const rest = this.decoders[stream].end();
    if (rest !== "") this.append([entry(rest, stream, nanoIso(nowNanos()))]);
  }

  close(): void {
    closeSync(this.fd);
  }

  /** With one write where they fit; rotation is decided per entry, as logfile.rs's `append` (docker's json-file). */
  private append(entries: Buffer[]): void {
    try {
      this.appendEntries(entries);
    } catch {
      // A full disk: the output still reaches its readers and the monitor goes on; `logs` says the log lacks some.
      if (!this.incompleteMarked) {
        try {
          closeSync(openSync(join(dirname(this.path), LOG_INCOMPLETE), "a", 0o600));
          this.incompleteMarked = true;
        } catch {
          // tried again at the next failure
        }
      }
    }
  }

  private appendEntries(entries: Buffer[]): void {
    let out: Buffer[] = [];
    let pending = 0;
    for (const e of entries) {
      if (this.size + pending > 0 && this.size + pending + e.length > this.maxSize) {
        this.writeOut(out, pending);
        [out, pending] = [[], 0];
        this.rotate();
      }
      out.push(e);
      pending += e.length;
    }
    this.writeOut(out, pending);
  }

  /** Cut short (a full disk): the whole entries written stay, the part of the next goes (logfile.rs's write_out). */
  private writeOut(out: Buffer[], length: number): void {
    if (length === 0) return;
    const data = Buffer.concat(out, length);
    let written = 0;
    try {
      while (written < length) {
        const n = writeSync(this.fd, data, written);
        if (n === 0) throw Object.assign(new Error("the log's write wrote nothing"), { code: "EIO" });
        written += n;
      }
    } catch (err) {
      const whole = data.subarray(0, written).lastIndexOf(10) + 1;
      try {
        ftruncateSync(this.fd, this.size + whole);
      } catch {
        // the torn part stays: readers skip a line that is not JSON
      }
      this.size += whole;
      throw err;
    }
    this.size += length;
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

function entry(log: string, stream: LogStream, time: string): Buffer {
  return Buffer.from(JSON.stringify({ log, stream, time }) + "\n");
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
