import type { Readable, Writable } from "node:stream";
import type { ContainerProcess, ExitStatus } from "./backends/backend.js";
import { ContainerError, isTsboxError } from "./errors.js";
import type { Change } from "./containers/changes.js";
import type { CopyOptions } from "./containers/copy.js";
import type { ContainerInspect } from "./containers/inspect.js";

export type { ExitStatus };

export interface ContainerOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * How to run a process in a running container. Defaults come from the
 * container's own process, as with `docker exec`.
 */
export interface ProcessOptions {
  /** Added to (and overriding) the container's environment. */
  env?: Record<string, string> | string[];
  /** Absolute working directory; default the container's. It must exist. */
  cwd?: string;
  /** `UID[:GID]` or `NAME[:GROUP]` (the image's /etc/passwd and /etc/group); default the container's user. */
  user?: string;
  /** A pseudo-terminal (of this size; default 80x24): stdout and stderr become one stream on `stdout`. */
  tty?: boolean | { cols: number; rows: number };
}

export interface SpawnOptions extends ProcessOptions {
  /** Default true: `stdin` is a Writable (end it for EOF); false: /dev/null. */
  stdin?: boolean;
}

export interface ExecOptions extends ProcessOptions {
  /** Written to the process's stdin, which then ends (with `tty`: typed, no EOF); default /dev/null. */
  stdin?: string | Uint8Array;
}

/** What `Container.exec` resolves with once the process has ended. */
export interface ExecResult {
  exitCode: number;
  /** Name of the signal that killed it, e.g. `SIGKILL`, else null. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** What a Container needs from the Runtime that made it. */
export interface ContainerOwner {
  /** Records the exit (or deletes the container with `remove`); settles before `wait()` does. */
  finish(id: string, status: ExitStatus): Promise<void>;
  removeContainer(id: string): Promise<void>;
  /** Starts `cmd` in the running container `id` (whose init is `init`). */
  execIn(id: string, init: ContainerProcess, cmd: string[], options: SpawnOptions): Promise<ContainerProcess>;
  // --- data side (cli-data) ---
  inspectContainer(id: string): Promise<ContainerInspect>;
  copyTo(id: string, src: string | Readable, dest: string, options?: CopyOptions): Promise<void>;
  copyFrom(id: string, src: string, dest: string | Writable, options?: CopyOptions): Promise<void>;
  commit(id: string, options?: CommitOptions): Promise<string>;
  diff(id: string): Promise<Change[]>;
  // --- end data side ---
}

/** `Container.commit`: the new image's name and history entry, and Dockerfile instructions to apply. */
export interface CommitOptions {
  /** REPOSITORY[:TAG]; none: the image is known by its id only. */
  name?: string;
  message?: string;
  author?: string;
  /** `CMD ["x"]`, `ENV K=V`, … (docker commit --change). */
  changes?: string[];
}

/**
 * A running (later: exited) container, as returned by `Runtime.run`.
 * Streams are Node streams; with a tty, `stdout` carries everything and
 * `stderr` is null. `exec` and `spawn` run more processes in it.
 */
export class Container implements AsyncDisposable {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  private readonly done: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;
  private removed = false;

  constructor(
    readonly id: string,
    readonly name: string | null,
    private readonly proc: ContainerProcess,
    private readonly owner: ContainerOwner,
    private readonly autoRemove: boolean,
  ) {
    this.stdin = proc.stdin;
    this.stdout = proc.stdout;
    this.stderr = proc.stderr;
    this.done = proc.exited.then(async (status) => {
      await owner.finish(id, status);
      this.exitStatus = status;
      if (autoRemove) this.removed = true;
      return status;
    });
    // Unobserved rejections would crash Node; wait() still reports them.
    this.done.catch(() => {});
  }

