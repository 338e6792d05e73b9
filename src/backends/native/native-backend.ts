import { type ChildProcess, execFile, spawn, spawnSync, type StdioOptions } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { constants } from "node:os";
import { basename, join } from "node:path";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { ContainerError, TsboxError } from "../../errors.js";
import { type Signal, signalNumber } from "../../signals.js";
import { isErrno, randomHex, unlinkIfThere } from "../../fs-util.js";
import type { LinuxResources, NetworkSpec, ProcessSpec } from "../../spec/container-spec.js";
import type { Backend, BackendCapabilities, ContainerProcess, ContainerStats, ExecStartOptions, ExitStatus, HandOffOptions, LaunchOptions, ResolvChange, StartOptions, StdioTarget } from "../backend.js";
import { loadAddon, type NativeAddon } from "./addon.js";
import { become, runHandOffArgs } from "./become.js";
import { readCgroupStats } from "./cgroup-stats.js";
import { processParent, readState } from "../../containers/state.js";
import { readAttachments } from "../../network/attachments.js";
import { readNetIO } from "../../network/net-io.js";
import { bundlePaths } from "../../paths.js";
import type { Pty } from "./pty.js";
import { requireRuntimeBinary } from "./runtime-binary.js";
import { readStatusEvents, type StatusEvent, statusErrorToTsboxError } from "./status-events.js";
import { type SupervisorExit, WarmHelper, WarmHelperGone, type WarmRunRequest } from "./warm-helper.js";
import { requireInitBinary } from "./init-binary.js";
import { reapWithWorker } from "./worker-children.js";
import { nestIdleArgs } from "./nest-idle.js";

export interface NativeBackendOptions {
  /** Path of tsbox-runtime; default $TSBOX_RUNTIME or the package's build output. */
  runtimeBinary?: string;
  /**
   * Run foreground containers through one warm `tsbox-runtime serve` of this
   * backend (a fork per run instead of a spawn); default true unless
   * $TSBOX_WARM_HELPER is "0". Runs it cannot take use the spawn path.
   */
  warmHelper?: boolean;
}

const STATUS_FD = 3;

/** The helper's stdio when the process has no terminal. */
interface HelperStdio {
  stdin: StdioTarget;
  stdout: StdioTarget;
  stderr: StdioTarget;
  newSession?: boolean;
  onWarning?: (message: string) => void;
  /** The helper runs with --record. */
  recording?: boolean;
}

/**
 * Runs containers with Linux namespaces through the tsbox-runtime helper:
 * TS writes the bundle's config.json, the helper does everything between
 * clone and execve and reports over a status pipe (docs/architecture.md).
 * `exec` runs `tsbox-runtime exec`, which joins a running container.
 */
export class NativeBackend implements Backend {
  readonly name = "native";

  /** The static tsbox-init (native-rs/init) beside tsbox-runtime. */
  initBinary(): string {
    return requireInitBinary();
  }

  /** undefined: not tried yet; null: not available here (no addon), the spawn path runs everything. */
  private warm: WarmHelper | null | undefined;

  constructor(private readonly options: NativeBackendOptions = {}) {
    if (options.warmHelper === false || (options.warmHelper === undefined && process.env.TSBOX_WARM_HELPER === "0")) this.warm = null;
  }

  /** The warm helper's pid while it runs (tests). */
  get warmHelperPid(): number | undefined {
    return this.warm?.pid;
  }

  /** Lets the warm helper go: now when idle, else once the last run going through it ended (none is ended for it). */
  close(): Promise<void> {
    return this.warm?.close() ?? Promise.resolve();
  }

  capabilities(): BackendCapabilities {
    return { rootless: true, terminal: true, volumes: true, networks: "host", platforms: ["linux/" + (process.arch === "x64" ? "amd64" : process.arch)] };
  }

