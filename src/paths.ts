import { statSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { TsboxError } from "./errors.js";

/**
 * Where tsbox keeps its state. The data dir holds an OCI image layout
 * (blobs/, index.json, oci-layout), unpacked layers and container bundles.
 * The run cache's replay from the bin finds it too (native-rs/addon/src/replay/data_dir.rs; contract:
 * test/fixtures/contract/data-dir.json).
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  // Absolute (podman's --root is made so): a relative one reached the spec as a relative root path.
  if (env.TSBOX_DATA_DIR) return resolve(cwd, env.TSBOX_DATA_DIR);
  return join(xdgBaseDir(env, "XDG_DATA_HOME", [".local", "share"]), "tsbox");
}

/**
 * The user's home: $HOME when it is an absolute path of a directory this
 * user owns (or one that does not exist), else the passwd entry's. An empty
 * or relative $HOME put the store in the current directory; another user's
 * (root after `sudo -E`, `su -m`) put root's store, and root-owned
 * ~/.local/share, in that user's home. podman as root never uses $HOME.
 */
export function userHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOME && isAbsolute(env.HOME) && !othersDir(env.HOME)) return env.HOME;
  try {
    return userInfo().homedir || homedir();
  } catch {
    // A uid without a passwd entry (docker -u 1234, OpenShift's random uids in CI): libuv's own words were
    // "uv_os_homedir returned ENOENT".
    try {
      return homedir();
    } catch {
      const uid = process.getuid?.();
      throw new TsboxError(
        `no home directory for uid ${uid} (HOME is not set and /etc/passwd has no entry for it): set HOME, or TSBOX_DATA_DIR (and XDG_CACHE_HOME for the vm backend's cache) to a directory you own`,
        { code: "usage" },
      );
    }
  }
}

/** True for an existing directory another user owns. */
function othersDir(path: string): boolean {
  const uid = process.geteuid?.();
  if (uid === undefined) return false;
  try {
    return statSync(path).uid !== uid;
  } catch {
    return false;
  }
}

/** An XDG base directory: `$<variable>` if absolute (the spec says to ignore a relative one), else ~/<fallback>. */
export function xdgBaseDir(env: NodeJS.ProcessEnv, variable: "XDG_DATA_HOME" | "XDG_CACHE_HOME" | "XDG_CONFIG_HOME", fallback: string[]): string {
  const value = env[variable];
  if (value && isAbsolute(value)) return value;
  return join(userHome(env), ...fallback);
}

/** tsbox's per-user cache ($TSBOX_CACHE_DIR, else $XDG_CACHE_HOME/tsbox or ~/.cache/tsbox): the vm's saved states and socket. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TSBOX_CACHE_DIR ? resolve(env.TSBOX_CACHE_DIR) : join(xdgBaseDir(env, "XDG_CACHE_HOME", [".cache"]), "tsbox");
}

/**
 * How an unpacked layer marks what it deletes (src/image/whiteout-form.ts):
 * "overlay" — overlayfs's own markers (device nodes, xattrs), what the
 * native backend mounts; "oci" — the layer's `.wh.` files kept as they are,
 * on hosts with no xattr calls (no native addon: macOS, Windows), where only
 * the vm backend reads layers and its 9p server presents them as overlay's.
 * Each form has its own directory, so a layer is never read in the other form.
 */
export type WhiteoutForm = "overlay" | "oci";

/** The directory of "oci"-form layers under `layers/`. */
export const OCI_FORM_DIR = "oci";

/** True for a path inside an "oci"-form layer (`…/layers/oci/sha256/<hex>/…`, either separator). */
export function inOciFormLayer(path: string): boolean {
  return OCI_FORM_PATH.test(path);
}
const OCI_FORM_PATH = new RegExp(String.raw`[\\/]layers[\\/]${OCI_FORM_DIR}[\\/]sha256[\\/][0-9a-f]{64}([\\/]|$)`);

/** True for an unpacked layer's own directory (`…/layers/[oci/]sha256/<hex>`, either separator). */
export function isLayerDir(path: string): boolean {
  return LAYER_DIR_PATH.test(path);
}
const LAYER_DIR_PATH = new RegExp(String.raw`[\\/]layers[\\/](${OCI_FORM_DIR}[\\/])?sha256[\\/][0-9a-f]{64}$`);

/** True for a named or anonymous volume's data directory (`…/volumes/<name>/_data`, either separator). */
export function isVolumeDataDir(path: string): boolean {
  return VOLUME_DATA_PATH.test(path);
}
const VOLUME_DATA_PATH = /[\\/]volumes[\\/][A-Za-z0-9][A-Za-z0-9_.-]*[\\/]_data$/;

export class DataPaths {
  constructor(readonly root: string) {}

  /** Unpacked layer for an uncompressed-tar digest, e.g. `sha256:ab…`. */
  layerDir(diffId: string, form: WhiteoutForm = "overlay"): string {
    const [algorithm, hex] = splitDigest(diffId);
    return form === "oci" ? join(this.root, "layers", OCI_FORM_DIR, algorithm, hex) : join(this.root, "layers", algorithm, hex);
  }

  /** Parent of unpack temp dirs (`.unpack-*`); on the same fs as the layers so a rename publishes. */
  get layersRoot(): string {
    return join(this.root, "layers");
  }

  get containers(): string {
    return join(this.root, "containers");
  }

  /**
   * `containers/.rm-<id>`: a `--rm` container not yet removed. Whoever removes
   * it deletes this too (src/containers/remove.ts, the helpers' remove.rs), so
   * the ones left are the orphans of a runtime that died (`collectOrphans`):
   * found without reading every container's state.
   */
  removalMarker(id: string): string {
    return join(this.containers, `.rm-${id}`);
  }

  /** The container id a `containers/` entry marks for removal (`removalMarker`'s name), if it is one. */
  removalMarkerId(entry: string): string | undefined {
    return /^\.rm-([0-9a-f]{64})$/.exec(entry)?.[1];
  }

  container(id: string): ContainerPaths {
    return bundlePaths(join(this.containers, id));
  }
}

/** The files of the container whose bundle is `dir`. */
export function bundlePaths(dir: string): ContainerPaths {
  return {
    dir,
    config: join(dir, "config.json"),
    state: join(dir, "state.json"),
    rootfs: join(dir, "rootfs"),
    upper: join(dir, "upper"),
    work: join(dir, "work"),
    guestLayer: join(dir, "guest-layer"),
    stateReserve: join(dir, STATE_RESERVE),
  };
}

/** Freed to land a state write a full disk refused (both monitors keep one per bundle; contract: data-layout.json). */
export const STATE_RESERVE = "state.reserve";

export interface ContainerPaths {
  /** The OCI bundle directory handed to tsbox-runtime. */
  dir: string;
  config: string;
  state: string;
  /** Empty mount point for the overlay. */
  rootfs: string;
  upper: string;
  work: string;
  /** vm backend: the guest's writable layer, kept here between runs (a record stream, kept_layer.rs). */
  guestLayer: string;
  stateReserve: string;
}

function splitDigest(digest: string): [string, string] {
  const i = digest.indexOf(":");
  const algorithm = digest.slice(0, i);
  const hex = digest.slice(i + 1);
  // Digests come from verified manifests, but they become path components: be strict.
  if (i <= 0 || !/^[a-z0-9]+$/.test(algorithm) || !/^[a-f0-9]+$/.test(hex)) throw new Error(`invalid digest: ${digest}`);
  return [algorithm, hex];
}
