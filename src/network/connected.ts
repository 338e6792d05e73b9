import { readSpec } from "../containers/spec-file.js";
import { writeFileAtomicSync } from "../fs-util.js";
import type { ContainerSpec, NetworkAttachment, NetworkSpec } from "../spec/container-spec.js";

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
  // Published ports go with the first network; with none left there is nothing to publish them on.
  if (net.attach.length === 0) {
    net.ports = [];
    delete net.rootless;
  }
  writeFileAtomicSync(configPath, JSON.stringify(spec));
  return true;
}
