/**
 * The guest inside the Worker. Start: restore the state this browser saved
 * (IndexedDB), else the served snapshot, else boot cold and save the state
 * for the next visit; only a cold boot fetches the BIOS, kernel and
 * initramfs. Images come from the browser's store (browser-store.ts); each
 * image's merged root is built once into the MemoryFs and served over 9p as
 * its own export. Containers get the spec Node's runs get
 * (container-spec.ts → spec/skeleton.ts) and the same guest translation
 * (guest-spec.ts). Every outcome goes to `post`.
 */
import { V86 } from "v86";
import { ContainerError, ImageError, isTsboxError, notRunning, TsboxError } from "../../../errors.js";
import { canonicalName, familiarName, parseReference } from "../../../image/reference.js";
import type { ContainerSpec } from "../../../spec/container-spec.js";
import { execProcessSpec } from "../../../spec/exec-process.js";
import { validateSpec } from "../../../spec/validate.js";
import type { InputPump } from "../core/agent-channels.js";
import { concat, hex } from "../core/bytes.js";
import { DEFAULT_CONFIG, fingerprintOf, GuestMachine, type SavedMachine, type V86Constructor } from "../core/guest-machine.js";
import { acquireExports, createAndStart, deleteInGuest, type ExportTable, type GuestChannels, toGuestSpec, waitForExit } from "../core/guest-spec.js";
import { MemoryFs } from "../core/p9/memory-fs.js";
import { P9Server } from "../core/p9/server.js";
import { fingerprintProblem, integrityProblem, type SnapshotRecord } from "../core/snapshot-check.js";
import { refuseOutbound } from "../core/outbound-protocol.js";
import { type BrowserStore, openBrowserStore, type StoredImage, type StoredState } from "./browser-store.js";
import { browserContainerSpec, execUser, GUEST_FILE_OWNER } from "./container-spec.js";
import { compileWasm, fetchJson, type LoadProgress, loadFiles, sha256Hex } from "./fetch-files.js";
import { importArchive, importLayoutUrl } from "./image-import.js";
import { ImageRoots } from "./image-roots.js";
import { pullImage } from "./registry-pull.js";
import type { BootPhase, BrowserImageSummary, Calls, ExecRequest, GuestStats, ProgressEvent, RunRequest, StartRequest, WorkerMessage } from "./protocol.js";
import { type PageOutput, WorkerLink } from "./worker-link.js";
import { type HeldOutput, heldOutput, requestedSize, spareKey, type StandbyRecord, standbyFromJson, standbyKey } from "./standby.js";
import { createSpare, spareFits, startSpare } from "../core/spare.js";
import { parseContainerStats } from "../../container-stats.js";

/** v86's version, put in by scripts/bundle-browser.mjs (a saved state is only valid for the same build). */
declare const TSBOX_V86_VERSION: string;

type Post = (message: WorkerMessage) => void;
type StartKind = NonNullable<ProgressEvent["start"]>;

/** How long after `ready` the warm-up waits for the page's first containers to be asked for. */
const WARM_UP_GRACE_MS = 250;
/** How long after its start a page's container without output still holds the warm-up back. */
const FIRST_OUTPUT_WAIT_MS = 1000;

/** What `runProcess` tells its caller on the way. */
interface ProcessHooks {
  started?: () => void;
  output?: () => void;
}

/** A process in the guest: a container (with its spec and image root) or one exec'd into a container. */
interface Running {
  /** What the agent calls it: the container's cid, the exec's eid. */
  handle: string;
  stdin: InputPump | undefined;
  outputs: Partial<Record<"stdout" | "stderr", PageOutput>>;
  container?: { spec: ContainerSpec; imageRoot: string };
  /**
   * Input and resizes wait for this: a restored standby is taken before its
   * image root is served again, and what it reads (or a SIGWINCH redraw)
   * may fault in pages of its binary over 9p.
   */
  gate?: Promise<void>;
}

/** Where a process's output goes: the page under its id, or (a standby nobody took yet) held, with its stream. */
interface Route {
  id: number | null;
  held: HeldOutput[];
}

/** A standby container (standby.ts): started, its output held, until a `run` with its key takes it. */
interface Standby {
  key: string;
  /** Resolves once it runs (a restored one: once its image is known to be the same); undefined: it failed. */
  ready: Promise<StandbyRecord | undefined>;
  route: Route;
  running: Running;
  release: () => void;
  /** A run took it. */
  taken: () => void;
  /** Restored with the stored state (not made by this page). */
  revived?: boolean;
}

/**
 * A spare container (core/spare.ts): made for the shape of the page's last
 * run (or the API's default), waiting in the guest for its process; a `run`
 * with its key whose spec fits takes it.
 */
interface Spare {
  key: string;
  cid: string;
  route: Route;
  running: Running;
  /** What the run that takes it is told of its output. */
  sink: ProcessHooks;
  /** Its spec in the guest and image root once `create` answered; undefined: it failed. */
  created: Promise<{ guestSpec: ContainerSpec; imageRoot: string } | undefined>;
  /** Its channels end (it never ran). */
  close: () => void;
  release: () => void;
}

/** Quiet output this long after the standby's first output: its prompt is out, the state may be saved. */
const STANDBY_QUIET_MS = 300;
/** A standby that prints nothing is saved after this long all the same. */
const STANDBY_SILENT_MS = 3000;
/** A restored standby at a terminal has its image root unpacked once a run took it, or after this long without one. */
const UNPACK_AFTER_MS = 500;
/** The page's input and resizes quiet this long before a new standby or spare is made. */
const INPUT_QUIET_MS = 2000;

