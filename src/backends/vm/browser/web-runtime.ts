/**
 * `Runtime` of `tsbox/browser`: Node's verbs and option names (src/runtime.ts),
 * with the vm backend in a Web Worker (worker.ts) and the images in the
 * browser's store. The guest starts on first use (or `boot()`, which a page
 * calls early to show progress), restores the state saved by an earlier
 * visit when there is one, and runs every container of this Runtime.
 *
 *   const rt = new Runtime({ onProgress });
 *   await using c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo hi"] });
 *   const { exitCode, stdout } = await c.output();
 */
import type { ExitStatus, RemoveOptions, SpawnOptions } from "../../../container.js";
import { checkContainerName, nameInUse } from "../../../containers/names.js";
import { ContainerError, noSuchContainer, removeRunningRefusal, TsboxError, UsageError } from "../../../errors.js";
import { hex } from "../core/bytes.js";
import { GUEST_STOPPED_EXIT } from "../core/guest-spec.js";
import { checkMachineConfig, type MachineConfig } from "../core/machine-config.js";
import type { PullEvent } from "../../../image/registry/pull-image.js";
import type { RunOptions } from "../../../spec/run-options.js";
import { checkPageOptions, checkRunOptionTypes, describeValue, isRunOption } from "../../../spec/run-options-check.js";
import { LIST_KINDS, LOAD_KINDS, PULL_KINDS, REMOVE_IMAGE_KINDS, REMOVE_KINDS, type RemoveImageOptions } from "../../../verb-options.js";
import { type BrowserImageSummary, type CallName, type Calls, type GuestSources, type GuestStats, type PageMessage, type ProgressEvent, type RunRequest, WARM_UPS, type WarmUp, type WorkerMessage } from "./protocol.js";
import { reviveError } from "./revive-error.js";
import { stateFilesDir } from "./state-files.js";
import { Container } from "./web-container.js";
import { WebProcess } from "./web-process.js";

export interface RuntimeOptions {
  /**
   * The folder the guest's files are served from (as `npm run build:web`
   * and dist/browser lay them out): v86.wasm, tsbox-vm-worker.js and guest/
   * (bios.bin, bzImage, initramfs.cpio, manifest.json, snapshot.state(.json),
   * images/busybox/); "/tsbox" is the folder /tsbox/. Default: tsbox's own dist/browser/, where this module
   * is the package's file; an app's bundler moves it, so there it is needed.
   */
  assets?: string | URL;
  /** Any of those files elsewhere (URLs or bytes); `busybox` is the embedded image's OCI layout. */
  files?: Partial<GuestSources> & { busybox?: string };
  /** The Worker bundle; default: tsbox-vm-worker.js in `assets`. */
  workerUrl?: string | URL;
  /** IndexedDB database for loaded images and the saved guest state (default "tsbox"); false: memory only. */
  storage?: string | false;
  /**
   * After a restore, run one throwaway container so v86's JIT is warm, then
   * keep a spare container of the default kind (busybox, or the standby's
   * image; no terminal, no stdin) for the first `run` (default "after-ready";
   * "off": neither). Later spares follow the page's own runs either way.
   */
  warmUp?: WarmUp;
  /**
   * A container to start ahead of time (e.g. a page's shell): the first
   * `run` with these options (a terminal size aside, which becomes a
   * resize) takes it running, its output so far first. It is kept in the
   * state this browser saves, so a returning visit's `run` needs no create
   * and start in the restored guest; after one is taken, another is started.
   */
  standby?: RunOptions;
  /** Guest memory and kernel command line; a saved state only restores with the one it was made with. */
  config?: MachineConfig;
  /** Boot progress: loading (bytes), booting, warming, ready. */
  onProgress?: (event: ProgressEvent) => void;
  /** One-line notices (a saved state that cannot be used). */
  onNotice?: (message: string) => void;
  /** Only "vm" (or "auto") exists in a browser. */
  backend?: "vm" | "auto";
}

/** A container this Runtime ran, as `containers()` lists it. */
export interface ContainerInfo {
  id: string;
  name: string | null;
  image: string;
  command: string[];
  backend: "vm";
  status: "running" | "paused" | "exited";
  created: string;
  exitCode: number | null;
  signal: string | null;
}