  start(options: StartOptions): Promise<ContainerProcess> {
    if (!options.specWritten) writeFileSync(join(options.bundleDir, "config.json"), JSON.stringify(options.spec));
    // --record: the helper keeps state.json as a monitor would (run.rs), so this process takes no lock and writes nothing more.
    const stdio = { ...options, recording: options.record !== undefined };
    if (!options.oneShot && this.warm !== null) {
      const record = options.record;
      const request = { op: "run", bundle: options.bundleDir, record: record !== undefined, remove: record?.remove ?? false, newSession: options.newSession ?? false } as const;
      return this.viaWarm(request, options.spec.process, stdio, () => this.start({ ...options, oneShot: true }));
    }
    const record = options.record ? ["--record", ...(options.record.remove ? ["--remove"] : [])] : [];
    return this.runHelper(["run", "--bundle", options.bundleDir, ...record, ...nestIdleArgs()], options.spec.process, stdio);
  }

  /**
   * `start` or `exec` through the warm helper: the same `tsbox-runtime run`
   * (or `exec`) as a fork of it, on descriptors we send (the status socket,
   * stdio); `spawned`, the spawn path, when the helper cannot be had or went
   * away before forking. `ptyRoot`: where the terminal's devpts is.
   */
  private async viaWarm(request: WarmRunRequest, spec: ProcessSpec, stdio: HelperStdio, spawned: () => Promise<ContainerProcess>, ptyRoot?: string): Promise<ContainerProcess> {
    const binary = this.options.runtimeBinary ?? requireRuntimeBinary();
    let addon: NativeAddon;
    try {
      addon = await loadAddon();
      this.warm ??= new WarmHelper(binary, addon);
    } catch {
      this.warm = null;
    }
    if (!this.warm) return spawned();
    const pty = spec.terminal ? await (await import("./pty.js")).Pty.open(spec.consoleSize?.width ?? 80, spec.consoleSize?.height ?? 24, ptyRoot) : undefined;
    const theirs: number[] = [];
    const ours: Socket[] = [];
    const pair = (): [number, number] => {
      const p = addon!.socketPair() as [number, number];
      theirs.push(p[1]);
      return p;
    };
    let run;
    let status: Socket;
    const streams: [Writable | null, Readable | null, Readable | null] = [null, null, null];
    try {
      const [statusOurs, statusTheirs] = pair();
      status = new Socket({ fd: statusOurs, readable: true, writable: false });
      ours.push(status);
      const slots = [stdio.stdin, stdio.stdout, stdio.stderr].map((target, i): number | undefined => {
        if (pty) return pty.slave;
        if (target === "inherit") return i;
        if (target === "ignore") return undefined;
        const [mine, child] = pair();
        const socket = new Socket({ fd: mine, readable: i !== 0, writable: i === 0 });
        ours.push(socket);
        streams[i] = socket;
        return child;
      }) as [number | undefined, number | undefined, number | undefined];
      run = this.warm.run(request, statusTheirs, slots);
    } catch (err) {
      for (const s of ours) s.destroy();
      pty?.close();
      throw new TsboxError(`cannot start tsbox-runtime (${binary}): ${(err as Error).message}`, { code: "runtime", cause: err });
    } finally {
      // The helper has its copies (or never will): ours would keep the container's pipes open.
      for (const fd of theirs) addon!.closeFd(fd);
      pty?.closeSlave();
    }
    const warmRun = run;
    const helper: HelperProcess = {
      status,
      stdin: streams[0],
      stdout: streams[1],
      stderr: streams[2],
      exited: warmRun.reaped,
      started: warmRun.forked,
      kill: (signal) => warmRun.kill(signalNumber(signal) ?? 15),
    };
    return supervise(helper, binary, pty, stdio.stdin, stdio.onWarning, stdio.recording ?? false).catch((err: unknown) => {
      // Gone before forking: nothing started, so the spawn path may run it.
      if (!(err instanceof WarmHelperGone)) throw err;
      for (const s of ours) s.destroy();
      return spawned();
    });
  }

  /**
   * `tsbox-runtime run --record --front-end` in this process's place: the
   * helper keeps the state (as with `start`'s `record`), forwards signals,
   * prints a failed start as `tsbox: …` and exits with the container's code;
   * with `log` it keeps the output in the container's log too (docker's `logs`).
   */
  handOff(options: HandOffOptions & { bundleDir: string; remove: boolean; log?: { maxSize: number; maxFiles: number } }): Promise<never> {
    return this.become(runHandOffArgs(options), options);
  }

