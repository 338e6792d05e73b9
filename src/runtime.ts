import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Backend, ContainerProcess, StdioTarget } from "./backends/backend.js";
import { type BackendChoice, chooseBackend, createBackend } from "./backends/select.js";
import { Container, type ExitStatus, type SpawnOptions } from "./container.js";
import { removeBundle } from "./containers/remove.js";
import { ContainerNames } from "./containers/names.js";
import { type ContainerState, listStates, processStartTime, readState, refreshStatus, writeState } from "./containers/state.js";
import { ContainerError, errorMessage, ImageError, isTsboxError, TsboxError } from "./errors.js";
import { isErrno, randomHex } from "./fs-util.js";
import { LayerCache } from "./image/layers.js";
import { type ImageSummary, ImageStore, type StoredImage } from "./image/store.js";
import type { PullEvent, PullOptions, PullResult } from "./image/registry/pull-image.js";
import type { PushOptions, PushResult } from "./image/registry/push-image.js";
import type { Platform } from "./image/oci.js";
import { parsePlatform } from "./image/platform.js";
import { familiarName, parseReference } from "./image/reference.js";
import { DataPaths, defaultDataDir } from "./paths.js";
import type { ContainerSpec, ProcessSpec } from "./spec/container-spec.js";
import { buildSpec, defaultHostname } from "./spec/from-options.js";
import type { ImageConfig } from "./image/oci.js";
import { type Attachment, readAttachments } from "./network/attachments.js";
import { connectSpec, type NetworkInputs, type NetworkPlan, parseNetworkMode, peerNotRunning, planNetwork } from "./network/plan.js";
import { stopIdleRootlessNetwork, stopProcess } from "./network/processes.js";
import { rootlessNetwork } from "./network/rootless.js";
import { DEFAULT_NETWORK, NetworkStore } from "./network/store.js";
import { type HostIdentity, probeHostIdentity } from "./spec/id-mappings.js";
import { checkExecCommand, execProcessSpec } from "./spec/exec-process.js";
import type { RunOptions } from "./spec/run-options.js";
import { resolveUser } from "./spec/user.js";
import { isMapped, validateSpec } from "./spec/validate.js";

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

/** Process-level knobs the CLI needs and library users normally do not. */
export interface RunControl {
  /** Start the container in a new session (no terminal signals); the caller forwards signals. */
  newSession?: boolean;
  /** Progress of the pull when the image is not in the store yet. */
  onPullProgress?: (event: PullEvent) => void;
  /** Aborts that pull (Ctrl-C before the container exists). */
  signal?: AbortSignal;
  /** Something the user should know but that does not stop the run; default: process.emitWarning. */
  onWarning?: (message: string) => void;
}

export type { PullEvent, PullOptions, PullResult, PushOptions, PushResult };

export type ContainerInfo = ContainerState;

/**
 * The entry point: `new Runtime().run({ image, cmd })`. Owns the data dir
 * (image store, layer cache, container bundles) and hands validated
 * ContainerSpecs to a backend.
 */
export class Runtime {
  readonly dataDir: string;
  readonly backend: Backend;
  /** Which backend and why (`tsbox info`). */
  readonly backendChoice: BackendChoice;
  readonly imageStore: ImageStore;
  private readonly paths: DataPaths;
  private readonly layers: LayerCache;
  private readonly names: ContainerNames;
  private host: HostIdentity | undefined;
  private readonly defaultNetwork: string;
  private networkStore: NetworkStore | undefined;

  constructor(options: RuntimeOptions = {}) {
    this.dataDir = options.dataDir ?? defaultDataDir();
    this.paths = new DataPaths(this.dataDir);
    if (typeof options.backend === "object") {
      this.backend = options.backend;
      this.backendChoice = { name: options.backend.name as BackendChoice["name"], reason: "given to the Runtime" };
    } else {
      this.backendChoice = chooseBackend(options.backend);
      this.backend = createBackend(this.backendChoice);
    }
    this.imageStore = this.backend.openImageStore?.(this.dataDir) ?? new ImageStore(this.dataDir);
    this.layers = new LayerCache(this.dataDir, this.imageStore.layout);
    this.names = new ContainerNames(this.paths);
    this.defaultNetwork = options.network ?? process.env.TSBOX_NETWORK ?? DEFAULT_NETWORK;
  }

