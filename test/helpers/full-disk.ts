/**
 * A small disk for tests of a full one: a tmpfs mounted in a mount namespace of the test's own (its holder:
 * mount-ns-holder.ts), never in the machine's, so nothing else on it sees the mount or fills up. tsbox runs inside it
 * through `tsbox(who, args, { mountns: disk.ns })`; `disk.sh` runs a shell line there as root.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Identity } from "./identities.js";
import { mountNamespaceHolder } from "./mount-ns-holder.js";

export class FullDisk {
  /** The mount point (a tmpfs only inside `ns`) and the data dir on it. */
  readonly dir: string;
  readonly dataDir: string;
  private constructor(private readonly holder: ChildProcess, dir: string) {
    this.dir = dir;
    this.dataDir = join(dir, "data");
  }

  /** A tmpfs of `size` (mount's syntax: "20m") owned by `who`. */
  static async create(who: Identity, size: string): Promise<FullDisk> {
    const dir = mkdtempSync(join(tmpdir(), "full-disk-"));
    const holder = await mountNamespaceHolder(`mount -t tmpfs -o size=${size},uid=${who.uid},gid=${who.gid} tmpfs ${dir}`, "mounting the small disk");
    return new FullDisk(holder, dir);
  }

  /** The namespace, for nsenter --mount. */
  get ns(): string {
    return `/proc/${this.holder.pid}/ns/mnt`;
  }

  /** Runs a shell line inside, as root; its stdout. */
  sh(line: string): string {
    return execFileSync("nsenter", [`--mount=${this.ns}`, "sh", "-c", line], { encoding: "utf8" });
  }

  /** Fills the disk, leaving `leave` bytes (rounded to pages by tmpfs) free. */
  fill(leave = 0): void {
    this.sh(`cat /dev/zero > ${this.dir}/filler 2>/dev/null; ${leave > 0 ? `truncate -s -${leave} ${this.dir}/filler;` : ""} true`);
  }

  free(): void {
    this.sh(`rm -f ${this.dir}/filler`);
  }

  /** Ends the holder: the mount goes with the last process inside (a leak check finds any left). */
  close(): void {
    this.holder.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
