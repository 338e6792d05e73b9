/**
 * The hostile process of the security tests (test/helpers/secprobe.c),
 * compiled once per test process into a temp dir that containers get as a
 * read-only volume at /probe. Static, so it runs in any image: x86_64 for the
 * native backend, i386 (`i686-linux-gnu-gcc`) for the vm guest.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("./secprobe.c", import.meta.url));
const built = new Map<string, string>();

/** A directory (mode 755, readable by every test identity) holding `secprobe` for `arch`. */
export function secprobeDir(arch: "x64" | "ia32" = "x64"): string {
  const existing = built.get(arch);
  if (existing) return existing;
  const dir = mkdtempSync(join(tmpdir(), `secprobe-${arch}-`));
  chmodSync(dir, 0o755);
  // i386: Debian's i686 cross gcc (scripts/setup.sh), which has the i386 libc and <asm/*.h>.
  execFileSync(arch === "ia32" ? "i686-linux-gnu-gcc" : "gcc", ["-static", "-O2", "-o", join(dir, "secprobe"), source], { stdio: ["ignore", "ignore", "inherit"] });
  built.set(arch, dir);
  return dir;
}

export function removeSecprobes(): void {
  for (const dir of built.values()) rmSync(dir, { recursive: true, force: true });
  built.clear();
}
