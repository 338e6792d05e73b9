import { basename, join } from "node:path";
import { writeFileSync } from "node:fs";
import { ContainerError, errorMessage, isTsboxError, TsboxError } from "../../../errors.js";
import { AgentRequestError } from "./agent-link.js";
import { abortable, abortError } from "../../../abortable.js";
import type { Backend, BackendCapabilities, ContainerProcess, ContainerStats, CopyHelper, CopyRequest, ExecStartOptions, KernelProcesses, LaunchOptions, ResolvChange, StartOptions } from "../../backend.js";
import { parseContainerStats } from "../../container-stats.js";
import { readSpec } from "../../../containers/spec-file.js";
import type { LinuxResources, NetworkSpec } from "../../../spec/container-spec.js";
import { toGuestNetwork } from "../core/guest-network.js";
import { GUEST_INIT_SOURCE, GUEST_RUN_DIR } from "../core/guest-spec.js";
import type { ExportTable } from "./container-run.js";
import { isActive, readState, supervisorAlive } from "../../../containers/state.js";
import { bundlePaths } from "../../../paths.js";
import type { HostIdentity } from "../../../spec/id-mappings.js";
import type { ContainerKernel } from "../../../spec/resources.js";
import { guestIdentity } from "./guest-ids.js";
import { parseNetDev } from "../../../network/net-io.js";
import type { ExecContext } from "./exec.js";
import { recordAttachments, removeAttachment } from "./published-ports.js";
import type { OpenedMachine, OpenOptions } from "./session.js";

export interface VmBackendOptions extends OpenOptions {
  /** A guest of this process's own: keep it running this long after its last container ended (default 0: shut down). */
  idleMs?: number;
  /**
   * Run containers in the user's long-lived guest (`tsbox vm`), started on
   * demand, where other processes reach them (default, unless
   * `$TSBOX_VM_IDLE` is 0); false: a guest of this process's own.
   */
  daemon?: boolean;
}

/**
 * Runs containers inside a v86-emulated Linux guest (vm-images/), through
 * the guest agent (native-rs/agent): the same container crate as the
 * native backend, on linux/386 images. The guest is the user's `tsbox vm`
 * daemon's (started on demand, it stops by itself after `$TSBOX_VM_IDLE`
 * idle seconds), or one of this process's own (restored from a snapshot,
 * or booted) on the first `start`, shared by the containers that run at the
 * same time, that shuts down when the last one has ended.
 *
 * This module is light: the emulator and everything around it load on the
 * first `start` (the CLI's `run` path stays fast).
 */
export class VmBackend implements Backend {
  readonly name = "vm";
  private current: Promise<OpenedMachine> | undefined;
  private users = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly exportRefs = new Map<string, number>();
  /** How the last guest started (for tests and bench). */
  lastStart: OpenedMachine["start"] | undefined;

  constructor(private readonly options: VmBackendOptions = {}) {}

  /** `--init`: the agent itself, the guest's /init (GUEST_INIT_SOURCE). */
  initBinary(): string {
    return GUEST_INIT_SOURCE;
  }

  containerIdentity(host: HostIdentity): HostIdentity {
    return guestIdentity(host);
  }

  /** The guest's kernel: uniprocessor (vm-images/kernel.config) and i386 (PID_MAX_LIMIT 32768). */
  containerKernel(): ContainerKernel {
    return { cpus: 1, pidMax: 32_768 };
  }

  capabilities(): BackendCapabilities {
    return { rootless: true, terminal: true, volumes: true, networks: "guest", platforms: ["linux/386"] };
  }

  async start(options: StartOptions): Promise<ContainerProcess> {
    writeFileSync(`${options.bundleDir}/config.json`, JSON.stringify(options.spec));
    const { startInGuest } = await import("./container-run.js");
    return this.inGuest(async (opened, done) => startInGuest({ link: opened.machine.link, p9: this.exportTable(opened), exportRefs: this.exportRefs, done }, options, basename(options.bundleDir)), options.signal);
  }

  /** Where a guest's 9p exports are registered: the daemon's table, or our machine's server. */
  private exportTable(opened: OpenedMachine): ExportTable {
    return opened.exports ?? { add: (n, e) => opened.machine.p9.addExport(n, e), remove: (n) => opened.machine.p9.removeExport(n) };
  }

