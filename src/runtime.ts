import { existsSync, rmSync, writeFileSync } from "node:fs";
import { basename, posix, resolve as resolvePath } from "node:path";
import type { Backend, ContainerProcess, HandOffOptions, StdioTarget } from "./backends/backend.js";
import { type BackendChoice, chooseBackend, createBackend } from "./backends/select.js";
import { COMMIT_KINDS, type CommitOptions, Container, type ContainerOwner, type ExitStatus, type RemoveOptions, type SpawnOptions } from "./container.js";
import { LIST_KINDS, LOAD_KINDS, PULL_KINDS, REMOVE_IMAGE_KINDS, REMOVE_KINDS, type RemoveImageOptions } from "./verb-options.js";
import type { LifecycleContext } from "./containers/context.js";
import { attachedProcess } from "./containers/attached-process.js";
import { removeBundleDir, removeOwnedTree } from "./containers/remove.js";
import { helperRoot } from "./containers/helper-root.js";
import { ContainerNames, withoutSlash } from "./containers/names.js";
import { removeContainer } from "./containers/ops/remove.js";
import { orphanedStep } from "./build/orphaned-step.js";
import { startContainer } from "./containers/ops/start.js";
import { type Attachment, attachMonitor } from "./containers/monitor-client.js";
import { parseRestartPolicy } from "./containers/restart-policy.js";
import { rootIsHostRoot, WITHHELD_MOUNTS_WARNING, withholdsMounts } from "./spec/security.js";
import { hostNamespaces } from "./spec/ipc-pid.js";
import { parseSignal } from "./containers/signals.js";
import { type ContainerState, DEFAULT_LOG, failedStartFields, isActive, keptLog, listStates, orphanedRemoval, processStartTime, readCurrentState, readState, updateState, writeState } from "./containers/state.js";
import { announceCreated, creatingImage, makeBundleDir, makeRootDirs, ownStartTime } from "./containers/bundle-dir.js";
import { ContainerError, errorMessage, ImageError, isTsboxError, leftContainer, noSuchContainer, TsboxError, UsageError } from "./errors.js";
import { withIndexLock } from "./image/layout.js";
import { hostHasSwap } from "./spec/host-swap.js";
import { isErrno, randomHex, readdirOrEmpty } from "./fs-util.js";
import { checkOverlayBacking, openDataDir } from "./data-dir.js";
import { effectiveHealthcheck, writeHealthcheck } from "./containers/healthcheck.js";
import { LayerCache } from "./image/layers.js";
import { type ImageSummary, ImageStore, type StoredImage } from "./image/store.js";
import type { PullEvent, PullOptions, PullResult } from "./image/registry/pull-image.js";
import type { PushOptions, PushResult } from "./image/registry/push-image.js";
import type { Descriptor, Platform } from "./image/oci.js";
import { formatPlatform, parsePlatform, platformMatches } from "./image/platform.js";
import { checkImageName, familiarName, isNameOnly, parseReference, repositoryName } from "./image/reference.js";
import { type ContainerPaths, DataPaths, defaultDataDir } from "./paths.js";
import type { ContainerSpec, ProcessSpec } from "./spec/container-spec.js";
import { buildSpec, defaultHostname } from "./spec/from-options.js";
import { type ImageConfig, imageVolumePaths } from "./image/oci.js";
import { type Attachment as NetworkAttachment, readAttachments } from "./network/attachments.js";
import { readSpec, writeSpec } from "./containers/spec-file.js";
import { type NetworkInputs, type NetworkPlan, parseNetworkMode, planNetwork } from "./network/plan.js";
import { PeerResolver, withPeerNetwork } from "./containers/peer.js";
import { withNetworkChangeLock } from "./containers/lock.js";
import { recordTransition } from "./containers/events.js";
import { ensureInitLayer } from "./network/init-layer.js";
import { ContainerNetworks } from "./network/container-networks.js";
import { rootlessBridge } from "./network/rootless.js";
import { DEFAULT_NETWORK, NetworkStore } from "./network/store.js";
import { type HostIdentity, idMappings, isHostRoot, overlapWarning, probeHostIdentity, rangeUnusedWarning, rootlessNetworking } from "./spec/id-mappings.js";
import type { LayerCapability, LayerOwner } from "./image/unpack.js";
import { checkExecCommand, execProcessSpec } from "./spec/exec-process.js";
import type { RunOptions, VolumeOption } from "./spec/run-options.js";
import { checkOptions, checkRunOptionTypes, type OptionKinds } from "./spec/run-options-check.js";
import { resolveUser } from "./spec/user.js";
import { isMapped, validateSpec } from "./spec/validate.js";
// --- data side (cli-data): volumes, inspect ---
import { buildInspectRecord, readInspectRecord, writeInspectRecord } from "./containers/inspect-record.js";
import { type ContainerInspect, inspectContainer } from "./containers/inspect.js";
import { readContainerVolumes, VolumeStore } from "./containers/volumes.js";
import { resolveMounts } from "./containers/volumes-resolve.js";
import type { CopyOptions } from "./containers/copy.js";
import { warningSink } from "./warnings.js";
import { PlanCache } from "./containers/plan-cache.js";
import { option } from "./vocabulary.js";
import { procSysReadOnly } from "./spec/sysctl.js";
import { noteIdMaps } from "./containers/id-record.js";
import type { Readable, Writable } from "node:stream";
import { withExposed } from "./network/ports.js";
import { abortError, abortSignalOf } from "./abortable.js";
// --- end data side ---

export interface RuntimeOptions {
  /** Where images, layers and containers live; default $TSBOX_DATA_DIR, $XDG_DATA_HOME/tsbox, ~/.local/share/tsbox. */
  dataDir?: string;
  /**
   * A backend, or its name; default ("auto"): $TSBOX_BACKEND, else native
   * where Linux namespaces work, else vm (see src/backends/select.ts).
   */
  backend?: Backend | "native" | "vm" | "auto";
  /** The network containers join when `run` names none; default $TSBOX_NETWORK, else `bridge`. */
  network?: string;
}
const RUNTIME_KINDS: OptionKinds<RuntimeOptions> = { dataDir: "string", backend: "stringOrObject", network: "string" };

/** Process-level knobs the CLI needs and library users normally do not. */
export interface RunControl {
  /** Start the container in a new session (no terminal signals); the caller forwards signals. */
  newSession?: boolean;
  /** Progress of the pull when the image is not in the store yet. */
  onPullProgress?: (event: PullEvent) => void;
  /** Aborts the run or create until its container exists (its pull included; Ctrl-C): rejects with the signal's reason, nothing made. */
  signal?: AbortSignal;
  /**
   * A warning about the container that does not stop it (limits this host or user
   * cannot apply); default: `process.emitWarning`.
   */
  onWarning?: (message: string) => void;
  /**
   * The CLI's foreground run: where the backend can (native, no terminal, our
   * own stdout and stderr), this process becomes the container's supervisor
   * and never returns (`Backend.handOff`); `beforeExec` runs just before.
   */
  handOff?: Pick<HandOffOptions, "beforeExec">;
  /** Told the container's id once it exists, before it starts (the CLI's `--cidfile`). */
  onCreated?: (id: string) => void;
  /** @internal (a symbol: no option of the public API, nor listed in its errors) */
  [DISPOSABLE_LAYER]?: boolean;
  /** @internal The CLI's run cache (src/cli/run-cache/): told what a run that is handed off was made from. */
  [HANDING_OFF]?: (run: { bundleDir: string; layers: string[] }) => void;
}

/** A prepared container: its bundle, name, config.json and a "created" state.json written. */
interface Prepared {
  id: string;
  bundle: ContainerPaths;
  spec: ContainerSpec;
  state: ContainerState;
  layers: string[];
  anonymousVolumes: boolean;
}

/**
 * @internal A build step's container: the builder turns its writable layer into an image layer, then removes it,
 * so as with `remove` nothing syncs the layer's file system when the container ends (a volatile overlay).
 */
export const DISPOSABLE_LAYER: unique symbol = Symbol("tsbox.disposableLayer");
export const HANDING_OFF: unique symbol = Symbol("tsbox.handingOff");
const RUN_CONTROL_KINDS: OptionKinds<Omit<RunControl, typeof DISPOSABLE_LAYER | typeof HANDING_OFF>> = { newSession: "boolean", onPullProgress: "function", signal: "abortSignal", onWarning: "function", handOff: "object", onCreated: "function" };
/** `Runtime.list`'s filters. */
export interface ListOptions {
  /** Stopped ones too (docker's `ps -a`). */
  all?: boolean;
  /** Only containers with every one of these labels set to that value (docker's `--filter label=K=V`). */
  labels?: Record<string, string>;
}

const LIST_FILTER_KINDS: OptionKinds<ListOptions> = { all: "boolean", labels: "stringMap" };

export type { PullEvent, PullOptions, PullResult, PushOptions, PushResult };

export type ContainerInfo = ContainerState;

/** Whether this process said its automatic backend choice's warning (BackendChoice.warning) already. */
let fallbackWarned = false;

/**
 * A Runtime dropped without `close()` (a server's `new Runtime()` per request) kept its idle warm helper until
 * Node exited: one `tsbox-runtime serve` process per Runtime ever made. Once one is collected, the backends it
 * made itself are closed as `close()` would (a busy helper still ends only after its runs; a backend given
 * to the Runtime is its giver's).
 */
