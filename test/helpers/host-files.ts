/**
 * A host set up otherwise for one test, never the machine's: files bind-mounted over /etc/subuid,
 * /usr/bin/newuidmap, … in a mount namespace of the test's own (its holder: mount-ns-holder.ts). tsbox runs inside it through
 * `tsbox(who, args, { mountns: host.ns })`. Root only (the suite's unprivileged identities are run inside it).
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mountNamespaceHolder } from "./mount-ns-holder.js";

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
    const holder = await mountNamespaceHolder(binds.join(" && "), "bind-mounting the host files");
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