  /**
   * Runs a process in a container of the running guest (never starts a
   * guest for it): ours, or the `tsbox vm` daemon's (a detached container,
   * or one another process runs there).
   */
  async exec(options: ExecStartOptions): Promise<ContainerProcess> {
    const { execInGuest } = await import("./exec.js");
    const cid = basename(options.bundleDir);
    return this.inRunningGuest(options.bundleDir, async (ctx, remote) => {
      const proc = await execInGuest(ctx, cid, options);
      // `exec -d`: nobody waits for it; the connection may go.
      if (options.detach && remote) await remote.machine.destroy();
      return proc;
    });
  }

  /**
   * `tsbox cp`/`export`: the agent's `copy` op (copy.ts), in a running
   * container, or in a view of a stopped one's layers in a guest started
   * for it if none runs.
   */
  async copy(bundleDir: string, request: CopyRequest): Promise<CopyHelper> {
    const { copyInGuest, copyInStoppedGuest } = await import("./copy.js");
    const state = readState(bundlePaths(bundleDir));
    // The agent's refusal to start it (the container ended as we came) is the container's, as for askAboutContainer:
    // ContainerFiles.run then copies once more, in its layers, when its record says it has stopped.
    if (state && isActive(state)) return this.inRunningGuest(bundleDir, (ctx) => copyInGuest(ctx, basename(bundleDir), request).catch(asContainerError));
    return this.inGuest((opened, done) => copyInStoppedGuest({ link: opened.machine.link, p9: this.exportTable(opened), exportRefs: this.exportRefs, done }, bundleDir, request));
  }

  /**
   * `use` with the link of the running guest (never starts one): ours, or
   * the `tsbox vm` daemon's (a detached container, or one another process
   * runs there), whose connection goes when `use` fails or its process is done.
   */
  private async inRunningGuest<T>(bundleDir: string, use: (ctx: ExecContext, remote?: OpenedMachine) => Promise<T>, notRunning = "the container is not running (its vm guest is gone)"): Promise<T> {
    if (this.current && this.users > 0) return this.inGuest((opened, done) => use({ link: opened.machine.link, done }));
    const remote = await (await import("./session.js")).connectDaemon(this.options.env);
    if (!remote) throw unreachable(bundleDir, notRunning);
    try {
      return await use({ link: remote.machine.link, done: () => void remote.machine.destroy() }, remote);
    } catch (err) {
      await remote.machine.destroy();
      throw err;
    }
  }

