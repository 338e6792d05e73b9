/**
 * The page's side of the vm backend in a browser (bundled as
 * dist/browser/tsbox-vm.js): a Worker runs the v86 guest (worker.ts), this
 * class starts it, runs containers in it and streams their output back.
 *
 *   const vm = await BrowserVm.start({ wasm, bios, kernel, initrd, image: { layout: "images/busybox/" } }, { onProgress });
 *   const { exitCode, stdout } = await vm.run({ cmd: ["echo", "hi"] });
 *   const c = vm.spawn({ cmd: ["sleep", "60"] });
 *   const ps = await c.exec({ cmd: ["ps"] }); // in c's namespaces, with c's env, cwd and user
 *   vm.terminate();
 */
import { ContainerError, isTsboxError, TsboxError, type TsboxErrorCode } from "../../../errors.js";
import { concat, fromUtf8, utf8 } from "../bytes.js";
import type { MachineConfig } from "../guest-machine.js";
import type { ExecRequest, GuestSources, ImageSource, PageMessage, ProgressEvent, RunRequest, Source, WorkerFailure, WorkerMessage } from "./protocol.js";

export type { BootPhase, ExecRequest, GuestSources, ImageSource, ProgressEvent, RunRequest } from "./protocol.js";

export interface BrowserVmFiles extends GuestSources {
  image: ImageSource;
}

export interface BrowserVmOptions {
  /** The Worker bundle; default: tsbox-vm-worker.js beside this module. */
  workerUrl?: string | URL;
  /** Boot progress: loading (bytes fetched), booting (emulator up), ready. */
  onProgress?: (event: ProgressEvent) => void;
  /** One-line notices (a saved state that cannot be used). */
  onNotice?: (message: string) => void;
  /** Guest memory and kernel command line; a saved state only restores with the one it was made with. */
  config?: MachineConfig;
}

/** Output as it arrives (the result has all of it too). */
export interface OutputCallbacks {
  onStdout?: (chunk: Uint8Array) => void;
  onStderr?: (chunk: Uint8Array) => void;
}

export interface RunOptions extends Omit<RunRequest, "stdin">, OutputCallbacks {
  /** Given to the container's stdin, then end of file; without it stdin is /dev/null. */
  stdin?: string | Uint8Array;
}

export interface RunResult {
  exitCode: number;
  /** The signal that killed it (e.g. "SIGKILL"), else null. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions extends Omit<RunOptions, "stdin"> {
  /** Keep stdin open for `write`/`end`. */
  stdin?: boolean;
}

/** A process in a running container: defaults (env merged, cwd, user) are the container's own, as with docker exec. */
export interface ExecOptions extends Omit<ExecRequest, "stdin">, OutputCallbacks {
  /** Given to the process's stdin, then end of file; without it stdin is /dev/null. */
  stdin?: string | Uint8Array;
}

export interface ExecSpawnOptions extends Omit<ExecOptions, "stdin"> {
  /** Keep stdin open for `write`/`end`. */
  stdin?: boolean;
}

/** What a process needs of its BrowserVm. */
interface ProcessHost {
  send(msg: PageMessage): void;
  exec(container: BrowserContainer, options: ExecSpawnOptions): BrowserProcess;
}

/** A process in the guest (a container, or one exec'd into it): stdin to write, its pid once started, its result once exited. */
export class BrowserProcess {
  /** Its pid in the guest, once its command runs. */
  readonly started: Promise<number>;
  /** The exit status and all output; rejects when it could not start (exitCode 125/126/127). */
  readonly exited: Promise<RunResult>;
  private readonly stdout: Uint8Array[] = [];
  private readonly stderr: Uint8Array[] = [];
  private settle!: { started: (pid: number) => void; exit: (r: RunResult) => void; fail: (e: Error) => void };
  private finished = false;
  /** The guest's name for a container, once started. */
  protected cid: string | undefined;
  /** Messages to the Worker; with a gate, they wait for it (and are dropped if it fails). */
  private readonly post: (msg: PageMessage) => void;

  /** @internal */
  constructor(
    /** @internal the page's id of this process */
    readonly id: number,
    protected readonly host: ProcessHost,
    private readonly options: OutputCallbacks,
    gate?: Promise<void>,
  ) {
    let startedCb!: (pid: number) => void;
    let failStart!: (e: Error) => void;
    this.started = new Promise((resolve, reject) => ((startedCb = resolve), (failStart = reject)));
    this.started.catch(() => {});
    this.exited = new Promise((resolve, reject) => {
      this.settle = {
        started: startedCb,
        exit: resolve,
        fail: (e) => (failStart(e), reject(e)),
      };
    });
    this.exited.catch(() => {});
    this.post = gate ? (msg) => void gate.then(() => host.send(msg), () => {}) : (msg) => host.send(msg);
  }