/** What `run` takes in a browser: Node's RunOptions keys, minus what a page cannot have. */
const RUN_KEYS = new Set(["image", "cmd", "entrypoint", "env", "workdir", "user", "hostname", "readOnly", "tty", "stdin", "stdout", "stderr", "remove", "name", "volumes"]);
/** RunOptions that need a network the browser cannot give (they get a message that says why). */
const NETWORK_KEYS = new Set(["network", "networks", "publish", "publishAll", "addHosts", "dns", "dnsSearch", "dnsOptions", "ip", "macAddress", "networkAliases"]);
/** Set by scripts/bundle-browser.mjs for the prebuilt bundle: its file name and its assets' folder from it. */
declare const TSBOX_OWN_FILES: { module: string; assets: string } | undefined;

/**
 * The default `assets`: tsbox's own files, found from this module where the package put it — beside the prebuilt
 * dist/browser/tsbox.js, or in dist/browser/ from tsc's dist/backends/vm/browser/web-runtime.js. An app's bundler
 * moves the module into a chunk of its own (webpack even makes import.meta.url the source's file: URL): there
 * the folder is unknown, and the error names `assets`. Never `new URL("./", import.meta.url)`: bundlers rewrite
 * that as an asset of theirs (Vite inlined the sibling dist/browser.js as a data: URL: "Invalid URL").
 */