  /** The networks of this data dir (`tsbox network …`). */
  get networks(): NetworkStore {
    return (this.networkStore ??= new NetworkStore(this.dataDir, (this.host ??= probeHostIdentity()).uid !== 0));
  }

  /** Creates and starts a container; resolves once its command runs. */
  async run(options: RunOptions, control: RunControl = {}): Promise<Container> {
    if (typeof options?.image !== "string" || options.image === "") throw new TsboxError("run needs an image", { code: "usage" });
    await this.collectOrphans();
    const image = await this.resolveImage(options.image, control);
    const layers = await this.layers.ensureLayers(image);
    const host = (this.host ??= probeHostIdentity());

    const id = randomHex(32);
    const bundle = this.paths.container(id);
    // Sync: a handful of mkdirs are cheaper than as many thread-pool round trips.
    mkdirSync(this.paths.containers, { recursive: true });
    mkdirSync(bundle.dir, { mode: 0o700 });
    let state: ContainerState | undefined;
    try {
      for (const dir of [bundle.upper, bundle.work, bundle.rootfs]) mkdirSync(dir);
      // After the bundle dir exists, so a racing run sees the name as taken, not stale.
      if (options.name !== undefined) this.names.reserve(options.name, id);
      const network = await this.planNetwork(id, options, bundle.dir, image.config, control);
      const spec = await buildSpec({ id, options, image: image.config, layers, bundle, host, ...(network ? { network } : {}) });
      state = {
        id,
        name: options.name ?? null,
        image: options.image,
        imageDigest: image.manifestDigest,
        command: spec.process.args,
        backend: this.backend.name,
        status: "created",
        created: new Date().toISOString(),
        pid: null,
        monitorPid: null,
        monitorStartTime: null,
        creatorPid: process.pid,
        creatorStartTime: ownStartTime(),
        exitCode: null,
        signal: null,
        finished: null,
        error: null,
        remove: options.remove ?? false,
      };
      writeState(bundle, state);
      const stdin: StdioTarget = options.stdin === "inherit" ? "inherit" : options.stdin ? "pipe" : "ignore";
      const proc = await this.backend.start({
        bundleDir: bundle.dir,
        spec,
        stdin,
        stdout: options.stdout ?? "pipe",
        stderr: options.stderr ?? "pipe",
        newSession: control.newSession ?? false,
      });
      state = { ...state, status: "running", pid: proc.pid, monitorPid: proc.monitorPid, monitorStartTime: processStartTime(proc.monitorPid) };
      writeState(bundle, state);
      return new Container(id, options.name ?? null, proc, this, options.remove ?? false);
    } catch (err) {
      // A container that never got to run is kept only when it was created
      // and the user did not ask for removal (as docker keeps it "Created").
      if (state && !options.remove) {
        const message = err instanceof Error ? err.message : String(err);
        const exitCode = isTsboxError(err) ? err.exitCode : 125;
        try {
          writeState(bundle, { ...state, status: "exited", exitCode, error: message, finished: new Date().toISOString() });
        } catch {
          // the original error matters more
        }
      } else {
        await this.deleteBundle(id, options.name ?? null).catch(() => {});
      }
      throw err;
    }
  }

