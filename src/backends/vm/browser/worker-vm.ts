/**
 * The guest inside the Worker: fetches v86, the guest's files and the
 * image, boots (or restores a saved state when its fingerprint, size and
 * digest match), builds the image's root in a MemoryFs served over 9p, and
 * runs containers through the agent with the same spec shape and guest
 * translation as the Node backend. Every outcome goes to `post`.
 */
import { V86 } from "v86";
import type { InputPump } from "../agent-channels.js";
import { hex } from "../bytes.js";
import { DEFAULT_CONFIG, fingerprintOf, GuestMachine, type MachineConfig, type SavedMachine, type V86Constructor } from "../guest-machine.js";
import { ContainerError, isTsboxError } from "../../../errors.js";
import type { ContainerSpec } from "../../../spec/container-spec.js";
import { execProcessSpec } from "../../../spec/exec-process.js";
import { validateSpec } from "../../../spec/validate.js";
import { acquireExports, createAndStart, deleteInGuest, type ExportTable, type GuestChannels, toGuestSpec, waitForExit } from "../guest-spec.js";
import { MemoryFs } from "../p9/memory-fs.js";
import { P9Server, type P9State } from "../p9/server.js";
import { browserContainerSpec, GUEST_FILE_OWNER, homeOf, numericUser } from "./container-spec.js";
import { fetchJson, type LoadProgress, loadFiles, sha256Hex } from "./fetch-files.js";
import { buildImageRoot } from "./image-root.js";
import { type FetchedImage, fetchImage } from "./oci-image.js";
import type { BootPhase, ExecRequest, ProgressEvent, RunRequest, StartRequest, WorkerMessage } from "./protocol.js";
import { WorkerLink } from "./worker-link.js";

/** v86's version, put in by scripts/bundle-browser.mjs (a saved state is only valid for the same build). */
declare const TSBOX_V86_VERSION: string;

/** Where the image's merged root lives in the memory fs, and its 9p export. */
const IMAGE_ROOT = "/image";
const IMAGE_EXPORT = "image";

type Post = (message: WorkerMessage) => void;

/** A process in the guest: a container (with its spec) or one exec'd into a container. */
interface Running {
  /** What the agent calls it: the container's cid, the exec's eid. */
  handle: string;
  stdin: InputPump | undefined;
  container?: ContainerSpec;
}

interface SnapshotMeta {
  fingerprint: string;
  size: number;
  sha256: string;
  p9: P9State;
}

export class WorkerVm {
  private readonly refs = new Map<string, number>();
  /** Containers and exec'd processes by the page's id. */
  private readonly running = new Map<number, Running>();

  private constructor(
    private readonly machine: GuestMachine<WorkerLink>,
    private readonly fs: MemoryFs,
    private readonly image: FetchedImage,
    private readonly post: Post,
  ) {}

  static async start(req: StartRequest, post: Post): Promise<WorkerVm> {
    const t0 = performance.now();
    const progress = (phase: BootPhase, extra: Omit<ProgressEvent, "phase"> = {}) => post({ type: "progress", phase, ...extra });
    const loading = loadingReporter((p) => progress("loading", p));
    progress("loading", { loaded: 0, total: 0 });

    const config = req.config ?? DEFAULT_CONFIG;
    const fs = new MemoryFs({ owner: { uid: GUEST_FILE_OWNER, gid: GUEST_FILE_OWNER } });
    // The image is fetched and unpacked while the guest boots.
    const image = fetchImage(req.image, loading("image")).then(async (fetched) => {
      await buildImageRoot(fs, IMAGE_ROOT, fetched.layers);
      return fetched;
    });
    image.catch(() => {}); // awaited below, once the guest runs

    const { snapshot, wasm: wasmSource, ...guestFiles } = req.files;
    // v86's wasm compiles while the other files are still arriving.
    const [wasm, files, saved] = await Promise.all([
      loadFiles({ wasm: wasmSource }, loading("wasm")).then((f) => WebAssembly.compile(f.wasm)),
      loadFiles(guestFiles, loading("guest")),
      snapshot ? usableSnapshot(snapshot, config, loading("snapshot"), post) : undefined,
    ]);

    const p9 = new P9Server(fs);
    const machine = new GuestMachine<WorkerLink>({
      config,
      p9,
      makeLink: (transport) => new WorkerLink(transport),
      loadV86: async () => V86 as unknown as V86Constructor,
      loadFiles: () => ({ bios: files.bios, kernel: files.kernel, initrd: files.initrd, wasm: { module: wasm } }),
    });
    const booting = () => progress("booting");
    if (saved) await machine.startFrom(saved, 20_000, booting);
    else await machine.startCold(90_000, booting);
    // "ready" means a run starts at once: the image root is there too.
    const fetched = await image.catch(async (err: unknown) => {
      await machine.destroy();
      throw err;
    });
    progress("ready", { start: saved ? "restore" : "cold", elapsedMs: Math.round(performance.now() - t0) });
    return new WorkerVm(machine, fs, fetched, post);
  }

  /** Runs one container; its output, exit or failure go to `post` under `id`. */
  async run(id: number, request: RunRequest): Promise<void> {
    const cid = randomHex(16);
    const spec = browserContainerSpec({ cid, imageRoot: IMAGE_ROOT, image: this.image.config?.config, request });
    const guest = toGuestSpec(spec, cid, { layerExportName: () => IMAGE_EXPORT });
    const table: ExportTable = { add: (name, exp) => this.machine.p9.addExport(name, exp), remove: (name) => this.machine.p9.removeExport(name) };
    const release = await acquireExports(table, this.refs, guest.exports);
    await this.runProcess(id, { handle: cid, stdin: Boolean(request.stdin), container: spec }, (channels) => createAndStart(this.machine.link, cid, guest.spec, channels), release);
  }

