import { existsSync } from "node:fs";
import { join } from "node:path";
import { TsboxError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";

/** The N-API addon built from native-rs/addon. */
export interface NativeAddon {
  version(): string;
  /** A new pty pair; both fds are owned by the caller. */
  openPty(cols: number, rows: number): { master: number; slave: number };
  resizePty(fd: number, cols: number, rows: number): void;
  /** lsetxattr(2); throws an Error whose `code` is the errno name (EPERM, ENOTSUP, …). */
  lsetxattr(path: string, name: string, value: string): void;
  /** lgetxattr(2): the value, or null when the file has no such attribute. */
  lgetxattr(path: string, name: string): Buffer | null;
  /** llistxattr(2): the attribute names (those this process may see). */
  llistxattr(path: string): string[];
  /** flock(fd, LOCK_EX | LOCK_NB): 1 once held, 0 while another open file holds it. */
  tryLock(fd: number): number;
}

export const ADDON_FILE = "tsbox-native.linux-x64-gnu.node";

let cached: NativeAddon | undefined;

export function addonPath(): string {
  return process.env.TSBOX_ADDON || join(packageRoot(), "native-rs", "dist", ADDON_FILE);
}

/**
 * Loads the addon once. Only terminals and host probes need it, so it (and
 * node:module) is loaded on first use, not at start-up.
 */
export async function loadAddon(): Promise<NativeAddon> {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) throw new TsboxError(`native addon not built: run npm run build:native (missing ${path})`, { code: "runtime" });
  try {
    const { createRequire } = await import("node:module");
    cached = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    throw new TsboxError(`cannot load the native addon ${path}: ${(err as Error).message}`, { code: "runtime", cause: err });
  }
  return cached;
}
