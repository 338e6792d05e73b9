import { readSpec } from "../containers/spec-file.js";
import { writeFileAtomicSync } from "../fs-util.js";
import type { ContainerSpec, NetworkAttachment, NetworkSpec } from "../spec/container-spec.js";
import { readInspectRecord } from "../containers/inspect-record.js";
import type { ContainerPaths } from "../paths.js";
import { readResolvConf } from "./host-files.js";
import { managedServers } from "./plan.js";
import { DEFAULT_NETWORK, type NetworkStore } from "./store.js";

/**
 * The networks a container joins at every start are its record's: the
 * bundle's config.json `network.attach`, which the launch (tsbox-runtime,
 * the vm monitor) reads afresh on each start and restart. `network
 * connect` adds to it and `disconnect` takes away, so a connected network
 * survives `restart`, `stop` + `start` and a restart policy, as in docker
 * (the same aliases and `--ip`; a new lease).
 */
export function recordedNetworks(spec: ContainerSpec): string[] {
  return (spec.network?.attach ?? []).map((a) => a.name);
}

/** Adds `connect`'s one network (its `connectSpec` section) to the record; false when the container has no network of its own to add to. */
export function recordConnect(configPath: string, connect: NetworkSpec): boolean {
  const spec = readSpec(configPath);
  const net = spec.network;
  if (!net) return false;
  const added: NetworkAttachment[] = connect.attach.filter((a) => !net.attach.some((b) => b.name === a.name));
  net.attach = [...net.attach, ...added];
  if (connect.rootless && !net.rootless) net.rootless = connect.rootless;
  writeFileAtomicSync(configPath, JSON.stringify(spec));
  return true;
}

/** Takes `name` out of the record; false when it was not there. */
export function recordDisconnect(configPath: string, name: string): boolean {
  const spec = readSpec(configPath);
  const net = spec.network;
  if (!net || !net.attach.some((a) => a.name === name)) return false;
  net.attach = net.attach.filter((a) => a.name !== name);
  // The published ports stay (docker's HostConfig.PortBindings): the next network connected or joined at a start
  // publishes them.
  if (net.attach.length === 0) delete net.rootless;
  writeFileAtomicSync(configPath, JSON.stringify(spec));
  return true;
}

/**
 * The record's resolv.conf servers (what every later start writes), when tsbox chose them — `managedServers` of the
 * networks it records now — rather than the user (`--dns`, kept as given).
 */
export function recordServers(configPath: string, servers: (attach: NetworkAttachment[]) => string[]): void {
  const spec = readSpec(configPath);
  const net = spec.network;
  if (!net || net.attach.length === 0) return;
  const now = servers(net.attach);
  if (now.join() === net.dns.servers.join()) return;
  net.dns = { ...net.dns, servers: now };
  writeFileAtomicSync(configPath, JSON.stringify(spec));
}

/**
 * How the record's resolv.conf servers follow its networks (`managedServers`), unless the user chose them (`--dns`,
 * docker's HostConfig.Dns, which no connect changes).
 */
export function managedResolver(bundle: ContainerPaths, userMode: boolean): ((attach: NetworkAttachment[]) => string[]) | undefined {
  const given = readInspectRecord(bundle)?.HostConfig.Dns;
  if (Array.isArray(given) && given.length > 0) return undefined;
  const hostServers = readResolvConf().servers;
  return (attach) => managedServers(attach, userMode, hostServers);
}

/**
 * At a start, a record on a DNS network asks its server (one recorded before `network connect` changed the servers
 * still named the first network's way to the host's): the other networks' fallback is not needed then.
 */
export function startServers(bundle: ContainerPaths): void {
  const servers = managedResolver(bundle, false);
  if (servers && readSpec(bundle.config).network?.attach.some((a) => a.dns)) recordServers(bundle.config, servers);
}

/** The container's new name in its record: every later start's keeper gives the networks' DNS that one. */
export function recordRename(configPath: string, name: string): void {
  const spec = readSpec(configPath);
  if (!spec.network) return;
  spec.network.container = { ...spec.network.container, name };
  writeFileAtomicSync(configPath, JSON.stringify(spec));
}

/**
 * Recorded networks that were removed since (docker's start then fails with
 * "network X not found"; starting anyway would make the removed network's
 * bridge and DNS server again, which a new network's subnet then collides
 * with). One made again under the same name is another network: its bridge
 * differs.
 */
export function removedNetworks(spec: ContainerSpec, store: NetworkStore): string[] {
  return (spec.network?.attach ?? []).filter((a) => a.name !== DEFAULT_NETWORK && store.find(a.name)?.bridge !== a.bridge).map((a) => a.name);
}
