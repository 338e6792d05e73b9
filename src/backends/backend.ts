import type { Readable, Writable } from "node:stream";
import type { ContainerSpec, LinuxResources, NetworkSpec, ProcessSpec } from "../spec/container-spec.js";

/** `network disconnect`'s change of a running container's resolv.conf (net-detach's `--dns`, the agent op's `dns`). */
export interface ResolvChange {
  was: NetworkSpec["dns"];
  now: NetworkSpec["dns"];
}
import type { Signal } from "../signals.js";
import type { HostIdentity } from "../spec/id-mappings.js";
import type { ContainerKernel } from "../spec/resources.js";
import type { NetIO } from "../network/net-io.js";
import type { LogSettings } from "../containers/state.js";

/**
 * A backend turns a validated ContainerSpec into a running process. The
 * native backend uses Linux namespaces through tsbox-runtime; vm and wasi
 * backends will implement the same interface.
 */
export interface Backend {
  /**
   * Lets go of what the backend keeps running for this process (the native warm helper), without ending any
   * container: the next run starts it again.
   */
  close?(): void | Promise<void>;
  readonly name: string;
  capabilities(): BackendCapabilities;
  /**
   * Creates and starts the container described by `spec` in the bundle
   * directory. Resolves once the container's command has been exec'd;
   * rejects with a TsboxError (exitCode 125/126/127) when it could not be.
   */
  start(options: StartOptions): Promise<ContainerProcess>;
  /**
   * A foreground start in which this process hands itself over: it becomes
   * the container's supervisor (execve), which keeps the state as `record`
   * says and exits with the container's code, or reports a failed start on
   * stderr as the CLI does. Resolves never; rejects when the handover could
   * not happen (the process is then as it was). Native only: the CLI's `run`.
   */
  handOff?(options: HandOffOptions & { bundleDir: string; remove: boolean; log?: { maxSize: number; maxFiles: number } }): Promise<never>;
  /** `exec`'s handover, as `handOff` (the CLI's `exec` without a terminal). */
  handOffExec?(options: HandOffOptions & { pid: number; bundleDir: string; process: ProcessSpec }): Promise<never>;
  /**
   * `launch`'s handover (the CLI's `run -d`): this process becomes the
   * starter of the container's monitor, which prints `print` once the
   * container runs, or reports, records and (with `remove`) deletes a failed start.
   */
  handOffLaunch?(options: LaunchOptions & HandOffOptions & { print: string }): Promise<never>;
  /**
   * Starts a second process in a running container (`docker exec`): it
   * joins the namespaces (and, where the backend has them, the cgroup) of
   * the container's init. Resolves once the command has been exec'd; rejects
   * like `start`, or with a TsboxError of code "container" when the
   * container is not running. Optional: a backend without it cannot exec.
   */
  exec?(options: ExecStartOptions): Promise<ContainerProcess>;
  /**
   * `tsbox cp` and `export` of a container whose files live where this
   * process cannot reach them (the vm guest's): the copy operation of
   * `tsbox-runtime copy`, run there in the container's namespaces while it
   * runs, else in a view of its layers. Resolves once it runs. Optional:
   * the native backend's copies run the helper here.
   */
  copy?(bundleDir: string, request: CopyRequest): Promise<CopyHelper>;
  /**
   * Joins a running container to one more network (`network connect`): the
   * attachment lives until the container exits or `disconnect`. Optional.
   */
  connect?(options: { bundleDir: string; container: number; containerStart: string | null; network: NetworkSpec }): Promise<void>;
  /**
   * Takes the container off a network `connect` (or its start) joined: that network's endpoint only (its
   * keeper may serve others); `dns`: its resolv.conf's servers before and without the network, rewritten once
   * the network is down if the file is still as tsbox wrote it. Optional.
   */
  disconnect?(options: { bundleDir: string; network: string; dns?: ResolvChange }): Promise<void>;
  /**
   * Starts the container (its config.json is in the bundle) under a monitor
   * that outlives this process: it owns the container's stdio, writes its
   * log, records its state, applies the restart policy and serves
   * `<bundle>/attach.sock` (src/containers/monitor-client.ts). Resolves once
   * the command runs (the monitor has written the running state); rejects
   * like `start`, after the monitor recorded the failure. Optional: without
   * it, containers run only in the foreground of the process that runs them.
   */
  launch?(options: LaunchOptions): Promise<void>;
  /**
   * Resource usage of the container whose bundle directory this is, read
   * from its cgroup. Works from the bundle alone, so a container another
   * process started can be asked too. Rejects with a TsboxError of code
   * "container" when it has no cgroup (it is not running, or runs without
   * cgroups). Optional: a backend without cgroups has none of the three.
   */
  stats?(bundleDir: string): Promise<ContainerStats>;
  /**
   * `--init`'s static tsbox-init as the backend's mounts name it: a host
   * path, or the vm guest's own. Throws when there is none.
   */
  initBinary?(): string;
  /**
   * Whose ids a container's user namespace maps (spec/id-mappings.ts) on
   * this host: the host's own by default; the vm guest's where the host has
   * no subordinate ids (the guest is the backend's own, so its containers
   * may have a range of ids there anyway).
   */
  containerIdentity?(host: HostIdentity): HostIdentity;
  /**
   * The kernel the containers run on, which `--cpus`, `--cpuset-cpus` and
   * `--pids-limit` must fit: this host's by default; the vm guest's (one
   * 32-bit CPU) for the vm backend, where a limit past it was no limit.
   */
  containerKernel?(): ContainerKernel;
  /**
   * The processes of a running container as its kernel's /proc shows them,
   * for `top` where the host's `ps` cannot see them (the vm guest's); rejects
   * like `stats`. Optional: the native backend's are the host's own.
   */
  processes?(bundleDir: string): Promise<KernelProcesses>;
  /**
   * Signals a foreground container's init whose pid this host cannot reach
   * (the vm guest's), where it runs; resolves false once it no longer runs,
   * rejects like `stats` when its guest is not reachable from here.
   */
  signal?(bundleDir: string, sig: number): Promise<boolean>;
  /** Freezes every process of the container (cgroup freezer); rejects like `stats`. */
  pause?(bundleDir: string): Promise<void>;
  /** Thaws a paused container; rejects like `stats`. */
  resume?(bundleDir: string): Promise<void>;
  /**
   * Writes the limits of the bundle's config.json into the running
   * container's cgroup; resolves with the limits this host cannot apply
   * (empty when all were) of those `asked` (the change's own limits; all
   * of them without it), rejects like `stats`.
   */
  update?(bundleDir: string, asked?: LinuxResources): Promise<string>;
  /**
   * Removes what a container left on the host outside its bundle when the
   * process that ran it died (its cgroup, and anything still in it). Called
   * before a bundle is deleted; a no-op when there is nothing.
   */
  cleanup?(bundleDir: string): Promise<void>;
}

