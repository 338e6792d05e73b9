import type { PortMapping } from "./container-spec.js";

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
  // --- networking (src/network/plan.ts) ---
  /**
   * `bridge` (the default network), a network's name, `none` (only lo),
   * `host` (the host's network) or `container:NAME|ID` (another running
   * container's). Default: the Runtime's `network` option, $TSBOX_NETWORK, else `bridge`.
   */
  network?: string;
  /** More names the container has on a user-defined network's DNS. */
  networkAliases?: string[];
  /** A fixed address on the network. */
  ip?: string;
  /** `-p`: `"8080:80"`, `"127.0.0.1:8080:80/udp"`, `"80"` (any free host port), or mappings. */
  publish?: (string | PortMapping)[];
  /** `-P`: publish every port the image EXPOSEs on free host ports. */
  publishAll?: boolean;
  /** `"NAME:IP"` lines for /etc/hosts; `"NAME:host-gateway"` is the host. */
  addHosts?: string[];
  /** Name servers, search domains and resolver options for /etc/resolv.conf (default: the network's). */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

export interface VolumeOption {
  /** Absolute host path; must exist. */
  host: string;
  /** Absolute path inside the container. */
  container: string;
  readonly?: boolean;
}