export class WorkerVm {
  private readonly refs = new Map<string, number>();
  /** Containers and exec'd processes by the page's id. */
  private readonly running = new Map<number, Running>();
  private readonly exportTable: ExportTable;
  /** The page's containers not yet started (settle when started or failed). */
  private readonly pageStarts = new Set<Promise<void>>();
  /** The standby not taken yet. */
  private standby: Standby | undefined;
  /** The spare container not taken yet. */
  private spare: Spare | undefined;
  /** When the page last wrote input or resized a terminal. */
  private lastInput = 0;

  private constructor(
    private readonly machine: GuestMachine<WorkerLink>,
    private readonly fs: MemoryFs,
    private readonly store: BrowserStore,
    private readonly images: ImageRoots,
    private readonly post: Post,
    private readonly options: {
      standby: RunRequest | undefined;
      savesState: boolean;
      fingerprint: string;
      /** The key of the standby the stored state holds, once it is stored. */
      savedKey: Promise<string | undefined>;
    },
  ) {
    this.exportTable = { add: (name, exp) => machine.p9.addExport(name, exp), remove: (name) => machine.p9.removeExport(name) };
  }

  static async start(req: StartRequest, post: Post): Promise<WorkerVm> {
    const t0 = performance.now();
    const steps: Record<string, number> = {};
    const step = <T>(name: string, value: T): T => ((steps[name] = Math.round(performance.now() - t0)), value);
    const progress = (phase: BootPhase, extra: Omit<ProgressEvent, "phase"> = {}) => post({ type: "progress", phase, ...extra });
    const loading = loadingReporter((p) => progress("loading", p));
    progress("loading", { loaded: 0, total: 0 });

    const config = req.config ?? DEFAULT_CONFIG;
    const notice = (message: string) => post({ type: "notice", message });
    const opened = openBrowserStore(req.database)
      .catch((err: Error) => (notice(`${err.message}: images and the guest state are kept in memory only`), openBrowserStore(null)))
      .then((s) => step("store", s));
    // v86's wasm compiles as it arrives, while the stored state is read.
    const wasm = compileWasm(req.files.wasm).then((w) => step("wasm", w));
    wasm.catch(() => {}); // its failure is the start's, at the emulator's making
    const fs = new MemoryFs({ owner: { uid: GUEST_FILE_OWNER, gid: GUEST_FILE_OWNER } });
    let guest: Record<"bios" | "kernel" | "initrd", ArrayBuffer> | undefined;
    let manifest: GuestManifest | undefined;
    const machine = new GuestMachine<WorkerLink>({
      config,
      p9: new P9Server(fs),
      makeLink: (transport) => {
        const link = new WorkerLink(transport);
        refuseOutbound(link, "a browser page cannot open connections for the vm guest (no outbound network in the browser)");
        return link;
      },
      loadV86: async () => V86 as unknown as V86Constructor,
      // A restore needs none of the boot files: memory, BIOS included, comes from the state.
      loadFiles: async () => ({ bios: guest?.bios ?? new ArrayBuffer(0), kernel: guest?.kernel ?? new ArrayBuffer(0), initrd: guest?.initrd ?? new ArrayBuffer(0), wasm: await wasm }),
    });
    // The standby's image (or the warm-up's: busybox, the playground's too) is
    // looked up while the state is read and restored: the take waits for it. A
    // warm-up's root is unpacked meanwhile too; a standby's root is CPU work on
    // this thread, left until the page's first run took it. A failure shows at its use.
    const images = opened.then((store) => new ImageRoots(fs, store, req.busybox));
    if (req.standby) void images.then((i) => i.image(req.standby!.image)).catch(() => {});
    else if (req.warmUp !== "off") void images.then((i) => i.image("busybox").then((image) => i.root(image))).catch(() => {});
    const [store, fingerprint, stored] = await Promise.all([
      opened,
      fetchJson<GuestManifest>(req.files.manifest).then((m) => ((manifest = m), step("manifest", fingerprintOf(m.imageId, TSBOX_V86_VERSION, config)))),
      opened.then((s) => s.getState()).then(
        (state) => step("stored", state),
        () => undefined,
      ),
    ]);
    // While the served snapshot downloads, v86's init runs (a stored state is read
    // on this thread, which the init would hold up as long as it saves).
    const downloading = () => machine.prepareRestore();
    const found = step("state", await savedState(store, stored, req.files.snapshot, fingerprint, loading("snapshot"), notice, downloading));
    if (!found) {
      guest = await loadFiles({ bios: req.files.bios, kernel: req.files.kernel, initrd: req.files.initrd }, loading("guest"));
      await checkBootFiles(guest, req.files, manifest!);
    }

    const kind: StartKind = found?.kind ?? "cold";
    const booting = () => (step("emulator", 0), progress("booting", { start: kind }));
    // A restore is `ready` once the emulator runs: the page's first run (a standby's take) posts its
    // output without asking the agent, and its requests go out after the `hello`.
    if (found) {
      await machine.startFrom(found.saved, 20_000, booting, true);
      void machine.answered.then(
        () => step("hello", 0),
        (err: Error) => notice(`the vm guest did not come back: ${err.message}`),
      );
    } else {
      await machine.startCold(90_000, booting);
      await saveState(machine, store, fingerprint).catch((err: Error) => notice(`the guest state could not be saved for the next visit: ${err.message}`));
    }
    if (!found) step("hello", 0);
    const wanted = req.standby && keyOf(req.standby);
    const kept = found?.standby?.key === wanted ? found?.standby : undefined;
    const savedKey = (found?.storing ?? Promise.resolve()).then(() => kept?.key, () => undefined);
    const vm = new WorkerVm(machine, fs, store, await images, post, { standby: req.standby, savesState: store.persistent, fingerprint, savedKey });
    // Containers that ran when the state was saved (the saving page's own) are not this page's.
    for (const cid of [...(found?.orphans ?? []), ...(found?.standby && !kept ? [found.standby.cid] : [])]) void deleteInGuest(machine.link, cid);
    if (kept) vm.reviveStandby(kept);
    // v86's JIT cache is not in the state: after a restore the first container runs interpreted.
    // With a standby asked for, making one is the warm-up (and on a first visit, what the next one restores).
    const warm = req.standby
      ? () => vm.keepStandby().catch((err: Error) => notice(`the standby container failed: ${err.message}`))
      : kind !== "cold" && req.warmUp !== "off"
        ? () => vm.warmUp().catch((err: Error) => notice(`warm-up failed: ${err.message}`))
        : undefined;
    if (warm && req.warmUp === "before-ready") {
      progress("warming", { start: kind });
      await warm();
      step("warm", 0);
    }
    progress("ready", { start: kind, elapsedMs: Math.round(performance.now() - t0), steps });
    // A container the page starts at `ready` (the playground's shell) would share
    // the interpreted guest with the warm-up and take twice as long: the warm-up
    // gives the page's first requests a moment to arrive and lets them start first.
    // The page's first `run` of the API's default kind (no terminal, no input) finds a spare, made after the
    // warm-up once the page has had a moment to start typing (then: once it has been quiet as long).
    const spare = async () => {
      if (req.warmUp === "off") return;
      await new Promise((r) => setTimeout(r, INPUT_QUIET_MS));
      await vm.spareLater({ image: req.standby?.image ?? "busybox", cmd: ["true"], stdin: false });
    };
    if (warm && (req.warmUp === "after-ready" || (req.standby && req.warmUp !== "before-ready"))) setTimeout(() => void vm.pageStartsSettled().then(warm).then(spare), WARM_UP_GRACE_MS);
    else setTimeout(() => void spare(), WARM_UP_GRACE_MS);
    return vm;
  }

