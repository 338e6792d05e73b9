/** What a user asks for when running a container (library API and CLI alike). */
export interface RunOptions {
  /** Image reference, e.g. `busybox` or `busybox:latest`. */
  image: string;
  /** Replaces the image's Cmd. */
  cmd?: string[];
  /** Replaces the image's Entrypoint (and then the image's Cmd is dropped, as in docker). */
  entrypoint?: string[];
  /** Added to (and overriding) the image's Env. */
  env?: Record<string, string> | string[];
  /** Absolute working directory; default the image's WorkingDir, else `/`. */
  workdir?: string;
  /** `UID[:GID]`, `NAME[:GROUP]` (looked up in the image's /etc/passwd and /etc/group). */
  user?: string;
  /** Default: the first 12 characters of the container id. */
  hostname?: string;
  volumes?: VolumeOption[];
  /** Mount the container's root read-only. */
  readOnly?: boolean;
  /**
   * Give the container a pseudo-terminal (of this size; default 80x24):
   * stdout and stderr become one stream on `stdout`.
   */
  tty?: boolean | { cols: number; rows: number };
  /** `true`: a writable `stdin` stream; `"inherit"`: this process's stdin; default: /dev/null. */
  stdin?: boolean | "inherit";
  /** Default `"pipe"` (a Readable on the Container); `"inherit"` writes to this process's stdout. */
  stdout?: "pipe" | "inherit";
  stderr?: "pipe" | "inherit";
  /** Delete the container (its writable layer included) once it exits. */
  remove?: boolean;
  /** A unique name usable instead of the id. */
  name?: string;
  // --- data and mount options (cli-data): keep this block together ---
  /** Mounts in docker's `--mount` terms: bind, named or anonymous volume, tmpfs. */
  mounts?: MountOption[];
  /** tmpfs mounts by container path, each with its mount options (`--tmpfs /run:size=64m,mode=1777`). */
  tmpfs?: Record<string, string>;
  /** Labels on the container (docker's Config.Labels, over the image's). */
  labels?: Record<string, string>;
  /** Per-process resource limits (`--ulimit nofile=1024:2048`); -1 is unlimited. */
  ulimits?: UlimitOption[];
  /** A tiny init as PID 1 that reaps zombies and forwards signals to the command (`--init`). */
  init?: boolean;
  // --- end of data and mount options ---
}

/**
 * `-v`: a host path (bind mount), a named volume (created on first use, and
 * filled with the image's content at `container` when new), or with neither
 * a new anonymous volume.
 */
export interface VolumeOption {
  /** Absolute host path; must exist. */
  host?: string;
  /** Name of a volume (`tsbox volume ls`). */
  volume?: string;
  /** Absolute path inside the container. */
  container: string;
  readonly?: boolean;
  /** A volume: do not fill it with the image's content when it is new. */
  noCopy?: boolean;
}

export type MountOption =
  | { type: "bind"; source: string; target: string; readonly?: boolean; propagation?: string }
  | {
      type: "volume";
      /** Volume name; none: a new anonymous volume. */
      source?: string;
      target: string;
      readonly?: boolean;
      /** Do not fill a new volume with the image's content at `target`. */
      noCopy?: boolean;
      /** Labels for a volume this mount creates. */
      labels?: Record<string, string>;
    }
  | { type: "tmpfs"; target: string; /** bytes */ size?: number; /** e.g. 0o1777 */ mode?: number; options?: string[] };

export interface UlimitOption {
  /** docker's name: nofile, nproc, core, memlock, stack, … */
  name: string;
  soft: number;
  hard: number;
}
