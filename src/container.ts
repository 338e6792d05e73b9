import type { Readable, Writable } from "node:stream";
import type { ContainerProcess, ContainerStats, ExitStatus, HandOffOptions } from "./backends/backend.js";
import { bundleOf, type LifecycleContext, shown, withoutCgroupError } from "./containers/context.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { LOG_FILE, type LogEntry, type LogReadOptions, logIncomplete, logTruncated, readLogs } from "./containers/logs.js";
import { type Attachment, type AttachOptions, attachMonitor, MonitorRefusal } from "./containers/monitor-client.js";
import { parseSignal } from "./containers/signals.js";
import { killContainer } from "./containers/ops/kill.js";
import { setPaused } from "./containers/ops/pause.js";
import { type ContainerUpdate, updateContainer } from "./containers/ops/update.js";
import { removeContainer } from "./containers/ops/remove.js";
import { renameContainer } from "./containers/ops/rename.js";
import { restartContainer } from "./containers/ops/restart.js";
import { startContainer } from "./containers/ops/start.js";
import { stopContainer, type StopOptions } from "./containers/ops/stop.js";
import { UNKNOWN_EXIT, waitContainer } from "./containers/ops/wait.js";
import { type ContainerState, isActive, isNativeInit, readCurrentState, readState } from "./containers/state.js";
import { recordEvent } from "./containers/events.js";
import { ContainerError, hasReason, isTsboxError, noSuchContainer, notRunning, OutputLimitError, pauseRefusal, removeRunningRefusal, UsageError } from "./errors.js";
import { waitForLogLine, type WaitForLogOptions } from "./containers/wait-for-log.js";
import { hasHealthcheck, waitForHealthStatus, type WaitForHealthyOptions } from "./containers/wait-for-health.js";
import type { HealthState } from "./containers/healthcheck.js";
import { readAttachments } from "./network/attachments.js";
import type { PortMapping } from "./spec/container-spec.js";
import { EXEC_KINDS, execToEnd, ProcessHandle, SPAWN_KINDS, STOP_KINDS, stopOptionsOf, waitSignal } from "./process-handle.js";
import { LOGS_KINDS, logTime, REMOVE_KINDS } from "./verb-options.js";
import { abortable, abortError, abortSignalOf, pause } from "./abortable.js";
import { collectToEnd, type OutputOptions, outputLimit } from "./output-limit.js";
import type { Change } from "./containers/changes.js";
import type { CopyOptions } from "./containers/copy.js";
import { warningSink } from "./warnings.js";
import { inCallersWords } from "./vocabulary.js";
import { checkOptions, checkTerminalSize, type OptionKinds } from "./spec/run-options-check.js";
import type { ContainerInspect } from "./containers/inspect.js";
import { ignoreClosedPipe } from "./stream-write.js";

export type { ContainerStats, ExitStatus, LogEntry, StopOptions };

export interface ContainerOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** A handle's output read from its log, whose rotation dropped the oldest part (`log: { maxSize, maxFiles }`). */
  truncated?: true;
  /** A handle's output read from its log, which lacks output its writes could not keep (a full disk). */
  incomplete?: true;
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
  /** docker exec's `--privileged`: every capability (within the container's user namespace). */
  privileged?: boolean;
}


export interface SpawnOptions extends ProcessOptions {
  /** Default true: `stdin` is a Writable (end it for EOF); false: /dev/null. */
  stdin?: boolean;
}

export interface ExecOptions extends ProcessOptions, OutputOptions {
  /** Written to the process's stdin, which then ends (with `tty`: typed, no EOF); default /dev/null. */
  stdin?: string | Uint8Array;
  /**
   * Ends the process when it aborts (SIGKILL), as child_process's `signal` does: the call rejects with the
   * signal's reason (an AbortError); the container goes on.
   */
  signal?: AbortSignal;
}

/** What `Container.exec` resolves with once the process has ended. */
export interface ExecResult {
  exitCode: number;
  /** Name of the signal that killed it, e.g. `SIGKILL`, else null. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface LogsOptions extends Omit<LogReadOptions, "since" | "until"> {
  /** Only entries at or after this: a Date, an ISO 8601 string or Unix seconds. */
  since?: Date | string | number;
  /** Only entries before this (same forms). */
  until?: Date | string | number;
}

