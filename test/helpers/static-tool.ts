/**
 * Small C helpers for tests (secprobe.c, udp-echo.c), compiled once per test
 * process into a temp dir that containers get as a read-only volume. Static,
 * so they run in any image: x86_64 for the native backend, i386
 * (`i686-linux-gnu-gcc`, scripts/setup.sh) for the vm guest.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const built = new Map<string, string>();

/** A directory (mode 755, readable by every test identity) holding `name` (test/helpers/NAME.c) for `arch`. */
export function staticToolDir(name: string, arch: "x64" | "ia32" = "x64"): string {
  const key = `${name}-${arch}`;
  const existing = built.get(key);
  if (existing) return existing;
  const source = fileURLToPath(new URL(`./${name}.c`, import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), `${key}-`));
  chmodSync(dir, 0o755);
  execFileSync(arch === "ia32" ? "i686-linux-gnu-gcc" : "gcc", ["-static", "-O2", "-o", join(dir, name), source], { stdio: ["ignore", "ignore", "inherit"] });
  built.set(key, dir);
  return dir;
}

export function removeStaticTools(): void {
  for (const dir of built.values()) rmSync(dir, { recursive: true, force: true });
  built.clear();
}