  /** Runs one of the page's containers; its output, exit or failure go to `post` under `id`. */
  run(id: number, request: RunRequest): Promise<void> {
    let settle!: () => void;
    const starting = new Promise<void>((resolve) => (settle = resolve)).then(() => void this.pageStarts.delete(starting));
    this.pageStarts.add(starting);
    // Its start ends at its first output (a shell's prompt: the exec of the
    // shell itself), or a moment after the agent started it.
    let ran = false;
    const hooks: ProcessHooks = { started: () => ((ran = true), setTimeout(settle, FIRST_OUTPUT_WAIT_MS)), output: settle };
    const standby = this.standby && this.standby.key === keyOf(request) ? this.standby : undefined;
    if (standby) this.standby = undefined;
    const spare = !standby && this.spare && this.spare.key === spareKeyOf(request) ? this.spare : undefined;
    if (spare) this.spare = undefined;
    // The next run like this one takes a spare, made once this one has started
    // (the standby's kind has its own: the standby; a run that failed keeps the spare there is).
    const standbyKind = this.options.standby !== undefined && keyOf(this.options.standby) === keyOf(request);
    if (!standbyKind) void starting.then(() => (ran ? this.spareLater(request) : undefined));
    const running = standby ? this.takeStandby(id, request, standby, hooks) : spare ? this.takeSpare(id, request, spare, hooks) : this.runContainer(id, request, hooks);
    return running.finally(settle);
  }

  /**
   * The page's `run` in the spare: its spec made for the spare's cid, the
   * process given at `start` if the rest is the spare's; otherwise the spare
   * goes and the run makes its own container.
   */
  private async takeSpare(id: number, request: RunRequest, spare: Spare, hooks: ProcessHooks): Promise<void> {
    const fit = await this.fitSpare(spare, request).catch(() => undefined);
    if (!fit) {
      // A failure here (no such image, a user it does not have) is the run's own, which says why.
      this.dropSpare(spare);
      return this.runContainer(id, request, hooks);
    }
    const { imageRoot, spec, guest } = fit;
    const { route, running } = spare;
    running.container = { spec, imageRoot };
    route.id = id;
    spare.sink.output = hooks.output;
    await this.startAndFollow(id, running, spare.close, () => startSpare(this.machine.link, spare.cid, guest.spec.process), spare.release, hooks);
  }

  /** The run's spec for the spare's cid, if the spare was created and the spec fits it. */
  private async fitSpare(spare: Spare, request: RunRequest) {
    const created = await spare.created;
    if (!created) return undefined;
    const made = await this.containerSpec(spare.cid, request);
    return made.imageRoot === created.imageRoot && spareFits(created.guestSpec, made.guest.spec) ? made : undefined;
  }

  /** A spare for `request`'s kind once the page's starts are done and its input quiet, unless one is there. */
  private async spareLater(request: RunRequest): Promise<void> {
    await this.pageStartsSettled();
    await this.quietFor(INPUT_QUIET_MS);
    const key = spareKeyOf(request);
    if (key === undefined || this.spare?.key === key) return;
    if (this.spare) this.dropSpare(this.spare);
    this.spare = this.makeSpare(key, request);
  }

