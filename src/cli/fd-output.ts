import { fstatSync, writeSync } from "node:fs";
import type { Writable } from "node:stream";

/**
 * A reader that went away (`tsbox images | head`, `tsbox run -t … | head`) is no error: the command ends
 * quietly, as a Unix tool does there.
 */
export function readerGone(): never {
  process.exit(0);
}

let hungUp = false;

/** The CLI's terminal hung up (a write to it failed with EIO): `exitCli` ends it by SIGHUP. */
export function terminalHungUp(): void {
  hungUp = true;
}

/**
 * Ends the CLI with `code`; after its terminal hung up, as a hung-up process
 * ends (SIGHUP: 129): Node's exit would restore the terminal's modes, which a
 * hung-up terminal refuses (EIO), and Node aborts on that (an assertion in
 * `node::ResetStdio` and a native stack trace).
 */
export function exitCli(code: number): void {
  if (hungUp) {
    process.removeAllListeners("SIGHUP");
    process.kill(process.pid, "SIGHUP");
  }
  process.exit(code);
}

/**
 * The CLI's stdout or stderr. Making `process.stdout`/`stderr` loads
 * node:stream's whole stack (and node:net or node:tty), none of it in Node's
 * startup snapshot: 10–40 ms of CPU for a command that prints one line. So a
 * plain `write` goes straight to the descriptor, synchronously, as Node's own
 * stdio writes files, pipes and terminals on Linux; anything else (a stream
 * piped into it, `isTTY`, events, `end`) is the real stream's, made on first
 * use. Writes stay in call order: the real stream writes synchronously too,
 * and once it holds unwritten data (a non-blocking pipe that was full) every
 * later write goes through it.
 */
export function fdOutput(fd: 1 | 2, real: () => NodeJS.WriteStream, onClosed: () => void): Writable & { flushed(): Promise<void> } {
  let stream: NodeJS.WriteStream | undefined;
  const theStream = () => (stream ??= real());
  const write = (chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean => {
    const done = typeof encoding === "function" ? encoding : cb;
    if (stream && stream.writableLength > 0) return stream.write(chunk, done);
    let bytes = typeof chunk === "string" ? Buffer.from(chunk, typeof encoding === "string" ? encoding : "utf8") : chunk;
    while (bytes.length > 0) {
      try {
        bytes = bytes.subarray(writeSync(fd, bytes));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // A reader that went away (`tsbox images | head`) is not an error.
        if (code === "EPIPE") return onClosed(), false;
        // A non-blocking pipe that is full: the stream waits for it.
        if (code === "EAGAIN") return theStream().write(bytes, done);
        throw err;
      }
    }
    if (done) process.nextTick(done);
    return true;
  };
  /**
   * Resolves once what the real stream holds is written: `process.exit`
   * drops it otherwise (a pipe whose reader is slower than us: `tsbox save |
   * gzip` lost the archive's tail). Polled: a timer keeps the event loop
   * alive, which a pipe's pending write does not always do.
   */
  const flushed = () =>
    new Promise<void>((resolve) => {
      const check = () => (!stream || stream.writableLength === 0 || stream.destroyed ? resolve() : setTimeout(check, 2));
      check();
    });
  return new Proxy({} as Writable & { flushed(): Promise<void> }, {
    get(_target, key) {
      if (key === "write") return write;
      if (key === "flushed") return flushed;
      // Asked on every run (a pull's progress shows on a terminal only): answered without the stream where fstat can.
      if (key === "isTTY" && !stream && surelyNoTerminal(fd)) return undefined;
      const s = theStream();
      const value: unknown = Reflect.get(s, key, s);
      return typeof value === "function" ? value.bind(s) : value;
    },
    set(_target, key, value) {
      return Reflect.set(theStream(), key, value);
    },
    has(_target, key) {
      return key === "write" || key === "flushed" || Reflect.has(theStream(), key);
    },
  });
}

/**
 * What fstat alone tells of isatty(3): a file, pipe or socket is no terminal, nor is a memory device (major 1:
 * /dev/null, where benchmarks and cron send output). Any other character device needs the stream's answer.
 */
function surelyNoTerminal(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return !st.isCharacterDevice() || ((st.rdev >> 8) & 0xfff) === 1;
  } catch {
    return false;
  }
}
