/**
 * A container's `network` section as the guest's agent runs it (pure, shared
 * with the browser Worker): the guest's root makes the bridges, so there is
 * no rootless user-mode network and no NAT (containers leave the guest
 * through the agent's relay instead: TCP and DNS at 10.0.2.2/10.0.2.3,
 * native-rs/agent/src/net_relay, outbound.ts); a bridge stays up once made
 * (it goes with the guest; made and removed per container it cost ≈ 1 M of a
 * round trip's 18 M guest instructions); the files and each network's
 * state live in guest dirs; published ports are the host's to listen on
 * (published-ports.ts), not the guest's.
 */
import type { MountSpec, NetworkSpec } from "../../../spec/container-spec.js";

/** Each network's state in the guest (native-rs/agent/src/guest_dir.rs NETWORKS_DIR). */
export const GUEST_NETWORKS_DIR = "/run/tsbox-net";

export function toGuestNetwork(net: NetworkSpec, containerDir: string): { network: NetworkSpec; mount: (m: MountSpec) => MountSpec | undefined } {
  const dir = `${containerDir}/net`;
  const { base: _hostFile, ...hosts } = net.hosts;
  const { rootless: _rootless, ...rest } = net;
  const network: NetworkSpec = {
    ...rest,
    dir,
    hosts,
    // The host's records are not in the guest (its networks go with it).
    attach: net.attach.map(({ record: _record, ...a }) => ({ ...a, dir: `${GUEST_NETWORKS_DIR}/${a.name}`, nat: false, keepBridge: true })),
    ports: [],
  };
  // The /etc files are bound from the guest dir the keeper writes them to, not exported from the host.
  const mount = (m: MountSpec): MountSpec | undefined => (m.type === "bind" && m.source.startsWith(net.dir + "/") ? { ...m, source: dir + m.source.slice(net.dir.length) } : undefined);
  return { network, mount };
}