  /** Creates a spare container for `request`'s kind; its channels' output is held until a run takes it. */
  private makeSpare(key: string, request: RunRequest): Spare {
    const cid = randomHex(32);
    const route: Route = { id: null, held: [] };
    const sink: ProcessHooks = {};
    const io = this.openIo(route, request.stdin, Boolean(request.tty), undefined, () => sink.output?.());
    const holder = { release: () => {} };
    const created = (async () => {
      try {
        const { imageRoot, guest, release } = await this.prepareContainer(cid, request);
        holder.release = release;
        await createSpare(this.machine.link, cid, guest.spec, io.channels);
        return { guestSpec: guest.spec, imageRoot };
      } catch {
        io.close();
        await deleteInGuest(this.machine.link, cid);
        holder.release();
        return undefined;
      }
    })();
    const running: Running = { handle: cid, stdin: io.stdin, outputs: io.outputs };
    return { key, cid, route, running, sink, created, close: io.close, release: () => holder.release() };
  }

  /** Removes a spare nobody took from the guest. */
  private dropSpare(spare: Spare): void {
    if (this.spare === spare) this.spare = undefined;
    void spare.created.then(async (created) => {
      if (!created) return;
      spare.close();
      await deleteInGuest(this.machine.link, spare.cid);
      spare.release();
    });
  }

  /** The page's `run` gets the standby: already running, its held output first. */
  private async takeStandby(id: number, request: RunRequest, standby: Standby, hooks: ProcessHooks): Promise<void> {
    const record = await standby.ready;
    // It failed or ended before it was taken: the run starts its own.
    if (!record) return this.runContainer(id, request, hooks);
    const { route, running } = standby;
    this.running.set(id, running);
    this.post({ type: "started", id, pid: record.pid, cid: record.cid });
    route.id = id;
    const held = route.held.splice(0);
    for (const { stream, data } of held) this.post({ type: stream, id, data });
    hooks.started?.();
    if (held.length > 0) hooks.output?.();
    const size = requestedSize(request);
    if (size && (size.cols !== record.size?.cols || size.rows !== record.size?.rows)) this.resize(id, size.cols, size.rows);
    standby.taken();
    // The next one starts once the page's starts are done and its terminal has
    // been quiet a while: made in a guest whose JIT is cold, it would slow the
    // first keystrokes' echo.
    setTimeout(() => void this.pageStartsSettled().then(() => this.quietFor(INPUT_QUIET_MS)).then(() => this.keepStandby()), WARM_UP_GRACE_MS);
    await this.follow(id, running, standby.release);
  }

  /**
   * Starts a standby (unless one waits untaken) and, when the stored state
   * has none with its key, saves the guest's state with it for the next visit.
   */
  async keepStandby(): Promise<void> {
    const request = this.options.standby;
    if (!request) return;
    if (this.standby?.revived) {
      // Restored with the stored state: the page hears it runs as it would of one made here (an embedder waiting
      // for the event after a returning visit waited for ever).
      const revived = this.standby;
      revived.revived = false;
      if (await revived.ready) this.post({ type: "progress", phase: "standby", saved: true });
      return;
    }
    if (this.standby) return;
    const standby = this.startStandby(request);
    this.standby = standby;
    const record = await standby.ready;
    if (!record) {
      if (this.standby === standby) this.standby = undefined;
      return;
    }
    let saved = (await this.options.savedKey) === record.key;
    if (this.options.savesState && !saved) {
      await this.outputQuiet(standby.route);
      // Taken meanwhile (the page ran its shell): a used container is not what the next visit should get.
      if (this.standby === standby) {
        const captured = await this.capture(standby, record);
        await this.store.putState({ ...(await stateRecord(this.options.fingerprint, captured.saved)), standby: captured.standby, orphans: captured.orphans });
        this.options.savedKey = Promise.resolve(record.key);
        saved = true;
      }
    }
    this.post({ type: "progress", phase: "standby", saved: this.options.savesState && saved });
  }

  /** Resolves once the held output has been quiet a moment after its first bytes (or silent a while). */
  private async outputQuiet(route: Route): Promise<void> {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (let waited = 0; route.held.length === 0 && waited < STANDBY_SILENT_MS; waited += 50) await sleep(50);
    for (let n = -1; n !== route.held.length; ) {
      n = route.held.length;
      await sleep(STANDBY_QUIET_MS);
    }
    // What the host has queued for the guest is not in a state saved now.
    while (!this.machine.link.drained) await sleep(20);
  }

  /** The guest's state with the standby running in it, started and quiet (web/snapshot.ts: the playground's served snapshot). */
  async captureStandby(): Promise<{ saved: SavedMachine; standby: StandbyRecord; orphans: string[] }> {
    const standby = this.standby;
    const record = standby && (await standby.ready);
    if (!standby || !record || this.standby !== standby) throw new ContainerError("no standby container is running");
    await this.outputQuiet(standby.route);
    return this.capture(standby, record);
  }

  /** The state now, with the standby's record and output, and the other containers (which a restore deletes). */
  private async capture(standby: Standby, record: StandbyRecord): Promise<{ saved: SavedMachine; standby: StandbyRecord; orphans: string[] }> {
    const orphans = [...this.running.values()].filter((r) => r.container && r !== standby.running).map((r) => r.handle);
    if (this.spare) orphans.push(this.spare.cid);
    const output = coalesce(standby.route.held);
    const saved = await this.machine.save();
    return { saved, standby: { ...record, output }, orphans };
  }

