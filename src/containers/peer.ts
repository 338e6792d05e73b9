/**
 * The one container whose namespaces a new one joins: docker's `--network
 * container:X`, `--pid container:X` and `--ipc container:X`. Every
 * container has a user namespace of its own, and only inside X's do we hold
 * the capabilities to join X's other namespaces, so each `container:` flag
 * must name the same X (joined with its user namespace). Checked here, when
 * the container is made; each start looks X's init up again
 * (native-rs/container/src/peer.rs, the vm backend's container-run.ts).
 */
import { ContainerError, UsageError } from "../errors.js";
import type { NetworkPeer } from "../network/plan.js";
import { dirname, join } from "node:path";
import { bundlePaths, type ContainerPaths } from "../paths.js";
import type { ContainerSpec } from "../spec/container-spec.js";
import { peerRefs } from "../spec/ipc-pid.js";
import type { RunOptions } from "../spec/run-options.js";
import { readSpec } from "./spec-file.js";
import { type ContainerState, readCurrentState } from "./state.js";

type Shared = "network" | "pid" | "ipc";

export class PeerResolver {
  private found?: { ref: string; what: Shared; peer: NetworkPeer };

  constructor(
    private readonly resolve: (ref: string) => Promise<string>,
    private readonly paths: (id: string) => ContainerPaths,
    private readonly options: Pick<RunOptions, "ipc" | "pid" | "userns">,
  ) {}

  /** `--network container:X`. */
  network(ref: string): Promise<NetworkPeer> {
    return this.peer(ref, "network");
  }

  /** `--pid`/`--ipc container:X`: X's id and what is joined; undefined when neither asks. */
  async namespaces(): Promise<{ id: string; join: ("pid" | "ipc")[] } | undefined> {
    const refs = peerRefs(this.options);
    const join: ("pid" | "ipc")[] = [];
    let id: string | undefined;
    for (const what of ["pid", "ipc"] as const) {
      const ref = refs[what];
      if (ref === undefined) continue;
      const peer = await this.peer(ref, what);
      checkShareable(readSpec(this.paths(peer.id).config), what, ref);
      join.push(what);
      id = peer.id;
    }
    return id === undefined ? undefined : { id, join };
  }

  private async peer(ref: string, what: Shared): Promise<NetworkPeer> {
    const id = await this.resolve(ref);
    if (this.found && this.found.peer.id !== id) {
      throw new UsageError(
        `--${this.found.what} container:${this.found.ref} and --${what} container:${ref} name different containers: the namespaces of one container only can be joined (each has a user namespace of its own)`,
      );
    }
    if (this.found) return this.found.peer;
    // The flag the user gave: a --network container:X that --pid/--ipc implied (withPeerNetwork) was not.
    const refs = peerRefs(this.options);
    const given = refs.pid !== undefined ? `--pid ${this.options.pid}` : refs.ipc !== undefined ? `--ipc ${this.options.ipc}` : `--${what} container:${ref}`;
    if (this.options.userns !== undefined) {
      throw new UsageError(`--userns ${this.options.userns} cannot be combined with ${given}: the container runs in that container's user namespace`);
    }
    const bundle = this.paths(id);
    // Its user namespace's root is a slice of subordinate ids, which cannot mount this container's layers (root's).
    if (readSpec(bundle.config).linux?.usernsAuto !== undefined) {
      throw new UsageError(`${given}: container ${ref} runs with --userns=auto, whose namespaces another container cannot join`);
    }
    const pid = livePid(readCurrentState(bundle));
    if (pid === undefined) {
      throw new ContainerError(`cannot join the ${what === "network" ? "network" : `${what.toUpperCase()} namespace`} of container ${ref}: it is not running`, "not_running");
    }
    const peer = { id, pid, bundleDir: bundle.dir, hostname: readSpec(bundle.config).hostname ?? "" };
    this.found = { ref, what, peer };
    return peer;
  }
}

/**
 * The network of a container that joins X's PID or IPC namespace: X's
 * (`container:X`) unless asked otherwise. Joining X's user namespace costs
 * the capabilities a bridge's veth pair needs on the host, so a network of
 * its own can only be none or the host's.
 */
export function withPeerNetwork(options: RunOptions): RunOptions {
  const refs = peerRefs(options);
  const ref = refs.pid ?? refs.ipc;
  if (ref === undefined) return options;
  const network = options.network;
  if (network === undefined) return { ...options, network: `container:${ref}` };
  if (network === "none" || network === "host" || network.startsWith("container:")) return options;
  const flag = refs.pid !== undefined ? `--pid ${options.pid}` : `--ipc ${options.ipc}`;
  throw new UsageError(`--network ${network} cannot be combined with ${flag}: joining that container's namespaces takes its user namespace, where no bridge can be attached; use its network (the default here, --network container:${ref}), none or host`);
}

/** The pid of a container's init while it runs (or is paused): whose namespaces a joiner takes. */
function livePid(state: ContainerState | undefined): number | undefined {
  if (!state || (state.status !== "running" && state.status !== "paused") || state.pid === null) return undefined;
  return state.pid;
}

/** X must have the namespace (not the host's), and for IPC a /dev/shm to share. */
function checkShareable(spec: ContainerSpec, what: "pid" | "ipc", ref: string): void {
  if (!spec.linux.namespaces.some((n) => n.type === what)) {
    throw new UsageError(`container ${ref} shares the host's ${what.toUpperCase()} namespace: use --${what} host`);
  }
  if (what === "ipc" && !spec.mounts.some((m) => m.destination === "/dev/shm" && (m.type === "tmpfs" || m.type === "peer"))) {
    throw new UsageError(`container ${ref} has no /dev/shm of its own to share (it runs with --ipc none or a /dev/shm mount)`);
  }
}

/** /proc/PID/ns/<name> of each namespace type. */
const PROC_NS_NAMES: Record<string, string> = { user: "user", pid: "pid", mount: "mnt", uts: "uts", ipc: "ipc", network: "net", cgroup: "cgroup" };

/**
 * The spec with the namespaces it shares with a peer container given as
 * that container's init has them now (the vm guest's agent gets paths; on
 * the host, tsbox-runtime looks them up itself, native-rs peer.rs). Its
 * containers are the bundle's siblings.
 */
export function peerNamespacePaths(spec: ContainerSpec, bundleDir: string): ContainerSpec {
  const id = spec.linux.namespaces.find((n) => n.container !== undefined)?.container;
  if (id === undefined) return spec;
  const current = readCurrentState(bundlePaths(join(dirname(bundleDir), id)));
  const pid = livePid(current);
  if (pid === undefined) throw new ContainerError(`cannot join the namespaces of container ${current?.name ?? id.slice(0, 12)}: it is not running`, "not_running");
  const namespaces = spec.linux.namespaces.map((n) => (n.container === undefined ? n : { type: n.type, path: `/proc/${pid}/ns/${PROC_NS_NAMES[n.type]}` }));
  return { ...spec, linux: { ...spec.linux, namespaces } };
}