  /** Until it has exited (or failed to start). */
  get running(): boolean {
    return !this.finished;
  }

  write(data: string | Uint8Array): void {
    this.post({ type: "stdin", id: this.id, data: typeof data === "string" ? utf8(data) : data });
  }

  /** End of file on stdin. */
  end(): void {
    this.post({ type: "stdin-end", id: this.id });
  }

  /** Sends a signal (default SIGTERM) to the process (a container: its init). */
  kill(signal = 15): void {
    this.post({ type: "kill", id: this.id, signal });
  }

  /** @internal its first message to the Worker (through the gate, if any). */
  request(msg: PageMessage): void {
    this.post(msg);
  }

  /** @internal the Worker's messages for this process. */
  onMessage(msg: WorkerMessage): boolean {
    switch (msg.type) {
      case "started":
        this.cid = msg.cid;
        this.settle.started(msg.pid);
        return false;
      case "stdout":
        this.stdout.push(msg.data);
        this.options.onStdout?.(msg.data);
        return false;
      case "stderr":
        this.stderr.push(msg.data);
        this.options.onStderr?.(msg.data);
        return false;
      case "exit":
        this.finished = true;
        this.settle.exit({ exitCode: msg.exitCode, signal: msg.signal, stdout: fromUtf8(concat(this.stdout)), stderr: fromUtf8(concat(this.stderr)) });
        return true;
      case "run-failed":
        this.abort(toError(msg.error));
        return true;
      default:
        return false;
    }
  }

  /** @internal the Worker is gone, or the process cannot be started. */
  abort(err: Error): void {
    this.finished = true;
    this.settle.fail(err);
  }
}

/** A running container (from `BrowserVm.spawn`): more processes run in it with `exec` and `spawnExec`. */
export class BrowserContainer extends BrowserProcess {
  /** The container's id in the guest (its default hostname is the first 12 characters), once started. */
  get containerId(): string | undefined {
    return this.cid;
  }

  /**
   * Starts `cmd` in this container (its namespaces: PID, mounts, files,
   * hostname), once the container runs. `started` and `exited` reject like
   * `spawn`'s (exitCode 127/126 when the command cannot run), and with a
   * ContainerError when the container is not running.
   */
  spawnExec(options: ExecSpawnOptions): BrowserProcess {
    return this.host.exec(this, options);
  }

  /**
   * Runs `cmd` in this container to its end. A command that cannot be run
   * resolves too, as Node's Container.exec does: 127 (not found) or 126,
   * with the message on stderr. Rejects with a ContainerError when the
   * container is not running.
   */
  async exec(options: ExecOptions): Promise<RunResult> {
    const { stdin, ...rest } = options;
    try {
      return await toEnd(this.spawnExec({ ...rest, stdin: stdin !== undefined }), stdin);
    } catch (err) {
      if (isTsboxError(err) && (err.code === "not_found" || err.code === "permission")) {
        return { exitCode: err.exitCode, signal: null, stdout: "", stderr: `${err.message}\n` };
      }
      throw err;
    }
  }

  /** @internal */
  notRunning(): ContainerError {
    return new ContainerError(this.cid ? `container ${this.cid.slice(0, 12)} is not running` : "the container is not running: it did not start");
  }
}

/** Gives `stdin` (then end of file) and waits for the end. */
function toEnd(proc: BrowserProcess, stdin: string | Uint8Array | undefined): Promise<RunResult> {
  if (stdin !== undefined) {
    proc.write(stdin);
    proc.end();
  }
  return proc.exited;
}

export class BrowserVm {
  private nextId = 1;
  private readonly processes = new Map<number, BrowserProcess>();
  private terminated: Error | undefined;

  private constructor(private readonly worker: Worker) {}