  /** Starts a container for `request` whose output is held until a `run` takes it. */
  private startStandby(request: RunRequest): Standby {
    const route: Route = { id: null, held: [] };
    const holder: { release: () => void } = { release: () => {} };
    const cid = randomHex(32);
    const io = this.openIo(route, request.stdin, Boolean(request.tty));
    const running: Running = { handle: cid, stdin: io.stdin, outputs: io.outputs };
    const ready = (async (): Promise<StandbyRecord | undefined> => {
      try {
        const { image, imageRoot, spec, guest, release } = await this.prepareContainer(cid, request);
        running.container = { spec, imageRoot };
        holder.release = release;
        const pid = await createAndStart(this.machine.link, cid, guest.spec, io.channels);
        const output: HeldOutput[] = [];
        return { key: standbyKey(request), cid, pid, image: { name: image.name, manifestDigest: image.manifestDigest }, imageRoot, spec, exports: guest.exports, channels: io.channels, size: requestedSize(request), output };
      } catch {
        io.close();
        await deleteInGuest(this.machine.link, cid);
        holder.release();
        return undefined;
      }
    })();
    return { key: standbyKey(request), ready, route, running, release: () => holder.release(), taken: () => {} };
  }

  /**
   * A restored state's standby: its channels again, taken as soon as its
   * image is known to be the same; its image root is served again meanwhile,
   * its input and resizes held until then (`Running.gate`).
   */
  reviveStandby(record: StandbyRecord): void {
    const route: Route = { id: null, held: heldOutput(record.output) };
    const io = this.openIo(route, record.channels.stdin !== null, record.spec.process.terminal, record.channels);
    const holder: { release: () => void } = { release: () => {} };
    const gone = async () => {
      io.close();
      await deleteInGuest(this.machine.link, record.cid);
      holder.release();
    };
    // Taken once its image is known to be the same (on a first visit: from the embedded
    // layout's index, not after its import); its root is served again after that.
    const same = this.images.manifestDigest(record.image.name).then((digest) => {
      if (digest !== record.image.manifestDigest) throw new Error("its image changed");
    });
    let taken!: () => void;
    const take = new Promise<void>((resolve) => (taken = resolve));
    const served = same.then(async () => {
      // A standby at a terminal's prompt waits for input (held until the take), so its root may wait too; one
      // without a terminal runs on, and read its files through 9p before they were served again: SIGBUS.
      if (record.spec.process.terminal) await Promise.race([take, new Promise((r) => setTimeout(r, UNPACK_AFTER_MS))]);
      const image = await this.images.image(record.image.name);
      if (image.manifestDigest !== record.image.manifestDigest) throw new Error("its image changed");
      if ((await this.images.root(image)) !== record.imageRoot) throw new Error("its image root moved");
      holder.release = await acquireExports(this.exportTable, this.refs, record.exports);
    });
    const running: Running = { handle: record.cid, stdin: io.stdin, outputs: io.outputs, container: { spec: record.spec, imageRoot: record.imageRoot }, gate: served.catch(() => {}) };
    void served.then(() => delete running.gate, () => {});
    const ready = same.then(
      () => {
        // Taken or not, a standby whose root cannot be served again goes (a taken one exits).
        served.catch(() => void gone());
        return record;
      },
      async () => (await gone(), undefined),
    );
    this.standby = { key: record.key, ready, route, running, release: () => holder.release(), taken, revived: true };
  }

  /** Resolves once every container the page asked for so far has started (as `run` says) or failed. */
  private async pageStartsSettled(): Promise<void> {
    await Promise.all(this.pageStarts);
  }

  private async runContainer(id: number, request: RunRequest, hooks?: ProcessHooks): Promise<void> {
    const cid = randomHex(32);
    const { spec, imageRoot, guest, release } = await this.prepareContainer(cid, request);
    const terminal = spec.process.terminal;
    await this.runProcess(id, { handle: cid, stdin: request.stdin, terminal, container: { spec, imageRoot } }, (channels) => createAndStart(this.machine.link, cid, guest.spec, channels), release, hooks);
  }

  /** A container's image and root, its spec for the guest, and its exports held (`release` lets them go). */
  private async prepareContainer(cid: string, request: RunRequest) {
    const made = await this.containerSpec(cid, request);
    const release = await acquireExports(this.exportTable, this.refs, made.guest.exports);
    return { ...made, release };
  }

  /** A container's image and root, and its spec on the page and in the guest. */
  private async containerSpec(cid: string, request: RunRequest) {
    const image = await this.images.image(request.image);
    const imageRoot = await this.images.root(image);
    const spec = await browserContainerSpec({ cid, imageRoot, image: image.config.config, request, fs: this.fs });
    return { image, imageRoot, spec, guest: toGuestSpec(spec, cid, { layerExportName }) };
  }

