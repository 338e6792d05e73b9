/**
 * The page's side of the vm backend in a browser (bundled as
 * dist/browser/tsbox-vm.js): a Worker runs the v86 guest (worker.ts), this
 * class starts it, runs containers in it and streams their output back.
 *
 *   const vm = await BrowserVm.start({ wasm, bios, kernel, initrd, image: { layout: "images/busybox/" } }, { onProgress });
 *   const { exitCode, stdout } = await vm.run({ cmd: ["echo", "hi"] });
 *   vm.terminate();
 */
import { TsboxError, type TsboxErrorCode } from "../../../errors.js";
import { concat, fromUtf8, utf8 } from "../bytes.js";
import type { MachineConfig } from "../guest-machine.js";
import type { GuestSources, ImageSource, PageMessage, ProgressEvent, RunRequest, Source, WorkerFailure, WorkerMessage } from "./protocol.js";

export type { BootPhase, GuestSources, ImageSource, ProgressEvent, RunRequest } from "./protocol.js";

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

export interface RunOptions extends Omit<RunRequest, "stdin"> {
  /** Given to the container's stdin, then end of file; without it stdin is /dev/null. */
  stdin?: string | Uint8Array;
  onStdout?: (chunk: Uint8Array) => void;
  onStderr?: (chunk: Uint8Array) => void;
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

/** A running container: stdin to write, its pid once started, its result once exited. */
export class BrowserProcess {
  /** The container's pid in the guest, once its command runs. */
  readonly started: Promise<number>;
  /** The exit status and all output; rejects when the container could not start (exitCode 125/126/127). */
  readonly exited: Promise<RunResult>;
  private readonly stdout: Uint8Array[] = [];
  private readonly stderr: Uint8Array[] = [];
  private settle!: { started: (pid: number) => void; exit: (r: RunResult) => void; fail: (e: Error) => void };

  constructor(
    private readonly id: number,
    private readonly send: (msg: PageMessage) => void,
    private readonly options: SpawnOptions,
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
  }

  write(data: string | Uint8Array): void {
    this.send({ type: "stdin", id: this.id, data: typeof data === "string" ? utf8(data) : data });
  }

  /** End of file on stdin. */
  end(): void {
    this.send({ type: "stdin-end", id: this.id });
  }

  /** Sends a signal (default SIGTERM) to the container's init. */
  kill(signal = 15): void {
    this.send({ type: "kill", id: this.id, signal });
  }

  /** @internal the Worker's messages for this container. */
  onMessage(msg: WorkerMessage): boolean {
    switch (msg.type) {
      case "started":
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
        this.settle.exit({ exitCode: msg.exitCode, signal: msg.signal, stdout: fromUtf8(concat(this.stdout)), stderr: fromUtf8(concat(this.stderr)) });
        return true;
      case "run-failed":
        this.settle.fail(toError(msg.error));
        return true;
      default:
        return false;
    }
  }

  /** @internal the Worker is gone. */
  abort(err: Error): void {
    this.settle.fail(err);
  }
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

  /** Starts a container; see BrowserProcess. */
  spawn(options: SpawnOptions = {}): BrowserProcess {
    const id = this.nextId++;
    const proc = new BrowserProcess(id, (msg) => this.send(msg), options);
    if (this.terminated) {
      proc.abort(this.terminated);
      return proc;
    }
    this.processes.set(id, proc);
    const { onStdout: _o, onStderr: _e, stdin, ...request } = options;
    this.send({ type: "run", id, request: { ...request, stdin: Boolean(stdin) } });
    return proc;
  }

  /** Runs a container to its end: exit code and all its output. */
  async run(options: RunOptions = {}): Promise<RunResult> {
    const { stdin, ...rest } = options;
    const proc = this.spawn({ ...rest, stdin: stdin !== undefined });
    if (stdin !== undefined) {
      proc.write(stdin);
      proc.end();
    }
    return proc.exited;
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