const dropped = new FinalizationRegistry<Backend[]>((owned) => {
  for (const backend of owned) void Promise.resolve(backend.close?.()).catch(() => {});
});

/**
 * The entry point: `new Runtime().run({ image, cmd })`. Owns the data dir
 * (image store, layer cache, container bundles) and hands validated
 * ContainerSpecs to a backend. Containers are shared with every other
 * process using the same data dir: `get`, `list` and the lifecycle verbs
 * work on containers any tsbox process (CLI or library) made.
 */
export class Runtime implements ContainerOwner {
  readonly dataDir: string;
  readonly backend: Backend;
  /** Which backend and why (`tsbox info`). */
  readonly backendChoice: BackendChoice;
  readonly imageStore: ImageStore;
  private readonly paths: DataPaths;
  private readonly layers: LayerCache;
  private readonly names: ContainerNames;
  private readonly ctx: LifecycleContext;
  private host: HostIdentity | undefined;
  /** What `checkBacking` found (once per Runtime: the probe's files, read on every run, cost a run ≈ 1 ms here). */
  private backingChecked = false;
  /** The id-range warnings of this host and data dir, read once per Runtime (and given once: warnOnce). */
  private idWarnings: string[] | undefined;
  /** The plans of this Runtime's foreground runs (made on the first that may have one). */
  private planCache: PlanCache | undefined;
  /** The warnings about this host already given: each once per Runtime (a 300-run suite printed 300 copies). */
  private readonly warned = new Set<string>();
  /** Whether docker's default sysctls can be written here (read once per Runtime: a mountinfo read). */
  private procSysCanWrite: boolean | undefined;
  /** A vm Runtime's native backend for files of the user's subordinate ids on this host (LifecycleContext.hostBackend). */
  private hostNative: Backend | undefined;
  /** The backends this Runtime made (closed with it, or once it is collected: `dropped`); never one it was given. */
  private readonly owned: Backend[] = [];
  /** Named and anonymous volumes (`tsbox volume …`). */
  readonly volumes: VolumeStore;
  private readonly defaultNetwork: string;
  private networkStore: NetworkStore | undefined;
  /** Connect, disconnect and prune of this data dir's containers' networks. */
  private readonly networking: ContainerNetworks;

  constructor(options: RuntimeOptions = {}) {
    // dockerode's `new Docker("/path")` form names a socket: here it would have been the default data dir, silently.
    if (typeof options === "string") throw new UsageError(`Runtime options: expected an object, got the string ${JSON.stringify(options)} (a data dir: new Runtime({ dataDir: ${JSON.stringify(options)} }))`);
    checkOptions("Runtime", options, RUNTIME_KINDS);
    // A relative dataDir is the current directory's (it ended in "root.path … is not an absolute path" at run).
    // 0700: what is in it (bundles, names, the store) must be no other user's to replace, whatever umask made it.
    this.dataDir = openDataDir(options.dataDir !== undefined ? resolvePath(options.dataDir) : defaultDataDir());
    this.paths = new DataPaths(this.dataDir);
    if (typeof options.backend === "object") {
      this.backend = options.backend;
      this.backendChoice = { name: options.backend.name as BackendChoice["name"], reason: "given to the Runtime" };
    } else {
      this.backendChoice = chooseBackend(options.backend);
      this.backend = createBackend(this.backendChoice);
      this.owned.push(this.backend);
    }
    dropped.register(this, this.owned);
    // One store for every backend; the backend only decides which platform of an image runs.
    const platform = backendPlatform(this.backend);
    this.imageStore = new ImageStore(this.dataDir, platform ? { platform } : {});
    this.layers = new LayerCache(this.dataDir, this.imageStore.layout, {
      // Rootless with subordinate ids, files keep the owners their layer gives (containers/layer-owners.ts);
      // not for the vm backend, whose 9p server reads the layers as this user and presents the notes of
      // the owners instead (image/owner-notes.ts).
      ...(this.backend.name === "native" ? { applyOwners: (dir, owners, capabilities) => this.giveOwners(dir, owners, capabilities) } : {}),
      removeDir: (dir) => removeOwnedTree(this.ctx, dir),
    });
    this.names = new ContainerNames(this.paths);
    this.ctx = {
      paths: this.paths,
      backend: this.backend,
      names: this.names,
      host: () => (this.host ??= probeHostIdentity()),
      // The host backend runs it: busybox of the host's platform (a vm Runtime's own is linux/386, which a host kernel without IA32 emulation cannot run).
      helperRoot: () => helperRoot(this.dataDir, backendPlatform(this.ctx.hostBackend())),
      hostBackend: () => (this.backend.name === "native" ? this.backend : (this.hostNative ??= this.own(createBackend({ name: "native", reason: "files of the user's subordinate ids" })))),
    };
    this.volumes = new VolumeStore(this.paths, (dir) => removeOwnedTree(this.ctx, dir));
    this.ctx.volumes = this.volumes;
    this.ctx.networks = () => this.networks;
    this.defaultNetwork = options.network ?? process.env.TSBOX_NETWORK ?? DEFAULT_NETWORK;
    this.networking = new ContainerNetworks({ backend: this.backend, dataDir: this.dataDir, paths: this.paths, networks: () => this.networks, host: () => (this.host ??= probeHostIdentity()) });
  }

  /** The networks of this data dir (`tsbox network …`). */
  get networks(): NetworkStore {
    return (this.networkStore ??= new NetworkStore(this.dataDir, rootlessNetworking((this.host ??= probeHostIdentity())), (config, dir, record) => this.networking.removeBridge(config, dir, record)));
  }

  /**
   * Creates and starts a container; resolves once its command runs, with its
   * streams. It runs in this process's foreground (it dies with it), unless
   * a restart policy asks for a monitor: then it outlives this process and
   * the streams are an attachment to it.
   */
  async run(options: RunOptions, control: RunControl = {}): Promise<Container> {
    if (typeof options?.image !== "string" || options.image === "") throw new UsageError("run needs an image");
    checkOptions("run control", control, RUN_CONTROL_KINDS);
    if (control.signal?.aborted) throw abortError(control.signal);
    if (options.restart !== undefined && parseRestartPolicy(options.restart).name !== "no") return this.runMonitored(options, control);
    await this.collectOrphans();
    // Only a container's monitor runs health checks: say so rather than show none.
    if (options.healthcheck && this.backend.name === "native") {
      warningSink(control.onWarning)("health checks run in containers started detached (-d, create/start or a restart policy); this foreground run has none");
    }
    const { id, bundle, spec, state, layers, anonymousVolumes } = await this.preparePlanned(options, control);
    try {
      control.onCreated?.(id);
      const stdin: StdioTarget = options.stdin === "inherit" ? "inherit" : options.stdin ? "pipe" : "ignore";
      const remove = options.remove ?? false;
      const handOff = control.handOff && !options.tty && stdin !== "pipe" && options.stdout === "inherit" && options.stderr === "inherit" && !(remove && anonymousVolumes);
      // Kept for `logs`, as docker keeps a foreground container's output; a --rm one goes with its log.
      // (--log-driver none: no log at all.)
      const log = remove ? undefined : keptLog(state.log);
      if (handOff && this.backend.handOff) {
        control[HANDING_OFF]?.({ bundleDir: bundle.dir, layers });
        await this.backend.handOff({ bundleDir: bundle.dir, stdin, remove, ...(log ? { log } : {}), ...control.handOff });
      }
      const started = await this.backend.start({
        bundleDir: bundle.dir,
        spec,
        specWritten: true,
        stdin,
        stdout: options.stdout ?? "pipe",
        stderr: options.stderr ?? "pipe",
        newSession: control.newSession ?? false,
        onWarning: warningSink(control.onWarning),
        // Anonymous volumes go through the volume store's lock: a --rm container with some is this process's to remove.
        ...(remove && anonymousVolumes ? {} : { record: { remove } }),
        // A backend that cannot hand over keeps the foreground run's log itself.
        ...(handOff && log ? { log } : {}),
        oneShot: control.handOff !== undefined,
        ...(control.signal ? { signal: control.signal } : {}),
      });
      // The CLI's run that could not hand over (a terminal) logs what is piped through it here.
      // (loaded only then: node:stream is not in a plain run's path)
      const proc = control.handOff !== undefined && !handOff && log ? (await import("./containers/log-tee.js")).logPipedOutput(started, bundle.dir, log) : started;
      if (!proc.recorded) {
        await updateState(bundle, () => ({
          status: "running",
          supervisor: "foreground",
          pid: proc.pid,
          monitorPid: proc.monitorPid,
          monitorStartTime: processStartTime(proc.monitorPid),
          started: new Date().toISOString(),
        }));
      }
      return new Container(this, id, state.name, { proc, autoRemove: options.remove ?? false, foreground: true });
    } catch (err) {
      // Aborted before the backend made it (the vm's guest start): nothing is left, as the signal promises.
      if (control.signal?.aborted) await removeBundleDir(this.ctx, id, state.name, { volumes: true }).catch(() => {});
      else await this.failedStart(id, state, err, options.remove ?? false);
      throw err;
    }
  }