  /**
   * Runs a process in the running container the page knows as `containerId`
   * (the agent's `exec`), with the container's process as defaults.
   */
  async exec(id: number, containerId: number, request: ExecRequest): Promise<void> {
    const running = this.running.get(containerId);
    if (!running?.container) throw new ContainerError("the container is not running", "not_running");
    const { handle: cid, container } = running;
    const stopped = () => notRunning(cid.slice(0, 12));
    const user = request.user === undefined ? undefined : await execUser(request.user, this.fs, container.imageRoot);
    const process = execProcessSpec(container.spec.process, request.cmd, request, user && { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, home: user.home });
    // The checks of `run`, with their messages (an unmapped user, say), in the container's setting.
    validateSpec({ ...container.spec, process });
    const eid = `${cid.slice(0, 12)}-x${randomHex(6)}`;
    await this.runProcess(id, { handle: eid, stdin: request.stdin, terminal: process.terminal }, async (channels) => {
      try {
        const started = await this.machine.link.request("exec", { cid, eid, process, ...channels }, 120_000);
        return typeof started.pid === "number" ? started.pid : -1;
      } catch (err) {
        throw isTsboxError(err) && err.code === "container" ? stopped() : err;
      }
    });
  }

  writeStdin(id: number, data: Uint8Array): void {
    this.whenOpen(id, (p) => p.stdin?.write(data));
  }

  endStdin(id: number): void {
    this.whenOpen(id, (p) => p.stdin?.end());
  }

  kill(id: number, signal: number): void {
    const p = this.running.get(id);
    if (p) this.machine.link.request("signal", { cid: p.handle, signal }, 30_000).catch(() => {});
  }

  resize(id: number, cols: number, rows: number): void {
    this.whenOpen(id, (p) => void this.machine.link.request("resize", { cid: p.handle, cols, rows }, 30_000).catch(() => {}));
  }

  /** Resolves once the page has written no input and resized nothing for `ms`. */
  private async quietFor(ms: number): Promise<void> {
    for (let left = ms; left > 0; left = this.lastInput + ms - performance.now()) await new Promise((r) => setTimeout(r, left));
  }

  /** Runs `fn` on the process now, or (in order) once its gate opens. */
  private whenOpen(id: number, fn: (p: Running) => void): void {
    this.lastInput = performance.now();
    const p = this.running.get(id);
    if (!p) return;
    if (p.gate) void p.gate.then(() => fn(p));
    else fn(p);
  }

  ack(id: number, stream: "stdout" | "stderr", bytes: number): void {
    this.running.get(id)?.outputs[stream]?.taken(bytes);
  }

  hangUp(id: number, stream: "stdout" | "stderr"): void {
    this.whenOpen(id, (p) => p.outputs[stream]?.hangUp());
  }

  /** The page's other requests; `progress` carries a long one's events (a pull's) to the page. */
  async call<M extends keyof Calls>(method: M, args: Calls[M][0], progress?: (event: unknown) => void): Promise<Calls[M][1]> {
    const a = args as unknown[];
    switch (method) {
      case "images":
        return (await this.store.listImages()).map(summary) as Calls[M][1];
      case "load": {
        const input = a[0] as Blob | ArrayBuffer;
        const bytes = new Uint8Array(input instanceof Blob ? await input.arrayBuffer() : input);
        return (await importArchive(this.store, bytes, (a[1] as { repository?: string }) ?? {})) as Calls[M][1];
      }
      case "loadLayout":
        return (await importLayoutUrl(this.store, a[0] as string, canonicalName(parseReference(a[1] as string)))) as Calls[M][1];
      case "pull":
        return (await pullImage(this.store, a[0] as string, progress)) as Calls[M][1];
      case "removeImage": {
        const name = canonicalName(parseReference(a[0] as string));
        if (!(await this.store.getImage(name))) throw new ImageError(`no such image: ${a[0]}`, undefined, true);
        await this.store.deleteImage(name);
        return undefined as Calls[M][1];
      }
      case "inspectImage": {
        const image = await this.images.image(a[0] as string, false);
        return { Id: image.configDigest, RepoTags: [familiarName(parseReference(image.name))], RepoDigests: [], Created: image.created, Os: image.config.os, Architecture: image.config.architecture, Config: image.config.config ?? {}, RootFS: image.config.rootfs } as Calls[M][1];
      }
      case "stats":
        return (await this.stats(a[0] as number)) as Calls[M][1];
      case "freeze":
        return (await this.freeze(a[0] as number, a[1] as boolean)) as Calls[M][1];
      case "clearStorage":
        return (await this.store.clear()) as Calls[M][1];
      default:
        throw new Error(`unknown call ${String(method)}`);
    }
  }

  /** One container of `true` in busybox, start to end: v86 compiles the kernel's container paths on the way. */
  private async warmUp(): Promise<void> {
    await this.runContainer(0, { image: "busybox", cmd: ["true"], stdin: false });
  }

  private async freeze(id: number, frozen: boolean): Promise<void> {
    const p = this.running.get(id);
    if (!p) throw new ContainerError("the container is not running", "not_running");
    await this.machine.link.request(frozen ? "pause" : "resume", { cid: p.handle }, 30_000);
  }

  private async stats(id: number): Promise<GuestStats> {
    const p = this.running.get(id);
    if (!p) throw new ContainerError("the container is not running", "not_running");
    const r = await this.machine.link.request("stats", { cid: p.handle }, 30_000);
    const guest = (r.guest ?? {}) as Record<string, number | null>;
    const n = (v: number | null | undefined) => (typeof v === "number" ? v : null);
    return {
      ...parseContainerStats(r.stats, "the vm agent"),
      guest: { memTotalKiB: n(guest.memTotalKiB), memAvailableKiB: n(guest.memAvailableKiB), containers: n(guest.containers) ?? 0 },
    };
  }