function ownAssets(): URL | TsboxError {
  const own = typeof TSBOX_OWN_FILES === "object" ? TSBOX_OWN_FILES : { module: "web-runtime.js", assets: "../../../browser/" };
  const here = new URL(import.meta.url);
  if (/^https?:$/.test(here.protocol) && here.pathname.endsWith(`/${own.module}`)) return new URL(own.assets, here);
  const url = here.protocol === "data:" ? "a data: URL" : here.href.replace(/[?#].*/, "");
  const where = /^https?:$/.test(here.protocol) ? `it runs from ${url}, not tsbox's own dist/browser/tsbox.js` : `its import.meta.url is ${url}, not where the page loaded it from`;
  return new TsboxError(
    `tsbox cannot find its Worker and guest files: a bundler moved tsbox/browser (${where}). Copy node_modules/tsbox/dist/browser/{tsbox-vm-worker.js,v86.wasm,guest} to a folder your site serves and name it with the Runtime's \`assets\` option (with Vite: public/tsbox/ and \`assets: import.meta.env.BASE_URL + "tsbox/"\`)`,
    { code: "runtime" },
  );
}

/** `assets` names a folder: "/tsbox" is /tsbox/, not the folder above it (a URL's last name without its "/" is a file's). */
function folderUrl(assets: string | URL): URL {
  const url = new URL(assets, location.href);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

const OPTION_KEYS = new Set(["assets", "files", "workerUrl", "storage", "warmUp", "standby", "config", "onProgress", "onNotice", "backend"]);

export class Runtime {
  readonly backend = { name: "vm" as const };
  private worker: Worker | undefined;
  private booted: Promise<void> | undefined;
  /** Rejects `booted` while the guest is still starting: terminate() must settle it, as the Worker that would is gone. */
  private abortBoot: ((reason: Error) => void) | undefined;
  private failed: Error | undefined;
  private nextId = 1;
  private nextCall = 1;
  private readonly processes = new Map<number, WebProcess>();
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; progress?: (event: never) => void }>();
  private readonly records = new Map<string, ContainerInfo>();
  private readonly names = new Map<string, string>();
  private readonly live = new Map<string, Container>();
  /** The page ids of containers and processes (what the Worker calls them). */
  private readonly pageIds = new WeakMap<object, number>();
  /** Containers run with `remove`: forgotten once they exit. */
  private readonly autoRemove = new Set<string>();
  private readonly standby: RunRequest | undefined;

  constructor(private readonly options: RuntimeOptions = {}) {
    for (const key of Object.keys(options)) {
      if (key === "dataDir") throw new UsageError("dataDir: a browser keeps images and state in IndexedDB (the `storage` option names the database)");
      // Node's own (network) is one a page lacks; anything else is a typo, told as Node tells it.
      if (key === "network") throw new UsageError(`Runtime option "${key}" is not supported in the browser`);
      if (!OPTION_KEYS.has(key)) throw new UsageError(`Runtime options: unknown option ${JSON.stringify(key)} (${[...OPTION_KEYS].join(", ")})`);
    }
    if (options.backend !== undefined && options.backend !== "vm" && options.backend !== "auto") {
      throw new UsageError(`backend "${String(options.backend)}" is not available in a browser: only the vm backend runs there`);
    }
    if (options.warmUp !== undefined && !(WARM_UPS as readonly unknown[]).includes(options.warmUp)) {
      throw new UsageError(`warmUp: expected "before-ready", "after-ready" or "off", got ${describeValue(options.warmUp)}`);
    }
    if (options.config !== undefined) checkMachineConfig(options.config);
    if (options.standby) this.standby = runRequest(options.standby);
  }

  /** Starts the guest now (else the first call does): resolves once containers can run. */
  boot(): Promise<void> {
    // A terminated Runtime cannot run anything: its boot says so, though it had booted (a page checking with
    // `await rt.boot()` was told all was well).
    if (this.failed) return Promise.reject(this.failed);
    return (this.booted ??= this.startWorker());
  }

  /** Creates and starts a container; resolves once its command runs. */
  async run(options: RunOptions, control: Record<string, unknown> = {}): Promise<Container> {
    const request = runRequest(options);
    for (const key of Object.keys(control)) throw new UsageError(`run control "${key}" is not supported in the browser`);
    const name = options.name ?? null;
    if (name !== null) {
      checkContainerName(name);
      const owner = this.names.get(name);
      if (owner !== undefined) throw nameInUse(name, owner);
    }
    await this.boot();
    // Held while it starts (a second run with the name is refused), then given to its id.
    const pending = `starting-${hex(crypto.getRandomValues(new Uint8Array(8)))}`;
    if (name !== null) this.names.set(name, pending);
    let container: Container | undefined;
    const proc = this.open(
      { stdin: request.stdin, terminal: Boolean(request.tty) },
      (pageId) => ({ type: "run", id: pageId, request }),
      (stream, data) => container?.record(stream, data),
    );
    try {
      await proc.started;
    } catch (err) {
      if (name !== null) this.names.delete(name);
      throw err;
    }
    // The guest's id for it: its hostname is the first 12 characters, as on Node.
    const id = proc.cid!;
    if (name !== null) this.names.set(name, id);
    if (options.remove) this.autoRemove.add(id);
    container = new Container(id, name, proc, this.owner(), options.remove ?? false);
    this.pageIds.set(container, this.pageIds.get(proc)!);
    this.live.set(id, container);
    this.records.set(id, {
      id,
      name,
      image: options.image,
      command: options.cmd ?? [],
      backend: "vm",
      status: "running",
      created: new Date().toISOString(),
      exitCode: null,
      signal: null,
    });
    return container;
  }

  /** Loads the images of a `docker save` or OCI archive (gzip or not); returns their names. */
  async load(input: Blob | ArrayBuffer | Uint8Array, options: { repository?: string } = {}): Promise<string[]> {
    // Anything else (a FileList, a Response, a URL, null) went on to the Worker: null failed there as "the archive is empty".
    if (!(input instanceof Blob || input instanceof ArrayBuffer || input instanceof Uint8Array)) {
      throw new UsageError(`load takes the archive as a Blob (a File), an ArrayBuffer or a Uint8Array, not ${describeValue(input)}`);
    }
    checkPageOptions("load", options, LOAD_KINDS, { signal: "a load in the page runs to its end" });
    const bytes = input instanceof Uint8Array ? (input.slice().buffer as ArrayBuffer) : input;
    return this.call("load", [bytes, options]);
  }

  /** Stores the image of an OCI image layout served over HTTP (its index.json, blobs/) under `name`. */
  loadLayout(url: string | URL, name: string): Promise<string> {
    return this.call("loadLayout", [new URL(url, location.href).href, name]);
  }

  /**
   * Pulls an image's linux/386 manifest from a registry that lets this page's
   * origin read it (CORS: Access-Control-Allow-Origin, and Accept and
   * Authorization allowed), anonymously; loopback registries over http.
   */
  async pull(image: string, options: { onProgress?: (event: PullEvent) => void } = {}): Promise<{ name: string; digest: string }> {
    checkPageOptions("pull", options, PULL_KINDS, {
      platform: "the page's guest runs linux/386 images, the one platform it pulls",
      signal: "a pull in the page runs to its end",
      env: "a page has no environment to take registry settings from",
      concurrency: "the page fetches one blob at a time",
    });
    return this.call("pull", [image], options.onProgress);
  }

  /** Images in the browser's store (the embedded busybox appears after its first use). */
  images(): Promise<BrowserImageSummary[]> {
    return this.call("images", []);
  }

  /** Deletes an image from the page's store; the page's running containers keep theirs (in the guest's memory), so `force` changes nothing. */
  async removeImage(image: string, options: RemoveImageOptions = {}): Promise<void> {
    checkPageOptions("removeImage", options, REMOVE_IMAGE_KINDS, {
      platform: "a page's store holds the guest's platform (linux/386) only",
      prune: "a page's images have no parent images to keep or prune",
    });
    return this.call("removeImage", [image]);
  }

  inspectImage(image: string): Promise<Record<string, unknown>> {
    return this.call("inspectImage", [image]);
  }

  /** Containers this Runtime ran, newest first; `all: false` keeps only running (and paused) ones, as Node's. */
  async containers(options: { all?: boolean } = {}): Promise<ContainerInfo[]> {
    checkPageOptions("containers", options, LIST_KINDS);
    const list = [...this.records.values()].reverse();
    return options.all === false ? list.filter((c) => c.status !== "exited") : list;
  }

  /** Deletes a container by id, unique id prefix or name; `force` kills it first if running (`volumes`: a page's have none). */
  async removeContainer(ref: string, options: RemoveOptions = {}): Promise<void> {
    checkPageOptions("removeContainer", options, REMOVE_KINDS);
    const id = this.resolveContainer(ref);
    const live = this.live.get(id);
    if (live?.running) {
      if (!options.force) throw removeRunningRefusal(id.slice(0, 12));
      await live.kill("SIGKILL");
      await live.wait().catch(() => {});
    }
    this.forget(id);
  }

  /** Deletes the loaded images and the saved guest state (the next start restores the served snapshot, as a first visit). */
  async clearStorage(): Promise<void> {
    if (this.booted || this.options.storage === false) return this.call("clearStorage", []);
    const database = this.database() ?? "tsbox";
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.deleteDatabase(database);
      req.onsuccess = () => resolve();
      req.onerror = () => reject(new TsboxError(`could not clear the browser's storage: ${req.error?.message}`, { code: "runtime" }));
      req.onblocked = () => resolve();
    });
    // The saved state's bytes (state-files.ts), where the Worker kept them in OPFS.
    await navigator.storage?.getDirectory?.().then((root) => root.removeEntry(stateFilesDir(database), { recursive: true })).catch(() => {});
  }

  /**
   * Stops the guest: what waits on it fails, and its containers have ended (SIGKILL's 137, as Node's vm
   * backend records a container whose guest was stopped under it), so they can be removed.
   */
  terminate(reason: Error = new TsboxError("the vm was terminated", { code: "runtime" })): void {
    if (this.failed) return;
    this.failed = reason;
    this.worker?.terminate();
    for (const c of [...this.live.values()]) c.ended(GUEST_STOPPED_EXIT);
    // A boot in progress (and every call awaiting it) fails with the reason; a finished one stays resolved for
    // what awaited it, and calls after it (boot() too) fail on `failed`.
    this.abortBoot?.(reason);
    this.abortBoot = undefined;
    for (const p of this.processes.values()) p.abort(reason);
    this.processes.clear();
    for (const c of this.calls.values()) c.reject(reason);
    this.calls.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
  }

  private owner() {
    return {
      finish: (id: string, status: ExitStatus) => {
        const record = this.records.get(id);
        if (record) Object.assign(record, { status: "exited", exitCode: status.exitCode, signal: status.signal });
        if (this.autoRemove.has(id)) this.forget(id);
      },
      removeContainer: async (id: string) => this.forget(id),
      execIn: async (container: Container, cmd: string[], options: SpawnOptions) => {
        const target = this.pageIds.get(container) ?? -1;
        const tty = options.tty;
        return this.open(
          { stdin: options.stdin !== false, terminal: Boolean(tty) },
          (pageId) => ({
            type: "exec",
            id: pageId,
            container: target,
            request: { cmd, stdin: options.stdin !== false, ...pick(options, ["env", "cwd", "user", "tty", "privileged"]) },
          }),
        );
      },
      stats: (proc: WebProcess) => this.call("stats", [this.pageIds.get(proc) ?? -1]) as Promise<GuestStats>,
      freeze: async (id: string, proc: WebProcess, frozen: boolean) => {
        await this.call("freeze", [this.pageIds.get(proc) ?? -1, frozen]);
        const record = this.records.get(id);
        if (record && record.status !== "exited") record.status = frozen ? "paused" : "running";
      },
      paused: (id: string) => this.records.get(id)?.status === "paused",
    };
  }

  private forget(id: string): void {
    const record = this.records.get(id);
    if (record?.name) this.names.delete(record.name);
    this.records.delete(id);
    this.live.delete(id);
    this.autoRemove.delete(id);
  }

  private resolveContainer(ref: string): string {
    const byName = this.names.get(ref);
    if (byName) return byName;
    const matches = [...this.records.keys()].filter((id) => /^[0-9a-f]+$/.test(ref) && id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new ContainerError(`container id prefix ${ref} is ambiguous`, "ambiguous");
    throw noSuchContainer(ref);
  }

  /** A new guest process: registered for the Worker's messages, its request sent. */
  private open(options: { stdin: boolean; terminal: boolean }, request: (pageId: number) => PageMessage, onOutput?: (stream: "stdout" | "stderr", data: Uint8Array) => void): WebProcess {
    const pageId = this.nextId++;
    const proc = new WebProcess({ id: pageId, send: (msg) => this.send(msg), ...(onOutput ? { onOutput } : {}) }, options);
    this.pageIds.set(proc, pageId);
    if (this.failed) {
      proc.abort(this.failed);
      return proc;
    }
    this.processes.set(pageId, proc);
    this.send(request(pageId));
    return proc;
  }

  private async call<M extends CallName>(method: M, args: Calls[M][0], progress?: (event: never) => void): Promise<Calls[M][1]> {
    await this.boot();
    if (this.failed) throw this.failed;
    const call = this.nextCall++;
    return new Promise((resolve, reject) => {
      this.calls.set(call, { resolve: resolve as (v: unknown) => void, reject, ...(progress ? { progress } : {}) });
      this.send({ type: "call", call, method, args: args as unknown[] });
    });
  }

  private send(msg: PageMessage): void {
    if (!this.failed) this.worker?.postMessage(msg);
  }

  private database(): string | null {
    return this.options.storage === false ? null : (this.options.storage ?? "tsbox");
  }

  private startWorker(): Promise<void> {
    try {
      return this.startWorkerAt(this.options.assets === undefined ? ownAssets() : folderUrl(this.options.assets));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `base` the assets' folder, or why it is unknown (thrown only if a file is wanted from it). */
  private startWorkerAt(base: URL | TsboxError): Promise<void> {
    const at = (rel: string) => {
      if (base instanceof TsboxError) throw base;
      return new URL(rel, base).href;
    };
    const given = this.options.files ?? {};
    const abs = <T>(s: T): T => (typeof s === "string" ? (new URL(s, location.href).href as T) : s);
    const files: GuestSources = {
      wasm: abs(given.wasm ?? at("v86.wasm")),
      bios: abs(given.bios ?? at("guest/bios.bin")),
      kernel: abs(given.kernel ?? at("guest/bzImage")),
      initrd: abs(given.initrd ?? at("guest/initramfs.cpio")),
      manifest: abs(given.manifest ?? at("guest/manifest.json")),
      snapshot: given.snapshot ? { state: abs(given.snapshot.state), meta: abs(given.snapshot.meta) } : { state: at("guest/snapshot.state"), meta: at("guest/snapshot.state.json") },
    };
    const workerUrl = new URL(this.options.workerUrl ?? at("tsbox-vm-worker.js"), location.href);
    let worker: Worker;
    try {
      worker = new Worker(workerUrl, { type: "module" });
    } catch (err) {
      // Another origin's Worker (or one the page's CSP refuses) throws here: boot() rejects with it, never throws.
      const advice = sandboxedAdvice() ?? "a page starts Workers only from its own origin: serve a copy of tsbox-vm-worker.js there and name it with `workerUrl`";
      return Promise.reject(new TsboxError(`the vm Worker could not be started from ${workerUrl.href}: ${(err as Error).message} (${advice})`, { code: "runtime" }));
    }
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      this.abortBoot = reject;
      const fail = (err: Error) => {
        this.terminate(err);
        reject(err);
      };
      // The files are not where `assets` (or the package's own folder) says.
      const unloaded = sandboxedAdvice() ?? `it could not be loaded from ${workerUrl.href} (missing there, or served as another type than JavaScript): serve tsbox's dist/browser files (tsbox-vm-worker.js, v86.wasm, guest/) there, or name their folder with the Runtime's \`assets\` option (a same-origin Worker with \`workerUrl\`)`;
      worker.onerror = (e) => fail(new TsboxError(`the vm Worker failed: ${e.message || unloaded}`, { code: "runtime" }));
      worker.onmessage = ({ data: msg }: MessageEvent<WorkerMessage>) => {
        switch (msg.type) {
          case "progress":
            this.options.onProgress?.(msg);
            if (msg.phase === "ready") {
              this.abortBoot = undefined;
              resolve();
            }
            return;
          case "notice":
            return this.options.onNotice?.(msg.message);
          case "start-failed":
            return fail(reviveError(msg.error));
          case "fatal":
            return fail(reviveError(msg.error));
          case "call-progress":
            return this.calls.get(msg.call)?.progress?.(msg.event as never);
          case "reply": {
            const c = this.calls.get(msg.call);
            this.calls.delete(msg.call);
            if (msg.ok) c?.resolve(msg.value);
            else c?.reject(reviveError(msg.error));
            return;
          }
          default:
            if (this.processes.get(msg.id)?.onMessage(msg)) this.processes.delete(msg.id);
        }
      };
      this.send({
        type: "start",
        files,
        busybox: abs(given.busybox ?? at("guest/images/busybox/")),
        database: this.database(),
        warmUp: this.options.warmUp ?? "after-ready",
        ...(this.options.config ? { config: this.options.config } : {}),
        ...(this.standby ? { standby: this.standby } : {}),
      });
    });
  }
}

/** RunOptions → the Worker's request; anything a browser cannot do is refused by name. */
export function runRequest(options: RunOptions): RunRequest {
  if (typeof options?.image !== "string" || options.image === "") throw new UsageError("run needs an image");
  for (const key of Object.keys(options)) {
    if (RUN_KEYS.has(key) || (options as unknown as Record<string, unknown>)[key] === undefined) continue;
    if (NETWORK_KEYS.has(key)) throw new UsageError(`run option "${key}" is not supported in the browser: a page cannot open sockets, so its containers have no network (only --network none)`);
    if (!isRunOption(key)) throw new UsageError(`run options: unknown option ${JSON.stringify(key)} (${[...RUN_KEYS].join(", ")})`);
    throw new UsageError(`run option "${key}" is not supported in the browser`);
  }
  // Each option of its kind, as Node's run checks them: `cmd: "echo hi"` ran the command "e".
  checkRunOptionTypes(options);
  if (options.volumes !== undefined && options.volumes.length > 0) throw new UsageError("volumes are not supported in the browser: a page has no host directories to mount");
  if (options.stdin === "inherit" || options.stdout === "inherit" || options.stderr === "inherit") {
    throw new UsageError(`stdio "inherit" is not supported in the browser: a page has no stdio of its own (read the container's streams)`);
  }
  return {
    image: options.image,
    stdin: options.stdin === true,
    ...pick(options, ["cmd", "entrypoint", "env", "workdir", "user", "hostname", "readOnly", "tty"]),
  };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/**
 * A page with an opaque origin ("null": an iframe sandboxed without
 * allow-same-origin) can start no Worker of tsbox's, whatever its URL (a
 * copy "on the page's origin" or a blob: one fail alike): what to do then,
 * or undefined for a page with an origin.
 */
function sandboxedAdvice(): string | undefined {
  // self.origin, not location.origin: the latter is the URL's (http://…) even in a sandbox.
  if ((globalThis as { origin?: string }).origin !== "null") return undefined;
  return "this page's origin is opaque (\"null\"): it is in an iframe sandboxed without allow-same-origin, where tsbox cannot start its Worker; give the iframe sandbox=\"allow-scripts allow-same-origin\", or run tsbox in a page that is not sandboxed";
}
