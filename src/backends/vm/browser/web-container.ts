/**
 * `Container` and `ExecProcess` of `tsbox/browser`: the verbs, options and
 * results of Node's (src/container.ts), over WHATWG streams. Their rules
 * are the same: `run` resolves once the command runs; `exec` resolves with
 * 127/126 and the message when the command cannot run (execToEnd, shared);
 * `stop` is SIGTERM then SIGKILL; `kill` is SIGKILL; misspelt options are
 * refused; `remove` refuses a running container;
 * `await using` kills and removes. What a browser cannot do yet is refused
 * with a clear error, never ignored.
 */
import type { ContainerOutput, ExecOptions, ExecResult, ExitStatus, LogsOptions as NodeLogsOptions, RemoveOptions, SpawnOptions, StopOptions } from "../../../container.js";
import { ContainerError, notRunning, pauseRefusal, removeRunningRefusal } from "../../../errors.js";
import type { Signal } from "../../../signals.js";
import { parseSignal } from "../../../containers/signals.js";
import { checkOptions, checkPageOptions, checkTerminalSize } from "../../../spec/run-options-check.js";
import { LOGS_KINDS, logTime, REMOVE_KINDS } from "../../../verb-options.js";
import { EXEC_KINDS, execToEnd, ProcessHandle, SPAWN_KINDS, stopOptionsOf, waitSignal } from "../../../process-handle.js";
import { abortable } from "../../../abortable.js";
import { collectToEnd, type OutputOptions, outputLimit } from "../../../output-limit.js";
import type { GuestStats } from "./protocol.js";
import type { WebOutput, WebProcess, WebStdin } from "./web-process.js";

/** One chunk of a container's output, as `logs()` yields it (the shape of Node's log entries). */
export interface LogEntry {
  stream: "stdout" | "stderr";
  /** RFC 3339, UTC. */
  time: string;
  data: string;
}

/** Node's `logs` options (`since`/`until`: a Date, an ISO 8601 string or Unix seconds), but its `signal`. */
export type LogsOptions = Omit<NodeLogsOptions, "signal">;

/** What a browser Container needs from its Runtime. */
export interface WebContainerOwner {
  finish(id: string, status: ExitStatus): void;
  removeContainer(id: string): Promise<void>;
  execIn(container: Container, cmd: string[], options: SpawnOptions): Promise<WebProcess>;
  stats(proc: WebProcess): Promise<GuestStats>;
  /** Freezes or thaws it; the Runtime's record of it (`containers()`) keeps whether it is paused. */
  freeze(id: string, proc: WebProcess, frozen: boolean): Promise<void>;
  paused(id: string): boolean;
}

/** Output kept for `logs()`: the newest LOG_BYTES of it. */
const LOG_BYTES = 4 * 1024 * 1024;

export class Container implements AsyncDisposable {
  readonly stdin: WebStdin | null;
  readonly stdout: WebOutput | null;
  readonly stderr: WebOutput | null;
  private readonly done: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;
  private removed = false;
  private readonly log: LogEntry[] = [];
  /** The sequence number of `log[0]` (entries trimmed so far): a follower's place survives the trimming. */
  private logFirst = 0;
  private logBytes = 0;
  private readonly logWaiters = new Set<() => void>();
  private readonly decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  private collected: Promise<ContainerOutput> | undefined;
  /** Pauses and unpauses in turn: the second of two at once sees the first's outcome. */
  private freezing: Promise<unknown> = Promise.resolve();

  /** @internal */
  constructor(
    readonly id: string,
    readonly name: string | null,
    private readonly proc: WebProcess,
    private readonly owner: WebContainerOwner,
    autoRemove: boolean,
  ) {
    this.stdin = proc.stdin;
    this.stdout = proc.stdout;
    this.stderr = proc.stderr;
    this.done = proc.exited.then((status) => {
      this.ended(status);
      if (autoRemove) this.removed = true;
      return status;
    });
    this.done.catch(() => {});
  }

  /** @internal it exited, or (Runtime.terminate) its guest was stopped under it: `status` is its end. */
  ended(status: ExitStatus): void {
    if (this.exitStatus) return;
    this.exitStatus = status;
    this.owner.finish(this.id, status);
    this.wakeLogReaders();
  }