  /**
   * `prepare` for a foreground run, or its plan replayed (containers/plan-cache.ts: a native run with the options of
   * an earlier one but the command and name, made by the addon from that run's files).
   */
  private async preparePlanned(options: RunOptions, control: RunControl): Promise<Prepared> {
    const plannable = this.backend.name === "native" && control.handOff === undefined && control[DISPOSABLE_LAYER] === undefined && control[HANDING_OFF] === undefined;
    const key = plannable ? (this.planCache ??= new PlanCache(this.dataDir)).key(options) : undefined;
    if (key === undefined) return this.prepare(options, control);
    // (A replay takes no other look at the options: the plan's run had these, but for the command and name.)
    checkRunOptionTypes(options);
    const replayed = this.planCache!.replay(key, options);
    if (replayed) {
      const bundle = this.paths.container(replayed.id);
      const state = readState(bundle);
      if (state) return { id: replayed.id, bundle, spec: replayed.spec, state, layers: replayed.layers, anonymousVolumes: false };
      this.planCache!.undo(replayed);
    }
    // What the full run says goes to the caller; a run that said something leaves no plan (a replay would not say it).
    let said = false;
    const say = warningSink(control.onWarning);
    const watched: RunControl = { ...control, onWarning: (message) => ((said = true), say(message)) };
    const recording = this.planCache!.recording(key, options, () => !said);
    const prepared = await this.prepare(options, watched);
    try {
      recording?.record({ bundleDir: prepared.bundle.dir, spec: prepared.spec, layers: prepared.layers });
    } catch {
      // no plan: the next run is a full one again
    }
    return prepared;
  }

  /** `run` with a restart policy: started under its monitor, attached to from the first byte. */
  private async runMonitored(options: RunOptions, control: RunControl): Promise<Container> {
    const { id, bundle, state } = await this.prepare(options, control);
    let attachment: Attachment | undefined;
    try {
      await startContainer(this.ctx, id, {
        beforeStart: async () => {
          // The container outlives us under its monitor: the attachment keeps Node running only while it is used.
          attachment = await attachMonitor(bundle.dir, { stdin: Boolean(options.stdin), stdout: true, stderr: true, stdinOnce: true, keepAlive: false });
        },
        onWarning: warningSink(control.onWarning),
      });
    } catch (err) {
      attachment?.close();
      throw err;
    }
    if (!attachment) throw new TsboxError("could not attach to the container's monitor", { code: "runtime" });
    const proc = attachedProcess(this.ctx, id, attachment, {
      stdin: options.stdin === "inherit" ? "inherit" : options.stdin ? "pipe" : "ignore",
      stdout: options.stdout ?? "pipe",
      stderr: options.stderr ?? "pipe",
    });
    return new Container(this, id, state.name, { proc, autoRemove: false, foreground: false });
  }

  /**
   * Creates a container without starting it (`docker create`); `start()`
   * runs it under a monitor that outlives this process.
   */
  async create(options: RunOptions, control: RunControl = {}): Promise<Container> {
    if (typeof options?.image !== "string" || options.image === "") throw new UsageError("create needs an image");
    checkOptions("create control", control, RUN_CONTROL_KINDS);
    if (control.signal?.aborted) throw abortError(control.signal);
    // As run does: a `--rm` container whose process was killed unseen gives its name back first (a test suite's
    // fixed names failed after one interrupted run).
    await this.collectOrphans();
    const { id, bundle, state } = await this.prepare(options, control);
    // Created for good: no longer tied to this process.
    await updateState(bundle, () => ({ creatorPid: null, creatorStartTime: null }));
    return new Container(this, id, state.name);
  }

  /** A container by id, unique id prefix or name (made by any tsbox process). */
  async get(ref: string): Promise<Container> {
    const id = await this.resolveContainer(ref);
    const state = readState(this.paths.container(id));
    if (!state) throw noSuchContainer(ref);
    return new Container(this.runtimeFor(state.backend), id, state.name);
  }

  /**
   * Containers of this data dir, newest first; running ones only unless `all`; with `labels`, those carrying
   * each (what a test harness finds its own containers by, e.g. to remove what an earlier run left).
   */
  async list(options: ListOptions = {}): Promise<Container[]> {
    checkOptions("list", options, LIST_FILTER_KINDS);
    const wanted = Object.entries(options.labels ?? {});
    const states = (await this.containers({ all: options.all ?? false })).filter((s) => {
      if (wanted.length === 0) return true;
      const labels = this.labelsOf(s);
      return wanted.every(([key, value]) => labels[key] === value);
    });
    return states.map((s) => new Container(this.runtimeFor(s.backend), s.id, s.name));
  }

  /** A container's labels: its record carries them since stop 52; an older one's are in its inspect.json only. */
  private labelsOf(state: ContainerState): Record<string, string> {
    return state.labels ?? readInspectRecord(this.paths.container(state.id))?.Config.Labels ?? {};
  }

  private siblings = new Map<string, Runtime>();

  /**
   * The runtime whose backend runs a container: this one, or one of the same
   * data dir with the container's backend (a vm container's pid is the
   * guest's: only its backend may exec into it or read its cgroup).
   */
  private runtimeFor(backend: string): Runtime {
    if (backend === this.backend.name) return this;
    if (backend !== "native" && backend !== "vm") throw new ContainerError(`container of an unknown backend ${JSON.stringify(backend)}`);
    if (this.backendChoice.reason === "given to the Runtime") {
      throw new ContainerError(`the container belongs to the ${backend} backend; this Runtime was given the ${this.backend.name} backend`);
    }
    let sibling = this.siblings.get(backend);
    if (!sibling) this.siblings.set(backend, (sibling = new Runtime({ dataDir: this.dataDir, backend })));
    return sibling;
  }