  /**
   * A detached container lives in the `tsbox vm` daemon's guest (started on
   * demand, with the idle stay of every on-demand start: it counts as work
   * while it runs, and the guest stops `$TSBOX_VM_IDLE` seconds after the
   * last container ends), under a monitor of the daemon's (monitor.ts): it
   * outlives this process.
   */
  async launch(options: LaunchOptions): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.launchInDaemon(options);
      } catch (err) {
        // The guest's idle stop began just as we came (before the launch reached it): a new one runs it, once the
        // stopping daemon is out of the way (until its process ends, its status may still name it).
        if (!(err instanceof DaemonGone) || attempt === 3) throw err;
        await (await import("./session.js")).daemonGone(this.options.env ?? process.env, err.pid);
      }
    }
  }

  private async launchInDaemon(options: LaunchOptions): Promise<void> {
    const { connectDaemon, ensureDaemon, isDaemonStopping, vmIdleSeconds } = await import("./session.js");
    const { pid } = await ensureDaemon(this.options.env, { idleSeconds: vmIdleSeconds(this.options.env) });
    const remote = await connectDaemon(this.options.env);
    if (!remote) throw new DaemonGone("the vm daemon did not answer", pid);
    try {
      const launched = remote.machine.link.request(
        "launch",
        { bundle: options.bundleDir, restart: options.restart, log: options.log, openStdin: options.openStdin, remove: options.remove, attachFirst: options.beforeStart !== undefined },
        300_000,
      );
      if (options.beforeStart) {
        const { connectMonitor } = await import("../../../containers/monitor-client.js");
        // The daemon starts the container once we have attached: as soon as its socket answers.
        let settled = false;
        const over = launched.then(() => void (settled = true), () => void (settled = true));
        let probe = await connectMonitor(options.bundleDir);
        for (; !probe && !settled; probe = await connectMonitor(options.bundleDir)) await Promise.race([over, new Promise((r) => setTimeout(r, 20))]);
        // A launch refused before its monitor listened: its error, below.
        if (probe) await options.beforeStart();
      }
      // A daemon whose idle stop began as we connected refuses the launch, or closes the connection before reading
      // it (the request still in the socket's queue): never launched there (a daemon with a monitor does not stop).
      const reply = await launched.catch((err: unknown) => Promise.reject(isDaemonStopping(err) ? new DaemonGone(errorMessage(err), pid) : err));
      if (Array.isArray(reply.warnings)) for (const w of reply.warnings) if (typeof w === "string") options.onWarning?.(w);
    } finally {
      await remote.machine.destroy();
    }
  }

  /**
   * `network connect`: the agent forks a keeper in the guest running
   * tsbox-runtime net-attach's code (`net-attach` op); its record is kept
   * on this host beside the others (what inspect, ps and port read).
   */
  async connect(options: { bundleDir: string; container: number; containerStart: string | null; network: NetworkSpec }): Promise<void> {
    const cid = basename(options.bundleDir);
    const { network } = toGuestNetwork(options.network, `${GUEST_RUN_DIR}/${cid}`);
    const reply = await this.askAboutContainer("net-attach", options.bundleDir, { network });
    recordAttachments(options.bundleDir, reply.networks, network.attach.map((a) => a.name), []);
  }

  /** `network disconnect`: the guest's keeper for that network tears its attachment down (`net-detach`). */
  async disconnect(options: { bundleDir: string; network: string; dns?: ResolvChange }): Promise<void> {
    await this.askAboutContainer("net-detach", options.bundleDir, { network: options.network, ...(options.dns ? { dns: options.dns } : {}) });
    removeAttachment(options.bundleDir, options.network);
  }

  async stats(bundleDir: string): Promise<ContainerStats> {
    const reply = await this.askAboutContainer("stats", bundleDir);
    const stats = parseContainerStats(reply.stats, "the vm agent");
    // Without a limit of its own a container may use the guest's memory, not the host's (docker on a Mac shows its VM's).
    const guestKiB = (reply.guest as { memTotalKiB?: unknown } | undefined)?.memTotalKiB;
    if (stats.memory.limit === null && typeof guestKiB === "number") stats.memory.limit = guestKiB * 1024;
    if (typeof reply.netDev === "string") stats.network = parseNetDev(reply.netDev);
    return stats;
  }

  /** `top`: the container's processes as the guest's /proc shows them (the agent's `top`). */
  async processes(bundleDir: string): Promise<KernelProcesses> {
    const reply = await this.askAboutContainer("top", bundleDir);
    if (!Array.isArray(reply.processes) || typeof reply.uptimeTicks !== "number") throw new ContainerError("the vm agent's top answer is malformed");
    return { processes: reply.processes as KernelProcesses["processes"], uptimeTicks: reply.uptimeTicks };
  }

  /** A foreground container's init, through the agent of the guest it runs in (the daemon's). */
  async signal(bundleDir: string, sig: number): Promise<boolean> {
    return (await this.askAboutContainer("signal", bundleDir, { signal: sig })).delivered === true;
  }

  async pause(bundleDir: string): Promise<void> {
    await this.askAboutContainer("pause", bundleDir);
  }

  async resume(bundleDir: string): Promise<void> {
    await this.askAboutContainer("resume", bundleDir);
  }

  /** `update` of a running container: config.json's limits into its cgroup in the guest (the agent's `update`). */
  async update(bundleDir: string, asked?: LinuxResources): Promise<string> {
    const { resources } = readSpec(join(bundleDir, "config.json")).linux;
    const reply = await this.askAboutContainer("update", bundleDir, { resources: resources ?? {}, ...(asked ? { asked } : {}) });
    return typeof reply.dropped === "string" ? reply.dropped : "";
  }

  /**
   * An agent op about the container of `bundleDir` (its cid is the bundle's
   * name), in the guest this backend holds, else in the one `tsbox vm start`
   * runs; never boots a guest for it. The agent's refusals (no such
   * container, no cgroup) become ContainerErrors.
   */
  private async askAboutContainer(op: "stats" | "top" | "signal" | "pause" | "resume" | "update" | "net-attach" | "net-detach", bundleDir: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const cid = basename(bundleDir);
    // One request: the guest (ours, or the daemon's connection) is let go as soon as it answers.
    return this.inRunningGuest(bundleDir, async ({ link, done }) => {
      try {
        return await link.request(op, { ...fields, cid }, 30_000);
      } catch (err) {
        return asContainerError(err);
      } finally {
        done();
      }
    }, `container ${cid.slice(0, 12)} is not running (no vm guest runs it here, nor a tsbox vm start one)`);
  }

  /**
   * Runs `begin` with the guest held: it hands `done` (idempotent) to the
   * process it starts, which calls it once gone; a failed start releases at once.
   */
  private async inGuest<T>(begin: (opened: OpenedMachine, done: () => void) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const opened = await this.acquireUnlessAborted(signal);
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      this.release();
    };
    try {
      return await begin(opened, done);
    } catch (err) {
      done();
      throw err;
    }
  }

  /**
   * `acquire`, given up when `signal` aborts (a guest's start takes seconds): the start goes on for whoever else
   * waits for it (a daemon stays up for the next runs), and our hold is released once it is done.
   */
  private async acquireUnlessAborted(signal: AbortSignal | undefined): Promise<OpenedMachine> {
    if (signal?.aborted) throw abortError(signal);
    const acquiring = this.acquire();
    if (!signal) return acquiring;
    try {
      return await abortable(acquiring, signal);
    } catch (err) {
      if (signal.aborted) acquiring.then(() => this.release(), () => {});
      throw err;
    }
  }

  /** The running guest (started if needed); pair with `release`. */
  async acquire(): Promise<OpenedMachine> {
    this.users++;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (!this.current) {
      this.current = (async () => {
        const opened = (await this.sharedGuest()) ?? (await (await import("./session.js")).openMachine(this.options));
        this.lastStart = opened.start;
        return opened;
      })();
      this.current.catch(() => (this.current = undefined));
    }
    try {
      const opened = await this.current;
      if (opened.machine.link.closed) throw new Error("the vm guest is gone");
      return opened;
    } catch (err) {
      this.users--;
      throw err;
    }
  }

  /**
   * The user's `tsbox vm` daemon's guest, started on demand unless
   * `$TSBOX_VM_IDLE` is 0 (or `daemon: false`): containers there are reached
   * by every tsbox process (exec, logs, stop from another terminal). Not when
   * a snapshot or save path is asked for: that is a guest of this process's.
   */
  private async sharedGuest(): Promise<OpenedMachine | undefined> {
    if (this.options.snapshot !== undefined || this.options.savePath || this.options.daemon === false) return undefined;
    const { checkDaemonLoopback, claimDaemon, connectDaemon, ensureDaemon, vmIdleSeconds } = await import("./session.js");
    const env = this.options.env ?? process.env;
    checkDaemonLoopback(env);
    // Claimed: a daemon at the end of its idle stay (TSBOX_VM_IDLE=0 once its last container ended) is not
    // worked in while it stops ("the vm daemon closed the connection" in a cp of a stopped container).
    const running = await claimDaemon(env);
    if (running) return running;
    const idleSeconds = vmIdleSeconds(env);
    if (idleSeconds === 0) return undefined;
    await ensureDaemon(env, { idleSeconds });
    checkDaemonLoopback(env); // one another process started meanwhile
    return connectDaemon(env);
  }

  release(): void {
    this.users--;
    if (this.users > 0) return;
    const idle = this.options.idleMs ?? 0;
    const stop = () => void this.shutdown();
    if (idle > 0) this.idleTimer = setTimeout(stop, idle);
    else stop();
  }

  /** Stops the guest now (running containers die with it). */
  async shutdown(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const cur = this.current;
    this.current = undefined;
    if (!cur) return;
    try {
      await (await cur).machine.destroy();
    } catch {
      // never started
    }
  }
}