  /** `tsbox-runtime exec --front-end` in this process's place (it deletes the process file once read). */
  handOffExec(options: HandOffOptions & { pid: number; bundleDir: string; process: ProcessSpec }): Promise<never> {
    const processFile = writeProcessFile(options.bundleDir, options.process);
    return this.become(["exec", "--pid", String(options.pid), "--process", processFile, "--bundle", options.bundleDir, "--front-end"], options).catch((err: unknown) => {
      unlinkIfThere(processFile);
      throw err;
    });
  }

  /** `tsbox-runtime monitor --front-end ID` in this process's place (the lock's fd stays open for it). */
  async handOffLaunch(options: LaunchOptions & HandOffOptions & { print: string }): Promise<never> {
    const { monitorArgs } = await import("./monitor.js");
    return this.become([...monitorArgs(options), "--lock-fd", String(options.lockFd), "--front-end", options.print], options, options.lockFd);
  }

  /** execve of the helper with `args` (Backend.handOff): returns only by throwing. */
  private async become(args: string[], options: HandOffOptions, keepFd = -1): Promise<never> {
    return become(this.options.runtimeBinary ?? requireRuntimeBinary(), args, options, keepFd);
  }

  async exec(options: ExecStartOptions): Promise<ContainerProcess> {
    // Read by the helper before it joins the container; not needed once the process runs (or failed).
    const processFile = writeProcessFile(options.bundleDir, options.process);
    // --bundle: the container's config.json, whose seccomp filter the exec'd process gets too.
    const args = ["exec", "--pid", String(options.pid), "--process", processFile, "--bundle", options.bundleDir, ...(options.detach ? ["--detach"] : [])];
    // A terminal of the container's own devpts: the process finds its name (ttyname) there.
    const ptyRoot = `/proc/${options.pid}/root`;
    try {
      if (options.detach) return await this.runDetached(args);
      const spawned = () => this.runHelper(args, options.process, options, ptyRoot);
      if (this.warm === null || this.warm?.closed) return await spawned();
      const request = { op: "exec", bundle: options.bundleDir, pid: options.pid, process: processFile, newSession: false } as const;
      return await this.viaWarm(request, options.process, options, spawned, ptyRoot);
    } finally {
      unlinkIfThere(processFile);
    }
  }

  /** Read here, from the cgroup files (`tsbox-runtime stats` reads the same): no helper to start. */
  async stats(bundleDir: string): Promise<ContainerStats> {
    const stats = readCgroupStats(bundleDir);
    if (stats) {
      const pid = readState(bundlePaths(bundleDir))?.pid;
      const network = pid ? readNetIO(pid) : undefined;
      return network ? { ...stats, network } : stats;
    }
    const id = bundleDir.slice(bundleDir.lastIndexOf("/") + 1).slice(0, 12);
    throw new TsboxError(`container ${id} has no cgroup (it is not running, or runs without cgroups)`, { code: "container" });
  }

  async pause(bundleDir: string): Promise<void> {
    await this.runCommand(["pause", "--bundle", bundleDir]);
  }

  async resume(bundleDir: string): Promise<void> {
    await this.runCommand(["resume", "--bundle", bundleDir]);
  }

  async update(bundleDir: string, asked?: LinuxResources): Promise<string> {
    return (await this.runCommand(["update", "--bundle", bundleDir, ...(asked ? ["--asked", JSON.stringify(asked)] : [])])).trim();
  }

  /**
   * A cgroup recorded in the bundle means its runtime died before removing it; a network record (`attach-*.json`),
   * that its network keeper did, leaving its lease and published ports' DNAT rules (keeper.rs `remove_leftovers`).
   */
  async cleanup(bundleDir: string): Promise<void> {
    if (existsSync(join(bundleDir, "cgroup.json")) || readAttachments(bundleDir).length > 0) await this.runCommand(["delete", "--bundle", bundleDir]);
  }

