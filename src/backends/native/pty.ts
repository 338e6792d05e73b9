import { readSync } from "node:fs";
import { PassThrough, type Readable, Writable } from "node:stream";
import { ReadStream } from "node:tty";
import { isErrno } from "../../fs-util.js";
import { loadAddon, type NativeAddon } from "./addon.js";

/**
 * A pseudo-terminal for a container: the slave fd becomes the container's
 * stdio, the master side is wrapped as streams here.
 */
export class Pty {
  readonly slave: number;
  /** Everything the container writes to its terminal. Ends when the last slave fd closes. */
  readonly output: Readable;
  /**
   * Keystrokes for the container: a stream of its own over the master, so
   * the read side's hang-up (EIO, the end of the output) is no error of the
   * input's (`exec(…, { tty, stdin })` rejected with `read EIO`). What is
   * typed after the hang-up goes nowhere, as into a closed terminal.
   */
  readonly input: Writable;
  /** Settles once the master has read everything and seen the hang-up. */
  readonly hungUp: Promise<void>;
  private readonly master: number;
  private readonly socket: ReadStream;
  private slaveOpen = true;

  /**
   * With `root` (an exec into a running container: /proc/PID/root), the pty
   * of that container's devpts, so the process's terminal is /dev/pts/N in
   * it and ttyname(3) finds it (sudo, ssh, tty); else, or when that fails,
   * one of the host's.
   */
  static async open(cols: number, rows: number, root?: string): Promise<Pty> {
    const addon = await loadAddon();
    let pair: { master: number; slave: number } | undefined;
    if (root !== undefined) {
      try {
        pair = addon.openPtyIn(root, cols, rows);
      } catch {
        // no devpts of its own there (or not a ptmx): the host's
      }
    }
    return new Pty(addon, pair ?? addon.openPty(cols, rows));
  }

  private constructor(
    private readonly addon: NativeAddon,
    { master, slave }: { master: number; slave: number },
  ) {
    this.master = master;
    this.slave = slave;
    // A tty handle reads the master non-blockingly on the event loop (a
    // file stream would park a threadpool thread in read()). Half-open: its
    // end must not close the master before `drain` has read it.
    this.socket = new ReadStream(master, { allowHalfOpen: true });
    const output = new PassThrough();
    this.socket.pipe(output, { end: false });
    this.hungUp = new Promise((resolve) => {
      const end = () => {
        if (!output.writableEnded && !output.destroyed) output.end();
        resolve();
      };
      this.socket.once("end", () => {
        drain(master, output);
        end();
      });
      this.socket.once("close", end);
      this.socket.on("error", (err) => {
        // EIO is how a pty master reports that the other side hung up (after
        // the kernel pushed what was written): the end of the output.
        if (!isErrno(err, "EIO")) output.destroy(err);
        end();
      });
    });
    this.output = output;
    this.input = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        if (this.socket.destroyed) return done();
        this.socket.write(chunk, (err) => done(err && !hungUp(err) ? err : undefined));
      },
    });
  }

  /**
   * Once the master is closed its number may already be another file's (or
   * another container's pty): a late resize (a terminal attached just after
   * the container ended) is then nothing to do, not an error.
   */
  resize(cols: number, rows: number): void {
    if (this.socket.destroyed) return;
    this.addon.resizePty(this.master, cols, rows);
  }

  /** After the child has its copy: the master sees EOF only once every slave fd is closed. */
  closeSlave(): void {
    if (!this.slaveOpen) return;
    this.slaveOpen = false;
    this.addon.closeFd(this.slave);
  }

  close(): void {
    this.closeSlave();
    this.socket.destroy();
  }
}

/** A write to a master whose slave is gone (EIO), or after the master closed on that. */
function hungUp(err: Error): boolean {
  return isErrno(err, "EIO") || isErrno(err, "ERR_STREAM_DESTROYED");
}

/** Reads at most this much after a hang-up: a process that reopens the slave cannot keep us here. */
const DRAIN_LIMIT = 4 * 1024 * 1024;

/**
 * libuv ends a stream on a hang-up once a read came back short, assuming the
 * reader has everything; a pty's last writes may still be on their way to the
 * master then (the kernel pushes them through a work queue, which a read
 * waits for only when it finds nothing). So after the end, read the master
 * until it says EIO: the slave is closed, and those reads never block.
 */
function drain(master: number, output: PassThrough): void {
  const buffer = Buffer.alloc(64 * 1024);
  for (let total = 0; total < DRAIN_LIMIT; ) {
    let n: number;
    try {
      n = readSync(master, buffer);
    } catch {
      return; // EIO: all read (EAGAIN: the slave was opened again; its later output is not this run's)
    }
    if (n === 0) return;
    output.write(Buffer.from(buffer.subarray(0, n)));
    total += n;
  }
}