  /**
   * The network part of a new container's spec. A rootless bridge needs pasta
   * or slirp4netns: without, an explicit --network fails and the default falls
   * back to none, with a warning.
   */
  private async planNetwork(id: string, options: RunOptions, bundleDir: string, image: ImageConfig, control: RunControl): Promise<NetworkPlan | undefined> {
    if (!this.backend.capabilities().networks) {
      if (options.network !== undefined && options.network !== "none") throw new TsboxError(`the ${this.backend.name} backend has no --network ${options.network} yet`, { code: "usage" });
      return undefined;
    }
    let mode = parseNetworkMode(options.network ?? this.defaultNetwork);
    const host = (this.host ??= probeHostIdentity());
    let rootless: NetworkInputs["rootless"] = null;
    // A guest's root makes its bridges itself: only this host's rootless users need the user-mode network.
    if (mode.kind === "bridge" && host.uid !== 0 && this.backend.capabilities().networks === "host") {
      const found = rootlessNetwork();
      if (found.helper) {
        rootless = { helper: found.helper, dir: join(this.dataDir, "rootless-netns") };
      } else if (options.network === undefined) {
        (control.onWarning ?? ((m: string) => process.emitWarning(m)))(`rootless bridge networking is unavailable (${found.reason}): running with --network none`);
        mode = { kind: "none" };
      } else {
        throw new TsboxError(`--network ${options.network}: rootless bridge networking is unavailable: ${found.reason}`, { code: "setup" });
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
      exposed: image.config?.ExposedPorts ?? null,
      peer: async (ref) => {
        const peerId = await this.resolveContainer(ref);
        const state = readState(this.paths.container(peerId));
        const current = state ? refreshStatus(state) : undefined;
        if (!current || current.status !== "running" || current.pid === null) throw peerNotRunning(ref);
        return { id: peerId, pid: current.pid, bundleDir: this.paths.container(peerId).dir };
      },
    });
  }

  /** Joins a running container to one more network (`tsbox network connect`). */
  async connectNetwork(network: string, ref: string, options: { aliases?: string[]; ip?: string } = {}): Promise<void> {
    const id = await this.resolveContainer(ref);
    const bundle = this.paths.container(id);
    const state = readState(bundle);
    const current = state ? refreshStatus(state) : undefined;
    if (!current || current.status !== "running" || current.pid === null) throw new ContainerError(`container ${ref} is not running`);
    if (!this.backend.connect) throw new TsboxError(`the ${this.backend.name} backend cannot connect running containers to networks`, { code: "usage" });
    const config = this.networks.get(network);
    if (readAttachments(bundle.dir).some((a) => a.network === config.name)) throw new ContainerError(`container ${ref} is already connected to network ${config.name}`);
    const host = (this.host ??= probeHostIdentity());
    let rootless: NetworkInputs["rootless"] = null;
    if (host.uid !== 0) {
      const found = rootlessNetwork();
      if (!found.helper) throw new TsboxError(`rootless bridge networking is unavailable: ${found.reason}`, { code: "setup" });
      rootless = { helper: found.helper, dir: join(this.dataDir, "rootless-netns") };
    }
    const spec = JSON.parse(readFileSync(bundle.config, "utf8")) as ContainerSpec;
    const net = connectSpec({
      id,
      name: current.name,
      hostname: spec.hostname ?? id.slice(0, 12),
      options: { image: current.image, ...(options.aliases?.length ? { networkAliases: options.aliases } : {}), ...(options.ip !== undefined ? { ip: options.ip } : {}) },
      bundleDir: bundle.dir,
      store: this.networks,
      rootless,
      network: config.name,
    });
    await this.backend.connect({ bundleDir: bundle.dir, container: current.pid, network: net });
  }

  /** Takes a running container off a network (its keeper for that network tears the attachment down). */
  async disconnectNetwork(network: string, ref: string): Promise<void> {
    const id = await this.resolveContainer(ref);
    const config = this.networks.get(network);
    const found = readAttachments(this.paths.container(id).dir).find((a) => a.network === config.name);
    if (!found) throw new ContainerError(`container ${ref} is not connected to network ${config.name}`);
    await stopProcess(found.keeper, String(found.keeperStart));
  }

  /** Removes the user-defined networks no container uses, and stops an idle rootless network namespace. */
  async pruneNetworks(): Promise<string[]> {
    const removed: string[] = [];
    for (const n of this.networks.list()) {
      if (n.name === DEFAULT_NETWORK || this.networks.leases(n.name).length > 0) continue;
      this.networks.remove(n.name);
      removed.push(n.name);
    }
    await stopIdleRootlessNetwork(join(this.dataDir, "rootless-netns"));
    return removed;
  }

