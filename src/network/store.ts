import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ContainerError, UsageError } from "../errors.js";
import { checkOptions, type OptionKinds } from "../spec/run-options-check.js";
import { isErrno, randomHex, readdirOrEmpty, writeFileAtomicSync } from "../fs-util.js";
import { withLockFileSync } from "../lock-file.js";
import { formatIPv4, formatSubnet, overlaps, parseIPv4, parseSubnet, type Subnet, contains } from "./ipv4.js";
import { deviceSubnets, routedSubnets, routeOverlapping } from "./routes.js";
import { liveLeases, type Lease } from "./leases.js";
import { compareText } from "../compare.js";
import { netnsStateDir } from "./netns-state.js";
import { isNetworkName } from "./names.js";

/** `<data dir>/networks/<name>/config.json`: a network, as `network create` made it. */
export interface NetworkConfig {
  name: string;
  id: string;
  driver: "bridge";
  subnet: string;
  gateway: string;
  /** The Linux bridge (at most 15 characters). */
  bridge: string;
  mtu: number;
  /** A DNS server on the gateway resolves the containers' names (user-defined networks). */
  dns: boolean;
  /** No outbound NAT: containers reach each other and the gateway only. */
  internal: boolean;
  created: string;
  labels: Record<string, string>;
}

/** docker's name for the default network; its bridge is tsbox0. */
export const DEFAULT_NETWORK = "bridge";
const DEFAULT_BRIDGE = "tsbox0";
/** Modes `--network` takes that are not network names. */
export const RESERVED_NAMES = ["bridge", "none", "host", "default"];

/**
 * docker's two networks that are modes rather than bridges (`--network host|none`): listed and inspected beside
 * the bridges, with no config file; their ids are fixed (sha256 of "tsbox network host" / "… none").
 */
export interface BuiltinNetwork {
  name: "host" | "none";
  id: string;
  driver: "host" | "null";
}
export const BUILTIN_NETWORKS: readonly BuiltinNetwork[] = [
  { name: "host", id: "e555db4bf0d3a519d0c95edee455a4a158e6e5af06c0cdaf3e90582cdd386c1d", driver: "host" },
  { name: "none", id: "b82d8ff3ce92d00786a8edbbeaf15c69e911cd659465d1e93849005aebd73921", driver: "null" },
];
/** The default network's subnet (podman's), then the pool user networks are cut from, as /24s. */
const DEFAULT_SUBNETS = ["10.88.0.0/16", "10.87.0.0/16", "10.86.0.0/16"];
const POOL_FIRST = (10 << 24) | (89 << 16);
const POOL_SIZE = 1024; // 10.89.0.0/24 … 10.92.255.0/24

export interface CreateOptions {
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  mtu?: number;
  labels?: Record<string, string>;
}
const CREATE_KINDS: OptionKinds<CreateOptions> = { subnet: "string", gateway: "string", internal: "boolean", mtu: "number", labels: "stringMap" };

/**
 * What a removed network leaves outside its record: its bridge, rules and DNS server, which stay while it exists
 * (`keepBridge`). The runtime's (`tsbox-runtime net-remove`); called with no endpoint seen. True when it also
 * deleted `record` under the network's lock (bridge.rs `remove`); false when it had nothing to take down.
 */
export type NetworkTeardown = (config: NetworkConfig, stateDir: string, record: string) => boolean;

/**
 * The networks of one data dir. Names are directory names; for the state the
 * container machinery keeps per network (leases, lock, DNS pid;
 * native-rs/container/src/net/ipam.rs) see `stateDir`.
 */
export class NetworkStore {
  readonly root: string;

  constructor(dataDir: string, private readonly rootless: boolean, private readonly teardown: NetworkTeardown = () => false) {
    this.root = join(dataDir, "networks");
  }

  dir(name: string): string {
    return join(this.root, name);
  }

  /** A network's record: its config.json. */
  record(name: string): string {
    return join(this.dir(name), "config.json");
  }

  /**
   * Where a network's leases, lock and DNS server's pid live. Rootless,
   * beside config.json: the bridge is in this data dir's own network
   * namespace (rootless-netns/). As root the bridge is in the caller's
   * network namespace, which other data dirs share (tsbox0 above all), so
   * the state is keyed by that namespace and the bridge: two data dirs never
   * lease one address twice, nor does one remove a bridge the other still uses.
   */
  stateDir(config: NetworkConfig): string {
    return this.rootless ? this.dir(config.name) : join(netnsStateDir(), config.bridge);
  }

  list(): NetworkConfig[] {
    return readdirOrEmpty(this.root).flatMap((n) => this.read(n) ?? []).sort((a, b) => compareText(a.name, b.name));
  }