  /**
   * A short tsbox-runtime subcommand about a bundle (stats, pause, resume):
   * its stdout, or its one stderr line as a TsboxError ("container": exit 125).
   */
  private runCommand(args: string[]): Promise<string> {
    const binary = this.options.runtimeBinary ?? requireRuntimeBinary();
    return new Promise((resolve, reject) => {
      execFile(binary, args, { encoding: "utf8", timeout: 30_000 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const line = stderr.trim().split("\n").at(-1)?.replace(/^tsbox-runtime: /, "");
        const code = typeof err.code === "number" ? err.code : undefined;
        if (code === 125 && line) reject(new TsboxError(line, { code: "container" }));
        else reject(new TsboxError(`tsbox-runtime ${args[0]} failed: ${line || err.message}`, { code: "runtime", cause: err }));
      });
    });
  }

  /** Under `tsbox-runtime monitor` (monitor.ts). */
  async launch(options: LaunchOptions): Promise<void> {
    const { launchMonitor } = await import("./monitor.js");
    return launchMonitor(this.options.runtimeBinary ?? requireRuntimeBinary(), options);
  }

  /**
   * `exec -d`: the helper detaches at once (new session, stdio /dev/null);
   * we only wait for `started` or `error`, then let go of its status pipe.
   */
  private async runDetached(args: string[]): Promise<ContainerProcess> {
    const binary = this.options.runtimeBinary ?? requireRuntimeBinary();
    const child = spawn(binary, [...args, "--status-fd", String(STATUS_FD)], { stdio: ["ignore", "ignore", "ignore", "pipe"] });
    const status = child.stdio[STATUS_FD] as Readable;
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        child.once("error", (err) => reject(new TsboxError(`cannot start tsbox-runtime (${binary}): ${err.message}`, { code: "runtime", cause: err })));
        readStatusEvents(status, (event) => {
          if (event.event === "started") resolve(event.pid);
          else if (event.event === "error") reject(statusErrorToTsboxError(event));
        });
        status.once("end", () => reject(new TsboxError("tsbox-runtime exited before starting the process", { code: "runtime" })));
      });
      return { pid, monitorPid: -1, stdin: null, stdout: null, stderr: null, exited: new Promise(() => {}), kill: () => false, resize: () => {} };
    } finally {
      status.destroy();
    }
  }

  /**
   * `tsbox-runtime net-attach`: a keeper of its own for the new network,
   * detached (it lives as long as the attachment); resolves once it reports.
   */
  async connect(options: { bundleDir: string; container: number; containerStart: string | null; network: NetworkSpec }): Promise<void> {
    const binary = this.options.runtimeBinary ?? requireRuntimeBinary();
    if (options.containerStart === null) throw new ContainerError("the container is not running", "not_running");
    const file = join(options.bundleDir, `connect-${randomHex(8)}.json`);
    writeFileSync(file, JSON.stringify(options.network));
    try {
      const args = ["net-attach", "--bundle", options.bundleDir, "--pid", String(options.container), "--pid-start", options.containerStart, "--network", file];
      const child = spawn(binary, args, { stdio: ["ignore", "pipe", "ignore"], detached: true });
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.on("error", reject);
        child.stdout!.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")));
        });
        child.stdout!.on("end", () => resolve(out));
      });
      child.stdout!.destroy();
      child.unref();
      let report: { ok?: boolean; error?: { kind: string; message: string; exitCode: number } };
      try {
        report = JSON.parse(line) as typeof report;
      } catch {
        throw new TsboxError(`tsbox-runtime net-attach ended without a report`, { code: "runtime" });
      }
      if (!report.ok) throw statusErrorToTsboxError({ event: "error", kind: report.error?.kind ?? "setup", message: report.error?.message ?? "attaching failed", exitCode: report.error?.exitCode ?? 125 });
    } finally {
      rmSync(file, { force: true });
    }
  }

  /**
   * `tsbox-runtime net-detach`: asks the keeper that serves the network (it may serve the container's others too,
   * all joined at its start) to take that network's endpoint down, and waits until it has.
   */
  async disconnect(options: { bundleDir: string; network: string; dns?: ResolvChange }): Promise<void> {
    const binary = this.options.runtimeBinary ?? requireRuntimeBinary();
    const dns = options.dns ? ["--dns", JSON.stringify(options.dns)] : [];
    const done = spawnSync(binary, ["net-detach", "--bundle", options.bundleDir, "--network", options.network, ...dns], { encoding: "utf8" });
    if (done.status !== 0) throw new TsboxError(`disconnecting network ${options.network}: ${(done.stderr || done.error?.message || "").trim().replace(/^tsbox-runtime: /, "")}`, { code: "runtime" });
  }

  /**
   * Spawns tsbox-runtime with `args` (+ the status fd); resolves once the
   * process of `spec` runs. A terminal is of the devpts under `ptyRoot` when
   * there is one (a running container's), else the host's.
   */
  private async runHelper(args: string[], spec: ProcessSpec, stdio: HelperStdio, ptyRoot?: string): Promise<ContainerProcess> {
    const binary = this.options.runtimeBinary ?? requireRuntimeBinary();
    const size = spec.consoleSize;
    // node:tty and the addon are loaded only for terminals.
    const pty = spec.terminal ? await (await import("./pty.js")).Pty.open(size?.width ?? 80, size?.height ?? 24, ptyRoot) : undefined;
    let child: ChildProcess;
    try {
      const fds: StdioOptions = pty ? [pty.slave, pty.slave, pty.slave, "pipe"] : [stdio.stdin, stdio.stdout, stdio.stderr, "pipe"];
      child = spawn(binary, [...args, "--status-fd", String(STATUS_FD)], { stdio: fds, detached: stdio.newSession ?? false });
    } catch (err) {
      pty?.close();
      throw new TsboxError(`cannot start tsbox-runtime (${binary}): ${(err as Error).message}`, { code: "runtime", cause: err });
    } finally {
      pty?.closeSlave();
    }
    return supervise(childHelper(child), binary, pty, stdio.stdin, stdio.onWarning, stdio.recording ?? false);
  }
}

