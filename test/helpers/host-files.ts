/**
 * A host set up otherwise for one test, never the machine's: files bind-mounted over /etc/subuid,
 * /usr/bin/newuidmap, … in a mount namespace of the test's own (mount-namespace.ts). Root only (the suite's
 * unprivileged identities are run inside it).
 */
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MountNamespace } from "./mount-namespace.js";

/** What goes over a host path: a copy of it without its setuid bit, a file of this text, or nothing runnable. */
export type Override = { nosuidCopy: true } | { text: string } | { missing: true };

export class HostFiles extends MountNamespace {
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
    return new HostFiles(await MountNamespace.hold(binds.join(" && "), "bind-mounting the host files"), dir);
  }
}