  /** By name, id or unique id prefix. */
  find(ref: string): NetworkConfig | undefined {
    if (ref === DEFAULT_NETWORK || ref === "default") return this.ensureDefault();
    const byName = isNetworkName(ref) ? this.read(ref) : undefined;
    if (byName) return byName;
    if (!/^[0-9a-f]{3,64}$/.test(ref)) return undefined;
    const matches = this.list().filter((n) => n.id.startsWith(ref));
    if (matches.length > 1) throw new UsageError(`network id prefix ${ref} is ambiguous`);
    return matches[0];
  }

  /** A network's id by its exact name, "" when there is none (inspect of a container whose network was removed). */
  idOf(name: string): string {
    const builtin = BUILTIN_NETWORKS.find((b) => b.name === name);
    if (builtin) return builtin.id;
    return isNetworkName(name) ? (this.read(name)?.id ?? "") : "";
  }

  get(ref: string): NetworkConfig {
    const found = this.find(ref);
    if (!found) throw new ContainerError(`network ${ref} not found`, "no_such_network");
    return found;
  }

  /** The default network, made on first use with a subnet nothing on this host routes. */
  ensureDefault(): NetworkConfig {
    return this.read(DEFAULT_NETWORK) ?? this.locked(() => this.read(DEFAULT_NETWORK) ?? this.makeDefault());
  }

  private makeDefault(): NetworkConfig {
    // As root an existing tsbox0 is another data dir's default network in this namespace: its subnet is taken as it
    // is, whatever else routes it (podman's cni-podman0 also takes 10.88/16), so the data dirs agree instead of adding
    // a second subnet to the one bridge. Otherwise the first candidate nothing routes.
    const mine = this.subnets();
    const shared = this.rootless ? [] : deviceSubnets(DEFAULT_BRIDGE);
    const candidates = DEFAULT_SUBNETS.map((s) => parseSubnet(s) as Subnet);
    const agreed = candidates.find((s) => shared.some((t) => t.base === s.base && t.prefix === s.prefix) && !mine.some((t) => overlaps(s, t)));
    const taken = [...routedSubnets(undefined, DEFAULT_BRIDGE), ...mine];
    const subnet = agreed ?? candidates.find((s) => !taken.some((t) => overlaps(s, t)));
    if (!subnet) throw new ContainerError(`no free subnet for the default network (tried ${DEFAULT_SUBNETS.join(", ")}); create one with tsbox network create --subnet`);
    return this.write({ ...this.base(DEFAULT_NETWORK, subnet), bridge: DEFAULT_BRIDGE, dns: false });
  }

  create(name: string, options: CreateOptions = {}): NetworkConfig {
    checkOptions("networks.create", options, CREATE_KINDS);
    if (!isNetworkName(name)) throw new UsageError(`invalid network name "${name}": letters, digits, '_', '.' and '-', starting with a letter or digit`);
    if (RESERVED_NAMES.includes(name)) throw new UsageError(`network name "${name}" is reserved (bridge, none, host and default are modes)`);
    return this.locked(() => this.createLocked(name, options));
  }

  /**
   * Names and subnets are chosen under the data dir's network lock: two
   * processes creating at once would otherwise both take a free name or subnet.
   */
  private locked<T>(fn: () => T): T {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    return withLockFileSync(join(this.root, ".create.lock"), { missing: `no networks directory ${this.root}`, busy: "the networks are busy", directory: true }, fn);
  }