  /** Host pid of the container's first process. */
  get pid(): number {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** Resolves once the container exited (and, with `remove`, is deleted). */
  wait(): Promise<ExitStatus> {
    return this.done;
  }

  /** Sends a signal to the container's first process. A no-op once it exited. */
  async kill(signal: NodeJS.Signals | number = "SIGTERM"): Promise<void> {
    if (this.exitStatus) return;
    this.proc.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit status. */
  async stop(timeoutMs = 10_000): Promise<ExitStatus> {
    if (this.exitStatus) return this.exitStatus;
    await this.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    try {
      return await this.done;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs `cmd` in the running container and resolves once it ended, with
   * its exit code and output (testcontainers' `exec`). A command that cannot
   * be run resolves too: 127 (not found) or 126, with docker's message on
   * stderr. Rejects with a ContainerError when the container is not running.
   */
  async exec(cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const { stdin, ...rest } = options;
    let proc: ExecProcess;
    try {
      proc = await this.spawn(cmd, { ...rest, stdin: stdin !== undefined });
    } catch (err) {
      if (isTsboxError(err) && (err.code === "not_found" || err.code === "permission")) {
        return { exitCode: err.exitCode, signal: null, stdout: "", stderr: `${err.message}\n` };
      }
      throw err;
    }
    if (stdin !== undefined) {
      // A terminal's input has no end to send: only a pipe gets EOF.
      if (options.tty) proc.stdin!.write(stdin);
      else proc.stdin!.end(stdin);
    }
    return proc.output();
  }

  /**
   * Starts `cmd` in the running container (in its namespaces: same PID
   * namespace, hostname, mounts and files) and resolves once it runs, with
   * its streams, `wait`, `kill` and `resize` (@webcontainer/api's `spawn`).
   * Rejects like `Runtime.run` when the command cannot be run (exitCode
   * 127/126), and with a ContainerError when the container is not running.
   */
  async spawn(cmd: string[], options: SpawnOptions = {}): Promise<ExecProcess> {
    if (this.exitStatus) throw this.notRunning();
    try {
      return new ExecProcess(await this.owner.execIn(this.id, this.proc, cmd, options));
    } catch (err) {
      // The backends' one container error here: the init is gone.
      if (isTsboxError(err) && err.code === "container") throw this.notRunning();
      throw err;
    }
  }

  private notRunning(): ContainerError {
    return new ContainerError(`container ${this.name ?? this.id.slice(0, 12)} is not running`);
  }

  /** Resizes the container's terminal (with `tty`); otherwise does nothing. */
  resize(cols: number, rows: number): void {
    if (!this.exitStatus) this.proc.resize(cols, rows);
  }

  // --- data side (cli-data) ---

  /** The container in docker's `inspect` shape (`.State.Running`, `.Config`, `.HostConfig`, `.Mounts`, …). */
  inspect(): Promise<ContainerInspect> {
    return this.owner.inspectContainer(this.id);
  }

  /**
   * Copies a host file or directory (or a tar archive from a Readable,
   * extracted into the directory `dest`) into the container, running or
   * not, with `docker cp`'s rules. Paths resolve inside the container.
   */
  copyTo(src: string | Readable, dest: string, options: CopyOptions = {}): Promise<void> {
    return this.owner.copyTo(this.id, src, dest, options);
  }

  /** Copies `src` out of the container to a host path, or as a tar archive to a Writable. */
  copyFrom(src: string, dest: string | Writable, options: CopyOptions = {}): Promise<void> {
    return this.owner.copyFrom(this.id, src, dest, options);
  }

  /** A new image from the container's changes (`docker commit`); resolves with its id. */
  commit(options: CommitOptions = {}): Promise<string> {
    return this.owner.commit(this.id, options);
  }

  /** What changed in its file system: Kind 0 changed, 1 added, 2 deleted (`docker diff`). */
  diff(): Promise<Change[]> {
    return this.owner.diff(this.id);
  }

  // --- end data side ---

  /** Collects stdout and stderr (piped ones) as UTF-8 and waits for the exit. */
  async output(): Promise<ContainerOutput> {
    const [stdout, stderr, status] = await Promise.all([collect(this.stdout), collect(this.stderr), this.done]);
    return { exitCode: status.exitCode, stdout, stderr };
  }

  /** Deletes an exited container and its writable layer. */
  async remove(): Promise<void> {
    if (this.removed) return;
    if (!this.exitStatus) throw new ContainerError(`cannot remove running container ${this.id.slice(0, 12)}: stop it first`);
    await this.owner.removeContainer(this.id);
    this.removed = true;
  }

  /** `await using c = await rt.run(…)`: kills the container if needed and deletes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.exitStatus) {
      this.proc.kill("SIGKILL");
      await this.done.catch(() => {});
    }
    this.stdin?.destroy();
    await this.remove();
  }
}

/**
 * A process started in a running container by `Container.spawn`. It dies
 * with the container (it is in its PID namespace).
 */
export class ExecProcess implements AsyncDisposable {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  private exitStatus: ExitStatus | undefined;

  constructor(private readonly proc: ContainerProcess) {
    this.stdin = proc.stdin;
    this.stdout = proc.stdout;
    this.stderr = proc.stderr;
    proc.exited.then((status) => (this.exitStatus = status)).catch(() => {});
  }

  /** Its pid as the backend sees it: on the host (native), in the guest (vm). */
  get pid(): number {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** Resolves once it ended: exit code (128+n when killed by signal n) and signal name. */
  wait(): Promise<ExitStatus> {
    return this.proc.exited;
  }

  /** Sends a signal; false when it already ended. */
  kill(signal: NodeJS.Signals | number = "SIGTERM"): boolean {
    return this.exitStatus === undefined && this.proc.kill(signal);
  }

  /** Resizes its terminal (with `tty`); otherwise does nothing. */
  resize(cols: number, rows: number): void {
    if (!this.exitStatus) this.proc.resize(cols, rows);
  }

  /** Collects stdout and stderr as UTF-8 and waits for the end. */
  async output(): Promise<ExecResult> {
    const [stdout, stderr, status] = await Promise.all([collect(this.stdout), collect(this.stderr), this.proc.exited]);
    return { exitCode: status.exitCode, signal: status.signal, stdout, stderr };
  }

  /** `await using p = await c.spawn(…)`: kills it if needed and waits for the end. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.exitStatus) this.proc.kill("SIGKILL");
    this.stdin?.destroy();
    await this.proc.exited.catch(() => {});
  }
}

async function collect(stream: Readable | null): Promise<string> {
  if (!stream) return "";
  stream.setEncoding("utf8");
  let text = "";
  for await (const chunk of stream) text += chunk as string;
  return text;
}
