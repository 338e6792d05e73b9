/**
 * A mount namespace of a test's own, never the machine's (FullDisk, HostFiles): `setup` (a shell line of mounts)
 * runs in a new one, whose holder then waits on its stdin, a pipe from this process. So it dies with this process
 * however that ends: a `sleep infinity` outlived a test file that ended without its close() (killed at its timeout,
 * say), holding the file's stderr and with it `node --test`, which waits for every holder of a file's output, open
 * for good. tsbox runs inside through `tsbox(who, args, { mountns: x.ns })`; `sh` runs a shell line there as root.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

export class MountNamespace {
  protected constructor(private readonly holder: ChildProcess, readonly dir: string) {}

  /** Starts the holder once `setup` has run in its new namespace; `what` names the set-up in the error. */
  protected static async hold(setup: string, what: string): Promise<ChildProcess> {
    const holder = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", `${setup} && echo ready && exec cat >/dev/null`], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once("data", () => resolve());
      holder.once("exit", (code) => reject(new Error(`${what} failed (${code})`)));
    });
    return holder;
  }

  /** The namespace, for nsenter --mount. */
  get ns(): string {
    return `/proc/${this.holder.pid}/ns/mnt`;
  }

  /** Runs a shell line inside, as root; its stdout. */
  sh(line: string): string {
    return execFileSync("nsenter", [`--mount=${this.ns}`, "sh", "-c", line], { encoding: "utf8" });
  }

  /** Ends the holder: the mounts go with the last process inside (a leak check finds any left), then `dir`. */
  close(): void {
    this.holder.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
