/**
 * The networks of a data dir's containers once they exist: `network connect` and `disconnect` (with the gateway's
 * move, network/gateway.ts), a bridge's removal, `network prune`, and the containers a dead rootless helper cut off.
 * A new container's network is planned at its creation (network/plan.ts, `Runtime.planNetwork`).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Backend } from "../backends/backend.js";
import { requireRuntimeBinary } from "../backends/native/runtime-binary.js";
import { readInspectRecord } from "../containers/inspect-record.js";
import { readSpec } from "../containers/spec-file.js";
import { type ContainerState, isActive, isNativeInit, listStates, processExiting, processStartTime, readCurrentState } from "../containers/state.js";
import { ContainerError, noSuchContainer, notRunning, TsboxError, UsageError } from "../errors.js";
import type { ContainerPaths, DataPaths } from "../paths.js";
import type { ContainerSpec, NetworkSpec, PortMapping } from "../spec/container-spec.js";
import { type HostIdentity, rootlessNetworking } from "../spec/id-mappings.js";
import { createsNamespace } from "../spec/process-rules.js";
import { type Attachment as NetworkAttachment, readAttachments } from "./attachments.js";
import { managedResolver, recordConnect, recordDisconnect, recordedNetworks, recordServers } from "./connected.js";
import { lacksGateway, nextGateway } from "./gateway.js";
import { sweepDeadNetnsState } from "./netns-state.js";
import { connectSpec, type NetworkInputs } from "./plan.js";
import { cutOffKeepers, holdingRootlessNetwork, stopIdleRootlessNetwork } from "./processes.js";
import { rootlessBridge, rootlessNetnsDir } from "./rootless.js";
import { DEFAULT_NETWORK, type NetworkConfig, type NetworkStore } from "./store.js";

export interface ContainerNetworksContext {
  backend: Backend;
  dataDir: string;
  paths: DataPaths;
  networks: () => NetworkStore;
  host: () => HostIdentity;
}

export class ContainerNetworks {
  private readonly backend: Backend;
  private readonly dataDir: string;
  private readonly paths: DataPaths;
  private readonly networks: () => NetworkStore;
  private readonly host: () => HostIdentity;

  constructor(ctx: ContainerNetworksContext) {
    ({ backend: this.backend, dataDir: this.dataDir, paths: this.paths, networks: this.networks, host: this.host } = ctx);
  }

  /** `connectNetwork` under the container's network lock: what is attached is read and changed by no one else meanwhile. */
  async connect(network: string, ref: string, id: string, bundle: ContainerPaths, options: { aliases?: string[]; ip?: string }): Promise<void> {
    const current = readCurrentState(bundle);
    if (!current) throw noSuchContainer(ref);
    const running = current.status === "running" && current.pid !== null;
    if (!running && isActive(current)) throw new ContainerError(`container ${ref} is ${current.status}: connect it once it runs or has stopped`, current.status === "paused" ? "paused" : undefined);
    if (running && !this.backend.connect) throw new UsageError(`the ${this.backend.name} backend cannot connect running containers to networks`);
    // Read before the check, which pins it: the keeper joins only the process of this start time.
    const start = running ? processStartTime(current.pid!) : null;
    if (running && current.backend === "native" && !isNativeInit(current)) throw notRunning(ref);
    const config = this.networks().get(network);
    const spec = readSpec(bundle.config);
    if (!spec.network || !createsNamespace(spec, "network") || spec.network.hosts.base !== undefined) {
      throw new ContainerError(`container ${ref} shares another network namespace (--network host or container:): it cannot be connected to networks`);
    }
    // docker's words: a --network none container stays without networks (only a disconnected one's record is empty too).
    if (readInspectRecord(bundle)?.HostConfig.NetworkMode === "none") {
      throw new ContainerError("container cannot be connected to multiple networks with one of the networks in private (none) mode");
    }
    const attached = running ? readAttachments(bundle.dir) : [];
    const connected = recordedNetworks(spec).includes(config.name) || attached.some((a) => a.network === config.name);
    if (connected) throw new ContainerError(`container ${ref} is already connected to network ${config.name}`);
    const rootless = this.rootlessInputs();
    const inGuest = this.backend.capabilities().networks === "guest";
    // On no network now (its others disconnected), this one is its gateway endpoint, as in docker: the keeper
    // (keeper::attach_running) gives it the default route and the published ports the record keeps. So is one that
    // leads somewhere when the container lost its gateway (network/gateway.ts; a vm guest's routes are not ours to read).
    const lost = running && attached.length > 0 && !inGuest && !config.internal && lacksGateway(current.pid!, attached);
    const net = this.runningConnectSpec(id, current, spec, bundle, {
      network: config.name,
      options: { ...(options.aliases?.length ? { networkAliases: options.aliases } : {}), ...(options.ip !== undefined ? { ip: options.ip } : {}) },
      rootless,
      ports: running && (attached.length === 0 || lost) ? spec.network.ports : [],
      gatewayEndpoint: lost,
    });
    const servers = managedResolver(bundle, rootless !== null || inGuest);
    const now = servers?.([...spec.network.attach, ...net.attach]);
    // A DNS network's server from now on (docker's embedded DNS): the keeper rewrites the running container's resolv.conf.
    if (now && now.join() !== spec.network.dns.servers.join()) net.dns = { ...spec.network.dns, servers: now };
    if (running) await this.backend.connect!({ bundleDir: bundle.dir, container: current.pid!, containerStart: start, network: net });
    // After the attachment: a refused one (a taken --ip) is not recorded either.
    recordConnect(bundle.config, net);
    if (servers) recordServers(bundle.config, servers);
  }

  /** `connectSpec` of one network for a container of this runtime (its name, hostname, image, the rootless inputs). */
  private runningConnectSpec(
    id: string,
    current: ContainerState,
    spec: ContainerSpec,
    bundle: ContainerPaths,
    how: { network: string; options: { networkAliases?: string[]; ip?: string }; rootless: NetworkInputs["rootless"]; ports: PortMapping[]; gatewayEndpoint: boolean },
  ): NetworkSpec {
    return connectSpec({
      id,
      name: current.name,
      hostname: spec.hostname ?? id.slice(0, 12),
      options: { image: current.image, ...how.options },
      bundleDir: bundle.dir,
      store: this.networks(),
      rootless: how.rootless,
      userMode: this.backend.capabilities().networks === "guest",
      network: how.network,
      ports: how.ports,
      gatewayEndpoint: how.gatewayEndpoint,
    });
  }

  /** This host's rootless users' user-mode network for an attachment (a guest's root makes its bridges itself). */
  private rootlessInputs(): NetworkInputs["rootless"] {
    const host = this.host();
    if (!rootlessNetworking(host) || this.backend.capabilities().networks === "guest") return null;
    const bridge = rootlessBridge(this.dataDir);
    if (!bridge.inputs) throw new TsboxError(`rootless bridge networking is unavailable: ${bridge.reason}`, { code: "setup" });
    return bridge.inputs;
  }

  /**
   * After `disconnect` of the network that was a running container's gateway endpoint while a network another keeper
   * serves stays (network/gateway.ts): that network is attached again — the same address and aliases — as the
   * gateway endpoint, with the ports `gone` had bound (a `-p 80` keeps its host port), as docker moves them. Its
   * connections on that network break once; better than none off the network and no published ports.
   */
  private async moveGateway(id: string, bundle: ContainerPaths, gone: NetworkAttachment): Promise<void> {
    const current = readCurrentState(bundle);
    if (current?.status !== "running" || current.pid === null || current.backend !== "native") return;
    const left = readAttachments(bundle.dir);
    // A network the same keeper serves gets them from it (keeper.rs leave_one), after the gone record that
    // net-detach waits for: not yet in the namespace when we look, so that case is never ours.
    if (left.some((a) => a.keeper === gone.keeper && a.keeperStart === gone.keeperStart)) return;
    if (left.length === 0 || !lacksGateway(current.pid, left)) return;
    const spec = readSpec(bundle.config);
    const next = nextGateway(recordedNetworks(spec), left, (n) => this.networks().find(n)?.internal === true);
    if (!next || !spec.network) return;
    const start = processStartTime(current.pid);
    const rootless = this.rootlessInputs();
    const attach = async (how: { ip?: string; gateway: boolean }) => {
      const net = this.runningConnectSpec(id, current, spec, bundle, {
        network: next.network,
        options: { ...(next.aliases.length ? { networkAliases: next.aliases } : {}), ...(how.ip !== undefined ? { ip: how.ip } : {}) },
        rootless,
        ports: how.gateway ? (gone.ports.length > 0 ? gone.ports : spec.network!.ports) : [],
        gatewayEndpoint: how.gateway,
      });
      await this.backend.connect!({ bundleDir: bundle.dir, container: current.pid!, containerStart: start, network: net });
    };
    // A run that ended meanwhile (a `stop` as the move went on) has nothing to move: the disconnect asked for is done
    // and recorded, and its next start joins the networks of its record. Before, the disconnect failed (exit 1) saying
    // the network left "could not take its default route and published ports: the container is not running". Ended
    // includes an init still in its exit: its namespaces are gone (net-attach finds none) before it is a zombie.
    const ended = () => {
      const now = readCurrentState(bundle);
      if (now?.status !== "running" || now.pid !== current.pid || start === null) return true;
      return processStartTime(current.pid!) !== start || processExiting(current.pid!);
    };
    const move = async () => {
      try {
        await this.backend.disconnect!({ bundleDir: bundle.dir, network: next.network });
      } catch (err) {
        if (ended()) return;
        throw err;
      }
      try {
        await attach({ ip: next.ip, gateway: true });
      } catch (err) {
        if (ended()) return;
        // (a port or the address taken meanwhile) The network at least comes back, as it was; the error says why.
        await attach({ gateway: false }).catch(() => undefined);
        throw new ContainerError(`disconnected from ${gone.network}, but network ${next.network} could not take its default route and published ports: ${(err as Error).message}`);
      }
    };
    // Between the two the container is on no network: rootless, its namespace must stay up meanwhile.
    if (rootless) await holdingRootlessNetwork(rootless.dir, move);
    else await move();
  }

  /** `disconnectNetwork` under the container's network lock, its gateway move (moveGateway) included. */
  async disconnect(network: string, ref: string, id: string, bundle: ContainerPaths): Promise<void> {
    const current = readCurrentState(bundle);
    // A removed network can still be taken off a stopped container's record (its start refuses it).
    const name = this.networks().find(network)?.name ?? network;
    const running = current?.status === "running";
    const found = running ? readAttachments(bundle.dir).find((a) => a.network === name) : undefined;
    const was = found && existsSync(bundle.config) ? readSpec(bundle.config).network?.dns : undefined;
    const recorded = existsSync(bundle.config) && recordDisconnect(bundle.config, name);
    if (!found && !recorded) {
      this.networks().get(network);
      throw new ContainerError(`container ${ref} is not connected to network ${name}`);
    }
    // The next start asks a server it still reaches (the network's own goes with it).
    const userMode = rootlessNetworking(this.host()) || this.backend.capabilities().networks === "guest";
    const servers = recorded ? managedResolver(bundle, userMode) : undefined;
    if (servers) recordServers(bundle.config, servers);
    if (!found) return;
    if (!this.backend.disconnect) throw new UsageError(`the ${this.backend.name} backend cannot disconnect running containers from networks`);
    // The running container's resolv.conf follows, as a connect's does (its lookups waited for the gone server first).
    const now = servers && was ? readSpec(bundle.config).network?.dns : undefined;
    await this.backend.disconnect({ bundleDir: bundle.dir, network: name, ...(was && now ? { dns: { was, now } } : {}) });
    await this.moveGateway(id, bundle, found);
  }

  /**
   * `tsbox-runtime net-remove` of a network with no endpoint left: on this host's backend (a guest's bridges go
   * with it); rootless in the user's namespace while its holder runs. It deletes `record` last under the network's
   * lock (true); false when there is no bridge to take down.
   */
  removeBridge(config: NetworkConfig, dir: string, record: string): boolean {
    if (this.backend.capabilities().networks !== "host") return false;
    // Rootless the bridge is in the user's namespace, if its holder still runs.
    const rootless = rootlessNetworking(this.host()) ? rootlessNetnsDir(this.dataDir) : undefined;
    if (!existsSync(dir) || (rootless && !existsSync(join(rootless, "holder.json")))) return false;
    const args = ["net-remove", "--dir", dir, "--bridge", config.bridge, "--subnet", config.subnet, "--record", record, ...(rootless ? ["--rootless-dir", rootless] : [])];
    const done = spawnSync(requireRuntimeBinary(), args, { encoding: "utf8" });
    if (done.status !== 0) throw new ContainerError(`removing network ${config.name}: ${(done.stderr || done.error?.message || "").trim().replace(/^tsbox-runtime: /, "")}`);
    return true;
  }

  /** `Runtime.pruneNetworks`. */
  async prune(filter?: import("../containers/prune-filter.js").PruneFilter): Promise<string[]> {
    const removed: string[] = [];
    const recorded = new Set<string>();
    for (const state of await listStates(this.paths)) {
      try {
        for (const name of recordedNetworks(readSpec(this.paths.container(state.id).config))) recorded.add(name);
      } catch {
        // a container being removed, or one without a config: it holds nothing
      }
    }
    for (const n of this.networks().list()) {
      if (n.name === DEFAULT_NETWORK || recorded.has(n.name) || this.networks().leases(n.name).length > 0) continue;
      if (filter && !(await import("../containers/prune-filter.js")).prunable(filter, n.created, n.labels)) continue;
      this.networks().remove(n.name);
      removed.push(n.name);
    }
    await stopIdleRootlessNetwork(rootlessNetnsDir(this.dataDir));
    if (!rootlessNetworking(this.host())) {
      // Root's state of namespaces that are gone (rootless, a data dir's namespace is its own: rootless-netns/).
      sweepDeadNetnsState();
      // Published ports' DNAT rules keepers that died unseen left (rootless has none): those of ports no socket holds.
      if (this.backend.capabilities().networks === "host") spawnSync(requireRuntimeBinary(), ["net-sweep"], { stdio: "ignore" });
    }
    return removed;
  }

  /** `Runtime.cutOffContainers`. */
  async cutOffContainers(): Promise<string[]> {
    const keepers = new Set(cutOffKeepers(rootlessNetnsDir(this.dataDir)));
    if (keepers.size === 0) return [];
    const states = (await listStates(this.paths)).filter(isActive);
    return states
      .filter((s) => readAttachments(this.paths.container(s.id).dir).some((a) => keepers.has(a.keeper)))
      .map((s) => s.name ?? s.id.slice(0, 12));
  }
}
