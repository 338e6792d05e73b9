import { type ChildProcess, execFile, spawn, type StdioOptions } from "node:child_process";
import { existsSync, openSync, rmSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { TsboxError } from "../../errors.js";
import { randomHex } from "../../fs-util.js";
import type { NetworkSpec, ProcessSpec } from "../../spec/container-spec.js";
import type { Backend, BackendCapabilities, ContainerProcess, ContainerStats, ExecStartOptions, ExitStatus, HandOffOptions, LaunchOptions, StartOptions, StdioTarget } from "../backend.js";
import { loadAddon } from "./addon.js";
import { readCgroupStats } from "./cgroup-stats.js";
import type { Pty } from "./pty.js";
import { requireRuntimeBinary } from "./runtime-binary.js";
import { readStatusEvents, type StatusEvent, statusErrorToTsboxError } from "./status-events.js";

export interface NativeBackendOptions {
  /** Path of tsbox-runtime; default $TSBOX_RUNTIME or the package's build output. */
  runtimeBinary?: string;
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

  constructor(private readonly options: NativeBackendOptions = {}) {}

  capabilities(): BackendCapabilities {
    return { rootless: true, terminal: true, volumes: true, networks: "host", platforms: ["linux/" + (process.arch === "x64" ? "amd64" : process.arch)] };
  }

  start(options: StartOptions): Promise<ContainerProcess> {
    if (!options.specWritten) writeFileSync(join(options.bundleDir, "config.json"), JSON.stringify(options.spec));
    // --record: the helper keeps state.json as a monitor would (run.rs), so this process takes no lock and writes nothing more.
    const record = options.record ? ["--record", ...(options.record.remove ? ["--remove"] : [])] : [];
    return this.runHelper(["run", "--bundle", options.bundleDir, ...record], options.spec.process, { ...options, recording: options.record !== undefined });
  }

  /**
   * `tsbox-runtime run --record --front-end` in this process's place: the
   * helper keeps the state (as with `start`'s `record`), forwards signals,
   * prints a failed start as `tsbox: …` and exits with the container's code.
   */
  handOff(options: HandOffOptions & { bundleDir: string; remove: boolean }): Promise<never> {
    return this.become(["run", "--bundle", options.bundleDir, "--record", ...(options.remove ? ["--remove"] : []), "--front-end"], options);
  }

  /** `tsbox-runtime exec --front-end` in this process's place (it deletes the process file once read). */
  handOffExec(options: HandOffOptions & { pid: number; bundleDir: string; process: ProcessSpec }): Promise<never> {
    const processFile = join(options.bundleDir, `exec-${randomHex(8)}.json`);
    writeFileSync(processFile, JSON.stringify(options.process));
    return this.become(["exec", "--pid", String(options.pid), "--process", processFile, "--bundle", options.bundleDir, "--front-end"], options).catch((err: unknown) => {
      rmSync(processFile, { force: true });
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
    const binary = this.options.runtimeBinary ?? requireRuntimeBinary();
    const addon = await loadAddon();
    // Without -i the process reads nothing of ours, as with `start`'s "ignore".
    const stdinFd = options.stdin === "ignore" ? openSync("/dev/null", "r") : -1;
    options.beforeExec?.();
    try {
      addon.handOff(binary, [binary, ...args].join("\0"), stdinFd, keepFd);
    } catch (err) {
      throw new TsboxError(`cannot start tsbox-runtime (${binary}): ${(err as Error).message}`, { code: "runtime", cause: err });
    }
    throw new TsboxError("tsbox-runtime did not take over", { code: "runtime" });
  }

  async exec(options: ExecStartOptions): Promise<ContainerProcess> {
    // Read by the helper before it joins the container; not needed once the process runs (or failed).
    const processFile = join(options.bundleDir, `exec-${randomHex(8)}.json`);
    writeFileSync(processFile, JSON.stringify(options.process));
    // --bundle: the container's config.json, whose seccomp filter the exec'd process gets too.
    const args = ["exec", "--pid", String(options.pid), "--process", processFile, "--bundle", options.bundleDir, ...(options.detach ? ["--detach"] : [])];
    try {
      return options.detach ? await this.runDetached(args) : await this.runHelper(args, options.process, options);
    } finally {
      rmSync(processFile, { force: true });
    }
  }

  /** Read here, from the cgroup files (`tsbox-runtime stats` reads the same): no helper to start. */
  async stats(bundleDir: string): Promise<ContainerStats> {
    const stats = readCgroupStats(bundleDir);
    if (stats) return stats;
    const id = bundleDir.slice(bundleDir.lastIndexOf("/") + 1).slice(0, 12);
    throw new TsboxError(`container ${id} has no cgroup (it is not running, or runs without cgroups)`, { code: "container" });
  }

  async pause(bundleDir: string): Promise<void> {
    await this.runCommand(["pause", "--bundle", bundleDir]);
  }

  async resume(bundleDir: string): Promise<void> {
    await this.runCommand(["resume", "--bundle", bundleDir]);
  }

  /** A cgroup recorded in the bundle means its runtime died before removing it. */
  async cleanup(bundleDir: string): Promise<void> {
    if (existsSync(join(bundleDir, "cgroup.json"))) await this.runCommand(["delete", "--bundle", bundleDir]);
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
  async connect(options: { bundleDir: string; container: number; network: NetworkSpec }): Promise<void> {
    const binary = this.options.runtimeBinary ?? requireRuntimeBinary();
    const file = join(options.bundleDir, `connect-${randomHex(8)}.json`);
    writeFileSync(file, JSON.stringify(options.network));
    try {
      const child = spawn(binary, ["net-attach", "--bundle", options.bundleDir, "--pid", String(options.container), "--network", file], { stdio: ["ignore", "pipe", "ignore"], detached: true });
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

  /** Spawns tsbox-runtime with `args` (+ the status fd); resolves once the process of `spec` runs. */
  private async runHelper(args: string[], spec: ProcessSpec, stdio: HelperStdio): Promise<ContainerProcess> {
    const binary = this.options.runtimeBinary ?? requireRuntimeBinary();
    const size = spec.consoleSize;
    // node:tty and the addon are loaded only for terminals.
    const pty = spec.terminal ? await (await import("./pty.js")).Pty.open(size?.width ?? 80, size?.height ?? 24) : undefined;
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
    return supervise(child, binary, pty, stdio.stdin, stdio.onWarning, stdio.recording ?? false);
  }
}

/** Wires the helper's status events and exit into a ContainerProcess; resolves on `started`. */
function supervise(child: ChildProcess, binary: string, pty: Pty | undefined, stdin: StdioTarget, onWarning: ((message: string) => void) | undefined, recording: boolean): Promise<ContainerProcess> {
  return new Promise((resolve, reject) => {
    let exitedEvent: ExitStatus | undefined;
    let settled = false;
    const fail = (err: TsboxError) => {
      if (settled) return;
      settled = true;
      reject(err);
    };

    // The helper's exit is the container's end; its status pipe closes at the same time.
    const helperDone = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
      let statusEnded = false;
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      const maybeDone = () => statusEnded && exit && done(exit);
      const status = child.stdio[STATUS_FD] as Readable;
      status.on("end", () => ((statusEnded = true), maybeDone()));
      status.on("error", () => ((statusEnded = true), maybeDone()));
      child.on("exit", (code, signal) => ((exit = { code, signal }), maybeDone()));
      readStatusEvents(status, (event: StatusEvent) => {
        if (event.event === "warning") {
          onWarning?.(event.message);
        } else if (event.event === "started" && !settled) {
          settled = true;
          resolve(handle(event.pid));
        } else if (event.event === "error") {
          fail(statusErrorToTsboxError(event));
        } else if (event.event === "exited") {
          exitedEvent = { exitCode: event.exitCode, signal: event.signal, oomKilled: event.oomKilled };
        }
      });
    });

    child.on("error", (err) => {
      pty?.close();
      fail(new TsboxError(`cannot run tsbox-runtime (${binary}): ${err.message}`, { code: "runtime", cause: err }));
    });

    // A helper that reported the exit and left normally has recorded it (run.rs does so before it exits).
    let endRecorded = false;
    const exited: Promise<ExitStatus> = helperDone.then(async ({ code, signal }) => {
      endRecorded = recording && exitedEvent !== undefined && signal === null;
      if (pty) await pty.hungUp;
      pty?.close();
      // Nobody reads the container's stdin any more: release the pipe even if the caller never ends it.
      child.stdin?.destroy();
      if (!settled) {
        fail(new TsboxError(`tsbox-runtime exited (${signal ?? `code ${code}`}) before starting the process`, { code: "runtime" }));
      }
      if (exitedEvent) return exitedEvent;
      if (signal) return { exitCode: 128 + (constants.signals[signal] ?? 0), signal, oomKilled: false };
      return { exitCode: code ?? 125, signal: null, oomKilled: false };
    });
    // A failed start is reported through the rejection; nobody may await `exited` then.
    exited.catch(() => {});

    const handle = (pid: number): ContainerProcess => ({
      pid,
      monitorPid: child.pid ?? -1,
      stdin: pty ? (stdin === "pipe" ? pty.input : null) : (child.stdin as Writable | null),
      stdout: pty ? pty.output : (child.stdout as Readable | null),
      stderr: pty ? null : (child.stderr as Readable | null),
      exited,
      kill(signal) {
        if (child.exitCode !== null || child.signalCode !== null) return false;
        try {
          return child.kill(signal);
        } catch {
          return false;
        }
      },
      resize(cols, rows) {
        pty?.resize(cols, rows);
      },
      recorded: recording,
      endRecorded: () => endRecorded,
    });
  });
}