  /** A running container's networks: addresses and published ports (`tsbox port`). */
  async containerNetworks(ref: string): Promise<Attachment[]> {
    const id = await this.resolveContainer(ref);
    return readAttachments(this.paths.container(id).dir);
  }

  /**
   * Pulls an image from its registry into the store (and unpacks its layers),
   * choosing `platform` from a multi-platform index (default: the first the
   * backend runs, e.g. linux/386 for vm).
   */
  async pull(image: string, options: Omit<PullOptions, "layers"> = {}): Promise<PullResult> {
    const { pullImage } = await import("./image/registry/pull-image.js");
    const platform = options.platform ?? backendPlatform(this.backend);
    return pullImage(this.imageStore, image, { ...options, ...(platform ? { platform } : {}), layers: this.layers });
  }

  /** Pushes a stored image to its registry (or to `destination`). */
  async push(image: string, options: PushOptions & { destination?: string } = {}): Promise<PushResult> {
    const { pushImage } = await import("./image/registry/push-image.js");
    return pushImage(this.imageStore, image, options.destination, options);
  }

  /** Names the image `source` also `target`; returns the canonical new name. */
  tag(source: string, target: string): Promise<string> {
    return this.imageStore.tag(source, target);
  }

  /** Removes an image name; blobs and layers go with the next prune. */
  removeImage(image: string): Promise<void> {
    return this.imageStore.untag(image);
  }

  inspectImage(image: string): Promise<Record<string, unknown>> {
    return this.imageStore.inspect(image);
  }

  /** Writes images to a tar archive (a path, written atomically, or a stream): `docker` (default) or `oci` format. */
  async save(images: string[], out: string | NodeJS.WritableStream, options: { format?: "docker" | "oci" } = {}): Promise<void> {
    const { saveImages } = await import("./image/archive.js");
    return saveImages(this.imageStore, images, out as string, options.format ?? "docker");
  }

  /** Loads the images of an archive (path or stream) or OCI layout directory; returns their names. */
  async load(input: string | NodeJS.ReadableStream, options: { repository?: string } = {}): Promise<string[]> {
    const { loadImages } = await import("./image/archive.js");
    return loadImages(this.imageStore, this.dataDir, input, options);
  }

  /** Deletes blobs, unpacked layers and partial downloads nothing needs any more. */
  async prune(): Promise<{ blobs: number; layers: number; partials: number; bytes: number }> {
    const { pruneStore } = await import("./image/gc.js");
    return pruneStore(this.dataDir, this.imageStore.layout);
  }

  /** The stored image, pulling it when it is missing (as `docker run` does). */
  private async resolveImage(input: string, control: RunControl): Promise<StoredImage> {
    const found = await this.imageStore.findImage(input);
    if (found) return found;
    try {
      await this.pull(input, { ...(control.onPullProgress ? { onProgress: control.onPullProgress } : {}), ...(control.signal ? { signal: control.signal } : {}) });
    } catch (err) {
      if (err instanceof Error && err.name === "AbortError") throw err;
      throw new ImageError(`unable to find image ${familiarName(parseReference(input))} locally, and pulling it failed: ${errorMessage(err)}`, err);
    }
    return this.imageStore.getImage(input);
  }

  /** Images in the store (the embedded busybox appears after its first use). */
  images(): Promise<ImageSummary[]> {
    return this.imageStore.listImages();
  }

  /** Containers in the data dir, newest first; `all: false` keeps only running ones. */
  async containers(options: { all?: boolean } = {}): Promise<ContainerInfo[]> {
    const states = await listStates(this.paths);
    return options.all === false ? states.filter((s) => s.status === "running") : states;
  }

  /** Deletes a container by id, unique id prefix or name; `force` kills it first if running. */
  async removeContainer(ref: string, options: { force?: boolean } = {}): Promise<void> {
    const id = await this.resolveContainer(ref);
    const state = readState(this.paths.container(id));
    const current = state ? refreshStatus(state) : undefined;
    if (current?.status === "running") {
      if (!options.force) throw new ContainerError(`cannot remove running container ${id.slice(0, 12)}: stop it first or use --force`);
      await killAndWait(current);
    }
    await this.deleteBundle(id, current?.name ?? null);
  }

