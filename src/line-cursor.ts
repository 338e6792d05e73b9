/**
 * Reading a growing file of lines (a container's json-file log, the events
 * file) as it is written and rotated: the whole lines written since the last
 * read, through a descriptor that stays on the file it opened, so a file
 * renamed aside by its writer is read to its end before `reopen` takes the
 * new one (`rotated` tells, by inode). Sync calls: these files are local and
 * capped by their rotation, and node:fs/promises is not in Node's startup
 * snapshot (a short `tsbox logs` paid ~10 ms to load it).
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { isErrno } from "./fs-util.js";

export class LineCursor {
  private fd: number | undefined;
  private ino: number | undefined;
  private offset = 0;
  private partial = "";

  constructor(readonly path: string) {}

  /** Opens the file from its start (none there yet: nothing to read until `reopen`). */
  open(): void {
    try {
      this.fd = openSync(this.path, "r");
      this.ino = fstatSync(this.fd).ino;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
      this.fd = undefined;
      this.ino = undefined;
    }
    this.offset = 0;
    this.partial = "";
  }

  reopen(): void {
    this.close();
    this.open();
  }

  /** The inode of the file being read (undefined while there was none). */
  get inode(): number | undefined {
    return this.ino;
  }

  /**
   * Goes on with `path` from its start, if it is still the file `ino` (a
   * rotated file found by its inode: the writer may have renamed it again
   * since); false, and nothing changed, otherwise.
   */
  switchTo(path: string, ino: number): boolean {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (err) {
      if (isErrno(err, "ENOENT")) return false;
      throw err;
    }
    if (fstatSync(fd).ino !== ino) {
      closeSync(fd);
      return false;
    }
    this.close();
    this.fd = fd;
    this.ino = ino;
    this.offset = 0;
    this.partial = "";
    return true;
  }

  /** Skips what the file holds now: only lines written from here on are read. */
  skipToEnd(): void {
    if (this.fd !== undefined) this.offset = fstatSync(this.fd).size;
  }

  /** Whether the name now points at another file than the one being read (or at one, where there was none). */
  rotated(): boolean {
    try {
      return statSync(this.path).ino !== this.ino;
    } catch {
      return false;
    }
  }

  /** The size of the file being read, now (0 while there is none). */
  size(): number {
    return this.fd === undefined ? 0 : fstatSync(this.fd).size;
  }

  /** Where the next read starts, in the file being read. */
  get position(): number {
    return this.offset;
  }

  /**
   * The complete, non-empty lines written since the last call — no further than byte `end` of the file (a
   * snapshot's end: a writer faster than this reader never lets "its end" come), and at most about `budget`
   * bytes a call (the rest comes with the next call), so memory stays bounded whatever the writer does.
   */
  readLines(end = Infinity, budget = 4 * 1024 * 1024): string[] {
    if (this.fd === undefined) {
      this.open();
      if (this.fd === undefined) return [];
    }
    const out: string[] = [];
    const buf = Buffer.allocUnsafe(256 * 1024);
    const stop = Math.min(end, this.offset + budget);
    while (this.offset < stop) {
      const bytesRead = readSync(this.fd, buf, 0, Math.min(buf.length, stop - this.offset), this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      const lines = (this.partial + buf.toString("utf8", 0, bytesRead)).split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) if (line !== "") out.push(line);
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
