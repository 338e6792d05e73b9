import { closeSync } from "node:fs";
import { PassThrough, type Readable, type Writable } from "node:stream";
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
  /** Keystrokes for the container. */
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
    // file stream would park a threadpool thread in read()).
    this.socket = new ReadStream(master);
    const output = new PassThrough();
    this.socket.pipe(output);
    this.hungUp = new Promise((resolve) => {
      this.socket.once("end", resolve);
      this.socket.once("close", resolve);
      this.socket.on("error", (err) => {
        // EIO is how a pty master reports that the other side hung up: end of output.
        if (isErrno(err, "EIO")) output.end();
        else output.destroy(err);
        resolve();
      });
    });
    this.output = output;
    this.input = this.socket;
  }

  resize(cols: number, rows: number): void {
    this.addon.resizePty(this.master, cols, rows);
  }

  /** After the child has its copy: the master sees EOF only once every slave fd is closed. */
  closeSlave(): void {
    if (!this.slaveOpen) return;
    this.slaveOpen = false;
    closeSync(this.slave);
  }

  close(): void {
    this.closeSlave();
    this.socket.destroy();
  }
}
