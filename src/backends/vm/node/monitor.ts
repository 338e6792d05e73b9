/**
 * The monitor of a detached vm container, in the `tsbox vm` daemon (the
 * guest lives there, so the container's monitor does too): what
 * `tsbox-runtime monitor` is for native containers, over the agent instead
 * of a supervisor process. Same contract: the state it writes
 * (src/containers/state.ts), the log (log-writer.ts, the json-file format of
 * the native monitor), the socket `<bundle>/attach.sock` and its protocol
 * (native-rs/runtime/src/monitor/clients.rs; the client is
 * src/containers/monitor-client.ts), the restart policies
 * (restart-policy.ts). Per run: the container is created and started in the
 * guest (container-run.ts), its output logged and passed to attached
 * clients, its end recorded, then restarted or done.
 */
import { recordEvent } from "../../../containers/events.js";
import { existsSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { errorMessage, isTsboxError } from "../../../errors.js";
import { viaSocketAddress } from "../../../fs-util.js";
import { removeTree } from "../../../remove-tree.js";
import { LogWriter, type LogStream } from "../../../containers/log-writer.js";
import { MONITOR_SOCKET, type RunEnd } from "../../../containers/monitor-client.js";
import { ContainerNames } from "../../../containers/names.js";
import { readContainerVolumes, VolumeStore } from "../../../containers/volumes.js";
import { nextRestartDelay, parseRestartPolicy, type RestartPolicy, restartsAfter } from "../../../containers/restart-policy.js";
import { CONTROL, encodeStdcopy, STDERR, StdcopyDecoder, STDIN, STDOUT } from "../../../containers/stdcopy.js";
import { failedStartFields, keepStateReserve, type LogSettings, processStartTime, readState, updateState, updateStateLocked, VM_STOPPED_ERROR } from "../../../containers/state.js";
import { DataPaths, type ContainerPaths } from "../../../paths.js";
import { ignoreClosedPipe } from "../../../stream-write.js";
import type { ContainerSpec } from "../../../spec/container-spec.js";
import { readSpec } from "../../../containers/spec-file.js";
import type { ContainerProcess } from "../../backend.js";
import { type RunContext, startInGuest } from "./container-run.js";
import { GUEST_STOPPED_EXIT } from "../core/guest-spec.js";

/** A container's end when its guest is stopped under it, as its record keeps it. */
export const KILLED_WITH_GUEST: RunEnd = { ...GUEST_STOPPED_EXIT, error: VM_STOPPED_ERROR };

export interface LaunchRequest {
  bundle: string;
  restart: string;
  /** `driver: "none"`: no log is kept (output reaches attached clients only). */
  log: LogSettings;
  openStdin: boolean;
  remove: boolean;
  /** Start once the first client has attached (at most 30 s later). */
  attachFirst: boolean;
}

/** The guest side the monitor runs containers with (the daemon's own link and 9p exports). */
export type GuestContext = Omit<RunContext, "done">;

const HIGH_WATER = 256 * 1024;

interface Client {
  socket: Socket;
  attach?: { stdin: boolean; stdout: boolean; stderr: boolean; stdinOnce: boolean };
  /** Answered at the end of the run (`wait`, `stop`). */
  waiting?: boolean;
}

export class VmMonitor {
  private readonly paths: ContainerPaths;
  private policy: RestartPolicy;
  private readonly log: LogWriter | undefined;
  private server: Server | undefined;
  private readonly clients = new Set<Client>();
  private proc: ContainerProcess | undefined;
  private began = 0;
  private restarts = 0;
  private backoff: number | null = null;
  private restartTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private manualStop = false;
  private startedOnce = false;
  private last: RunEnd | undefined;
  private attachWaiter: (() => void) | undefined;
  /** What the first start warned about: the launch's reply carries it to the starter. */
  readonly warnings: string[] = [];
  /** Resolves once the monitor is done for good. */
  readonly done: Promise<void>;
  private finish!: () => void;

  private constructor(
    private readonly guest: GuestContext,
    private readonly req: LaunchRequest,
    private readonly onDone: (m: VmMonitor) => void,
  ) {
    this.paths = new DataPaths(dirname(dirname(req.bundle))).container(basename(req.bundle));
    this.policy = parseRestartPolicy(req.restart);
    this.log = req.log.driver === "none" ? undefined : new LogWriter(req.bundle, req.log.maxSize, req.log.maxFiles);
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  get bundle(): string {
    return this.req.bundle;
  }

  get running(): boolean {
    return this.proc !== undefined || this.restartTimer !== undefined;
  }

  /**
   * Starts it; resolves once its command runs (the first state written, under
   * the lock the requester holds for us), rejects with the start's error.
   */
  static async launch(guest: GuestContext, req: LaunchRequest, onDone: (m: VmMonitor) => void): Promise<VmMonitor> {
    const m = new VmMonitor(guest, req, onDone);
    try {
      await m.listen();
      if (req.attachFirst) await m.firstAttach();
      await m.run();
    } catch (err) {
      await m.fail(err);
      throw err;
    }
    return m;
  }

  /** The daemon is going away: containers die with the guest; their records say so. */
  async shutdown(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.manualStop = true;
    this.proc?.kill("SIGKILL");
    this.proc = undefined;
    await this.ended(KILLED_WITH_GUEST);
  }

  // ------------------------------------------------------------ socket

  private async listen(): Promise<void> {
    const socketPath = join(this.req.bundle, MONITOR_SOCKET);
    rmSync(socketPath, { force: true });
    const server = createServer((socket) => this.accept(socket));
    // The bundle path may be too long for a socket address.
    await viaSocketAddress(this.req.bundle, MONITOR_SOCKET, (address) =>
      new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(address, () => resolve());
      }),
    );
    this.server = server;
  }

  private firstAttach(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), 30_000);
      const done = () => {
        clearTimeout(timer);
        this.attachWaiter = undefined;
        resolve();
      };
      this.attachWaiter = done;
    });
  }

  private accept(socket: Socket): void {
    const client: Client = { socket };
    this.clients.add(client);
    socket.on("error", () => {});
    socket.on("close", () => {
      this.clients.delete(client);
      if (client.attach?.stdin) this.endInputOnce(client);
    });
    let line = "";
    const decoder = new StdcopyDecoder();
    socket.on("data", (chunk: Buffer) => {
      if (client.attach) return this.fromAttached(client, decoder, chunk);
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        line += chunk.toString("utf8");
        if (line.length > 1 << 20) socket.destroy();
        return;
      }
      line += chunk.subarray(0, nl).toString("utf8");
      let request: Record<string, unknown>;
      try {
        request = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return this.reply(client, { ok: false, error: "malformed request" });
      }
      this.request(client, request);
      const rest = chunk.subarray(nl + 1);
      if (client.attach && rest.length > 0) this.fromAttached(client, decoder, rest);
    });
  }

  private reply(client: Client, body: Record<string, unknown>): void {
    client.socket.end(JSON.stringify(body) + "\n");
  }

  private request(client: Client, req: Record<string, unknown>): void {
    const running = this.proc !== undefined;
    const restarting = this.restartTimer !== undefined;
    const num = (k: string, d: number) => (typeof req[k] === "number" ? (req[k] as number) : d);
    switch (req.op) {
      case "attach": {
        if (!running && !this.attachWaiter) return this.reply(client, { ok: false, error: restarting ? "the container is restarting: wait until it runs" : "the container is not running" });
        const stdin = req.stdin === true && this.req.openStdin;
        client.attach = { stdin, stdout: req.stdout === true, stderr: req.stderr === true, stdinOnce: req.stdinOnce === true };
        client.socket.write(JSON.stringify({ ok: true, tty: this.tty(), stdin }) + "\n");
        this.attachWaiter?.();
        return;
      }
      case "kill":
      case "stop": {
        const signal = num("signal", req.op === "kill" ? 9 : 15);
        if (req.op === "stop" || req.stop === true) this.manualStop = true;
        if (restarting && this.manualStop) {
          this.cancelRestart();
          return this.reply(client, { ok: true, ...(req.op === "stop" ? this.last : {}) });
        }
        const sent = running && this.proc!.kill(signal);
        if (!sent && (!running || req.op === "kill")) return this.reply(client, { ok: false, error: "the container is not running" });
        if (req.op === "kill") return this.reply(client, { ok: true });
        // Not sent: its run has ended and is being put away (a kept layer saved): a stop is answered once it is recorded.
        client.waiting = true;
        if (!sent) return;
        const timeout = num("timeout", 10);
        if (timeout >= 0 && signal !== 9) {
          clearTimeout(this.killTimer);
          this.killTimer = setTimeout(() => this.proc?.kill(9), timeout * 1000);
        }
        return;
      }
      case "wait":
        if (!running && !restarting) return this.reply(client, { ok: true, ...this.last });
        client.waiting = true;
        return;
      case "resize":
        this.proc?.resize(num("cols", 80), num("rows", 24));
        return this.reply(client, { ok: true });
      case "policy":
        // `update --restart`: the policy of the runs that end from now on.
        try {
          this.policy = parseRestartPolicy(typeof req.restart === "string" ? req.restart : "");
        } catch (err) {
          return this.reply(client, { ok: false, error: (err as Error).message });
        }
        return this.reply(client, { ok: true });
      case "status":
        return this.reply(client, { ok: true, status: running ? "running" : restarting ? "restarting" : "exited", pid: this.proc?.pid ?? null, restartCount: this.restarts });
      default:
        return this.reply(client, { ok: false, error: `unknown op ${JSON.stringify(req.op)}` });
    }
  }

  private fromAttached(client: Client, decoder: StdcopyDecoder, chunk: Buffer): void {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch {
      client.socket.destroy();
      return;
    }
    for (const { stream, payload } of frames) {
      if (stream === STDIN && client.attach?.stdin) this.proc?.stdin?.write(payload);
      else if (stream === CONTROL) {
        const body = JSON.parse(payload.toString("utf8")) as { resize?: { cols: number; rows: number }; closeStdin?: boolean };
        if (body.resize) this.proc?.resize(body.resize.cols, body.resize.rows);
        if (body.closeStdin) this.endInputOnce(client);
      }
    }
  }

  /**
   * docker's StdinOnce: the input ends with the client that attached with it. Never a terminal's: the
   * container keeps it for the next attach (`run -it`, Ctrl-P Ctrl-Q, `attach`), as the native monitor does.
   */
  private endInputOnce(client: Client): void {
    if (client.attach?.stdinOnce && !this.tty()) this.proc?.stdin?.end();
  }

  private tty(): boolean {
    return this.spec().process.terminal;
  }

  private spec(): ContainerSpec {
    return readSpec(this.paths.config);
  }

  // ------------------------------------------------------------ runs

  private async run(): Promise<void> {
    // Room for this run's end on a full disk (a restart's run had the last one's).
    keepStateReserve(this.paths);
    let released!: () => void;
    const gone = new Promise<void>((r) => (released = r));
    const proc = await startInGuest(
      { ...this.guest, done: () => released() },
      {
        bundleDir: this.req.bundle,
        spec: this.spec(),
        stdin: this.req.openStdin ? "pipe" : "ignore",
        stdout: "pipe",
        stderr: "pipe",
        ...(this.startedOnce ? {} : { onWarning: (w: string) => this.warnings.push(w) }),
      },
      basename(this.req.bundle),
    );
    this.proc = proc;
    // Attached clients' input to a container that stopped reading it: nothing to tell them.
    if (proc.stdin) ignoreClosedPipe(proc.stdin);
    this.began = Date.now();
    const first = !this.startedOnce;
    this.startedOnce = true;
    const fields = {
      status: "running" as const,
      pid: proc.pid,
      monitorPid: process.pid,
      monitorStartTime: processStartTime(process.pid),
      started: new Date().toISOString(),
      exitCode: null,
      signal: null,
      error: null,
      oomKilled: false,
      restartCount: this.restarts,
      ...(first ? { finished: null } : {}),
    };
    // The first start is recorded under the lock the requester holds for us.
    if (first) updateStateLocked(this.paths, () => fields);
    else await updateState(this.paths, () => fields);
    this.pump(proc.stdout, "stdout", STDOUT);
    this.pump(proc.stderr, "stderr", STDERR);
    const over = async (end: RunEnd) => {
      // Shut down meanwhile (the daemon stops): already recorded.
      if (this.proc !== proc) return;
      this.log?.flush("stdout");
      this.log?.flush("stderr");
      this.proc = undefined;
      clearTimeout(this.killTimer);
      await this.ended(end);
    };
    void proc.exited.then(
      async (status) => {
        await gone;
        await over({ exitCode: status.exitCode, signal: status.signal, oomKilled: false, error: null });
      },
      // Its `wait` failed: the guest went (the link closed with the vm's destroy), and the container with it.
      () => over(KILLED_WITH_GUEST),
    );
  }

  private pump(stream: Readable | null, name: LogStream, id: number): void {
    stream?.on("data", (chunk: Buffer) => {
      this.log?.write(name, chunk);
      for (const c of this.clients) {
        if (!c.attach || !(id === STDOUT ? c.attach.stdout : c.attach.stderr)) continue;
        c.socket.write(encodeStdcopy(id, chunk));
        // A lagging client holds the container back (docker attach's behaviour), never loses output.
        if (c.socket.writableLength > HIGH_WATER) {
          stream.pause();
          c.socket.once("drain", () => stream.resume());
        }
      }
    });
  }

  private async ended(end: RunEnd): Promise<void> {
    this.last = end;
    const removed = !existsSync(this.paths.state);
    const again = !removed && restartsAfter(this.policy, end.exitCode, this.restarts, this.manualStop);
    await updateState(this.paths, () => ({ status: again ? "restarting" : "exited", pid: null, finished: new Date().toISOString(), ...end })).catch(() => {});
    if (!again) return this.endForGood();
    this.notifyEnd();
    this.backoff = nextRestartDelay(this.backoff, Date.now() - this.began);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      this.run().catch((err: unknown) => void this.ended(failure(err)));
    }, this.backoff);
  }

  private cancelRestart(): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    void updateState(this.paths, () => ({ status: "exited" }))
      .catch(() => {})
      .then(() => this.endForGood());
  }

  private notifyEnd(): void {
    for (const c of this.clients) {
      if (c.waiting) this.reply(c, { ok: true, ...this.last });
      else if (c.attach) {
        c.socket.end(encodeStdcopy(CONTROL, Buffer.from(JSON.stringify({ exited: this.last }))));
        c.attach = undefined;
      }
    }
  }

  /** As the native monitor: the socket goes before anyone hears of the end. */
  private async endForGood(): Promise<void> {
    this.server?.close();
    rmSync(join(this.req.bundle, MONITOR_SOCKET), { force: true });
    this.notifyEnd();
    this.log?.close();
    if (this.req.remove && this.startedOnce) {
      const state = readState(this.paths);
      if (state) recordEvent(this.req.bundle, state, "destroy");
      // Its anonymous volumes go with it, as the front end's removals take them (read before the bundle goes).
      const anonymous = readContainerVolumes(this.paths).anonymous;
      await removeTree(this.req.bundle).catch(() => {});
      const data = new DataPaths(dirname(dirname(this.req.bundle)));
      rmSync(data.removalMarker(basename(this.req.bundle)), { force: true });
      if (state?.name) new ContainerNames(data).release(state.name, basename(this.req.bundle));
      await new VolumeStore(data).removeAnonymous(anonymous).catch(() => {});
    }
    this.onDone(this);
    this.finish();
  }

  /** The very first start failed: recorded (under the requester's lock), and nothing restarts. */
  private async fail(err: unknown): Promise<void> {
    const end = failure(err);
    updateStateLocked(this.paths, () => failedStartFields(err));
    this.last = end;
    await this.endForGood();
  }
}

function failure(err: unknown): RunEnd {
  return { exitCode: isTsboxError(err) ? err.exitCode : 125, signal: null, oomKilled: false, error: errorMessage(err) };
}