  private createLocked(name: string, options: CreateOptions): NetworkConfig {
    if (this.read(name)) throw new ContainerError(`network with name ${name} already exists`, "name_in_use");
    let subnet: Subnet;
    const others = this.subnets();
    if (options.subnet !== undefined) {
      const parsed = parseSubnet(options.subnet);
      if (typeof parsed === "string") throw new UsageError(`invalid --subnet: ${parsed}`);
      const clash = this.list().find((n) => overlaps(parseSubnet(n.subnet) as Subnet, parsed));
      // docker's daemon refuses a pool that overlaps another (exit 1, not a usage error).
      if (clash) throw new ContainerError(`subnet ${options.subnet} overlaps network ${clash.name} (${clash.subnet})`);
      // As root the bridge goes in this namespace: a subnet routed there already (another data dir's network, the
      // LAN) was taken, and the first run on it failed binding its gateway's DNS port, leaving a second route.
      const routed = this.rootless ? undefined : routeOverlapping(parsed);
      if (routed) throw new ContainerError(`subnet ${options.subnet} overlaps ${formatSubnet(routed.subnet)}, routed on this host through ${routed.device}`);
      subnet = parsed;
    } else {
      const taken = [...routedSubnets(), ...others];
      let found: Subnet | undefined;
      for (let i = 0; i < POOL_SIZE && !found; i++) {
        const candidate = { base: (POOL_FIRST + i * 256) >>> 0, prefix: 24 };
        if (!taken.some((t) => overlaps(candidate, t))) found = candidate;
      }
      if (!found) throw new ContainerError("no free subnet left in 10.89.0.0/22-10.92.255.0/24; give one with --subnet");
      subnet = found;
    }
    let gateway: string | undefined;
    if (options.gateway !== undefined) {
      const gw = parseIPv4(options.gateway);
      if (gw === undefined || !contains(subnet, gw) || gw === subnet.base) throw new UsageError(`invalid --gateway ${options.gateway}: not a host address of ${formatSubnet(subnet)}`);
      gateway = options.gateway;
    }
    if (options.mtu !== undefined && (!Number.isInteger(options.mtu) || options.mtu < 576 || options.mtu > 65535)) {
      throw new UsageError(`invalid mtu ${options.mtu}: expected 576 to 65535`);
    }
    const config = this.base(name, subnet);
    return this.write({
      ...config,
      bridge: `tsbox-${config.id.slice(0, 9)}`,
      dns: true,
      internal: options.internal ?? false,
      ...(gateway ? { gateway } : {}),
      ...(options.mtu ? { mtu: options.mtu } : {}),
      labels: options.labels ?? {},
    });
  }

  /**
   * Removes a network nothing is attached to: its bridge, rules and DNS server (`teardown`), then its record. The
   * record goes under the network's lock, which a container's keeper joins under and where it refuses a network
   * whose record is gone (bridge.rs `join`): a start racing the removal either holds a lease first, and the
   * removal is refused, or fails "not found" — never a bridge made again for a network that no longer exists.
   */
  remove(ref: string): NetworkConfig {
    const config = this.get(ref);
    // A refusal, not a usage error (docker's daemon: 403, exit 1; it was 125).
    if (config.name === DEFAULT_NETWORK) throw new ContainerError(`bridge is the default network and cannot be removed`);
    const stateDir = this.stateDir(config);
    this.refuseInUse(config, stateDir);
    const record = this.record(config.name);
    if (!this.teardown(config, stateDir, record)) this.removeRecordLocked(config, stateDir, record);
    rmSync(this.dir(config.name), { recursive: true, force: true });
    if (!this.rootless) rmSync(stateDir, { recursive: true, force: true });
    return config;
  }

  /** With no bridge to take down, the record alone goes under the network's lock, as bridge.rs `remove` deletes it. */
  private removeRecordLocked(config: NetworkConfig, stateDir: string, record: string): void {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    withLockFileSync(join(stateDir, "lock"), { missing: `no state directory ${stateDir}`, busy: `network ${config.name} is busy` }, () => {
      this.refuseInUse(config, stateDir);
      rmSync(record, { force: true });
    });
  }

  private refuseInUse(config: NetworkConfig, stateDir: string): void {
    const users = liveLeases(stateDir);
    if (users.length > 0) {
      throw new ContainerError(`network ${config.name} has active endpoints (${users.map((l) => l.container.slice(0, 12)).join(", ")}): stop or disconnect them first`, "in_use");
    }
  }

  /** The live leases of a network: who is attached, at which address. */
  leases(name: string): Lease[] {
    const config = this.read(name);
    return config ? liveLeases(this.stateDir(config)) : [];
  }

  private base(name: string, subnet: Subnet): NetworkConfig {
    return {
      name,
      id: randomHex(32),
      driver: "bridge",
      subnet: formatSubnet(subnet),
      gateway: formatIPv4(subnet.base + 1),
      bridge: "",
      // Rootless traffic leaves through pasta/slirp4netns's 65520-byte tap: big frames are far faster there.
      mtu: this.rootless ? 65520 : 1500,
      dns: false,
      internal: false,
      created: new Date().toISOString(),
      labels: {},
    };
  }

  private subnets(): Subnet[] {
    return this.list().map((n) => parseSubnet(n.subnet) as Subnet);
  }

  private read(name: string): NetworkConfig | undefined {
    try {
      return JSON.parse(readFileSync(this.record(name), "utf8")) as NetworkConfig;
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR") || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  private write(config: NetworkConfig): NetworkConfig {
    mkdirSync(this.dir(config.name), { recursive: true, mode: 0o700 });
    writeFileAtomicSync(this.record(config.name), JSON.stringify(config, null, 2) + "\n");
    return config;
  }
}