  /** @internal every output chunk, as it reaches the page */
  record(stream: "stdout" | "stderr", data: Uint8Array): void {
    const text = this.decoders[stream].decode(data, { stream: true });
    if (text === "") return;
    this.log.push({ stream, time: new Date().toISOString(), data: text });
    this.logBytes += text.length;
    while (this.logBytes > LOG_BYTES && this.log.length > 1) {
      this.logBytes -= this.log.shift()!.data.length;
      this.logFirst++;
    }
    this.wakeLogReaders();
  }

  /** The pid of its first process in the guest. */
  get pid(): number {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** Resolves once the container exited (and, with `remove`, is deleted); with `signal`, the wait ends when it aborts. */
  wait(options: { signal?: AbortSignal } = {}): Promise<ExitStatus> {
    try {
      return abortable(this.done, waitSignal(options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Sends a signal to the container's first process (docker's forms: SIGTERM, TERM, 15; default SIGKILL, as
   * Node's and `docker kill`). A no-op once it exited; a UsageError for an unknown signal.
   */
  async kill(signal: Signal | string = "SIGKILL"): Promise<void> {
    const { number } = parseSignal(signal);
    if (this.exitStatus) return;
    this.proc.kill(number);
  }

  /**
   * The stop signal (default SIGTERM), then SIGKILL after `timeout` seconds (default 10; negative: never);
   * resolves with the exit status. A number is a timeout in milliseconds. Node's Container.stop, option for option.
   */
  async stop(options: StopOptions | number = {}): Promise<ExitStatus> {
    options = stopOptionsOf(options);
    if (this.exitStatus) return this.exitStatus;
    const timeout = options.timeout ?? 10;
    await this.kill(options.signal ?? "SIGTERM");
    const timer = timeout < 0 ? undefined : setTimeout(() => this.proc.kill("SIGKILL"), timeout * 1000);
    try {
      return await this.done;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs `cmd` in the running container to its end (Node's `Container.exec`). */
  async exec(cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    checkOptions("exec", options, EXEC_KINDS);
    const { stdin, maxBuffer, signal, ...rest } = options;
    return execToEnd((withStdin) => this.spawn(cmd, { ...rest, stdin: withStdin }), stdin, Boolean(options.tty), maxBuffer, signal);
  }

  /** Starts `cmd` in the running container; resolves once it runs (Node's `Container.spawn`). */
  async spawn(cmd: string[], options: SpawnOptions = {}): Promise<ExecProcess> {
    checkOptions("spawn", options, SPAWN_KINDS);
    if (this.exitStatus) throw this.notRunning();
    if (this.owner.paused(this.id)) throw pauseRefusal.exec(this.shownName);
    const proc = await this.owner.execIn(this, cmd, options);
    await proc.started.catch((err: unknown) => {
      throw err instanceof ContainerError ? this.notRunning() : err;
    });
    return new ExecProcess(proc);
  }

  /** Resizes the container's terminal (with `tty`); otherwise does nothing. */
  resize(cols: number, rows: number): void {
    checkTerminalSize("resize: ", cols, rows);
    if (!this.exitStatus) this.proc.resize(cols, rows);
  }

  /** Collects stdout and stderr as UTF-8 and waits for the exit; `maxBuffer` and a second call as Node's `output()`. */
  async output(options: OutputOptions = {}): Promise<ContainerOutput> {
    return (this.collected ??= this.collect(outputLimit(options)));
  }

  private async collect(maxBuffer: number): Promise<ContainerOutput> {
    const { status, ...text } = await collectToEnd(this.stdout && chunksOf(this.stdout), this.stderr && chunksOf(this.stderr), maxBuffer, () => this.proc.kill("SIGKILL"), this.done);
    return { exitCode: status.exitCode, ...text };
  }

  /** Its output so far (the newest 4 MiB), then with `follow` what comes until it exits. */
  async *logs(options: LogsOptions = {}): AsyncGenerator<LogEntry> {
    checkPageOptions("logs", options, LOGS_KINDS, { signal: "a page's follow ends when the container exits or the loop is left" });
    const since = logTime(options.since, "since")?.toISOString();
    const until = logTime(options.until, "until")?.toISOString();
    const inRange = (e: LogEntry) => (!since || e.time >= since) && (!until || e.time <= until);
    let entries = this.log.filter(inRange);
    if (options.tail !== undefined) entries = entries.slice(Math.max(0, entries.length - options.tail));
    // The place after them, by sequence number: what comes while the consumer is busy is yielded next, once.
    let next = this.logFirst + this.log.length;
    yield* entries;
    if (!options.follow) return;
    for (;;) {
      while (next < this.logFirst + this.log.length) {
        // Trimmed past our place (more than LOG_BYTES unread): on from the oldest kept.
        next = Math.max(next, this.logFirst);
        const e = this.log[next - this.logFirst]!;
        next++;
        if (inRange(e)) yield e;
      }
      // Its output all came before its exit.
      if (!this.running) return;
      await new Promise<void>((wake) => this.logWaiters.add(wake));
    }
  }

  /** Resource usage now, from its cgroup in the guest (memory bytes, CPU µs, pids). */
  async stats(): Promise<GuestStats> {
    if (this.exitStatus) throw this.notRunning();
    return this.owner.stats(this.proc);
  }

  /** Freezes all its processes (the guest's cgroup freezer) until `unpause`; refuses a paused one, as Node's. */
  pause(): Promise<void> {
    return this.setPaused(true);
  }

  /** Thaws it after `pause`; refuses one that is not paused, as Node's. */
  unpause(): Promise<void> {
    return this.setPaused(false);
  }

  private setPaused(frozen: boolean): Promise<void> {
    const next = this.freezing.then(async () => {
      if (this.exitStatus) throw this.notRunning();
      const paused = this.owner.paused(this.id);
      if (frozen && paused) throw pauseRefusal.alreadyPaused(this.shownName);
      if (!frozen && !paused) throw pauseRefusal.notPaused(this.shownName);
      await this.owner.freeze(this.id, this.proc, frozen);
    });
    this.freezing = next.catch(() => {});
    return next;
  }

  /**
   * Deletes an exited container (its writable layer went with its exit, in the guest's memory); `force` kills a
   * running one first, as Node's (`volumes`: a page's containers have none).
   */
  async remove(options: RemoveOptions = {}): Promise<void> {
    checkPageOptions("remove", options, REMOVE_KINDS);
    if (this.removed) return;
    if (options.force) await this.killed();
    if (!this.exitStatus) throw removeRunningRefusal(this.id.slice(0, 12));
    await this.owner.removeContainer(this.id);
    this.removed = true;
  }

  /** Kills it if it runs, and waits for its end. */
  private async killed(): Promise<void> {
    if (this.exitStatus) return;
    this.proc.kill("SIGKILL");
    await this.done.catch(() => {});
  }

  /** `await using c = await rt.run(…)`: kills the container if needed and deletes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.killed();
    await this.stdin?.abort().catch(() => {});
    await this.remove();
  }

  private notRunning(): ContainerError {
    return notRunning(this.shownName);
  }

  /** What its errors call it (Node's: the name, else the short id). */
  private get shownName(): string {
    return this.name ?? this.id.slice(0, 12);
  }

  private wakeLogReaders(): void {
    for (const wake of this.logWaiters) wake();
    this.logWaiters.clear();
  }
}

/** A process started in a running container by `Container.spawn` (Node's `ExecProcess`). */
export class ExecProcess extends ProcessHandle<WebStdin, WebOutput> {
  protected chunks(stream: WebOutput): AsyncIterable<Uint8Array> {
    return chunksOf(stream);
  }

  protected async closeStdin(stdin: WebStdin): Promise<void> {
    await stdin.abort().catch(() => {});
  }

  protected writeStdin(stdin: WebStdin, data: string | Uint8Array, end: boolean): void {
    const writer = stdin.getWriter();
    void writer.write(typeof data === "string" ? new TextEncoder().encode(data) : data).catch(() => {});
    if (end) void writer.close().catch(() => {});
    writer.releaseLock();
  }
}

/** A web stream's chunks (ReadableStream is async iterable; leaving the loop early cancels it). */
function chunksOf(stream: WebOutput): AsyncIterable<Uint8Array> {
  return stream as unknown as AsyncIterable<Uint8Array>;
}