/** `Container.start`'s options. */
interface StartCallOptions {
  handOff?: Pick<HandOffOptions, "beforeExec"> & { print: string };
  onWarning?: (message: string) => void;
}
const START_KINDS: OptionKinds<StartCallOptions> = { handOff: "object", onWarning: "function" };
const RESTART_KINDS: OptionKinds<StopOptions & Pick<StartCallOptions, "onWarning">> = { ...STOP_KINDS, onWarning: "function" };

/** `Container.remove` and `Runtime.removeContainer`: docker's `rm -f -v`. */
export interface RemoveOptions {
  force?: boolean;
  /** Its anonymous volumes go too. */
  volumes?: boolean;
}
const STATS_STREAM_KINDS: OptionKinds<{ intervalMs?: number }> = { intervalMs: "milliseconds" };
const WAIT_FOR_LOG_KINDS: OptionKinds<WaitForLogOptions> = { stream: "stdout|stderr", times: "own", timeoutMs: "own" };
const WAIT_FOR_HEALTHY_KINDS: OptionKinds<WaitForHealthyOptions> = { timeoutMs: "own" };
/** `spawn`'s options, with the CLI's: `exec -d`, and its foreground exec handed over. */
type SpawnCallOptions = SpawnOptions & { detach?: boolean; handOff?: Pick<HandOffOptions, "beforeExec"> };
const SPAWN_CALL_KINDS: OptionKinds<SpawnCallOptions> = { ...SPAWN_KINDS, detach: "boolean", handOff: "object" };
const ATTACH_KINDS: OptionKinds<AttachOptions> = { stdin: "boolean", stdout: "boolean", stderr: "boolean", stdinOnce: "boolean", keepAlive: "boolean" };

/** What a Container needs from the Runtime that made it. */
export interface ContainerOwner {
  /** A foreground run ended: records the exit (or deletes the container with `remove`); settles before `wait()` does. */
  finish(id: string, status: ExitStatus, monitorPid: number): Promise<void>;
  /** Starts `cmd` in the running container `id` (whose init is `pid`). */
  execIn(id: string, pid: number, cmd: string[], options: SpawnOptions & { detach?: boolean }): Promise<ContainerProcess>;
  lifecycle(): LifecycleContext;
  // the data side: docker's inspect shape, cp, commit, diff
  inspectContainer(id: string): Promise<ContainerInspect>;
  copyTo(id: string, src: string | Readable, dest: string, options?: CopyOptions): Promise<void>;
  copyFrom(id: string, src: string, dest: string | Writable, options?: CopyOptions & { end?: boolean }): Promise<void>;
  commit(id: string, options?: CommitOptions): Promise<string>;
  diff(id: string): Promise<Change[]>;
}

/** `Container.commit`: the new image's name and history entry, and Dockerfile instructions to apply. */
export interface CommitOptions {
  /** REPOSITORY[:TAG]; none: the image is known by its id only. */
  name?: string;
  message?: string;
  author?: string;
  /** `CMD ["x"]`, `ENV K=V`, … (docker commit --change). */
  changes?: string[];
  /** Aborts the layer's write (Ctrl-C): its temp blob is removed and no image is stored. */
  signal?: AbortSignal;
}
export const COMMIT_KINDS: OptionKinds<CommitOptions> = { name: "string", message: "string", author: "string", changes: "strings", signal: "abortSignal" };

/** The container's process as its starter sees it: streams and end (`Runtime.run`). */
export interface AttachedRun {
  proc: ContainerProcess;
  autoRemove: boolean;
  /** A foreground run (not monitored): this process records its end. */
  foreground: boolean;
}

/**
 * A container: by id, whatever process made it, and in any state. One
 * returned by `Runtime.run` also carries the running process's streams;
 * one from `Runtime.create`, `get` or `list` is a handle (`start`, `stop`,
 * `logs`, `wait`, … work on it from any process). With a tty, `stdout`
 * carries everything and `stderr` is null. `exec` and `spawn` run more
 * processes in it.
 */
export class Container implements AsyncDisposable {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  private readonly run: AttachedRun | undefined;
  private readonly done: Promise<ExitStatus> | undefined;
  private exitStatus: ExitStatus | undefined;
  /** The run this object started has ended and the container was started again through it: a plain handle now. */
  private startedAgain = false;
  private removed = false;
  private currentName: string | null;
  private collected: Promise<ContainerOutput> | undefined;