  /**
   * A guest process under `handle` (a container's cid, an exec's eid): its
   * stdio channels, `start` (which must send its request before it first
   * awaits: stdin may follow at once), then `wait` and `delete`.
   */
  private async runProcess(
    id: number,
    proc: { handle: string; stdin: boolean; terminal: boolean; container?: Running["container"] },
    start: (channels: GuestChannels) => Promise<number>,
    release: () => void = () => {},
    hooks: ProcessHooks = {},
  ): Promise<void> {
    const io = this.openIo({ id, held: [] }, proc.stdin, proc.terminal, undefined, hooks.output);
    const running: Running = { handle: proc.handle, stdin: io.stdin, outputs: io.outputs, ...(proc.container ? { container: proc.container } : {}) };
    await this.startAndFollow(id, running, io.close, () => start(io.channels), release, hooks);
  }

  /**
   * The page's process `id` is `running`: `start` it (its channels end with
   * `close` if that fails), tell the page, then follow it to its exit.
   */
  private async startAndFollow(id: number, running: Running, close: () => void, start: () => Promise<number>, release: () => void, hooks: ProcessHooks): Promise<void> {
    this.running.set(id, running);
    let pid: number;
    try {
      pid = await start();
    } catch (err) {
      close();
      await this.cleanUp(id, running, release);
      throw err;
    }
    this.post({ type: "started", id, pid, ...(running.container ? { cid: running.handle } : {}) });
    hooks.started?.();
    await this.follow(id, running, release);
  }

  /**
   * A process's stdio channels, output posted along `route` (held while it
   * has no page id). `channels`: the numbers a restored guest already uses.
   */
  private openIo(route: Route, stdin: boolean, terminal: boolean, channels?: GuestChannels, onOutput?: () => void) {
    const link = this.machine.link;
    const input = stdin ? link.openInput(channels?.stdin ?? undefined) : undefined;
    const output = (stream: "stdout" | "stderr", channel: number | undefined) =>
      link.openOutput((data) => {
        if (route.id === null) route.held.push({ stream, data });
        else this.post({ type: stream, id: route.id, data });
        onOutput?.();
      }, channel);
    const outputs: Running["outputs"] = { stdout: output("stdout", channels?.stdout ?? undefined), ...(terminal ? {} : { stderr: output("stderr", channels?.stderr ?? undefined) }) };
    return {
      stdin: input,
      outputs,
      channels: { stdin: input?.channel ?? null, stdout: outputs.stdout!.channel, stderr: outputs.stderr?.channel ?? null } as GuestChannels,
      /** The process never ran (or is given up): its channels end. */
      close: () => {
        input?.finish();
        outputs.stdout?.onEof();
        outputs.stderr?.onEof();
      },
    };
  }

  /** Waits for the process's exit, tells the page, and removes it from the guest. */
  private async follow(id: number, running: Running, release: () => void): Promise<void> {
    try {
      const status = await waitForExit(this.machine.link, running.handle);
      this.post({ type: "exit", id, ...status });
    } finally {
      await this.cleanUp(id, running, release);
    }
  }

  private async cleanUp(id: number, running: Running, release: () => void): Promise<void> {
    running.stdin?.finish();
    if (this.running.get(id) === running) this.running.delete(id);
    // A process that failed at execve is known to the agent until deleted.
    await deleteInGuest(this.machine.link, running.handle);
    release();
  }
}

/** The request's standby key; none for one whose image name does not parse (its run says why). */
function keyOf(request: RunRequest): string | undefined {
  try {
    return standbyKey(request);
  } catch {
    return undefined;
  }
}

/** The request's spare key (standby.ts spareKey); none for one whose image name does not parse. */
function spareKeyOf(request: RunRequest): string | undefined {
  try {
    return spareKey(request);
  } catch {
    return undefined;
  }
}

/** The 9p export of an image root in the memory fs (the layer's directory name). */
const layerExportName = (dir: string) => `img-${dir.slice(dir.lastIndexOf("/") + 1)}`;

/** Held output with each run of one stream's chunks joined (what a saved state keeps). */
function coalesce(held: HeldOutput[]): HeldOutput[] {
  const runs: HeldOutput[][] = [];
  for (const chunk of held) {
    const last = runs.at(-1);
    if (last?.[0]!.stream === chunk.stream) last.push(chunk);
    else runs.push([chunk]);
  }
  return runs.map((run) => ({ stream: run[0]!.stream, data: concat(run.map((c) => c.data)) }));
}

/** Byte counts of several concurrent loads, summed for the page. */
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
 * A state this guest can restore: the one this browser saved, else the
 * served snapshot (kept in the store for the next visit; `downloading` is
 * called as its bytes are fetched). One that does not fit (snapshot-check.ts)
 * gives a notice and is not used.
 */
