import { existsSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { ContainerError, UsageError } from "../errors.js";
import type { MountSpec, NetworkAttachment, NetworkSpec, PortMapping } from "../spec/container-spec.js";
import type { RunOptions } from "../spec/run-options.js";
import { ETC_FILES, etcMount, etcMounts } from "./etc-files.js";
import { reachableFromBridge, readResolvConf } from "./host-files.js";
import { parseIPv4 } from "./ipv4.js";
import { exposedPorts, parsePublish } from "./ports.js";
import { userModeHostGateway } from "./host-loopback.js";
import { ROOTLESS_DNS, ROOTLESS_HOST_ADDRESS } from "./rootless.js";
import { DEFAULT_NETWORK, type NetworkConfig, type NetworkStore } from "./store.js";
import { option } from "../vocabulary.js";

/** What `--network` asked for, parsed. */
export type NetworkMode = { kind: "none" } | { kind: "host" } | { kind: "container"; ref: string } | { kind: "bridge"; name: string };

/**
 * `--dns-search` and `--dns-option` values as words of resolv.conf: a domain name (or `.`, docker's "none") and a
 * printable word. A newline in one wrote lines of the user's choice (a `nameserver`) into the container's resolv.conf.
 */
function checkResolvWords(flag: "dns-search" | "dns-option", values: string[] | undefined): string[] | undefined {
  for (const v of values ?? []) {
    const ok = flag === "dns-search" ? v === "." || (v.length <= 253 && /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/.test(v)) : /^[\x21-\x7e]+$/.test(v);
    if (!ok) throw new UsageError(`invalid --${flag} ${JSON.stringify(v)}: ${flag === "dns-search" ? "not a domain name" : "one word of resolv.conf's options line"}`);
  }
  return values;
}

export function parseNetworkMode(text: string): NetworkMode {
  if (text === "none") return { kind: "none" };
  if (text === "host") return { kind: "host" };
  if (text.startsWith("container:")) {
    const ref = text.slice("container:".length);
    if (ref === "") throw new UsageError(`--network container: needs a container name or id`);
    return { kind: "container", ref };
  }
  if (text === "") throw new UsageError("--network needs a value (bridge, none, host, container:NAME or a network name)");
  return { kind: "bridge", name: text === "default" ? DEFAULT_NETWORK : text };
}

/** A running container another one can share the network of (`--network container:X`). */
export interface NetworkPeer {
  id: string;
  pid: number;
  bundleDir: string;
  /** Its spec's hostname, which a container joining its network takes (docker: from its config). */
  hostname: string;
}

export interface NetworkInputs {
  id: string;
  name: string | null;
  hostname: string;
  options: RunOptions;
  mode: NetworkMode;
  bundleDir: string;
  store: NetworkStore;
  /** Rootless: the helper, the dir of the user's network namespace and how long it stays idle. */
  rootless: NonNullable<NetworkSpec["rootless"]> | null;
  /**
   * The host and a DNS forwarder are at the user-mode addresses (10.0.2.2,
   * 10.0.2.3) although not rootless: the vm guest's agent serves them
   * (native-rs/agent/src/net_relay).
   */
  userMode?: boolean;
  exposed?: Record<string, unknown> | null;
  /** Resolves `container:X`. */
  peer: (ref: string) => Promise<NetworkPeer>;
  /** A warning that does not stop the run. */
  warn: (message: string) => void;
}

/** The network's part of a ContainerSpec: from-options.ts puts it in. */
export interface NetworkPlan {
  network?: NetworkSpec;
  /** host: no network namespace of its own. */
  shareHost: boolean;
  /** container:X: X's user and network namespaces (X's id). */
  join?: { container: string };
  mounts: MountSpec[];
  /** host networking shows the host's hostname by default, as docker does; container:X, X's. */
  hostname?: string;
}

export async function planNetwork(inputs: NetworkInputs): Promise<NetworkPlan> {
  const { options, mode } = inputs;
  const explicit = (options.publish ?? []).flatMap((p) => (typeof p === "string" ? parsePublish(p) : [checkPort(p)]));
  // -P publishes the exposed ports that no -p binds (docker's rule): a port the user tied to 127.0.0.1 must not
  // also open on every interface.
  const bound = (p: { containerPort: number; protocol: string }) => explicit.some((e) => e.containerPort === p.containerPort && e.protocol === p.protocol);
  let ports = [...explicit, ...(options.publishAll ? exposedPorts(inputs.exposed ?? undefined).filter((p) => !bound(p)) : [])];
  if (mode.kind !== "bridge") {
    // docker's rules: with the host's network or none there is nothing to publish (a warning), a shared one refuses.
    if (ports.length > 0 && mode.kind === "container") throw new UsageError(`conflicting options: port publishing and --network container:${mode.ref}`);
    if (ports.length > 0) inputs.warn(`published ports are discarded with --network ${mode.kind}`);
    ports = [];
    if ((options.networkAliases ?? []).length > 0) throw new UsageError(`--network-alias needs a user-defined network`);
    if (options.ip !== undefined) throw new UsageError(`--ip needs a bridge network`);
    // Never taken and dropped: with none, host or container:X there is no interface of the container's own to set.
    if (options.macAddress !== undefined) throw new UsageError(`${option("macAddress")} needs a bridge network: with ${option("network", mode.kind === "container" ? `container:${mode.ref}` : mode.kind)} the container has no interface of its own to give it`);
  }
  if (mode.kind === "container") {
    const peer = await inputs.peer(mode.ref);
    if (options.addHosts?.length || options.dns?.length || options.dnsSearch?.length || options.dnsOptions?.length) {
      throw new UsageError(`--add-host and --dns options conflict with --network container:${mode.ref} (its files are shared)`);
    }
    // docker's rule: the hostname is the peer's, from its configuration. Not from its /etc/hostname (shared
    // below), which the peer's processes may write: 400 MB there was read whole, and echoed in the error.
    if (options.hostname !== undefined) throw new UsageError(`conflicting options: --hostname and --network container:${mode.ref}`);
    // (docker would silently take the peer's instead: said, as --hostname is.)
    if (options.domainname !== undefined) throw new UsageError(`conflicting options: ${option("domainname")} and ${option("network", `container:${mode.ref}`)}`);
    const peerNet = join(peer.bundleDir, "net");
    return {
      shareHost: false,
      join: { container: peer.id },
      mounts: ETC_FILES.filter((f) => existsSync(join(peerNet, f))).map((f) => etcMount(f, join(peerNet, f), options.readOnly === true)),
      ...(peer.hostname ? { hostname: peer.hostname } : {}),
    };
  }

  const hostResolv = readResolvConf();
  // Host networking (docker's rule) and the host's UTS namespace show the host's hostname.
  const hostsName = (mode.kind === "host" || options.uts === "host") && options.hostname === undefined;
  const hostname = hostsName ? osHostname() : inputs.hostname;
  const attach: NetworkAttachment[] = [];
  if (mode.kind === "bridge") {
    const config = inputs.store.get(mode.name);
    attach.push(attachment(inputs, config, hostResolv.servers));
  }
  // docker publishes nothing for a container whose networks are all internal (its gateway endpoint is on a network
  // that leads out; moby#36174): here that is the one network of a run, so the ports would open the network to the
  // host's other addresses (the keeper's proxy listens on them).
  if (ports.length > 0 && attach.length > 0 && attach.every((a) => a.internal === true)) {
    inputs.warn(`published ports are discarded on the internal network ${attach[0]!.name}`);
    ports = [];
  }
  const first = attach[0];
  const userMode = inputs.rootless !== null || inputs.userMode === true;
  // The host as the container sees it: on a user-mode network its loopback only where the user allows it.
  const hostGateway = (text: string): string => {
    if (mode.kind === "host") return "127.0.0.1";
    if (!first) throw new UsageError(`--add-host ${text}: host-gateway needs a bridge or host network`);
    if (!userMode) return first.gateway;
    const found = userModeHostGateway(ROOTLESS_HOST_ADDRESS);
    if ("reason" in found) throw new UsageError(`--add-host ${text}: ${found.reason}`);
    return found.address;
  };
  // docker's --dns on a user network only sets its embedded DNS's upstream; here resolv.conf names them instead of
  // the network's server (which is shared by the network's containers), so container names stop resolving: said.
  if (options.dns?.length && first?.dns) {
    inputs.warn(`--dns on network ${first.name}: the container asks only ${options.dns.join(", ")}, not the network's DNS server, so it cannot resolve the names of the network's containers`);
  }
  const servers = options.dns?.length ? options.dns : mode.kind === "host" ? hostResolv.servers : managedServers(attach, userMode, hostResolv.servers);
  const network: NetworkSpec = {
    dir: join(inputs.bundleDir, "net"),
    container: { id: inputs.id, ...(inputs.name !== null ? { name: inputs.name } : {}) },
    hostname,
    ...(options.domainname !== undefined ? { domainname: options.domainname } : {}),
    hosts: {
      ...(mode.kind === "host" ? { base: "/etc/hosts" } : {}),
      extra: (options.addHosts ?? []).map((h) => parseAddHost(h, hostGateway)),
    },
    dns: { servers, search: checkResolvWords("dns-search", options.dnsSearch) ?? hostResolv.search, options: checkResolvWords("dns-option", options.dnsOptions) ?? hostResolv.options },
    attach,
    ports,
    ...(inputs.rootless && attach.length > 0 ? { rootless: inputs.rootless } : {}),
  };
  return {
    network,
    shareHost: mode.kind === "host",
    mounts: etcMounts(network.dir, options.readOnly === true),
    ...(hostsName ? { hostname } : {}),
  };
}

/**
 * resolv.conf's servers when the user gave no --dns, for a container on networks `attach`: as docker's embedded DNS,
 * a DNS (user) network's server once it is on one (the server answers the names of all the asker's DNS networks and
 * forwards the rest upstream), else the first network's way to the host's servers. At create, on `network connect`
 * (libnetwork's first endpoint that needs the embedded DNS rewrites resolv.conf), disconnect and start.
 */
export function managedServers(attach: NetworkAttachment[], userMode: boolean, hostServers: string[]): string[] {
  const named = attach.find((a) => a.dns);
  return named ? [named.gateway] : userMode && attach.length > 0 ? [ROOTLESS_DNS] : reachableFromBridge(hostServers);
}

/**
 * The `network` section `network connect` hands the running container's keeper: one more network, and `ports` (the
 * record's) when it is the container's only one, which then publishes them; `dns`, the resolver the container
 * changes to (the keeper rewrites its resolv.conf if it is still the record's), else none.
 */
export function connectSpec(inputs: Omit<NetworkInputs, "mode" | "peer" | "warn"> & { network: string; ports?: PortMapping[]; dns?: NetworkSpec["dns"]; gatewayEndpoint?: boolean }): NetworkSpec {
  const config = inputs.store.get(inputs.network);
  return {
    dir: join(inputs.bundleDir, "net"),
    container: { id: inputs.id, ...(inputs.name !== null ? { name: inputs.name } : {}) },
    hostname: inputs.hostname,
    hosts: { extra: [] },
    dns: inputs.dns ?? { servers: [], search: [], options: [] },
    attach: [attachment(inputs, config, readResolvConf().servers)],
    ports: inputs.ports ?? [],
    ...(inputs.rootless ? { rootless: inputs.rootless } : {}),
    ...(inputs.gatewayEndpoint ? { gatewayEndpoint: true } : {}),
  };
}

function attachment(inputs: Pick<NetworkInputs, "options" | "store" | "rootless" | "userMode">, config: NetworkConfig, hostServers: string[]): NetworkAttachment {
  const aliases = inputs.options.networkAliases ?? [];
  if (aliases.length > 0 && !config.dns) throw new UsageError(`--network-alias needs a user-defined network (${config.name} has no DNS)`);
  for (const a of aliases) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(a)) throw new UsageError(`invalid --network-alias "${a}"`);
  }
  const ip = inputs.options.ip;
  if (ip !== undefined && parseIPv4(ip) === undefined) throw new UsageError(`invalid --ip ${ip}: not an IPv4 address`);
  // docker's rule: the default bridge's addresses are its own to hand out (it took one, then another run's clashed).
  if (ip !== undefined && config.name === DEFAULT_NETWORK) throw new UsageError(`${option("ip")}: a user specified IP address is supported on user defined networks only`);
  const mac = inputs.options.macAddress === undefined ? undefined : parseMac(inputs.options.macAddress);
  return {
    name: config.name,
    bridge: config.bridge,
    subnet: config.subnet,
    gateway: config.gateway,
    mtu: config.mtu,
    dir: inputs.store.stateDir(config),
    dns: config.dns,
    nat: !config.internal,
    ...(config.internal ? { internal: true } : {}),
    record: inputs.store.record(config.name),
    aliases,
    ...(ip !== undefined ? { ip } : {}),
    ...(mac !== undefined ? { mac } : {}),
    // An internal network's server answers its own names only: forwarding others would carry data off the
    // network in the questions (docker's CVE-2024-29018).
    upstream: config.internal ? [] : inputs.rootless || inputs.userMode ? [ROOTLESS_DNS] : reachableFromBridge(hostServers),
    // A bridge and its rules stay once made (as docker0), until `network rm`: a run on an existing network runs no
    // iptables. Rootless ones go at the latest with the user's namespace; the vm guest's are kept by toGuestNetwork.
    ...(!inputs.userMode ? { keepBridge: true } : {}),
  };
}