  /**
   * Deletes `--rm` containers whose supervisor died unseen (the tsbox process
   * that ran them was SIGKILLed, or the machine went down): their container
   * processes died with it (PR_SET_PDEATHSIG), only the bundle is left.
   */
  async collectOrphans(): Promise<void> {
    for (const state of await listStates(this.paths)) {
      if (state.remove && state.status === "exited" && state.finished === null) {
        await this.deleteBundle(state.id, state.name).catch(() => {});
      }
    }
  }

  /** Container id for an id, a unique id prefix or a name. */
  async resolveContainer(ref: string): Promise<string> {
    const byName = this.names.lookup(ref);
    if (byName) return byName;
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = (await listStates(this.paths)).filter((s) => s.id.startsWith(ref));
      if (matches.length === 1) return matches[0]!.id;
      if (matches.length > 1) throw new ContainerError(`container id prefix ${ref} is ambiguous`);
    }
    throw new ContainerError(`no such container: ${ref}`);
  }

  /** @internal `Container.spawn`: `cmd` in the running container, with its process's defaults. */
  async execIn(id: string, init: ContainerProcess, cmd: string[], options: SpawnOptions): Promise<ContainerProcess> {
    if (!this.backend.exec) throw new TsboxError(`the ${this.backend.name} backend cannot run processes in a container`, { code: "runtime" });
    const bundle = this.paths.container(id);
    const spec = JSON.parse(readFileSync(join(bundle.dir, "config.json"), "utf8")) as ContainerSpec;
    // The container's /etc/passwd: its writable layer (the native one; the vm's lives in the guest) over the image.
    const layers = [bundle.upper, ...(spec.root.overlay?.lower ?? [spec.root.path])];
    const canSetGroups = spec.linux.gidMappings.length > 1 || (this.host ??= probeHostIdentity()).uid === 0;
    const processSpec = await execProcess(spec, cmd, options, layers, canSetGroups);
    // The checks of `run`, with their messages (an unmapped user, say), in the container's setting.
    validateSpec({ ...spec, process: processSpec });
    return this.backend.exec({ container: init, bundleDir: bundle.dir, process: processSpec, stdin: options.stdin === false ? "ignore" : "pipe", stdout: "pipe", stderr: "pipe" });
  }

  /** @internal Called by Container when its process has ended. */
  async finish(id: string, status: ExitStatus): Promise<void> {
    const bundle = this.paths.container(id);
    const state = readState(bundle);
    if (state?.remove) {
      await this.deleteBundle(id, state.name);
      return;
    }
    if (state) {
      writeState(bundle, { ...state, status: "exited", pid: null, exitCode: status.exitCode, signal: status.signal, finished: new Date().toISOString() });
    }
  }

  private async deleteBundle(id: string, name: string | null): Promise<void> {
    const bundle = this.paths.container(id);
    await removeBundle(bundle, {
      host: (this.host ??= probeHostIdentity()),
      backend: this.backend,
      helperRoot: async () => (await this.layers.ensureLayers(await this.imageStore.getImage("busybox")))[0]!,
    });
    if (name !== null) this.names.release(name, id);
  }
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

/** SIGKILL through the supervisor (its death takes the container with it), then wait until it is gone. */
async function killAndWait(state: ContainerState): Promise<void> {
  if (state.monitorPid === null) return;
  try {
    process.kill(state.monitorPid, "SIGKILL");
  } catch (err) {
    if (!isErrno(err, "ESRCH")) throw err;
  }
  for (let i = 0; i < 200 && processStartTime(state.monitorPid) === state.monitorStartTime; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The backend's preferred image platform ("linux/386" → {os, architecture}). */
function backendPlatform(backend: Backend): Platform | undefined {
  const first = backend.capabilities().platforms[0];
  return first === undefined ? undefined : parsePlatform(first);
}

let startTime: string | null | undefined;

/** This process's /proc start time, recorded as a container's creator: it never changes, so it is read once. */
function ownStartTime(): string | null {
  return startTime === undefined ? (startTime = processStartTime(process.pid)) : startTime;
}