  /** The bundle, name, config.json and a "created" state.json of a new container. */
  private async prepare(given: RunOptions, control: RunControl): Promise<Prepared> {
    checkRunOptionTypes(given);
    // `networks` (docker 25+'s `--network a --network b`): planned on the first, connected to the others once created.
    const [primary, ...moreNetworks] = checkNetworkList(given);
    let options: RunOptions = primary === undefined ? given : { ...given, network: primary, networks: undefined };
    const restartPolicy = parseRestartPolicy(options.restart ?? "no");
    if (options.restart !== undefined && restartPolicy.name !== "no" && options.remove) {
      throw new UsageError("--restart and --rm cannot be combined: a container that restarts is never removed");
    }
    // The automatic pick's fallback to the slow vm backend for want of the native package: once per process.
    if (this.backendChoice.warning !== undefined && !fallbackWarned) {
      fallbackWarned = true;
      warningSink(control.onWarning)(this.backendChoice.warning);
    }
    const stopSignal = parseSignal(options.stopSignal ?? "SIGTERM").name;
    if (options.stopTimeout !== undefined && !Number.isInteger(options.stopTimeout)) throw new UsageError(`invalid stop timeout ${options.stopTimeout}: whole seconds`);
    this.checkBacking();
    const image = await this.resolveImage(options.image, control, options.platform, options.pull);
    const layers = await this.layers.ensureLayers(image);
    // Aborted while the image was pulled or unpacked: no container is made.
    if (control.signal?.aborted) throw abortError(control.signal);
    const host = (this.host ??= probeHostIdentity());
    this.idWarnings ??= [rangeUnusedWarning(host), noteIdMaps(this.dataDir, host), overlapWarning(host)].filter((w): w is string => w !== undefined);
    for (const warning of this.idWarnings) this.warnOnce(control, warning);

    const id = randomHex(32);
    const bundle = this.paths.container(id);
    makeBundleDir(this.paths, bundle, image.manifestDigest, layers);
    let reserved = false;
    try {
      await this.checkImageKept(options.image, image.manifestDigest, layers);
      makeRootDirs(bundle);
      if (options.remove) writeFileSync(this.paths.removalMarker(id), "");
      // After the bundle dir exists, so a racing run sees the name as taken, not stale.
      // Unnamed: a generated name, as docker gives (`ps` shows `brave_lovelace`, not a hash).
      if (options.name !== undefined) this.names.reserve(options.name, id);
      else options = { ...options, name: this.names.reserveGenerated(id) };
      reserved = true;
      if (this.backend.name !== "native" && hostNamespaces(options).size > 0) {
        throw new UsageError(`--pid host, --ipc host and --uts host need the native backend: a ${this.backend.name} container's host is the guest`);
      }
      // Volumes, binds, tmpfs and --init's binary; inspect.json for docker's inspect shape.
      const ids = this.backend.containerIdentity?.(host) ?? host;
      const native = this.backend.name === "native";
      const owners = {
        maps: idMappings(ids),
        ...(native ? { give: (dir: string, list: LayerOwner[]) => this.giveOwners(dir, list) } : {}),
        ...(native && host.uid !== 0 && host.subuid ? { fill: (from: string[], path: string, dest: string) => this.fillVolume(from, path, dest) } : {}),
      };
      const inherited = options.volumesFrom?.length ? await this.volumesFrom(options) : { volumes: [], anonymous: [] };
      if (inherited.volumes.length > 0) options = { ...options, volumes: [...(options.volumes ?? []), ...inherited.volumes] };
      const mounts = await resolveMounts(options, { volumes: this.volumes, imageVolumes: imageVolumePaths(image.config), layers, bundle, privileged: host.uid === 0, owners, onHost: native, inheritedAnonymous: inherited.anonymous });
      const initBinary = options.init ? this.initBinary() : undefined;
      options = withPeerNetwork(options);
      const peers = new PeerResolver((ref) => this.resolveContainer(ref), (peerId) => this.paths.container(peerId), options);
      const network = await this.planNetwork(id, options, bundle.dir, image.config, control, peers);
      const peer = await peers.namespaces();
      const initLayer = network ? ensureInitLayer(this.dataDir, network.mounts) : undefined;
      // (a vm container's kernel is the guest's, which has no swap)
      const swap = native && options.resources?.memory !== undefined && hostHasSwap();
      const kernel = this.backend.containerKernel?.();
      const defaultSysctls = !native || this.procSysWritable(control);
      const spec = await buildSpec({ id, options, image: image.config, layers, bundle, host: ids, swap, defaultSysctls, ...(kernel ? { kernel } : {}), mounts: mounts.specs, ...(initBinary ? { initBinary } : {}), ...(network ? { network } : {}), ...(initLayer ? { initLayer } : {}), ...(peer ? { peer } : {}), disposableLayer: options.remove === true || control[DISPOSABLE_LAYER] === true });
      writeSpec(bundle.config, spec);
      if (withholdsMounts(options, rootIsHostRoot(spec.linux.uidMappings, spec.linux.usernsAuto !== undefined))) warningSink(control.onWarning)(WITHHELD_MOUNTS_WARNING);
      // The monitor runs the checks (a foreground run has none: docs/architecture.md "Health checks").
      const healthcheck = effectiveHealthcheck(image.config.config?.Healthcheck, options.healthcheck);
      if (healthcheck && this.backend.name === "native") writeHealthcheck(bundle.dir, healthcheck, spec.process);
      // The image's own HEALTHCHECK too: a script waiting for "(healthy)" would wait for ever.
      else if (healthcheck) warningSink(control.onWarning)(`the ${this.backend.name} backend runs no health checks yet: ${options.healthcheck ? "--health-cmd" : "the image's HEALTHCHECK"} is not run, and the container never shows (healthy)`);
      const record = buildInspectRecord({ options, image: { id: image.configDigest, config: image.config }, spec, mounts: mounts.inspect, devices: mounts.devices, ...(healthcheck ? { healthcheck } : {}), bundle, networkMode: networkModeOf(network, options.network ?? this.defaultNetwork) });
      writeInspectRecord(bundle, record);
      const state: ContainerState = {
        id,
        name: options.name ?? null,
        image: options.image,
        imageDigest: image.manifestDigest,
        command: spec.process.args,
        backend: this.backend.name,
        status: "created",
        created: new Date().toISOString(),
        started: null,
        finished: null,
        pid: null,
        monitorPid: null,
        monitorStartTime: null,
        creatorPid: process.pid,
        creatorStartTime: ownStartTime(),
        exitCode: null,
        signal: null,
        error: null,
        oomKilled: false,
        restartCount: 0,
        restartPolicy,
        supervisor: null,
        stopSignal: options.stopSignal !== undefined ? stopSignal : parseSignal(image.config.config?.StopSignal || "SIGTERM").name,
        stopTimeout: options.stopTimeout ?? 10,
        tty: Boolean(options.tty),
        openStdin: Boolean(options.stdin),
        remove: options.remove ?? false,
        log: { maxSize: options.log?.maxSize ?? DEFAULT_LOG.maxSize, maxFiles: options.log?.maxFiles ?? DEFAULT_LOG.maxFiles, ...(options.log?.driver === "none" ? { driver: "none" as const } : {}) },
        labels: record.Config.Labels,
      };
      writeState(bundle, state);
      for (const network of moreNetworks) await this.connectNetwork(network, id, { ...(options.networkAliases?.length ? { aliases: options.networkAliases } : {}) });
      announceCreated(bundle, state);
      return { id, bundle, spec: moreNetworks.length > 0 ? readSpec(bundle.config) : spec, state, layers, anonymousVolumes: mounts.volumes.anonymous.length > 0 };
    } catch (err) {
      // Never created: its anonymous volumes go with it.
      await removeBundleDir(this.ctx, id, reserved ? options.name! : null, { volumes: true }).catch(() => {});
      throw err;
    }
  }

  /**
   * An `rmi` or prune that ran between the lookup of the image and the
   * bundle's creator file (which claims the image and keeps its layers from
   * now on: `removeImage`, gc.ts) may have removed it; both decide under the
   * index lock, so a look under that lock sees the image and its layers
   * whole, or knows (before, an `rmi` that listed the containers before the
   * claim deleted the image of a container that then ran).
   */
  private async checkImageKept(image: string, manifest: string, layers: string[]): Promise<void> {
    const gone = await withIndexLock(this.imageStore.layout.dir, async () => {
      const missing = layers.filter((dir) => !existsSync(dir));
      if (missing.length > 0) return `its layer ${basename(missing[0]!)} is gone`;
      return (await this.imageStore.holds(manifest)) ? undefined : "it is no longer in the store";
    });
    if (gone !== undefined) throw new ImageError(`image ${image} was removed while the container was being created (${gone})`);
  }

  /**
   * `--volumes-from NAME[:ro|rw]`: the volumes and bind mounts NAME has, at its paths (its tmpfs mounts are its own,
   * as docker's; a path the run mounts itself keeps that), read-only where they are read-only there or `ro` says so:
   * `rw` never makes a read-only one writable (moby's `m.RW && ReadWrite(mode)`). Also which of their volumes are
   * anonymous there — they stay anonymous here (docker keeps the mount's spec), so `rm -v` of whichever user goes
   * last removes them.
   */
  private async volumesFrom(options: RunOptions): Promise<{ volumes: VolumeOption[]; anonymous: string[] }> {
    const taken = new Set([...(options.volumes ?? []).map((v) => v.container), ...(options.mounts ?? []).map((m) => m.target), ...Object.keys(options.tmpfs ?? {})].map((p) => posix.resolve("/", p)));
    const out: VolumeOption[] = [];
    const anonymous: string[] = [];
    for (const entry of options.volumesFrom ?? []) {
      const [ref, mode, extra] = entry.split(":");
      if (!ref || extra !== undefined || (mode !== undefined && mode !== "ro" && mode !== "rw")) throw new UsageError(`invalid --volumes-from ${entry}: CONTAINER[:ro|rw]`);
      const source = this.paths.container(await this.resolveContainer(ref));
      const record = readInspectRecord(source);
      anonymous.push(...readContainerVolumes(source).anonymous);
      for (const m of record?.Mounts ?? []) {
        if (m.Type === "tmpfs" || taken.has(m.Destination)) continue;
        taken.add(m.Destination);
        const readonly = !m.RW || mode === "ro";
        // A bind keeps its propagation, as docker's --volumes-from does.
        const propagation = m.Propagation && m.Propagation !== "rprivate" ? { propagation: m.Propagation } : {};
        out.push(m.Type === "volume" ? { volume: m.Name!, container: m.Destination, readonly } : { host: m.Source, container: m.Destination, readonly, ...propagation });
      }
    }
    return { volumes: out, anonymous };
  }

  /**
   * Rootless native: files given their owners (and a layer's files their
   * capabilities) by root of the user's own namespace (a layer's, a filled
   * volume's: containers/layer-owners.ts); false where this user has no
   * subordinate ids.
   */
  private async giveOwners(dir: string, owners: LayerOwner[], capabilities?: LayerCapability[]): Promise<boolean> {
    return (await import("./containers/layer-owners.js")).applyLayerOwners(this.ctx, dir, owners, capabilities);
  }

  /** Rootless native with subordinate ids: a new volume filled from the image in the user's namespace (volume-fill.ts). */
  private async fillVolume(layers: string[], imagePath: string, dest: string): Promise<void> {
    return (await import("./containers/volume-fill.js")).fillInUserNamespace(this.ctx, layers, imagePath, dest);
  }

  /** A warning about the host, not the container (the same for every run): given once per Runtime. */
  private warnOnce(control: RunControl, message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    warningSink(control.onWarning)(message);
  }

  /**
   * A container that never got to run is kept only when it was created and
   * the user did not ask for removal (as docker keeps it "Created").
   */
  private async failedStart(id: string, state: ContainerState, err: unknown, remove: boolean): Promise<void> {
    if (!remove) {
      await updateState(this.paths.container(id), () => ({ ...failedStartFields(err), creatorPid: null })).catch(() => {});
      // The caller never got a Container: the error says which one stays (`await using` had nothing to dispose).
      leftContainer(err, id, state.name);
    } else {
      await removeBundleDir(this.ctx, id, state.name).catch(() => {});
    }
  }

