import type { Readable, Writable } from "node:stream";
import type { ImageStore } from "../image/store.js";
import type { ContainerSpec, NetworkSpec, ProcessSpec } from "../spec/container-spec.js";

/**
 * A backend turns a validated ContainerSpec into a running process. The
 * native backend uses Linux namespaces through tsbox-runtime; vm and wasi
 * backends will implement the same interface.
 */
export interface Backend {
  readonly name: string;
  capabilities(): BackendCapabilities;
  /**
   * Creates and starts the container described by `spec` in the bundle
   * directory. Resolves once the container's command has been exec'd;
   * rejects with a TsboxError (exitCode 125/126/127) when it could not be.
   */
  start(options: StartOptions): Promise<ContainerProcess>;
  /**
   * Starts a second process in a running container (`docker exec`): it
   * joins the namespaces (and, where the backend has them, the cgroup) of
   * the container's init. Resolves once the command has been exec'd; rejects
   * like `start`, or with a TsboxError of code "container" when the
   * container is not running. Optional: a backend without it cannot exec.
   */
  exec?(options: ExecStartOptions): Promise<ContainerProcess>;
  /**
   * Joins a running container to one more network (`network connect`): the
   * attachment lives until the container exits or `disconnect`. Optional.
   */
  connect?(options: { bundleDir: string; container: number; network: NetworkSpec }): Promise<void>;
  /**
   * The image store for this backend's platform when it is not the host's
   * (the vm backend runs linux/386 images); default: the data dir's store.
   */
  openImageStore?(dataDir: string): ImageStore;
}

export interface BackendCapabilities {
  /** Works without root. */
  rootless: boolean;
  /** Supports `process.terminal`. */
  terminal: boolean;
  /** Supports bind-mount volumes from the host. */
  volumes: boolean;
  /** Image platforms it runs, e.g. `linux/amd64`. */
  platforms: string[];
  /**
   * Where the spec's `network` section (bridges, ports) is carried out: on
   * this host ("host": rootless users go through pasta/slirp4netns) or in a
   * guest whose root makes the bridges ("guest"). None: `--network none` only.
   */
  networks?: "host" | "guest";
}

/** Where a container's stdio goes when there is no terminal. */
export type StdioTarget = "pipe" | "inherit" | "ignore";

export interface StartOptions {
  /** Bundle directory: the backend writes config.json there. */
  bundleDir: string;
  spec: ContainerSpec;
  /**
   * stdio without a terminal. With `spec.process.terminal`, the backend
   * allocates one: output is one stream on `stdout`, and `stdin` is the
   * terminal input when `stdin` is "pipe" (otherwise it is not exposed).
   */
  stdin: StdioTarget;
  stdout: StdioTarget;
  stderr: StdioTarget;
  /**
   * Start the container in its own session, so a terminal's ^C reaches it
   * only through `kill` (the CLI forwards signals itself).
   */
  newSession?: boolean;
}

export interface ExecStartOptions {
  /** The running container, as `start` returned it. */
  container: ContainerProcess;
  /** The container's bundle directory (as given to `start`). */
  bundleDir: string;
  /** The whole process to run: the front end has merged in the container's defaults. */
  process: ProcessSpec;
  /** As for `start`; with `process.terminal`, output is one stream on `stdout`. */
  stdin: StdioTarget;
  stdout: StdioTarget;
  stderr: StdioTarget;
}

export interface ExitStatus {
  /** The command's exit code, or 128+n when killed by signal n. */
  exitCode: number;
  /** Name of the signal that killed it, e.g. `SIGKILL`, else null. */
  signal: string | null;
}

/** A container's init (from `start`) or a process exec'd into it (from `exec`). */
export interface ContainerProcess {
  /** Its pid: on the host (native), in the guest (vm). */
  readonly pid: number;
  /** Host pid of the process the backend supervises it with (signals go there). */
  readonly monitorPid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Settles when the container has exited and its stdio streams are released. */
  readonly exited: Promise<ExitStatus>;
  /** Sends it a signal; false when it already exited. */
  kill(signal: NodeJS.Signals | number): boolean;
  /** Terminal size, with a terminal; otherwise a no-op. */
  resize(cols: number, rows: number): void;
}
