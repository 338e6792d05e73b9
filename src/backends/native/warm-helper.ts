import { type ChildProcess, spawn } from "node:child_process";
import { Socket } from "node:net";
import type { NativeAddon } from "./addon.js";
import { reapWithWorker } from "./worker-children.js";

/** How a run's supervisor ended (as ChildProcess reports it: a code, or the signal that killed it). */
export interface SupervisorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One run through the warm helper. */
export interface WarmRun {
  /** The supervisor's pid once forked; rejects with `WarmHelperGone` if the helper died before it could fork. */
  readonly forked: Promise<number>;
  /** Settles once the supervisor was reaped (or the helper died, which kills it). */
  readonly reaped: Promise<SupervisorExit>;
  /** Signals the supervisor (it forwards to the container); false once it was reaped. */
  kill(signal: number): boolean;
}

/** A container to run (`tsbox-runtime run`), or a process to run in a running one (`tsbox-runtime exec`). */
export type WarmRunRequest =
  | { op: "run"; bundle: string; record: boolean; remove: boolean; newSession: boolean }
  | { op: "exec"; bundle: string; pid: number; process: string; newSession: boolean };

/** The helper went away before this run was forked: nothing of it started, the spawn path may take it. */
export class WarmHelperGone extends Error {}

interface Entry {
  forked: (pid: number) => void;
  refused: (err: Error) => void;
  reaped: (exit: SupervisorExit) => void;
  done: boolean;
}

/**
 * The native backend's warm helper: one `tsbox-runtime serve` per backend
 * (so per Runtime), started on the first run, speaking JSON lines over a
 * Unix socket pair, the run's descriptors attached (native-rs/runtime/src/serve,
 * docs/architecture.md "The warm helper"). Each run is a fork of it that is
 * exactly `tsbox-runtime run --status-fd` (or `exec`), reporting on its own status socket.
 *
 * It never keeps Node alive when idle (unref'd) and dies with this process
 * (its socket's EOF, and PDEATHSIG if we are killed). One that died (killed,
 * say) is started again by the next run.
 */
export class WarmHelper {
  private child: ChildProcess | undefined;
  private control: Socket | undefined;
  private controlFd = -1;
  private nextId = 1;
  private readonly runs = new Map<number, Entry>();
  private pending = "";
  /** `close()` came while runs were going: the helper ends once the last of them is reaped. */
  private closing = false;
  /** `close()` was called and no run came since. */
  private closeCalled = false;

  constructor(
    private readonly binary: string,
    private readonly addon: NativeAddon,
  ) {}

  /**
   * `close()` was called and no run came since: an exec then takes the spawn path, so the helper still goes once
   * its runs end (a closed Runtime's exec into a container still running did not keep it, nor start a new one).
   */
  get closed(): boolean {
    return this.closeCalled;
  }

  /** The helper's pid while it runs (tests, `tsbox info`). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Sends a run: `status` (our socket pair's far end) and the stdio
   * descriptors given (undefined: /dev/null) go with it; the caller closes
   * its copies afterwards.
   */
  run(request: WarmRunRequest, status: number, stdio: [number | undefined, number | undefined, number | undefined]): WarmRun {
    // A run after close(): the helper still there serves it, as a new one would, and stays like one. (An exec
    // after close() is not sent here: see `closed`.)
    this.closing = false;
    this.closeCalled = false;
    this.ensureStarted();
    const id = this.nextId++;
    let entry!: Entry;
    const forked = new Promise<number>((forked, refused) => {
      entry = { forked, refused, reaped: () => {}, done: false };
    });
    const reaped = new Promise<SupervisorExit>((resolve) => (entry.reaped = resolve));
    forked.catch(() => {});
    const fds = [status, ...stdio.filter((f): f is number => f !== undefined)];
    const line = JSON.stringify({ id, ...request, stdio: stdio.map((f) => f !== undefined) }) + "\n";
    this.runs.set(id, entry);
    this.control!.ref();
    try {
      this.addon.sendFds(this.controlFd, line, ...fds);
    } catch (err) {
      this.settle(id, { code: null, signal: "SIGKILL" }, new WarmHelperGone(`the warm helper did not take the run: ${(err as Error).message}`));
      void this.stop();
    }
    return {
      forked,
      reaped,
      kill: (signal) => {
        if (entry.done || !this.control) return false;
        try {
          this.addon.sendFds(this.controlFd, JSON.stringify({ op: "kill", id, signal }) + "\n");
          return true;
        } catch {
          return false;
        }
      },
    };
  }