  /**
   * The network part of a new container's spec. A rootless bridge needs pasta
   * or slirp4netns: without, an explicit --network fails and the default falls
   * back to none, with a warning.
   */
  private async planNetwork(id: string, options: RunOptions, bundleDir: string, image: ImageConfig, control: RunControl, peers: PeerResolver): Promise<NetworkPlan | undefined> {
    if (!this.backend.capabilities().networks) {
      if (options.network !== undefined && options.network !== "none") throw new UsageError(`the ${this.backend.name} backend has no ${option("network", options.network)} yet`);
      return undefined;
    }
    let mode = parseNetworkMode(options.network ?? this.defaultNetwork);
    const host = (this.host ??= probeHostIdentity());
    let rootless: NetworkInputs["rootless"] = null;
    // A guest's root makes its bridges itself: only this host's rootless users need the user-mode network.
    const warn = warningSink(control.onWarning);
    if (mode.kind === "bridge" && rootlessNetworking(host) && this.backend.capabilities().networks === "host") {
      const bridge = rootlessBridge(this.dataDir);
      if (bridge.inputs) {
        rootless = bridge.inputs;
      } else if (options.network === undefined && (options.publish?.length || options.publishAll)) {
        // The user asked for a port and never for none: a container whose port is dead would be a silent failure.
        // (A --network none of their own keeps docker's warning, planNetwork's.)
        const asked = options.publish?.length ? "-p" : "-P";
        throw new TsboxError(`${asked}: publishing a port needs rootless bridge networking, which is unavailable: ${bridge.reason}`, { code: "setup" });
      } else if (options.network === undefined) {
        this.warnOnce(control, `rootless bridge networking is unavailable (${bridge.reason}): running with ${option("network", "none")}`);
        mode = { kind: "none" };
      } else {
        throw new TsboxError(`${option("network", options.network)}: rootless bridge networking is unavailable: ${bridge.reason}`, { code: "setup" });
      }
    }
    return planNetwork({
      id,
      name: options.name ?? null,
      hostname: defaultHostname(id, options),
      options,
      mode,
      bundleDir,
      store: this.networks,
      rootless,
      userMode: this.backend.capabilities().networks === "guest",
      exposed: withExposed(image.config?.ExposedPorts, options.expose),
      warn,
      peer: (ref) => peers.network(ref),
    });
  }

  /**
   * Joins a container to one more network (`tsbox network connect`): a
   * running one at once, and every start after (the record, network/connected.ts);
   * a created or stopped one joins it at its next start, as in docker.
   */
  async connectNetwork(network: string, ref: string, options: { aliases?: string[]; ip?: string } = {}): Promise<void> {
    checkOptions("connectNetwork", options, { aliases: "strings", ip: "string" } satisfies OptionKinds<typeof options>);
    const id = await this.resolveContainer(ref);
    const bundle = this.paths.container(id);
    const current = readCurrentState(bundle);
    if (!current) throw noSuchContainer(ref);
    // Its own backend's: a vm container's pid is the guest's (taken for a host pid, the host's namespace got the network).
    const owner = this.runtimeFor(current.backend);
    if (owner !== this) return owner.connectNetwork(network, id, options);
    await withNetworkChangeLock(bundle.dir, () => this.networking.connect(network, ref, id, bundle, options));
  }

  /** Takes a container off a network: its keeper for that network tears the attachment down, and later starts leave it out. */
  async disconnectNetwork(network: string, ref: string): Promise<void> {
    const id = await this.resolveContainer(ref);
    const bundle = this.paths.container(id);
    const current = readCurrentState(bundle);
    const owner = current ? this.runtimeFor(current.backend) : this;
    if (owner !== this) return owner.disconnectNetwork(network, id);
    await withNetworkChangeLock(bundle.dir, () => this.networking.disconnect(network, ref, id, bundle));
  }

  /**
   * `network rm`: the network's bridge, rules and DNS server, which stay while it exists (`keepBridge`), and its
   * record. The same as `rt.networks.remove` (the store calls `removeBridge` first).
   */
  async removeNetwork(ref: string): Promise<void> {
    this.networks.remove(ref);
  }

  /**
   * Removes the user-defined networks no container uses — running, or
   * stopped with the network on its record (docker's rule: its next start
   * needs it) —, and stops an idle rootless network namespace.
   * `filter`: docker's `--filter until=… label=…` (containers/prune-filter.ts).
   */
  async pruneNetworks(filter?: import("./containers/prune-filter.js").PruneFilter): Promise<string[]> {
    return this.networking.prune(filter);
  }

  /**
   * The running containers (names, else short ids) whose rootless network helper died under them: they have no
   * network until they are stopped and started again (and no rootless container starts meanwhile; `tsbox info`).
   */
  async cutOffContainers(): Promise<string[]> {
    return this.networking.cutOffContainers();
  }

  /** A running container's networks: addresses and published ports (`tsbox port`). */
  async containerNetworks(ref: string): Promise<NetworkAttachment[]> {
    const id = await this.resolveContainer(ref);
    return readAttachments(this.paths.container(id).dir);
  }

  /**
   * Pulls an image from its registry into the store (and unpacks its layers),
   * choosing `platform` from a multi-platform index (default: the first the
   * backend runs, e.g. linux/386 for vm).
   */
  async pull(image: string, options: Omit<PullOptions, "layers"> = {}): Promise<PullResult> {
    checkOptions("pull", options, PULL_KINDS);
    const { pullImage } = await import("./image/registry/pull-image.js");
    const platform = options.platform ?? backendPlatform(this.backend);
    this.checkBacking();
    return pullImage(this.imageStore, image, { ...options, ...(platform ? { platform } : {}), layers: this.layers });
  }

  /** Whether docker's default sysctls can be written here (spec/sysctl.ts procSysReadOnly); said once per Runtime when not. */
  private procSysWritable(control: RunControl): boolean {
    const writable = (this.procSysCanWrite ??= !procSysReadOnly());
    if (!writable) {
      this.warnOnce(
        control,
        "/proc/sys is read-only here (tsbox inside a container?): containers keep the kernel's net.ipv4.ip_unprivileged_port_start (a non-root process cannot listen below port 1024) and ping_group_range; run that container with --security-opt systempaths=unconfined or --privileged for docker's defaults",
      );
    }
    return writable;
  }

  /**
   * Before layers are unpacked or a container made (pull, run, create, build): the native backend's overlayfs
   * needs what checkOverlayBacking probes. Not before the rest, so a data dir made before can still be emptied.
   */
  private checkBacking(): void {
    if (this.backingChecked || this.backend.name !== "native" || process.platform !== "linux") return;
    checkOverlayBacking(this.dataDir, !isHostRoot((this.host ??= probeHostIdentity())));
    this.backingChecked = true;
  }