  constructor(
    private readonly owner: ContainerOwner,
    readonly id: string,
    name: string | null,
    run?: AttachedRun,
  ) {
    this.currentName = name;
    this.run = run;
    this.stdin = run?.proc.stdin ?? null;
    this.stdout = run?.proc.stdout ?? null;
    this.stderr = run?.proc.stderr ?? null;
    if (run) {
      this.done = run.proc.exited.then(async (status) => {
        if (run.foreground && !run.proc.endRecorded?.()) await owner.finish(id, status, run.proc.monitorPid);
        this.exitStatus = status;
        if (run.autoRemove) this.removed = true;
        return status;
      });
      // Unobserved rejections would crash Node; wait() still reports them.
      this.done.catch(() => {});
    }
  }

  /** Its name now (another process may have renamed it); once it is gone, the last one known. */
  get name(): string | null {
    const state = readCurrentState(bundleOf(this.ctx, this.id));
    if (state) this.currentName = state.name;
    return this.currentName;
  }

  private get ctx(): LifecycleContext {
    return this.owner.lifecycle();
  }

  /** @internal For the CLI's verbs that call an operation directly. */
  lifecycleContext(): LifecycleContext {
    return this.ctx;
  }

  /** The container in docker's `inspect` shape (`.State.Running`, `.Config`, `.HostConfig`, `.Mounts`, …). */
  inspect(): Promise<ContainerInspect> {
    return this.owner.inspectContainer(this.id);
  }

  /** tsbox's own record of the container now (status, pids, exit, restarts: see src/containers/state.ts). */
  async state(): Promise<ContainerState> {
    const fresh = readCurrentState(bundleOf(this.ctx, this.id));
    if (!fresh) throw noSuchContainer(this.currentName ?? this.id.slice(0, 12));
    this.currentName = fresh.name;
    return fresh;
  }

  /**
   * A plain handle now: the run this object started was started again through it, or was a monitored one (a
   * restart policy) that ended — its monitor may have started the next already (the object said "not running"
   * and refused exec while it ran again).
   */
  private get handleOnly(): boolean {
    return this.startedAgain || (this.run !== undefined && !this.run.foreground && this.exitStatus !== undefined);
  }

  /** The run this object started, while it is the container's current one. */
  private get attached(): AttachedRun | undefined {
    return this.handleOnly ? undefined : this.run;
  }

  /** Host pid of the container's first process (in the guest on the vm backend); 0 when it does not run. */
  get pid(): number {
    if (this.attached) return this.attached.proc.pid;
    const state = readCurrentState(bundleOf(this.ctx, this.id));
    return state && isActive(state) ? (state.pid ?? 0) : 0;
  }

  get running(): boolean {
    // Its record too: another process's `rm -f` ends the run before this process's event loop sees the exit.
    if (this.attached) return this.exitStatus === undefined && !this.recordGone();
    const state = readCurrentState(bundleOf(this.ctx, this.id));
    return state !== undefined && isActive(state);
  }

  /**
   * Runs a created or stopped container under its monitor (it outlives this
   * process; its output goes to `logs()`). A no-op when it runs already.
   * `handOff` is the CLI's (`run -d`): this process may become the monitor's
   * starter and never return. `onWarning` gets what the start warns about
   * (limits this host or user cannot apply); default: `process.emitWarning`.
   */
  async start(options: StartCallOptions = {}): Promise<void> {
    checkOptions("start", options, START_KINDS);
    await startContainer(this.ctx, this.id, { ...(options.handOff ? { handOff: options.handOff } : {}), onWarning: warningSink(options.onWarning) });
    if (this.exitStatus) this.startedAgain = true;
  }