/**
 * docker's `--mac-address` (Go's net.ParseMAC forms of 6 bytes: `:` or `-` separated pairs, or `aabb.ccdd.eeff`),
 * as the runtime takes it: lower-case, `:`-separated. A multicast address is refused here, as the kernel would.
 */
export function parseMac(text: string): string {
  const hex = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(text)?.filter((_, i) => i > 0 && i !== 2) ??
    /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i.exec(text)?.slice(1).flatMap((q) => [q.slice(0, 2), q.slice(2)]);
  if (!hex) throw new UsageError(`invalid value "${text}" for ${option("macAddress")}: expected a MAC address such as 02:42:ac:11:00:02`);
  if (parseInt(hex[0]!, 16) & 1) throw new UsageError(`invalid value "${text}" for ${option("macAddress")}: a multicast address (the first byte is odd); an interface needs a unicast one`);
  return hex.join(":").toLowerCase();
}

/** A mapping object of the library: the host side may be left out (any address, any free port, tcp), as `-p 80`. */
export function checkPort(given: Partial<PortMapping>): PortMapping {
  const p: PortMapping = { hostIp: "0.0.0.0", hostPort: 0, protocol: "tcp", ...given } as PortMapping;
  const ok = (n: unknown, min: number) => Number.isInteger(n) && (n as number) >= min && (n as number) <= 65535;
  const bad = (field: string, expected: string) => new UsageError(`invalid port mapping ${JSON.stringify(given)}: ${field} must be ${expected}`);
  if (!ok(p.containerPort, 1)) throw bad("containerPort", "a port from 1 to 65535");
  if (!ok(p.hostPort, 0)) throw bad("hostPort", "a port from 0 (any free one) to 65535");
  if (p.hostPortEnd !== undefined && (!ok(p.hostPortEnd, 1) || p.hostPort === 0 || p.hostPortEnd < p.hostPort)) throw bad("hostPortEnd", "a port from hostPort to 65535");
  if (p.protocol !== "tcp" && p.protocol !== "udp") throw bad("protocol", '"tcp" or "udp"');
  if (typeof p.hostIp !== "string" || parseIPv4(p.hostIp) === undefined) throw bad("hostIp", "an IPv4 address");
  return p;
}