/**
 * An agent's refusal of an op on a container (no such container there, not running) as the container's error:
 * one Node's record has that the guest does not run is not running (the agent's fixed wording, no caller's text).
 */
function asContainerError(err: unknown): never {
  if (!isTsboxError(err) || err.code === "runtime") throw err;
  const stopped = (err instanceof AgentRequestError && err.kind === "not_running") || /^no such container in the guest: /.test(err.message);
  throw new ContainerError(err.message, stopped ? "not_running" : undefined);
}

/** The daemon (of `pid`) went away before it took the launch (its idle stop had begun): another try starts a new one. */
class DaemonGone extends ContainerError {
  constructor(
    message: string,
    readonly pid: number,
  ) {
    super(message);
  }
}

/**
 * No guest here runs the container: it has ended, or it runs in a guest of
 * its own run's process (`TSBOX_VM_IDLE=0`), which no other process reaches.
 */
function unreachable(bundleDir: string, notRunning: string): Error {
  const state = readState(bundlePaths(bundleDir));
  if (state && isActive(state) && supervisorAlive(state)) {
    return new TsboxError(`container ${state.name} runs in a vm guest of its own tsbox process (pid ${state.monitorPid}), which other processes cannot reach: run it without TSBOX_VM_IDLE=0, or after tsbox vm start, to share the guest`, { code: "runtime" });
  }
  return new ContainerError(notRunning, "not_running");
}
