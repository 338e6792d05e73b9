/**
 * A small disk for tests of a full one: a tmpfs mounted in a mount namespace of the test's own
 * (mount-namespace.ts), so nothing else on the machine sees the mount or fills up.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Identity } from "./identities.js";
import { MountNamespace } from "./mount-namespace.js";

export class FullDisk extends MountNamespace {
  /** The data dir on the disk (`dir`, a tmpfs only inside `ns`). */
  readonly dataDir: string;
  private constructor(holder: ChildProcess, dir: string) {
    super(holder, dir);
    this.dataDir = join(dir, "data");
  }

  /** A tmpfs of `size` (mount's syntax: "20m") owned by `who`. */
  static async create(who: Identity, size: string): Promise<FullDisk> {
    const dir = mkdtempSync(join(tmpdir(), "full-disk-"));
    const holder = await MountNamespace.hold(`mount -t tmpfs -o size=${size},uid=${who.uid},gid=${who.gid} tmpfs ${dir}`, "mounting the small disk");
    return new FullDisk(holder, dir);
  }

  /** Fills the disk, leaving `leave` bytes (rounded to pages by tmpfs) free. */
  fill(leave = 0): void {
    this.sh(`cat /dev/zero > ${this.dir}/filler 2>/dev/null; ${leave > 0 ? `truncate -s -${leave} ${this.dir}/filler;` : ""} true`);
  }

  free(): void {
    this.sh(`rm -f ${this.dir}/filler`);
  }
}