/**
 * A container's resource usage, from its cgroup (bytes, microseconds). The
 * JSON `tsbox-runtime stats` prints and the vm agent's `stats` op answers.
 * null: the host does not report it (no limit set, an older kernel, a
 * controller it lacks).
 */
export interface ContainerStats {
  /** `inactiveFile`: page cache the kernel reclaims first, which docker's `stats` leaves out of the usage. */
  memory: { usage: number; peak: number | null; limit: number | null; inactiveFile: number | null };
  cpu: { usageUsec: number; userUsec: number; systemUsec: number; throttledUsec: number | null; throttledPeriods: number | null };
  pids: { current: number; limit: number | null };
  io: { readBytes: number; writeBytes: number };
  /** Its network namespace's traffic but loopback's (docker's NET I/O), where the backend reads it. */
  network?: NetIO;
}

export interface BackendCapabilities {
  /** Works without root. */
  rootless: boolean;
  /** Supports `process.terminal`. */
  terminal: boolean;
  /** Supports bind-mount volumes from the host. */
  volumes: boolean;
  /** Image platforms it runs, e.g. `linux/amd64`; the first is the one picked from the (shared) image store. */
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
  /** Something the user should know that does not stop the start (limits this host cannot apply). */
  onWarning?: (message: string) => void;
  /** `bundleDir/config.json` already holds `spec` (the backend need not write it again). */
  specWritten?: boolean;
  /**
   * A foreground run: the backend may keep the container's state.json itself
   * (`running` before the start resolves, then the exit, or with `remove`
   * the container deleted), as a monitor does; `ContainerProcess.recorded`
   * says whether it does.
   */
  record?: { remove: boolean };
  /**
   * Keep what the container writes to an "inherit" stdout or stderr in its
   * log too (docker's json-file, containers/log-writer.ts): the CLI's
   * foreground run, which docker's `logs` shows afterwards. The native
   * backend's CLI run hands itself over instead, whose helper keeps it.
   */
  log?: { maxSize: number; maxFiles: number };
  /**
   * The caller runs this one container and exits (the CLI): a backend that
   * keeps a helper warm for later runs need not start one.
   */
  oneShot?: boolean;
  /**
   * The run's abort (`RunControl.signal`): a backend whose start takes long (the vm's guest start) rejects with its
   * reason, having made nothing, when it aborts before the container is asked for; after that it is ignored.
   */
  signal?: AbortSignal;
}

/** What `handOff` and `handOffExec` share (the process's stdout and stderr are always ours). */
export interface HandOffOptions {
  /** Whether the process reads our stdin (`-i`), or /dev/null. */
  stdin: "inherit" | "ignore";
  /** Last words before execve, told the helper's arguments (the CLI's code cache is written at exit, which never comes). */
  beforeExec?: (helperArgs: readonly string[]) => void;
}