/**
 * Whether a run's /etc/hosts names `host-gateway`, which on a user-mode network is this host's address at the time
 * (network/host-loopback.ts: a laptop's changes with its network), so a plan of the run must not be replayed.
 */
export function namesHostGateway(options: RunOptions): boolean {
  return (options.addHosts ?? []).some((h) => addHostParts(h).ip === "host-gateway");
}

/** `NAME:IP` or `NAME=IP` split at its first separator (empty parts where there is none). */
function addHostParts(text: string): { name: string; ip: string } {
  const sep = text.search(/[:=]/);
  return sep > 0 ? { name: text.slice(0, sep), ip: text.slice(sep + 1) } : { name: "", ip: "" };
}

/** `NAME:IP` (docker also takes `NAME=IP`); `host-gateway` is the host as the container sees it (`hostGateway` says, or why not). */
export function parseAddHost(text: string, hostGateway: (text: string) => string): { ip: string; names: string[] } {
  const { name, ip: given } = addHostParts(text);
  let ip = given;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || ip === "") throw new UsageError(`invalid --add-host "${text}": expected NAME:IP or NAME:host-gateway`);
  if (ip === "host-gateway") {
    ip = hostGateway(text);
  } else if (parseIPv4(ip) === undefined && !/^[0-9a-fA-F:]+$/.test(ip)) {
    throw new UsageError(`invalid --add-host "${text}": ${ip} is not an IP address`);
  }
  return { ip, names: [name] };
}

