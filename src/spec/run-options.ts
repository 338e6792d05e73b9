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
  /**
   * docker's `--restart`: `no` (default), `on-failure[:max-retries]`,
   * `always`, `unless-stopped`. Any but `no` runs the container under a
   * monitor (it outlives this process; logs are kept).
   */
  restart?: string;
  /** What `stop` sends first; default the image's StopSignal, else SIGTERM. */
  stopSignal?: string;
  /** Seconds `stop` waits before SIGKILL; default 10. */
  stopTimeout?: number;
  /** Log rotation of a monitored container: bytes per file (default 10 MiB), files kept (default 3). */
  log?: { maxSize?: number; maxFiles?: number };
}

export interface VolumeOption {
  /** Absolute host path; must exist. */
  host: string;
  /** Absolute path inside the container. */
  container: string;
  readonly?: boolean;
}