  /**
   * Lets the helper go without ending a run: idle, it is stopped now; otherwise once its last run is reaped
   * (its control socket ref'd until then, as for any pending run). Resolves at once: the runs' containers go on.
   */
  close(): Promise<void> {
    this.closeCalled = true;
    if (this.runs.size === 0) return this.stop();
    this.closing = true;
    return Promise.resolve();
  }

  /**
   * Ends the helper (and with it any run still going): its socket closes, it exits. Resolves once it has
   * exited and is reaped (at most a few seconds): a worker thread that ended right after `close()` left it a zombie.
   */
  stop(): Promise<void> {
    const control = this.control;
    const child = this.child;
    this.closing = false;
    this.control = undefined;
    this.child = undefined;
    this.controlFd = -1;
    control?.destroy();
    this.helperGone();
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // Ref'd while awaited: unref'd, nothing kept Node running until the exit, and `await rt.close()` at the end of
      // a program ended it with exit code 13 (an unsettled top-level await).
      child.ref();
      const timer = setTimeout(() => (child.unref(), resolve()), 5000);
      timer.unref();
      child.once("exit", () => (clearTimeout(timer), resolve()));
    });
  }

  private ensureStarted(): void {
    if (this.control) return;
    const [ours, theirs] = this.addon.socketPair() as [number, number];
    let child: ChildProcess;
    try {
      // stderr stays ours: a helper that cannot start says why there.
      child = spawn(this.binary, ["serve", "--control-fd", "3"], { stdio: ["ignore", "ignore", "inherit", theirs] });
    } catch (err) {
      this.addon.closeFd(ours);
      throw err;
    } finally {
      this.addon.closeFd(theirs);
    }
    child.unref();
    reapWithWorker(child, this.addon);
    child.on("error", () => this.control === control && void this.stop());
    const control = new Socket({ fd: ours, readable: true, writable: false });
    control.setEncoding("utf8");
    control.on("data", (chunk: string) => this.onData(chunk));
    const gone = () => this.control === control && void this.stop();
    control.on("end", gone);
    control.on("close", gone);
    control.on("error", gone);
    control.unref();
    this.child = child;
    this.control = control;
    this.controlFd = ours;
  }

  private onData(chunk: string): void {
    this.pending += chunk;
    for (let nl = this.pending.indexOf("\n"); nl >= 0; nl = this.pending.indexOf("\n")) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      let reply: { id?: unknown; pid?: unknown; exitCode?: unknown; signal?: unknown; error?: unknown; event?: unknown; message?: unknown };
      try {
        reply = JSON.parse(line);
      } catch {
        continue;
      }
      // The helper could not even start (its sealed copy, say): it reports as a run's helper would, and exits.
      if (reply.event === "error") continue;
      const entry = typeof reply.id === "number" ? this.runs.get(reply.id) : undefined;
      if (!entry) continue;
      if (typeof reply.pid === "number") entry.forked(reply.pid);
      else if (typeof reply.error === "string") this.settle(reply.id as number, { code: 125, signal: null }, new Error(reply.error));
      else if (typeof reply.exitCode === "number") {
        const signal = typeof reply.signal === "string" ? (reply.signal as NodeJS.Signals) : null;
        this.settle(reply.id as number, signal ? { code: null, signal } : { code: reply.exitCode, signal: null });
      }
    }
  }

  private settle(id: number, exit: SupervisorExit, refused?: Error): void {
    const entry = this.runs.get(id);
    if (!entry) return;
    this.runs.delete(id);
    entry.done = true;
    if (refused) entry.refused(refused);
    entry.reaped(exit);
    if (this.runs.size > 0) return;
    this.control?.unref();
    if (this.closing) void this.stop();
  }

  /** Runs not reaped yet died with the helper (PDEATHSIG); those not forked yet never started. */
  private helperGone(): void {
    for (const id of [...this.runs.keys()]) this.settle(id, { code: null, signal: "SIGKILL" }, new WarmHelperGone("the warm helper exited before starting the run"));
    this.pending = "";
  }
}