  /**
   * Runs a process in the running container the page knows as `containerId`
   * (the agent's `exec`), with the container's process as defaults.
   */
  async exec(id: number, containerId: number, request: ExecRequest): Promise<void> {
    const container = this.running.get(containerId);
    if (!container?.container) throw new ContainerError("the container is not running");
    const { handle: cid, container: spec } = container;
    const notRunning = () => new ContainerError(`container ${cid.slice(0, 12)} is not running`);
    const user = request.user === undefined ? undefined : numericUser(request.user);
    const process = execProcessSpec(spec.process, request.cmd, request, user && { ...user, home: homeOf(user.uid) });
    // The checks of `run`, with their messages (an unmapped user, say), in the container's setting.
    validateSpec({ ...spec, process });
    const eid = `${cid.slice(0, 12)}-x${randomHex(6)}`;
    await this.runProcess(id, { handle: eid, stdin: Boolean(request.stdin) }, async (channels) => {
      try {
        const started = await this.machine.link.request("exec", { cid, eid, process, ...channels }, 120_000);
        return typeof started.pid === "number" ? started.pid : -1;
      } catch (err) {
        throw isTsboxError(err) && err.code === "container" ? notRunning() : err;
      }
    });
  }

  /**
   * A guest process under `handle` (a container's cid, an exec's eid): its
   * stdio channels, `start` (which must send its request before it first
   * awaits: stdin may follow at once), then `wait` and `delete`.
   */
  private async runProcess(
    id: number,
    proc: { handle: string; stdin: boolean; container?: ContainerSpec },
    start: (channels: GuestChannels) => Promise<number>,
    release: () => void = () => {},
  ): Promise<void> {
    const link = this.machine.link;
    const stdin = proc.stdin ? link.openInput() : undefined;
    const stdout = link.openOutput((data) => this.post({ type: "stdout", id, data }));
    const stderr = link.openOutput((data) => this.post({ type: "stderr", id, data }));
    const channels = { stdin: stdin?.channel ?? null, stdout: stdout.channel, stderr: stderr.channel };
    this.running.set(id, { handle: proc.handle, stdin, ...(proc.container ? { container: proc.container } : {}) });
    try {
      const pid = await start(channels).catch((err: unknown) => {
        stdout.onEof();
        stderr.onEof();
        throw err;
      });
      this.post({ type: "started", id, pid, ...(proc.container ? { cid: proc.handle } : {}) });
      const status = await waitForExit(link, proc.handle);
      this.post({ type: "exit", id, ...status });
    } finally {
      stdin?.finish();
      this.running.delete(id);
      // A process that failed at execve is known to the agent until deleted.
      await deleteInGuest(link, proc.handle);
      release();
    }
  }

  writeStdin(id: number, data: Uint8Array): void {
    this.running.get(id)?.stdin?.write(data);
  }

  endStdin(id: number): void {
    this.running.get(id)?.stdin?.end();
  }

  kill(id: number, signal: number): void {
    const p = this.running.get(id);
    if (p) this.machine.link.request("signal", { cid: p.handle, signal }, 30_000).catch(() => {});
  }
}

/** Byte counts of several concurrent loads ("guest" files, "image" layers), summed for the page. */
function loadingReporter(report: (p: LoadProgress) => void): (group: string) => (p: LoadProgress) => void {
  const groups = new Map<string, LoadProgress>();
  return (group) => (p) => {
    groups.set(group, p);
    let loaded = 0;
    let total = 0;
    for (const g of groups.values()) {
      loaded += g.loaded;
      total += g.total;
    }
    report({ file: p.file, loaded, total });
  };
}

/**
 * The saved state, if it is one this guest can load: made for the same
 * guest image (manifest imageId), v86 build, memory and command line, and
 * intact (size, sha256). Anything else gives a notice and a cold boot: v86
 * crashes on a state from another machine.
 */
async function usableSnapshot(
  snapshot: NonNullable<StartRequest["files"]["snapshot"]>,
  config: MachineConfig,
  onProgress: (p: LoadProgress) => void,
  post: Post,
): Promise<SavedMachine | undefined> {
  const notice = (why: string) => (post({ type: "notice", message: `vm snapshot is not usable: ${why}: booting the vm from scratch` }), undefined);
  let meta: SnapshotMeta;
  let fingerprint: string;
  try {
    const [manifest, sidecar] = await Promise.all([fetchJson<{ imageId: string }>(snapshot.manifest), fetchJson<SnapshotMeta>(snapshot.meta)]);
    meta = sidecar;
    fingerprint = fingerprintOf(manifest.imageId, TSBOX_V86_VERSION, config);
  } catch (err) {
    return notice(`its sidecar or the image manifest cannot be read (${(err as Error).message})`);
  }
  if (meta.fingerprint !== fingerprint) return notice("it was made by another guest image, emulator version or device set");
  const { state } = await loadFiles({ state: snapshot.state }, onProgress);
  if (state.byteLength !== meta.size || (await sha256Hex(state)) !== meta.sha256) return notice("it is corrupt (size or digest differs from its record)");
  return { state, p9: meta.p9 ?? { fids: [] } };
}

function randomHex(bytes: number): string {
  return hex(crypto.getRandomValues(new Uint8Array(bytes)));
}
