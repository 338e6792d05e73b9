import { existsSync } from "node:fs";
import { join } from "node:path";
import { TsboxError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";
import { isCheckout, missingNativeParts, NATIVE_TARGETS, nativePackageDir } from "../../parts.js";

/** The N-API addon built from native-rs/addon. */
export interface NativeAddon {
  version(): string;
  /** A new pty pair; both fds are owned by the caller. */
  openPty(cols: number, rows: number): { master: number; slave: number };
  /** A new pty pair of the devpts at `root`/dev/pts (resolved inside `root`; it must be a pty master). */
  openPtyIn(root: string, cols: number, rows: number): { master: number; slave: number };
  resizePty(fd: number, cols: number, rows: number): void;
  /** Output post-processing (OPOST) off on terminal `fd`: what Node's raw mode leaves on. */
  rawOutput(fd: number): void;
  /** lsetxattr(2); throws an Error whose `code` is the errno name (EPERM, ENOTSUP, …). */
  lsetxattr(path: string | Buffer, name: string, value: Buffer | string): void;
  /** lgetxattr(2): the value, or null when the file has no such attribute. A path as a Buffer: its bytes (a name need not be UTF-8). */
  lgetxattr(path: string | Buffer, name: string): Buffer | null;
  /** llistxattr(2): the attribute names (those this process may see). */
  llistxattr(path: string | Buffer): string[];
  /** mknod(2) of a character or block device or FIFO (`mode` with its S_IF* type bits; masked by the umask). */
  mknod(path: string | Buffer, mode: number, major: number, minor: number): void;
  /** syncfs(2) of the file system holding directory `dir`: everything written there reaches the disk. */
  syncfs(dir: string | Buffer): void;
  /** 1 when readdir(3) of `dir` gives each entry's type (d_type), 0 when its file system leaves it unknown. */
  direntTypes(dir: string | Buffer): number;
  /** 1 when this process is in the initial user namespace (its root is the host's root), 0 inside another one (a container's). */
  inInitialUserNs(): number;
  /** 1 when root here may make bridges in this process's network namespace (it belongs to our user namespace), 0 when not (the host's, seen from inside a container). */
  ownsNetworkNs(): number;
  /** flock(fd, LOCK_EX | LOCK_NB): 1 once held, 0 while another open file holds it. */
  tryLock(fd: number): number;
  /**
   * execve(path, args split at NUL bytes) with our environment, `stdinFd`
   * (when >= 0) onto fd 0 first, `keepFd` (when >= 0) left open across it;
   * returns only by throwing (errno name as `code`).
   */
  handOff(path: string, args: string, stdinFd: number, keepFd: number): never;
  /**
   * The run cache's replay (native-rs/addon/src/replay): a plan's container made, named `name`, with `command` (JSON)
   * after its image; its id, name and helper arguments, NUL-separated. Throws `ERR_REPLAY` (why, as the message)
   * on a miss or failure, having undone what it made.
   */
  replayPrepare(planText: string, dataDir: string, name: string, command: string): string;
  /** A prepared container removed again (its hand-over failed). */
  replayUndo(dataDir: string, id: string, name: string): void;
  /** What a run plan records of this process and host (src/cli/run-cache/plan-file.ts). */
  hostFacts(): string;
  /** A file's device, inode, size and mtime in ns, or "none". */
  fileIdentity(path: string): string;
  /** A connected pair of close-on-exec Unix stream sockets, both owned by the caller. */
  socketPair(): [number, number];
  /** Sends all of `text` on socket `sock` with `fds` attached to its first byte (the warm helper's requests). */
  sendFds(sock: number, text: string, ...fds: number[]): void;
  /** close(2) of a descriptor the addon gave: `fs.closeSync` of one warns in a worker thread ("closed but not opened in unmanaged mode"). */
  closeFd(fd: number): void;
  /** When this Node environment (a worker thread's) is torn down, child `pid` is killed and reaped if it is still ours. */
  reapAtExit(pid: number): void;
  /** Undoes `reapAtExit` (call it once the child was reaped: a pid is registered at most once). */
  forgetAtExit(pid: number): void;
}

/** The addon's file name in a native package. */
export const ADDON_FILE = "tsbox-native.node";

/** On globalThis, not in this module: the CLI's lazy bundles each carry a copy of this module. */
const LOADED = Symbol.for("tsbox.native-addon");
type AddonHolder = { [LOADED]?: NativeAddon };

/**
 * $TSBOX_ADDON, else the installed native package's addon, else a
 * checkout's build (napi names it after the platform); undefined when
 * there is none to look for.
 */
export function addonPath(): string | undefined {
  if (process.env.TSBOX_ADDON) return process.env.TSBOX_ADDON;
  // Where this process loaded it from (finding it again reads package.json files: the run cache's replay).
  if (loadedFrom !== undefined) return loadedFrom;
  const installed = nativePackageDir();
  if (installed) return join(installed, ADDON_FILE);
  const target = NATIVE_TARGETS[`${process.platform}-${process.arch}`];
  return target && isCheckout() ? join(packageRoot(), "native-rs", "dist", `tsbox-native.${target.suffix}.node`) : undefined;
}

/**
 * Is there an addon to load here? False on macOS and Windows, and where the
 * native package was not installed: then nothing Linux-only may be asked
 * of it (locks, whiteout markers, ptys) and the vm backend runs everything.
 */
export function addonPresent(): boolean {
  const path = addonPath();
  return path !== undefined && existsSync(path);
}

let loadedFrom: string | undefined;

/** The addon if this process has loaded it already (a native container's pty did), else undefined. */
export function loadedAddon(): NativeAddon | undefined {
  return (globalThis as AddonHolder)[LOADED];
}

/**
 * Loads the addon once per process, on first use. Through `process.dlopen`
 * (what require does for a .node file): `import("node:module")` would start
 * Node's ESM loader in the CommonJS CLI bundle, which cost more than the
 * dlopen itself.
 */
export async function loadAddon(): Promise<NativeAddon> {
  return loadAddonSync();
}

/**
 * `loadAddon` where a promise will not do (a lock taken in a synchronous section): dlopen itself is synchronous.
 * `at`: where it is, when the caller knows (the run cache's replay: finding it reads package.json files).
 */
export function loadAddonSync(at?: string): NativeAddon {
  const loaded = loadedAddon();
  if (loaded) return loaded;
  const path = at ?? addonPath();
  if (!path || !existsSync(path)) throw new TsboxError(`native addon not found: ${missingNativeParts()}${path ? ` (missing ${path})` : ""}`, { code: "runtime" });
  try {
    const module = { exports: {} as NativeAddon };
    process.dlopen(module, path);
    loadedFrom = path;
    return ((globalThis as AddonHolder)[LOADED] = module.exports);
  } catch (err) {
    throw new TsboxError(`cannot load the native addon ${path}: ${(err as Error).message}`, { code: "runtime", cause: err });
  }
}