  /** Starts a Worker and boots (or restores) the guest in it; resolves once the guest's agent answers. */
  static start(files: BrowserVmFiles, options: BrowserVmOptions = {}): Promise<BrowserVm> {
    const worker = new Worker(options.workerUrl ?? new URL("./tsbox-vm-worker.js", import.meta.url), { type: "module" });
    const vm = new BrowserVm(worker);
    return new Promise<BrowserVm>((resolve, reject) => {
      const fail = (err: Error) => {
        vm.terminate(err);
        reject(err);
      };
      worker.onerror = (e) => fail(new TsboxError(`the vm Worker failed: ${e.message || "it could not be loaded"}`, { code: "runtime" }));
      worker.onmessage = ({ data: msg }: MessageEvent<WorkerMessage>) => {
        if (msg.type === "progress") {
          options.onProgress?.(msg);
          if (msg.phase === "ready") resolve(vm);
        } else if (msg.type === "notice") options.onNotice?.(msg.message);
        else if (msg.type === "start-failed") fail(toError(msg.error));
        else if ("id" in msg && vm.processes.get(msg.id)?.onMessage(msg)) vm.processes.delete(msg.id);
      };
      const { image, ...guest } = files;
      vm.send({ type: "start", files: absolute(guest), image: absoluteImage(image), ...(options.config ? { config: options.config } : {}) });
    });
  }

  /** Starts a container; see BrowserContainer. */
  spawn(options: SpawnOptions = {}): BrowserContainer {
    const { onStdout: _o, onStderr: _e, stdin, ...request } = options;
    return this.open((id, host) => new BrowserContainer(id, host, options), (id) => ({ type: "run", id, request: { ...request, stdin: Boolean(stdin) } }));
  }

  /** Runs a container to its end: exit code and all its output. */
  async run(options: RunOptions = {}): Promise<RunResult> {
    const { stdin, ...rest } = options;
    return toEnd(this.spawn({ ...rest, stdin: stdin !== undefined }), stdin);
  }

  /** `BrowserContainer.spawnExec`: sent once the container runs (its stdin and signals wait for that too). */
  private exec(container: BrowserContainer, options: ExecSpawnOptions): BrowserProcess {
    const { onStdout: _o, onStderr: _e, stdin, ...request } = options;
    const ready = container.started.then(
      () => {
        if (!container.running) throw container.notRunning();
      },
      () => {
        throw container.notRunning();
      },
    );
    return this.open(
      (id, host) => new BrowserProcess(id, host, options, ready),
      (id) => ({ type: "exec", id, container: container.id, request: { ...request, stdin: Boolean(stdin) } }),
      ready,
    );
  }

  /** A new process: registered for the Worker's messages, its request sent (after `gate`, which fails it if it rejects). */
  private open<P extends BrowserProcess>(make: (id: number, host: ProcessHost) => P, request: (id: number) => PageMessage, gate?: Promise<void>): P {
    const id = this.nextId++;
    const proc = make(id, { send: (msg) => this.send(msg), exec: (c, o) => this.exec(c, o) });
    if (this.terminated) {
      proc.abort(this.terminated);
      return proc;
    }
    this.processes.set(id, proc);
    gate?.catch((err: Error) => {
      this.processes.delete(id);
      proc.abort(err);
    });
    proc.request(request(id));
    return proc;
  }

  /** Stops the Worker and the guest with it; running containers fail. */
  terminate(reason: Error = new TsboxError("the vm was terminated", { code: "runtime" })): void {
    if (this.terminated) return;
    this.terminated = reason;
    this.worker.terminate();
    for (const p of this.processes.values()) p.abort(reason);
    this.processes.clear();
  }

  private send(msg: PageMessage): void {
    if (!this.terminated) this.worker.postMessage(msg);
  }
}

function toError(f: WorkerFailure): TsboxError {
  return new TsboxError(f.message, { exitCode: f.exitCode ?? 125, code: (f.code as TsboxErrorCode | undefined) ?? "runtime" });
}

/** URLs as the page sees them (the Worker would resolve them against its own script). */
function absolute(files: GuestSources): GuestSources {
  const abs = (s: Source): Source => (typeof s === "string" ? new URL(s, location.href).href : s);
  return {
    wasm: abs(files.wasm),
    bios: abs(files.bios),
    kernel: abs(files.kernel),
    initrd: abs(files.initrd),
    ...(files.snapshot ? { snapshot: { state: abs(files.snapshot.state), meta: abs(files.snapshot.meta), manifest: abs(files.snapshot.manifest) } } : {}),
  };
}

function absoluteImage(image: ImageSource): ImageSource {
  const abs = (u: string) => new URL(u, location.href).href;
  if ("layout" in image) return { ...image, layout: abs(image.layout) };
  return {
    layers: image.layers.map((l) => (typeof l === "string" ? abs(l) : { ...l, url: abs(l.url) })),
    ...(image.config ? { config: abs(image.config) } : {}),
  };
}