/** What `supervise` needs of a run's helper: a spawned `tsbox-runtime run`, or a fork of the warm helper. */
interface HelperProcess {
  status: Readable;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** Its pid once it runs; rejects if it never did. */
  started: Promise<number>;
  exited: Promise<SupervisorExit>;
  kill(signal: Signal): boolean;
}

function childHelper(child: ChildProcess): HelperProcess {
  reapWithWorker(child);
  const exited = new Promise<SupervisorExit>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const started = new Promise<number>((resolve, reject) => {
    if (child.pid !== undefined) resolve(child.pid);
    child.on("error", reject);
  });
  started.catch(() => {});
  // Node drains and discards a child's stdout and stderr that nobody reads yet when it exits: the caller
  // may read a short process's output later (an exec among many), so ours take it at once. Destroyed by its
  // reader before the end, ours closes too: the process meets the closed pipe, as with a child's own stdout,
  // instead of blocking on a full one for ever.
  const kept = (stream: Readable | null) => {
    if (!stream) return null;
    const out = stream.pipe(new PassThrough());
    out.once("close", () => void (stream.readableEnded || stream.destroy()));
    return out;
  };
  return {
    status: child.stdio[STATUS_FD] as Readable,
    stdin: child.stdin,
    stdout: kept(child.stdout),
    stderr: kept(child.stderr),
    started,
    exited,
    kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return false;
      try {
        return child.kill(signal as NodeJS.Signals | number);
      } catch {
        return false;
      }
    },
  };
}

/** Wires the helper's status events and exit into a ContainerProcess; resolves on `started`. */
/** An exec's process, in a file of the container's bundle for `tsbox-runtime exec --process`; its path. */
function writeProcessFile(bundleDir: string, process: ProcessSpec): string {
  const path = join(bundleDir, `exec-${randomHex(8)}.json`);
  try {
    writeFileSync(path, JSON.stringify(process));
  } catch (err) {
    // Removed meanwhile (an rm -f in another terminal): the container's one error here, not a bare ENOENT.
    if (isErrno(err, "ENOENT")) throw new ContainerError(`container ${basename(bundleDir).slice(0, 12)} is not running: it was removed`, "not_running");
    throw err;
  }
  return path;
}