export interface LaunchOptions {
  bundleDir: string;
  /** The container's lock, held by the caller; the monitor inherits it until it has written the first state. */
  lockFd: number;
  /** `--restart`, in its text form (`on-failure:3`). */
  restart: string;
  /** The container's log (state.json's): `driver: "none"` keeps none. */
  log: LogSettings;
  /** Keep the container's stdin open for attached clients (`-i`). */
  openStdin: boolean;
  /** Delete the bundle once the container is done for good (`--rm`). */
  remove: boolean;
  /**
   * Called once the monitor listens and before the container starts: attach
   * here to miss none of its output (`start -a`, `run --restart` in the foreground).
   */
  beforeStart?: () => Promise<void>;
  /** What the first start warns about (limits this host or user cannot apply). */
  onWarning?: (message: string) => void;
}

/** `tsbox-runtime stats` (the cgroups contract): one sample. */
export interface ExecStartOptions {
  /** The running container's init: its pid as the backend sees it. */
  pid: number;
  /** The container's bundle directory (as given to `start`). */
  bundleDir: string;
  /** The whole process to run: the front end has merged in the container's defaults. */
  process: ProcessSpec;
  /** As for `start`; with `process.terminal`, output is one stream on `stdout`. */
  stdin: StdioTarget;
  stdout: StdioTarget;
  stderr: StdioTarget;
  /** `exec -d`: the process runs on its own, nobody waits for it; resolves once it runs, with no streams. */
  detach?: boolean;
}

/** A container's processes as `Backend.processes` reports them; times in clock ticks (1/100 s). */
export interface KernelProcesses {
  processes: { pid: number; ppid: number; uid: number; tty: number; cpuTicks: number; startTicks: number; cmd: string }[];
  /** The kernel's uptime when they were read. */
  uptimeTicks: number;
}

/** What a copy of `tsbox cp` / `export` asks beyond its op and path (tsbox-runtime copy's switches). */
export interface CopyOptionsOfOp {
  /** `cp -L`: follow the path itself when it is a symlink. */
  follow?: boolean;
  /** The name the path gets in the record stream ("": a directory's entries at the top); of a write, what every record must be or be below. */
  name?: string;
  /** false: file bodies left out (sizes stay). */
  content?: boolean;
  /** The tree is an overlay upper dir: report its whiteouts and opaque dirs. */
  markers?: boolean;
  /** `cp -a`: keep the records' owners. */
  archive?: boolean;
}

/** One copy operation in a container of a backend's guest (`Backend.copy`). */
export interface CopyRequest extends Omit<CopyOptionsOfOp, "markers"> {
  op: "stat" | "read" | "write";
  /** Absolute, in the container. */
  path: string;
  /** Directories a `read` of a running container does not descend into (what is mounted over its root, for `export`). */
  skip?: string[];
  /**
   * Of a stopped container: its files as it runs (with its volumes,
   * read-write), or its layers alone, read-only (`export`). Of a running
   * one, `upper`: its writable layer with overlay markers (`diff`, `commit`).
   */
  view?: "merged" | "layers" | "upper";
}

/** A copy operation under way: records in on `stdin` (write) or out on `stdout` (read, stat's JSON). */
export interface CopyHelper {
  stdin: Writable | null;
  stdout: Readable | null;
  /** Settles when it ended: rejects with its error (docker's exit codes) unless it succeeded. */
  done: Promise<void>;
  /** SIGKILL by default; SIGTERM lets a writer remove the file it was writing. */
  kill(signal?: "SIGTERM" | "SIGKILL"): void;
}

export interface ExitStatus {
  /** The command's exit code, or 128+n when killed by signal n. */
  exitCode: number;
  /** Name of the signal that killed it, e.g. `SIGKILL`, else null. */
  signal: string | null;
  /** The kernel's OOM killer killed a process of the container (its memory limit was hit). */
  oomKilled: boolean;
}

/**
 * A container's init (from `start`) or a process exec'd into it (from `exec`).
 * In/Out: its stdio streams, Node streams by default (a browser's are WHATWG streams).
 */
export interface ContainerProcess<In = Writable, Out = Readable> {
  /** Its pid: on the host (native), in the guest (vm). */
  readonly pid: number;
  /** Host pid of the process the backend supervises it with (signals go there). */
  readonly monitorPid: number;
  readonly stdin: In | null;
  readonly stdout: Out | null;
  readonly stderr: Out | null;
  /** Settles when the container has exited and its stdio streams are released. */
  readonly exited: Promise<ExitStatus>;
  /** Sends it a signal; false when it already exited. */
  kill(signal: Signal): boolean;
  /** Terminal size, with a terminal; otherwise a no-op. */
  resize(cols: number, rows: number): void;
  /** `StartOptions.record` was honoured: state.json says `running` already. */
  readonly recorded?: boolean;
  /** Once `exited` settled: the end was recorded (or the container removed) as asked. */
  endRecorded?(): boolean;
  /**
   * A run that does not keep Node running by itself (a monitored container's attachment): keeps it running
   * until the returned function is called (while `wait()` is awaited).
   */
  hold?(): () => void;
}
