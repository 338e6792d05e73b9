import type { Readable, Writable } from "node:stream";
import type { ContainerProcess, ExitStatus } from "./backends/backend.js";
import { ContainerError } from "./errors.js";

export type { ExitStatus };

export interface ContainerOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What a Container needs from the Runtime that made it. */
export interface ContainerOwner {
  /** Records the exit (or deletes the container with `remove`); settles before `wait()` does. */
  finish(id: string, status: ExitStatus): Promise<void>;
  removeContainer(id: string): Promise<void>;
}

/**
 * A running (later: exited) container, as returned by `Runtime.run`.
 * Streams are Node streams; with a tty, `stdout` carries everything and
 * `stderr` is null.
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

  /** Resizes the container's terminal (with `tty`); otherwise does nothing. */
  resize(cols: number, rows: number): void {
    if (!this.exitStatus) this.proc.resize(cols, rows);
  }

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

async function collect(stream: Readable | null): Promise<string> {
  if (!stream) return "";
  stream.setEncoding("utf8");
  let text = "";
  for await (const chunk of stream) text += chunk as string;
  return text;
}