  /** `pull --all-tags`: every tag the repository's registry lists (a name without a tag or digest). */
  async pullAllTags(repository: string, options: Omit<PullOptions, "layers"> = {}): Promise<PullResult[]> {
    const ref = parseReference(untaggedRepository(repository, "pull"));
    const { RegistryClient } = await import("./image/registry/client.js");
    const client = new RegistryClient(ref.domain, { ...(options.env ? { env: options.env } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    const tags = await client.listTags(ref.path);
    if (tags.length === 0) throw new ImageError(`${repository} has no tags in its registry`);
    const pulled: PullResult[] = [];
    for (const tag of tags) pulled.push(await this.pull(`${repositoryName(ref)}:${tag}`, options));
    return pulled;
  }

  /** `push --all-tags`: every local tag of the repository (a name without a tag or digest). */
  async pushAllTags(repository: string, options: PushOptions = {}): Promise<PushResult[]> {
    const names = await this.imageStore.repositoryTags(untaggedRepository(repository, "push"));
    if (names.length === 0) throw new ImageError(`no local image is tagged in ${repository}`);
    const pushed: PushResult[] = [];
    for (const name of names) pushed.push(await this.push(name, options));
    return pushed;
  }

  /** Pushes a stored image to its registry (or to `destination`). */
  async push(image: string, options: PushOptions & { destination?: string } = {}): Promise<PushResult> {
    const { pushImage, PUSH_KINDS } = await import("./image/registry/push-image.js");
    checkOptions("push", options, PUSH_KINDS);
    return this.leased(() => pushImage(this.imageStore, image, options.destination, options));
  }

  /** Names the image `source` also `target`; returns the canonical new name. */
  tag(source: string, target: string): Promise<string> {
    return this.imageStore.tag(source, target);
  }

  /**
   * Removes an image name (every platform of it, or only `platform`), or by
   * its id every entry of that image (docker's `rmi ID`: one with several
   * names only with `force`); by `repo@sha256:…`, the names of that repository
   * with that digest. An image a container uses keeps its last name
   * unless `force` (then it stays as <none>), as docker's conflict says.
   * Then, as docker's rmi, the blobs and unpacked layers only it had go
   * (`prune: false`, docker's `--no-prune`, leaves them to `prune`);
   * `deleted` is the image id once the image itself is gone.
   */
  async removeImage(image: string, options: RemoveImageOptions = {}): Promise<{ untagged: string[]; deleted?: string }> {
    checkOptions("removeImage", options, REMOVE_IMAGE_KINDS);
    // `rmi repo@sha256:…` of an image pulled or tagged by name: the names of that repository with that digest.
    const named = await this.imageStore.namesWithDigest(image);
    if (named !== undefined && named.length > 0) {
      const untagged: string[] = [];
      let deleted: string | undefined;
      for (const name of named) {
        const r = await this.removeImage(name, options);
        untagged.push(...r.untagged);
        deleted = r.deleted ?? deleted;
      }
      return deleted !== undefined ? { untagged, deleted } : { untagged };
    }
    const remove = { inUse: () => this.imagesInUse(), running: () => this.imagesRunning(), ...(options.force ? { force: true } : {}) };
    const sweep = async (removed: Descriptor[]) => {
      if (options.prune === false) return [];
      const { sweepRemoved } = await import("./image/gc.js");
      return (await sweepRemoved(this.dataDir, this.imageStore.layout, removed, (dir) => removeOwnedTree(this.ctx, dir))).released;
    };
    if (await this.imageStore.isImageId(image)) {
      const { id, untagged, kept, removed } = await this.imageStore.removeById(image, remove);
      await sweep(removed);
      return kept ? { untagged } : { untagged, deleted: id };
    }
    const config = options.platform ? undefined : await this.imageStore.findImage(image).then((i) => i?.configDigest, () => undefined);
    const deletedBlobs = await sweep(await this.imageStore.untag(image, options.platform, remove));
    const untagged = [familiarName(parseReference(image))];
    return config !== undefined && deletedBlobs.includes(config) ? { untagged, deleted: config } : { untagged };
  }

  /** An image's details: for `platform`, else the backend's, else the one platform the store has of it. */
  async inspectImage(image: string, options: { platform?: Platform } = {}): Promise<Record<string, unknown>> {
    checkOptions("inspectImage", options, { platform: "object" } satisfies OptionKinds<typeof options>);
    return this.imageStore.inspect(image, options.platform);
  }

  /**
   * Writes images to a tar archive (a path, written atomically, or a
   * stream): `docker` (default) or `oci` format; one platform of each image
   * (`platform`, else the backend's, else the one the store has).
   */
  async save(images: string[], out: string | NodeJS.WritableStream, options: { format?: "docker" | "oci"; platform?: Platform; signal?: AbortSignal } = {}): Promise<void> {
    checkOptions("save", options, { format: "own", platform: "object", signal: "abortSignal" } satisfies OptionKinds<typeof options>);
    const { saveImages } = await import("./image/archive.js");
    return this.leased(() => saveImages(this.imageStore, images, out as string, options.format ?? "docker", options.platform, options.signal));
  }

  /**
   * Loads the images of an archive (path or stream) or OCI layout directory; returns their names, and the id
   * (`sha256:…`) of each image the archive names none of (`save IMAGE-ID`; kept as <none>). `signal` aborts it.
   */
  async load(input: string | NodeJS.ReadableStream, options: { repository?: string; signal?: AbortSignal } = {}): Promise<string[]> {
    checkOptions("load", options, LOAD_KINDS);
    const { loadImages } = await import("./image/archive.js");
    // Unpacked as a pull unpacks: a layer that cannot be, fails the load (before, the first `run`, naming no layer).
    return this.leased(() => loadImages(this.imageStore, this.dataDir, input, { ...options, layers: this.layers }));
  }

  /**
   * @internal Manifest digest → a container using it: recorded ones, and those being made (their creator file's
   * claim). Read under the index lock by rmi's guard and `pruneImages`.
   */
  async imagesInUse(): Promise<Map<string, string>> {
    const inUse = new Map<string, string>();
    for (const id of readdirOrEmpty(this.paths.containers)) {
      if (!/^[0-9a-f]{64}$/.test(id)) continue;
      const image = creatingImage(this.paths.container(id));
      if (image !== undefined) inUse.set(image, id);
    }
    for (const c of await this.containers({ all: true })) inUse.set(c.imageDigest, c.id);
    return inUse;
  }

  /** Manifest digest → a running (or paused, restarting: docker counts them running) container using that image. */
  private async imagesRunning(): Promise<Map<string, string>> {
    const running = new Map<string, string>();
    for (const c of await this.containers({ all: true })) if (c.status === "running" || c.status === "paused" || c.status === "restarting") running.set(c.imageDigest, c.id);
    return running;
  }

  /** Deletes blobs, unpacked layers and partial downloads nothing needs any more. */
  async prune(): Promise<{ blobs: number; layers: number; partials: number; bytes: number }> {
    const { pruneStore } = await import("./image/gc.js");
    await this.imageStore.ensureMigrated(); // images of an older store's layout count as named
    return pruneStore(this.dataDir, this.imageStore.layout, (dir) => removeOwnedTree(this.ctx, dir));
  }

  /** The stored image (of `platformText`, one the backend runs), pulling it when it is missing (as `docker run` does) or as `pull` says. */
  private async resolveImage(input: string, control: RunControl, platformText?: string, pull: RunOptions["pull"] = "missing"): Promise<StoredImage> {
    const platform = platformText === undefined ? undefined : this.runnablePlatform(platformText);
    const found = pull === "always" ? undefined : await this.imageStore.findImage(input, platform);
    if (found) return found;
    if (pull === "never") throw new ImageError(`no such image: ${familiarName(parseReference(input))} (${option("pull", "never")})`, undefined, true);
    try {
      await this.pull(input, { ...(platform ? { platform } : {}), ...(control.onPullProgress ? { onProgress: control.onPullProgress } : {}), ...(control.signal ? { signal: control.signal } : {}) });
    } catch (err) {
      if (err instanceof Error && err.name === "AbortError") throw err;
      if (control.signal?.aborted) throw abortError(control.signal);
      const name = familiarName(parseReference(input));
      if (pull === "always") throw new ImageError(`pulling ${name} failed (--pull always): ${errorMessage(err)}`, err);
      throw new ImageError(`unable to find image ${name} locally, and pulling it failed: ${errorMessage(err)}`, err);
    }
    return this.imageStore.getImage(input, platform);
  }

  /** A platform the backend runs, parsed; else docker's clear refusal naming what it runs. */
  private runnablePlatform(text: string): Platform {
    const wanted = parsePlatform(text);
    const runs = this.backend.capabilities().platforms;
    if (!runs.some((p) => platformMatches(parsePlatform(p), wanted))) {
      throw new UsageError(`the ${this.backend.name} backend cannot run ${formatPlatform(wanted)} images: it runs ${runs.join(", ")}${this.backend.name === "native" ? ` (${option("backend", "vm")} runs linux/386)` : ""}`);
    }
    return wanted;
  }

  /**
   * Images in the store, one entry per name and platform (the embedded busybox appears after its first use),
   * then those without a name (`<none>`; with `all` the build cache's step images too).
   */
  async images(options: { all?: boolean } = {}): Promise<ImageSummary[]> {
    checkOptions("images", options, LIST_KINDS);
    return this.imageStore.listImages(options);
  }

  /** Containers in the data dir, newest first; `all: false` keeps only running ones. */
  async containers(options: { all?: boolean } = {}): Promise<ContainerInfo[]> {
    checkOptions("containers", options, LIST_KINDS);
    const states: ContainerState[] = [];
    for (const state of await listStates(this.paths)) if (!(await this.collected(state))) states.push(state);
    return options.all === false ? states.filter(isActive) : states;
  }

  /**
   * Whether `state` is a container nobody is left to remove, removed now rather than listed (as exited) until the
   * next run or build: an orphaned --rm container, or a build step's whose building process is gone (docker's
   * daemon removes both as they end).
   */
  private async collected(state: ContainerState): Promise<boolean> {
    if (orphanedRemoval(state)) return this.finishRemoval(state.id);
    if (orphanedStep(state.name, () => this.labelsOf(state))) return this.finishRemoval(state.id, { force: true, volumes: true });
    return false;
  }

  /**
   * Lets go of the helper process this Runtime keeps for its runs (the native warm helper; idle, it does not keep
   * Node alive): it ends now, or once the last container running through it has ended. Containers are not
   * touched: one still running goes on, and its streams, `wait()` and `output()` with it (a foreground container
   * still ends with this Node process). A later run starts or reuses the helper. The vm backend keeps nothing
   * here: its guest is the vm daemon's, which stops by itself once idle (with `TSBOX_VM_IDLE=0`, this process's
   * own, which ends with it). `await using rt = new Runtime()` calls it too. It returns once the files of its
   * `remove` runs are deleted too (a few ms after their `wait()`: a caller may delete the data dir next).
   */
  async close(): Promise<void> {
    await this.backend.close?.();
    // Its --rm runs' files, which go just after their wait() (bounded: a remover may be another process's).
    await (await import("./containers/leftovers.js")).removersDone(this.ctx, 5000);
  }

  private own(backend: Backend): Backend {
    this.owned.push(backend);
    return backend;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Deletes a container by id, unique id prefix or name; `force` kills it first if running. */
  /** `volumes`: its anonymous volumes go too (`rm -v`). */
  async removeContainer(ref: string, options: RemoveOptions = {}): Promise<void> {
    checkOptions("removeContainer", options, REMOVE_KINDS);
    await removeContainer(this.ctx, await this.resolveContainer(ref), options);
  }

  /**
   * Deletes `--rm` containers whose supervisor died unseen (the tsbox process
   * that ran them, or their monitor, was SIGKILLed, or the machine went
   * down): their processes died with it (PR_SET_PDEATHSIG), only the bundle
   * is left.
   */
  async collectOrphans(): Promise<void> {
    for (const entry of readdirOrEmpty(this.paths.containers)) {
      const id = this.paths.removalMarkerId(entry);
      if (id === undefined) continue;
      const state = readCurrentState(this.paths.container(id));
      // A marker whose removal was cut short after the bundle went: nothing else is left.
      if (!state) rmSync(this.paths.removalMarker(id), { force: true });
      else if (orphanedRemoval(state)) await this.finishRemoval(state.id);
    }
  }

  /** Removes a container nobody else will (`collected`); true once it is gone (another process may have raced us to it). */
  private async finishRemoval(id: string, options: RemoveOptions = {}): Promise<boolean> {
    await removeContainer(this.ctx, id, options).catch(() => {});
    return !existsSync(this.paths.container(id).dir);
  }

  /**
   * Whether `id` was an orphaned --rm container, removed now: for `rm`, `inspect`, `logs`… it no longer exists,
   * as docker's daemon would have removed it when it ended. Its removal marker first: one stat, and no state read
   * for a container not run with --rm.
   */
  private async removedOrphan(id: string): Promise<boolean> {
    if (!existsSync(this.paths.removalMarker(id))) return false;
    const state = readCurrentState(this.paths.container(id));
    return state !== undefined && orphanedRemoval(state) && (await this.finishRemoval(id));
  }

  /** Container id for an id, a unique id prefix or a name (`/name` too: inspect's `.Name`, which docker's lookup takes). */
  async resolveContainer(ref: string): Promise<string> {
    const id = await this.findContainer(ref);
    if (await this.removedOrphan(id)) throw noSuchContainer(ref);
    return id;
  }

  private async findContainer(ref: string): Promise<string> {
    const byName = this.names.lookup(withoutSlash(ref));
    if (byName) return byName;
    // A whole id (what ps, inspect and the lifecycle verbs pass on): its state file, not a listing of every container.
    if (/^[0-9a-f]{64}$/.test(ref) && readState(this.paths.container(ref))) return ref;
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = (await listStates(this.paths)).filter((s) => s.id.startsWith(ref));
      if (matches.length === 1) return matches[0]!.id;
      if (matches.length > 1) throw new ContainerError(`container id prefix ${ref} is ambiguous`, "ambiguous");
    }
    throw noSuchContainer(ref);
  }

  /** @internal What Container's lifecycle verbs work with. */
  lifecycle(): LifecycleContext {
    return this.ctx;
  }

  /** @internal `Container.spawn`: `cmd` in the running container whose init is `pid`, with its process's defaults. */
  async execIn(id: string, pid: number, cmd: string[], options: SpawnOptions & { detach?: boolean; handOff?: Pick<HandOffOptions, "beforeExec"> }): Promise<ContainerProcess> {
    if (!this.backend.exec) throw new TsboxError(`the ${this.backend.name} backend cannot run processes in a container`, { code: "runtime" });
    const bundle = this.paths.container(id);
    const backend = readState(bundle)?.backend;
    // Never a guest pid for a host exec (or the other way round).
    if (backend !== undefined && backend !== this.backend.name) throw new ContainerError(`container ${id.slice(0, 12)} belongs to the ${backend} backend, not ${this.backend.name}`);
    const spec = specOf(bundle, id);
    // The container's /etc/passwd: its writable layer (the native one; the vm's lives in the guest) over the image.
    const layers = [bundle.upper, ...(spec.root.overlay?.lower ?? [spec.root.path])];
    const canSetGroups = spec.linux.gidMappings.length > 1 || (this.host ??= probeHostIdentity()).uid === 0;
    const processSpec = await execProcess(spec, cmd, options, layers, canSetGroups);
    // The checks of `run`, with their messages (an unmapped user, say), in the container's setting.
    validateSpec({ ...spec, process: processSpec });
    if (options.handOff && this.backend.handOffExec && !options.tty && !options.detach) {
      await this.backend.handOffExec({ pid, bundleDir: bundle.dir, process: processSpec, stdin: options.stdin ? "inherit" : "ignore", ...options.handOff });
    }
    // Detached, nobody reads its output (docker's exec -d): no pipe to fill, after which the process would block.
    const io = options.detach ? "ignore" : "pipe";
    return this.backend.exec({
      pid,
      bundleDir: bundle.dir,
      process: processSpec,
      stdin: options.stdin === false ? "ignore" : io,
      stdout: io,
      stderr: io,
      ...(options.detach ? { detach: true } : {}),
    });
  }

  /**
   * @internal A foreground run ended (Container calls it): its exit is
   * recorded, or with `remove` the container deleted. Only if the record is
   * still about this run (another process may have restarted the container).
   */
  async finish(id: string, status: ExitStatus, monitorPid: number): Promise<void> {
    const bundle = this.paths.container(id);
    let remove = false;
    let name: string | null = null;
    await updateState(bundle, (state) => {
      if (state.monitorPid !== monitorPid) return undefined;
      const end = { status: "exited" as const, pid: null, exitCode: status.exitCode, signal: status.signal, oomKilled: status.oomKilled, finished: new Date().toISOString() };
      if (!state.remove) return end;
      // Not written, as the bundle goes: its events (die, oom) are recorded as the write would have.
      recordTransition(bundle.dir, state, { ...state, ...end });
      remove = true;
      name = state.name;
      return undefined;
    }).catch((err: unknown) => {
      // Removed meanwhile (`rm -f` from another process): nothing to record.
      if (!(isTsboxError(err) && err.code === "container")) throw err;
    });
    if (remove) await removeBundleDir(this.ctx, id, name);
  }

  // --- data side (cli-data) ---

  /** A container in docker's `inspect` shape, by id, id prefix or name. */
  async inspectContainer(ref: string): Promise<ContainerInspect> {
    const id = await this.resolveContainer(ref);
    const state = readCurrentState(this.paths.container(id));
    if (!state) throw noSuchContainer(ref);
    return inspectContainer(this.paths, state, (name) => this.networks.idOf(name));
  }

  /**
   * Copies out of a container (`docker cp CTR:SRC DEST`): `dest` is a host
   * path (docker's rules for files and directories), or a Writable that gets
   * a tar archive of `src`.
   */
  async copyFrom(ref: string, src: string, dest: string | Writable, options: CopyOptions & { end?: boolean } = {}): Promise<void> {
    abortSignalOf("copyFrom", options.signal);
    const { copyFromContainer, COPY_FROM_KINDS } = await import("./containers/copy.js");
    checkOptions("copyFrom", options, COPY_FROM_KINDS);
    const files = await this.containerFiles(ref);
    if (typeof dest === "string") return copyFromContainer(files, src, dest, undefined, options);
    await copyFromContainer(files, src, "-", dest, options);
    // Ended once whole, as stream.pipeline ends its destination (a file stream then finishes).
    if (options.end ?? true) dest.end();
  }

  /** Copies into a container (`docker cp SRC CTR:DEST`): `src` is a host path, or a Readable tar archive extracted into the directory `dest`. */
  async copyTo(ref: string, src: string | Readable, dest: string, options: CopyOptions = {}): Promise<void> {
    abortSignalOf("copyTo", options.signal);
    const { copyToContainer, COPY_TO_KINDS } = await import("./containers/copy.js");
    checkOptions("copyTo", options, COPY_TO_KINDS);
    const files = await this.containerFiles(ref);
    if (typeof src === "string") await copyToContainer(files, src, dest, undefined, options);
    else await copyToContainer(files, "-", dest, src, options);
  }

  /** What changed in a container's file system (`docker diff`): Kind 0 changed, 1 added, 2 deleted. */
  async diff(ref: string): Promise<import("./containers/changes.js").Change[]> {
    const { containerChanges } = await import("./containers/changes.js");
    const files = await this.containerFiles(ref);
    return containerChanges(files, this.lowerDirs(await this.resolveContainer(ref)));
  }

  /**
   * A new image from a container's writable layer (`docker commit`): its
   * image's layers plus the container's changes (deletions as whiteouts),
   * with the container's config (Cmd, Env, …) and `changes` applied.
   * Returns the image id.
   */
  async commit(ref: string, options: CommitOptions = {}): Promise<string> {
    checkOptions("commit", options, COMMIT_KINDS);
    const [{ upperAsLayer }, { storeImage, writeLayer }] = await Promise.all([import("./containers/changes.js"), import("./image/commit-image.js")]);
    checkImageName(options.name);
    const id = await this.resolveContainer(ref);
    const files = await this.containerFiles(id);
    const state = readState(this.paths.container(id));
    const inspect = await this.inspectContainer(id);
    const c = inspect.Config;
    // Under a lease, as a pull: a prune meanwhile keeps the layer blob until the image names it.
    return this.leased(async () => {
      // A whole new layer blob if the first read met the container's end (ContainerFiles.readUpper).
      const layer = await files.readUpper(() => writeLayer(this.imageStore.layout, (tar) => upperAsLayer(files, tar), options.signal));
      return storeImage(this.imageStore, {
        parentManifest: state!.imageDigest,
        config: {
          ...(c.User ? { User: c.User } : {}),
          Env: c.Env,
          Cmd: c.Cmd,
          Entrypoint: c.Entrypoint,
          ...(c.WorkingDir ? { WorkingDir: c.WorkingDir } : {}),
          Labels: c.Labels,
          ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
          ...(c.Volumes ? { Volumes: c.Volumes } : {}),
          // docker's commit keeps these too (the container's config, `-c EXPOSE` adding to its ports).
          ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
          ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
        },
        changes: options.changes ?? [],
        layer,
        createdBy: [inspect.Path, ...inspect.Args].join(" "),
        ...(options.message ? { comment: options.message } : {}),
        ...(options.author ? { author: options.author } : {}),
        ...(options.name ? { name: options.name } : {}),
      });
    });
  }

  /**
   * Runs `fn` under the image store's lease (layout.ts `withLease`, pull's): what it writes before a name or
   * entry holds it — a build's steps, a commit's, import's or load's blobs — survives a prune meanwhile, and so
   * does what a save or push reads (`OciLayout.holdBlobs`).
   */
  private leased<T>(fn: () => Promise<T>): Promise<T> {
    return this.imageStore.layout.withLease(fn);
  }

  /**
   * Builds an image from a Dockerfile (`docker build`): its stages run in
   * containers of this runtime (native backend), each layer step's result is
   * kept as the build cache, and the final image gets `tags`.
   */
  async build(options: import("./build/builder.js").BuildOptions): Promise<import("./build/builder.js").BuildResult> {
    const { build } = await import("./build/builder.js");
    return this.leased(() => build(this, options));
  }

  /** An image's history, newest step first (`docker history`): for `platform`, else the backend's, else the one the store has. */
  async history(ref: string, options: { platform?: Platform } = {}): Promise<import("./image/history.js").HistoryRow[]> {
    checkOptions("history", options, { platform: "object" } satisfies OptionKinds<typeof options>);
    const { imageHistory } = await import("./image/history.js");
    return imageHistory(this.imageStore, ref, options.platform);
  }

  /** A container's file system, flattened, as a tar archive (`docker export`); volumes are not in it. */
  async export(ref: string, out: Writable, options: { signal?: AbortSignal } = {}): Promise<void> {
    checkOptions("export", options, { signal: "abortSignal" } satisfies OptionKinds<typeof options>);
    const [{ recordsToTar }, { spawnCopyHelper }] = await Promise.all([import("./containers/copy.js"), import("./backends/native/copy-helper.js")]);
    const files = await this.containerFiles(ref);
    const { signal } = options;
    signal?.throwIfAborted();
    // An abort ends `out` with its error: the write under way fails, the helper is killed, and this rejects with it.
    const stop = () => out.destroy(abortError(signal!));
    signal?.addEventListener("abort", stop, { once: true });
    try {
      await files.run((target) => recordsToTar(spawnCopyHelper(target, "read", "/", { name: "" }, { stdout: true }), out), "layers");
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }

  /** A tar archive (plain or gzip) as a one-layer image (`docker import`); returns its id. */
  async import(input: AsyncIterable<Buffer>, options: { name?: string; message?: string; changes?: string[]; source?: string; platform?: string; signal?: AbortSignal } = {}): Promise<string> {
    checkOptions("import", options, { name: "string", message: "string", changes: "strings", source: "string", platform: "string", signal: "abortSignal" } satisfies OptionKinds<typeof options>);
    const { importTarball } = await import("./image/commit-image.js");
    // Docker's: the platform it is run on, i.e. the backend's (a Mac's vm: linux/386), unless given.
    const platform = options.platform !== undefined ? parsePlatform(options.platform) : backendPlatform(this.backend);
    return this.leased(() => importTarball(this.imageStore, input, {
      ...(platform ? { platform } : {}),
      changes: options.changes ?? [],
      ...(options.message ? { message: options.message } : {}),
      ...(options.name ? { name: options.name } : {}),
      source: options.source ?? "-",
      ...(options.signal ? { signal: options.signal } : {}),
    }));
  }

  /** Deletes every container that is not running (`docker container prune`); `filter`: docker's `--filter until=… label=…`. */
  async pruneContainers(filter?: import("./containers/prune-filter.js").PruneFilter): Promise<import("./containers/cleanup.js").ContainerPruneResult> {
    const { prunable } = await import("./containers/prune-filter.js");
    const keep = async (c: ContainerInfo) => filter !== undefined && !prunable(filter, c.created, this.labelsOf(c));
    const result = await (await import("./containers/cleanup.js")).pruneContainers(this, keep);
    result.bytes += await (await import("./containers/leftovers.js")).sweepContainerLeftovers(this.ctx);
    return result;
  }

  /**
   * Deletes unnamed images no container uses, or with `all` every unused
   * image, then the data nothing needs; `buildSteps`: only the step images
   * builds kept as their cache.
   */
  async pruneImages(options: { all?: boolean; buildSteps?: boolean; filter?: import("./containers/prune-filter.js").PruneFilter } = {}): Promise<import("./containers/cleanup.js").ImagePruneResult> {
    checkOptions("pruneImages", options, { all: "boolean", buildSteps: "boolean", filter: "object" } satisfies OptionKinds<typeof options>);
    return (await import("./containers/cleanup.js")).pruneImages(this, options);
  }

  /** Deletes the build cache's RUN --mount=type=cache directories (`system prune`). */
  async pruneBuildCache(): Promise<import("./containers/cleanup.js").ContainerPruneResult> {
    return (await import("./containers/cleanup.js")).pruneBuildCache(this);
  }

  /** Disk usage of images, containers and volumes (`docker system df`). */
  async diskUsage(): Promise<import("./containers/cleanup.js").DiskUsage> {
    return (await import("./containers/cleanup.js")).diskUsage(this);
  }

  /** @internal A container's bundle paths. */
  containerPaths(id: string): ContainerPaths {
    return this.paths.container(id);
  }

  /** @internal Where an unpacked layer lives. */
  layerPath(diffId: string): string {
    return this.layers.layerDir(diffId);
  }

  private lowerDirs(id: string): string[] {
    try {
      return readSpec(this.paths.container(id).config).root.overlay?.lower ?? [];
    } catch {
      return [];
    }
  }

  /** @internal A container's files as tsbox-runtime's `copy` reaches them. */
  async containerFiles(ref: string): Promise<import("./containers/copy.js").ContainerFiles> {
    const { ContainerFiles } = await import("./containers/copy.js");
    const id = await this.resolveContainer(ref);
    const bundle = this.paths.container(id);
    const state = readCurrentState(bundle);
    if (!state) throw noSuchContainer(ref);
    return new ContainerFiles(bundle, state, this.runtimeFor(state.backend).backend);
  }

  /** The static tsbox-init for `--init`: the host's build, or the vm guest's own. */
  private initBinary(): string {
    if (!this.backend.initBinary) throw new UsageError(`--init is not supported on the ${this.backend.name} backend`);
    return this.backend.initBinary();
  }

  // --- end data side ---
}

/**
 * `networks`, checked: the networks a new container joins, the first planned as `network` is (empty: `network`
 * alone says). As docker's, several are user networks or the default bridge, never none, host or another's.
 */
function checkNetworkList(options: RunOptions): string[] {
  const list = options.networks;
  if (list === undefined) return [];
  if (options.network !== undefined) throw new UsageError("give network or networks, not both");
  if (list.length === 0) throw new UsageError("networks: at least one network");
  if (list.length > 1) {
    const special = list.find((n) => n === "none" || n === "host" || n.startsWith("container:"));
    if (special !== undefined) throw new UsageError(`conflicting options: --network ${special} cannot be combined with other networks`);
    const twice = list.find((n, i) => list.indexOf(n) !== i);
    if (twice !== undefined) throw new UsageError(`--network ${twice} is given twice`);
  }
  return list;
}

/**
 * The process `Container.spawn` runs (spec/exec-process.ts), with a
 * requested user resolved from the image's /etc/passwd and /etc/group.
 */
async function execProcess(spec: ContainerSpec, cmd: string[], options: SpawnOptions, layers: string[], canSetGroups: boolean): Promise<ProcessSpec> {
  checkExecCommand(cmd);
  const resolved = options.user === undefined ? undefined : await resolveUser(options.user, layers);
  const user = resolved && {
    uid: resolved.uid,
    gid: resolved.gid,
    home: resolved.home,
    ...(canSetGroups ? { additionalGids: resolved.additionalGids.filter((g) => isMapped(spec.linux.gidMappings, g)) } : {}),
  };
  return execProcessSpec(spec.process, cmd, options, user);
}

/** A container's config.json; gone with the container (another process's `rm -f` meanwhile): no such container. */
function specOf(bundle: ContainerPaths, id: string): ContainerSpec {
  try {
    return readSpec(bundle.config);
  } catch (err) {
    if (isErrno(err, "ENOENT") && !readState(bundle)) throw noSuchContainer(id.slice(0, 12));
    throw err;
  }
}

/** The backend's preferred image platform ("linux/386" → {os, architecture}). */
function backendPlatform(backend: Backend): Platform | undefined {
  const first = backend.capabilities().platforms[0];
  return first === undefined ? undefined : parsePlatform(first);
}

/** docker's HostConfig.NetworkMode of what `planNetwork` made (a rootless fallback to none included). */
function networkModeOf(plan: NetworkPlan | undefined, asked: string): string {
  if (!plan) return "none";
  if (plan.shareHost) return "host";
  if (plan.join) return asked;
  return plan.network && plan.network.attach.length > 0 ? asked : "none";
}

/** docker's rule for `--all-tags`: the repository alone. */
function untaggedRepository(name: string, verb: string): string {
  if (!isNameOnly(name)) throw new UsageError(`tag can't be used with --all-tags/-a (tsbox ${verb} -a ${name.replace(/[:@][^/]*$/, "")})`);
  return name;
}