function supervise(helper: HelperProcess, binary: string, pty: Pty | undefined, stdin: StdioTarget, onWarning: ((message: string) => void) | undefined, recording: boolean): Promise<ContainerProcess> {
  return new Promise((resolve, reject) => {
    let exitedEvent: ExitStatus | undefined;
    let settled = false;
    // Whether the run said anything: one that did was forked, and must not be started again elsewhere.
    let reported = false;
    // The container's start as the warm helper's server reports it (its pid there): the run's own `recorded` may come
    // before that report, and the end must not be taken for a run that never started.
    let startReported: Promise<void> | undefined;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };

    // The helper's exit is the container's end; its status pipe closes at the same time. A recording helper says
    // `recorded` once the end is in the record, just before it exits: that is the end too (its exit and reap, which
    // a warm helper's fork reports through the server, were ~1 ms more of each library run).
    const helperDone = new Promise<SupervisorExit>((done) => {
      let statusEnded = false;
      let exit: SupervisorExit | undefined;
      const maybeDone = () => statusEnded && exit && done(exit);
      const status = helper.status;
      status.on("end", () => ((statusEnded = true), maybeDone()));
      status.on("error", () => ((statusEnded = true), maybeDone()));
      void helper.exited.then((e) => ((exit = e), maybeDone()));
      readStatusEvents(status, (event: StatusEvent) => {
        reported = true;
        if (event.event === "warning") {
          onWarning?.(event.message);
        } else if (event.event === "started" && !settled) {
          // A warm helper's fork reports its pid on another channel: wait for both.
          startReported = helper.started.then((monitorPid) => {
            if (settled) return;
            settled = true;
            resolve(handle(event.pid, monitorPid));
          }, () => {});
        } else if (event.event === "error") {
          fail(statusErrorToTsboxError(event));
        } else if (event.event === "exited") {
          exitedEvent = { exitCode: event.exitCode, signal: event.signal, oomKilled: event.oomKilled };
        } else if (event.event === "recorded" && exitedEvent) {
          done({ code: exitedEvent.exitCode, signal: null });
        }
      });
    });

    helper.started.catch((err: Error) => {
      pty?.close();
      if (err instanceof WarmHelperGone && !reported) fail(err);
      else fail(new TsboxError(`cannot run tsbox-runtime (${binary}): ${err.message}`, { code: "runtime", cause: err }));
    });

    // A helper that reported the exit and left normally (or said `recorded`) has recorded it (run.rs does so before it exits).
    let endRecorded = false;
    const exited: Promise<ExitStatus> = helperDone.then(async ({ code, signal }) => {
      await startReported;
      endRecorded = recording && exitedEvent !== undefined && signal === null;
      if (pty) await pty.hungUp;
      pty?.close();
      // Nobody reads the container's stdin any more: release the pipe even if the caller never ends it.
      helper.stdin?.destroy();
      if (!settled) {
        fail(new TsboxError(`tsbox-runtime exited (${signal ?? `code ${code}`}) before starting the process`, { code: "runtime" }));
      }
      if (exitedEvent) return exitedEvent;
      if (signal) return { exitCode: 128 + (constants.signals[signal] ?? 0), signal, oomKilled: false };
      return { exitCode: code ?? 125, signal: null, oomKilled: false };
    });
    // A failed start is reported through the rejection; nobody may await `exited` then.
    exited.catch(() => {});

    const handle = (pid: number, monitorPid: number): ContainerProcess => ({
      pid,
      monitorPid,
      stdin: pty ? (stdin === "pipe" ? pty.input : null) : helper.stdin,
      stdout: pty ? pty.output : helper.stdout,
      stderr: pty ? null : helper.stderr,
      exited,
      kill: (signal) => {
        // SIGKILL cannot be passed on: sent to the supervisor it ended the supervisor itself, before it
        // reaped, recorded and removed the container (a stopped run's cgroup was left, and its start
        // failed on it). It goes to the init, ours while it is our supervisor's child.
        if (signalNumber(signal) === 9 && processParent(pid) === monitorPid) {
          try {
            process.kill(pid, 9);
            return true;
          } catch {
            // gone meanwhile
          }
        }
        return helper.kill(signal);
      },
      resize(cols, rows) {
        pty?.resize(cols, rows);
      },
      recorded: recording,
      endRecorded: () => endRecorded,
    });
  });
}