  /**
   * Resolves once the container exited: the run this object started, or,
   * for a handle, the current (or next) run. A run's `stdout`/`stderr` are
   * pipes: a container that writes more than they hold (64 KiB) waits for
   * them to be read, so read them (or call `output()`, or `resume()` them to
   * drop the output) before waiting on a chatty container. With `signal`,
   * the wait (not the container) ends when it aborts, rejecting with its
   * reason (an AbortError).
   */
  wait(options: { signal?: AbortSignal } = {}): Promise<ExitStatus> {
    try {
      const signal = waitSignal(options);
      if (signal?.aborted) return Promise.reject(abortError(signal));
      return this.handleOnly || !this.done ? abortable(waitContainer(this.ctx, this.id, signal), signal) : this.runEnd(signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The end of the run this object started, keeping Node running meanwhile (a monitored run's attachment does not by itself). */
  private runEnd(signal?: AbortSignal): Promise<ExitStatus> {
    const release = this.run!.proc.hold?.();
    const end = abortable(this.done!, signal);
    return release ? end.finally(release) : end;
  }

  /** Sends a signal to the container's first process (docker's forms: SIGTERM, TERM, 15). A no-op once it exited; a UsageError for an unknown signal. */
  async kill(signal: NodeJS.Signals | string | number = "SIGKILL"): Promise<void> {
    // A monitored run (a restart policy) is signalled as any handle is: its stop signal stops it for good (ops/kill.ts).
    if (this.attached?.foreground) {
      const { number } = parseSignal(signal);
      if (!this.exitStatus) this.attached.proc.kill(number);
      // A frozen container acts on its SIGKILL once thawed (ops/kill.ts does the same for the others).
      if (number === 9 && !this.exitStatus && readState(bundleOf(this.ctx, this.id))?.status === "paused") await setPaused(this.ctx, this.id, false).catch(() => {});
      return;
    }
    try {
      await killContainer(this.ctx, this.id, signal);
    } catch (err) {
      if (!hasReason(err, "not_running")) throw err;
    }
  }

  /**
   * The stop signal (default the container's, SIGTERM), then SIGKILL after
   * `timeout` seconds (default the container's, 10; docker's unit: testcontainers' `timeout` is milliseconds); resolves
   * with the exit status. A number is a timeout in milliseconds, as the browser's `Container.stop(timeoutMs)` takes
   * it: 1 to 99 are refused (a UsageError), surely meant as seconds.
   */
  async stop(options: StopOptions | number = {}): Promise<ExitStatus> {
    // A number is the browser Container's form (milliseconds): one call for both (test/api-contract.test.ts).
    options = stopOptionsOf(options);
    const attached = this.attached;
    if (attached && this.exitStatus) return this.exitStatus;
    if (!attached) {
      // Not running (created, exited): nothing to stop, and wait() would wait for a next run (this hung for ever on
      // a created container). docker's stop returns at once; the last exit status, as inspect shows it.
      const before = readCurrentState(bundleOf(this.ctx, this.id));
      if (!before) throw noSuchContainer(this.currentName ?? this.id.slice(0, 12));
      if (!isActive(before)) return { exitCode: before.exitCode ?? 0, signal: before.signal as NodeJS.Signals | null, oomKilled: before.oomKilled };
      await stopContainer(this.ctx, this.id, options);
      return this.wait().catch((err: unknown) => {
        // Removed once it stopped (`--rm`): stopped all the same, with what is no longer recorded.
        if (isGone(err)) return { exitCode: UNKNOWN_EXIT, signal: null, oomKilled: false };
        throw err;
      });
    }
    // A monitored run (a restart policy): its monitor stops it, which keeps the policy from bringing it back.
    if (!attached.foreground) {
      await stopContainer(this.ctx, this.id, options);
      return this.runEnd();
    }
    // Our own foreground run: through its process handle, whatever the backend.
    const proc = attached.proc;
    const state = readState(bundleOf(this.ctx, this.id));
    const timeout = options.timeout ?? state?.stopTimeout ?? 10;
    proc.kill((options.signal ?? state?.stopSignal ?? "SIGTERM") as NodeJS.Signals);
    const timer = timeout < 0 ? undefined : setTimeout(() => proc.kill("SIGKILL"), timeout * 1000);
    try {
      return await this.runEnd();
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * `stop`, then `start` (under a monitor); a monitored container is restarted in place by its monitor.
   * `onWarning` gets what a new start warns about, as `start`'s.
   */
  async restart(options: StopOptions & { onWarning?: (message: string) => void } = {}): Promise<void> {
    checkOptions("restart", options, RESTART_KINDS);
    const { onWarning, ...stop } = options;
    if (this.attached) {
      await this.stop(stop);
      await startContainer(this.ctx, this.id, { onWarning: warningSink(onWarning) });
      this.startedAgain = true;
      return;
    }
    await restartContainer(this.ctx, this.id, stop, warningSink(onWarning));
  }

  /** Freezes every process of the container (cgroup freezer); `unpause` thaws them. */
  pause(): Promise<void> {
    return setPaused(this.ctx, this.id, true);
  }

  unpause(): Promise<void> {
    return setPaused(this.ctx, this.id, false);
  }

  /**
   * New cgroup limits (docker's `update`: `{ memory: "64m", cpus: 0.5 }`),
   * over the ones it has, and a new restart policy (`{ restart: "always" }`);
   * a running container gets them at once. Resolves with a warning when the
   * host could not apply them all.
   */
  update(change: ContainerUpdate): Promise<string | undefined> {
    return updateContainer(this.ctx, this.id, change);
  }

  /** One sample of the container's resource use (the backend's cgroup accounting). */
  async stats(): Promise<ContainerStats> {
    const state = await this.state();
    if (!isActive(state)) throw notRunning(shown(state));
    const sample = this.ctx.backend.stats?.bind(this.ctx.backend);
    if (!sample) throw new ContainerError(`the ${this.ctx.backend.name} backend reports no resource use: it needs cgroup accounting, which this build does not support`);
    const bundle = bundleOf(this.ctx, this.id);
    return sample(bundle.dir).catch((err: unknown) => {
      throw withoutCgroupError(err, state, "has no stats", bundle);
    });
  }

  /** A sample every `intervalMs` (default 1000) while the container runs. */
  async *statsStream(options: { intervalMs?: number } = {}): AsyncGenerator<ContainerStats> {
    checkOptions("statsStream", options, STATS_STREAM_KINDS);
    for (;;) {
      let sample: ContainerStats;
      try {
        sample = await this.stats();
      } catch (err) {
        if (!this.running) return;
        throw err;
      }
      yield sample;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
    }
  }

  /**
   * The log of a container: `{stream, time, data}` entries, oldest first;
   * `follow` keeps going until it stops. A monitored container has one, and
   * a foreground run of the CLI without `--rm` (containers/log-tee.ts);
   * other foreground runs' output went only to whoever ran them.
   */
  async *logs(options: LogsOptions = {}): AsyncGenerator<LogEntry> {
    checkOptions("logs", options, LOGS_KINDS);
    const state = await this.state();
    const bundle = bundleOf(this.ctx, this.id);
    // docker's words (its none driver has no reader); exit 1 from the CLI, as docker's daemon error.
    if (state.log?.driver === "none") throw new ContainerError(`configured logging driver does not support reading: container ${shown(state)} has the none log driver, which keeps no log`, "no_log");
    if (this.keepsNoLog(state)) {
      const instead = inCallersWords("run it without --rm, or with -d", "create() and start() it, or give it a restart policy");
      throw new ContainerError(`container ${shown(state)} ran in the foreground of the process that started it: its output went there and no log was kept (${instead}, for logs)`, "no_log");
    }
    if (state.supervisor === null) return;
    const active = () => {
      const s = readCurrentState(bundle);
      return s !== undefined && isActive(s);
    };
    const since = logTime(options.since, "since");
    const until = logTime(options.until, "until");
    const { since: _s, until: _u, ...rest } = options;
    yield* readLogs(bundle.dir, { ...rest, ...(since ? { since } : {}), ...(until ? { until } : {}) }, active);
  }

  /**
   * Resolves with the first line of the container's log, from its start,
   * that contains `pattern` (or matches it, a RegExp) — testcontainers'
   * `Wait.forLogMessage`; `times` waits for the Nth. Rejects with a
   * `ContainerError` once the container has stopped without one, or after
   * `timeoutMs` (default 60 s). Needs a log: a container `start()`ed
   * (`create`, the CLI's `-d`) or run with a restart policy; a foreground
   * `run`'s output is its `stdout`/`stderr` streams. Called before `start()`,
   * it waits for the start (within its timeout).
   */
  async waitForLog(pattern: string | RegExp, options: WaitForLogOptions = {}): Promise<string> {
    checkOptions("waitForLog", options, WAIT_FOR_LOG_KINDS);
    const state = await this.state();
    if (this.keepsNoLog(state)) {
      throw new UsageError(`waitForLog reads the log of container ${shown(state)}, which runs in the foreground and keeps none: create() and start() it (or give it a restart policy), or read run()'s stdout`);
    }
    const stopped = async () => whyStopped(await this.state());
    return waitForLogLine((o) => this.logsOnceStarted(o), pattern, options, { name: shown(state), stopped });
  }

  /**
   * The log, followed from the start once the container has been started: a wait set up between create() and
   * start() (so that no line can slip by) waits for the start, within its timeout, instead of failing at once
   * because a created container has no log yet.
   */
  private async *logsOnceStarted(options: LogsOptions): AsyncGenerator<LogEntry> {
    const { signal } = options;
    while ((await this.state()).status === "created" && !signal?.aborted) await pause(25, signal);
    yield* this.logs(options);
  }

  /**
   * Resolves once the container's health check (the image's HEALTHCHECK or
   * run/create's `healthcheck`) passes — testcontainers' `Wait.forHealthCheck`.
   * Rejects with a `ContainerError` when it turns unhealthy (with the last
   * check's output), the container stops first, or after `timeoutMs`
   * (default 60 s). Checks run under a container's monitor: a container
   * `start()`ed (`create`, the CLI's `-d`) or run with a restart policy;
   * called before `start()`, it waits for the start (within its timeout).
   */
  async waitForHealthy(options: WaitForHealthyOptions = {}): Promise<HealthState> {
    checkOptions("waitForHealthy", options, WAIT_FOR_HEALTHY_KINDS);
    const state = await this.state();
    const bundleDir = bundleOf(this.ctx, this.id).dir;
    if (!hasHealthcheck(bundleDir)) {
      throw new UsageError(this.ctx.backend.name === "native"
        ? `container ${shown(state)} has no health check: its image has no HEALTHCHECK and it was created without the healthcheck option`
        : `the ${this.ctx.backend.name} backend runs no health checks: container ${shown(state)} never becomes healthy`);
    }
    if (state.supervisor === "foreground") {
      throw new UsageError(`container ${shown(state)} runs in the foreground, where no health checks run: create() and start() it (or give it a restart policy)`);
    }
    const stopped = async () => {
      const now = await this.state();
      // Created and not yet started: a wait set up before start() waits for it (within its timeout).
      return isActive(now) || now.status === "created" ? undefined : whyStopped(now);
    };
    return waitForHealthStatus({ bundleDir, name: shown(state), stopped }, options);
  }

  /**
   * The running container's published ports (`tsbox port`), with the host
   * ports really bound (`publish: ["80"]` gets a free one); none once it stops.
   */
  async ports(): Promise<PortMapping[]> {
    return this.portsOf(await this.state());
  }

  private portsOf(state: ContainerState): PortMapping[] {
    return isActive(state) ? readAttachments(bundleOf(this.ctx, this.id).dir).flatMap((a) => a.ports) : [];
  }

  /**
   * The host port a container port is published on — testcontainers'
   * `getMappedPort`. Rejects with a `ContainerError` when the container does
   * not run or that port is not published.
   */
  async mappedPort(containerPort: number, protocol: "tcp" | "udp" = "tcp"): Promise<number> {
    if (!Number.isInteger(containerPort) || containerPort < 1 || containerPort > 65535) throw new UsageError(`mappedPort: expected a port number from 1 to 65535, got ${String(containerPort)}`);
    if (protocol !== "tcp" && protocol !== "udp") throw new UsageError(`mappedPort: the protocol is "tcp" or "udp", got ${String(protocol)}`);
    const state = await this.state();
    if (!isActive(state)) throw new ContainerError(`container ${shown(state)} is not running: it has no published ports`, "not_running");
    const found = this.portsOf(state).find((p) => p.containerPort === containerPort && p.protocol === protocol);
    if (!found) throw new ContainerError(`no public port '${containerPort}/${protocol}' published for ${shown(state)}`, "no_such_port");
    return found.hostPort;
  }

  /** A foreground run keeps no log (unless the CLI's helper wrote one). */
  private keepsNoLog(state: ContainerState): boolean {
    return state.supervisor === "foreground" && !existsSync(join(bundleOf(this.ctx, this.id).dir, LOG_FILE));
  }

  /** New name (docker `rename`). */
  async rename(name: string): Promise<void> {
    await renameContainer(this.ctx, this.id, name);
    this.currentName = name;
  }

  /** The running container's streams from now on (docker `attach`); its monitor must run it. */
  async attach(options: Partial<AttachOptions> = {}): Promise<Attachment> {
    checkOptions("attach", options, ATTACH_KINDS);
    const state = await this.state();
    if (!isActive(state)) throw new ContainerError(`cannot attach to container ${shown(state)}: it is not running`, "not_running");
    if (state.supervisor !== "monitor") throw new ContainerError(`cannot attach to container ${shown(state)}: it runs in the foreground of the process that started it`);
    let attachment: Attachment | undefined;
    try {
      attachment = await attachMonitor(bundleOf(this.ctx, this.id).dir, { stdin: options.stdin ?? false, stdout: options.stdout ?? true, stderr: options.stderr ?? true, stdinOnce: options.stdinOnce ?? false });
    } catch (err) {
      if (err instanceof MonitorRefusal) throw new ContainerError(`cannot attach to container ${shown(state)}: ${err.message}`);
      throw err;
    }
    if (!attachment) throw new ContainerError(`cannot attach to container ${shown(state)}: it is not running`, "not_running");
    recordEvent(bundleOf(this.ctx, this.id).dir, state, "attach");
    return attachment;
  }

  /**
   * Runs `cmd` in the running container and resolves once it ended, with
   * its exit code and output (testcontainers' `exec`). A command that cannot
   * be run resolves too: 127 (not found) or 126, with docker's message on
   * stderr. Rejects with a ContainerError when the container is not running.
   */
  exec(cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    try {
      checkOptions("exec", options, EXEC_KINDS);
    } catch (err) {
      return Promise.reject(err);
    }
    const { stdin, maxBuffer, signal, ...rest } = options;
    return execToEnd((withStdin) => this.spawn(cmd, { ...rest, stdin: withStdin }), stdin, Boolean(options.tty), maxBuffer, signal);
  }

  /**
   * Starts `cmd` in the running container (in its namespaces: same PID
   * namespace, hostname, mounts and files) and resolves once it runs, with
   * its streams, `wait`, `kill` and `resize` (@webcontainer/api's `spawn`).
   * Rejects like `Runtime.run` when the command cannot be run (exitCode
   * 127/126), and with a ContainerError when the container is not running.
   */
  async spawn(cmd: string[], options: SpawnCallOptions = {}): Promise<ExecProcess> {
    checkOptions("spawn", options, SPAWN_CALL_KINDS, ["detach", "handOff"]);
    const attached = this.attached;
    if (attached && this.exitStatus) throw this.notRunning();
    if (attached && !this.refuseIfPaused()) throw this.noSuchContainer();
    const pid = attached ? attached.proc.pid : this.initPid();
    try {
      return new ExecProcess(await this.owner.execIn(this.id, pid, cmd, options));
    } catch (err) {
      // The backends' one container error here besides its removal meanwhile: the init is gone.
      if (isTsboxError(err) && err.code === "container" && !isGone(err)) throw this.notRunning();
      throw err;
    }
  }

  /**
   * The running init's pid, from the record, checked to still be ours (`isNativeInit`).
   */
  private initPid(): number {
    const state = this.refuseIfPaused();
    if (!state || state.status !== "running" || state.pid === null) throw this.notRunning(state?.status);
    if (state.backend === "native" && !isNativeInit(state)) throw this.notRunning();
    return state.pid;
  }

  /** Its record; a paused container takes no exec (it would wait, frozen, until unpaused). */
  private refuseIfPaused(): ReturnType<typeof readCurrentState> {
    const state = readCurrentState(bundleOf(this.ctx, this.id));
    if (state?.status === "paused") throw pauseRefusal.exec(this.currentName ?? this.id.slice(0, 12));
    return state;
  }

  /** Removed (by another process, or its `--rm` meanwhile): docker's "No such container". */
  private noSuchContainer(): ContainerError {
    return noSuchContainer(this.currentName ?? this.id.slice(0, 12));
  }

  /** Its record is gone: the run this object started may not have been seen to end yet. */
  private recordGone(): boolean {
    return readState(bundleOf(this.ctx, this.id)) === undefined;
  }

  private notRunning(status?: string): ContainerError {
    return notRunning(this.currentName ?? this.id.slice(0, 12), status);
  }

  /** Resizes the container's terminal (with `tty`); otherwise does nothing. */
  resize(cols: number, rows: number): void {
    checkTerminalSize("resize: ", cols, rows);
    if (this.run && !this.exitStatus) this.run.proc.resize(cols, rows);
  }

  /**
   * Copies a host file or directory (or a tar archive from a Readable,
   * extracted into the directory `dest`) into the container, running or
   * not, with `docker cp`'s rules. Paths resolve inside the container.
   */
  copyTo(src: string | Readable, dest: string, options: CopyOptions = {}): Promise<void> {
    return this.owner.copyTo(this.id, src, dest, options);
  }

  /**
   * Copies `src` out of the container to a host path, or as a tar archive to
   * a Writable, which is ended once the archive is whole (`end: false` keeps it open).
   */
  copyFrom(src: string, dest: string | Writable, options: CopyOptions & { end?: boolean } = {}): Promise<void> {
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

  /**
   * Collects stdout and stderr as UTF-8 and waits for the exit: the streams
   * of a run, or for a handle, its log once it has stopped. A log keeps what
   * its rotation keeps (`log: { maxSize, maxFiles }`, default 10 MiB × 3 of
   * JSON lines, so 9–11 MB of output, less with short lines), and says
   * `truncated: true` when it dropped some: for more, raise them or read a
   * `run()`'s streams. Past `maxBuffer` bytes of a stream (default 100 MiB) it
   * stops reading, kills a run's container, and rejects with an
   * `OutputLimitError` carrying what was read. A run's streams are read once:
   * called again, it gives the first call's result. A handle's waits for its
   * start (a `create()`d one until someone starts it); with `signal`, the call
   * (not the container, nor a run's reading) ends when it aborts, rejecting
   * with its reason, as `wait({ signal })`.
   */
  async output(options: OutputOptions & { signal?: AbortSignal } = {}): Promise<ContainerOutput> {
    const maxBuffer = outputLimit(options, ["signal"]);
    const signal = abortSignalOf("output", options.signal);
    if (signal?.aborted) throw abortError(signal);
    if (!this.run) return abortable(this.logOutput(maxBuffer, signal), signal);
    return abortable((this.collected ??= this.runOutput(this.run, maxBuffer)), signal);
  }

  private async runOutput(run: AttachedRun, maxBuffer: number): Promise<ContainerOutput> {
    const { status, ...text } = await collectToEnd(this.stdout, this.stderr, maxBuffer, () => run.proc.kill("SIGKILL"), this.runEnd());
    return { exitCode: status.exitCode, ...text };
  }

  /** A handle's output: its log, once it stopped. */
  private async logOutput(maxBuffer: number, signal?: AbortSignal): Promise<ContainerOutput> {
    const status = await this.wait(signal ? { signal } : {});
    const text = { stdout: "", stderr: "" };
    const bytes = { stdout: 0, stderr: 0 };
    for await (const e of this.logs()) {
      bytes[e.stream] += Buffer.byteLength(e.data);
      if (bytes[e.stream] > maxBuffer) throw new OutputLimitError(e.stream, maxBuffer, text);
      text[e.stream] += e.data;
    }
    const dir = bundleOf(this.ctx, this.id).dir;
    return { exitCode: status.exitCode, ...text, ...(logTruncated(dir) ? { truncated: true as const } : {}), ...(logIncomplete(dir) ? { incomplete: true as const } : {}) };
  }

  /** Deletes the container and its writable layer; a running one only with `force` (killed first). */
  async remove(options: RemoveOptions = {}): Promise<void> {
    checkOptions("remove", options, REMOVE_KINDS);
    if (this.removed) return;
    if (this.run && !this.exitStatus && !options.force) {
      // Removed by another process before this one saw the run end: not a running container (dockerode: 404).
      if (this.recordGone()) throw this.noSuchContainer();
      throw removeRunningRefusal(this.id.slice(0, 12));
    }
    await removeContainer(this.ctx, this.id, options);
    if (this.done) await this.runEnd().catch(() => {});
    this.removed = true;
  }

  /** `await using c = await rt.run(…)`: kills the container if needed and deletes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.run && !this.exitStatus) {
      this.run.proc.kill("SIGKILL");
      await this.runEnd().catch(() => {});
    }
    this.stdin?.destroy();
    if (this.removed) return;
    try {
      await this.remove({ force: true });
    } catch (err) {
      // Removed meanwhile (its --rm, another process): nothing left to do.
      if (!isGone(err)) throw err;
    }
  }
}

/** The error of a container no longer recorded (its `--rm`, another process's `rm`). */
function isGone(err: unknown): boolean {
  return hasReason(err, "no_such_container");
}

/**
 * A process started in a running container by `Container.spawn`. It dies
 * with the container (it is in its PID namespace).
 */
export class ExecProcess extends ProcessHandle<Writable, Readable> {
  protected chunks(stream: Readable): AsyncIterable<Buffer | string> {
    return stream;
  }

  protected closeStdin(stdin: Writable): void {
    stdin.destroy();
  }

  protected writeStdin(stdin: Writable, data: string | Uint8Array, end: boolean, onError: (err: Error) => void): void {
    ignoreClosedPipe(stdin, onError);
    if (end) stdin.end(data);
    else stdin.write(data);
  }
}

/** What a wait says of a container that ended before it could: "exited (code 4)", "is created". */
function whyStopped(state: ContainerState): string {
  return state.status === "exited" ? `exited (code ${state.exitCode ?? "unknown"})` : `is ${state.status}`;
}
