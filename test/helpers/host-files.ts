/**
 * A host set up otherwise for one test, never the machine's: files bind-mounted over /etc/subuid,
 * /usr/bin/newuidmap, … in a mount namespace of the test's own (held by a `sleep`). tsbox runs inside it through
 * `tsbox(who, args, { mountns: host.ns })`. Root only (the suite's unprivileged identities are run inside it).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What goes over a host path: a copy of it without its setuid bit, a file of this text, or nothing runnable. */
export type Override = { nosuidCopy: true } | { text: string } | { missing: true };

export class HostFiles {
  private constructor(private readonly holder: ChildProcess, private readonly dir: string) {}

  static async create(overrides: Record<string, Override>): Promise<HostFiles> {
    const dir = mkdtempSync(join(tmpdir(), "host-files-"));
    chmodSync(dir, 0o755);
    const binds = Object.entries(overrides).map(([target, what], i) => {
      const file = join(dir, String(i));
      if ("nosuidCopy" in what) copyFileSync(target, file);
      else writeFileSync(file, "text" in what ? what.text : "");
      chmodSync(file, "nosuidCopy" in what ? 0o755 : 0o644);
      return `mount --bind ${file} ${target}`;
    });
    const holder = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", `${binds.join(" && ")} && echo ready && exec sleep infinity`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once("data", () => resolve());
      holder.once("exit", (code) => reject(new Error(`bind-mounting the host files failed (${code})`)));
    });
    return new HostFiles(holder, dir);
  }

  /** The namespace, for nsenter --mount. */
  get ns(): string {
    return `/proc/${this.holder.pid}/ns/mnt`;
  }

  /** Runs a shell line inside, as root; its stdout. */
  sh(line: string): string {
    return execFileSync("nsenter", [`--mount=${this.ns}`, "sh", "-c", line], { encoding: "utf8" });
  }

  close(): void {
    this.holder.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