async function savedState(
  store: BrowserStore,
  stored: StoredState | undefined,
  served: StartRequest["files"]["snapshot"],
  fingerprint: string,
  onProgress: (p: LoadProgress) => void,
  notice: (message: string) => void,
  downloading: () => void,
): Promise<{ kind: StartKind; saved: SavedMachine; standby?: StandbyRecord; orphans?: string[]; storing?: Promise<void> } | undefined> {
  const unusable = (what: string, why: string) => (notice(`${what} is not usable: ${why}: booting the vm from scratch`), undefined);
  if (stored) {
    // Its digest was checked (or made) before it was stored, with its record, in one transaction.
    const problem = fingerprintProblem(stored, fingerprint) ?? integrityProblem(stored, stored.state.byteLength, undefined);
    if (!problem) {
      const saved: SavedMachine = { state: stored.state, p9: stored.p9, ...(stored.link ? { link: stored.link } : {}) };
      return { kind: "stored", saved, ...(stored.standby ? { standby: stored.standby } : {}), ...(stored.orphans ? { orphans: stored.orphans } : {}) };
    }
    await store.deleteState().catch(() => {});
    // The served snapshot may still fit (a new guest image with its own snapshot).
    if (!served) return unusable("the stored guest state", problem);
  }
  if (!served) return undefined;
  let meta: SnapshotRecord;
  try {
    meta = await fetchJson<SnapshotRecord>(served.meta);
  } catch (err) {
    return unusable("vm snapshot", `its sidecar cannot be read (${(err as Error).message})`);
  }
  const mismatch = fingerprintProblem(meta, fingerprint);
  if (mismatch) return unusable("vm snapshot", mismatch);
  downloading();
  let state: ArrayBuffer;
  try {
    ({ state } = await loadFiles({ state: served.state }, onProgress));
  } catch (err) {
    // A download cut short (or refused) is a snapshot this start cannot use, as a corrupt one is.
    return unusable("vm snapshot", (err as Error).message);
  }
  const corrupt = integrityProblem(meta, state.byteLength, await sha256Hex(state));
  if (corrupt) return unusable("vm snapshot", corrupt);
  const saved: SavedMachine = { state, p9: meta.p9 ?? { fids: [] }, ...(meta.link ? { link: meta.link } : {}) };
  // A served snapshot may hold a container started ahead (the playground's shell: web/snapshot.ts).
  const standby = meta.standby === undefined ? undefined : standbyFromJson(meta.standby);
  const orphans = Array.isArray(meta.orphans) ? meta.orphans.filter((c): c is string => typeof c === "string") : [];
  // One that does not parse is not taken: its container goes with the others.
  const badCid = meta.standby !== undefined && !standby ? (meta.standby as { cid?: unknown } | null)?.cid : undefined;
  if (typeof badCid === "string") orphans.push(badCid);
  const storing = store.putState({ fingerprint, size: meta.size, sha256: meta.sha256, p9: saved.p9, state, ...(saved.link ? { link: saved.link } : {}), ...(standby ? { standby } : {}), orphans });
  storing.catch(() => {});
  return { kind: "snapshot", saved, ...(standby ? { standby } : {}), orphans, storing };
}

/** vm-images/dist/manifest.json, as far as the Worker reads it. */
interface GuestManifest {
  imageId: string;
  files?: Record<string, { size?: unknown; sha256?: unknown }>;
}

/** The manifest's names of the cold boot's files. */
const BOOT_FILE_NAMES = { bios: "bios.bin", kernel: "bzImage", initrd: "initramfs.cpio" } as const;

/**
 * A cold boot's BIOS, kernel and initramfs are the ones the manifest lists
 * (size, then SHA-256: ~5 MB, hashed in tens of ms beside a boot of
 * seconds): a file cut short or from another build crashed the emulator
 * ("RuntimeError: unreachable", a #GP panic) naming none of them.
 */
async function checkBootFiles(files: Record<keyof typeof BOOT_FILE_NAMES, ArrayBuffer>, sources: StartRequest["files"], manifest: GuestManifest): Promise<void> {
  for (const key of Object.keys(BOOT_FILE_NAMES) as (keyof typeof BOOT_FILE_NAMES)[]) {
    const listed = manifest.files?.[BOOT_FILE_NAMES[key]];
    if (!listed) continue; // a manifest without file records (hand-made): nothing to check against
    const source = sources[key];
    const name = typeof source === "string" ? source : `${BOOT_FILE_NAMES[key]} (given as bytes)`;
    const bytes = files[key];
    if (typeof listed.size === "number" && bytes.byteLength !== listed.size) {
      throw new TsboxError(`${name} is ${bytes.byteLength} bytes, manifest.json says ${listed.size}: it is cut short or from another guest build (serve the files of one vm-images build together)`, { code: "runtime" });
    }
    if (typeof listed.sha256 === "string" && (await sha256Hex(bytes)) !== listed.sha256) {
      throw new TsboxError(`${name} does not have the SHA-256 manifest.json gives it: it is corrupt or from another guest build (serve the files of one vm-images build together)`, { code: "runtime" });
    }
  }
}

/** The freshly booted guest's state, stored for the next visit (nothing runs yet). */
async function saveState(machine: GuestMachine<WorkerLink>, store: BrowserStore, fingerprint: string): Promise<void> {
  await store.putState(await stateRecord(fingerprint, await machine.save()));
}

/** A saved guest as the store keeps it: its fingerprint, size and digest beside it. */
async function stateRecord(fingerprint: string, saved: SavedMachine): Promise<StoredState> {
  return { fingerprint, size: saved.state.byteLength, sha256: await sha256Hex(saved.state), p9: saved.p9, state: saved.state, ...(saved.link ? { link: saved.link } : {}) };
}

function summary(image: StoredImage): BrowserImageSummary {
  const size = image.layers.reduce((n, l) => n + l.size, 0);
  return {
    name: familiarName(parseReference(image.name)),
    id: image.configDigest,
    digest: image.manifestDigest,
    size,
    created: image.created,
    platform: `${image.config.os}/${image.config.architecture}`,
  };
}

function randomHex(bytes: number): string {
  return hex(crypto.getRandomValues(new Uint8Array(bytes)));
}
