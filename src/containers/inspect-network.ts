/**
 * docker's `NetworkSettings` of a container (inspect, and `ps`'s
 * `.Networks`): the live part from the network keepers' attachment records
 * (`<bundle>/net/attach-*.json`, which `network connect`/`disconnect` add
 * and remove), and for a container that is not running the networks its
 * spec joins at the next start, with empty addresses, as docker shows them.
 */
import type { Attachment } from "../network/attachments.js";
import type { PortMapping } from "../spec/container-spec.js";
import { portBindings } from "./inspect-record.js";

/** A network the container is on (running) or will join (stopped). */
export interface Endpoint {
  network: string;
  aliases: string[];
  /** A user network: its DNS answers with the container's names. */
  dns: boolean;
  live?: Attachment;
}

export interface NetworkSettingsInputs {
  /** HostConfig.NetworkMode: bridge, none, host, container:ID or a network's name. */
  mode: string;
  running: boolean;
  /** The spec's `network.attach` (name, aliases, dns): what a start joins. */
  planned: { name: string; aliases: string[]; dns: boolean }[];
  attachments: Attachment[];
  /** Config.ExposedPorts' keys ("80/tcp"): shown as `null` when not published. */
  exposed: string[];
  containerId: string;
  containerName: string;
  /** Config.Hostname: a user network's DNS answers it too (docker 25+). */
  hostname: string;
  /** A network's id by name ("" when it is gone). */
  networkId(name: string): string;
}

/** The endpoints docker lists: the live attachments of a running container, else the planned networks. */
export function endpoints(inputs: Pick<NetworkSettingsInputs, "running" | "planned" | "attachments">): Endpoint[] {
  if (inputs.running && inputs.attachments.length > 0) {
    const dns = new Map(inputs.planned.map((p) => [p.name, p.dns]));
    return inputs.attachments.map((a) => ({ network: a.network, aliases: a.aliases, dns: dns.get(a.network) ?? a.network !== "bridge", live: a }));
  }
  return inputs.planned.map((p) => ({ network: p.name, aliases: p.aliases, dns: p.dns }));
}

export function networkSettings(inputs: NetworkSettingsInputs): Record<string, unknown> {
  const list = endpoints(inputs);
  // host and none are networks of their own in docker's listing; container:ID shares another's and lists none.
  const names = list.length > 0 ? list : inputs.mode === "host" || inputs.mode === "none" ? [{ network: inputs.mode, aliases: [], dns: false }] : [];
  // The top-level fields are the default bridge's (empty on a user network only), as docker's.
  const bridge = list.find((e) => e.network === "bridge")?.live;
  return {
    Bridge: "",
    SandboxID: "",
    SandboxKey: "",
    // docker lists a port only through a network endpoint whose driver maps ports (bridge, a user network):
    // none, host, container:X and a container disconnected from all its networks show `{}` (libnetwork's null
    // and host drivers report no exposed ports), so a running container's exposed ports need an attachment.
    Ports: inputs.running && inputs.attachments.length > 0 ? ports(inputs.exposed, inputs.attachments.flatMap((a) => a.ports)) : {},
    HairpinMode: false,
    LinkLocalIPv6Address: "",
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: "",
    Gateway: bridge?.gateway ?? "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridge?.ip ?? "",
    IPPrefixLen: bridge?.prefix ?? 0,
    IPv6Gateway: "",
    MacAddress: bridge?.mac ?? "",
    Networks: Object.fromEntries(
      names.map((e) => {
        const live = "live" in e ? e.live : undefined;
        // moby's buildEndpointDNSNames, in its order (the first names the PTR record): what the network's DNS answers.
        const dnsNames = e.dns ? [...new Set([inputs.containerName, ...e.aliases, inputs.containerId.slice(0, 12), ...(inputs.hostname ? [inputs.hostname] : [])])] : null;
        return [
          e.network,
          {
            IPAMConfig: null,
            Links: null,
            Aliases: e.aliases.length > 0 ? e.aliases : null,
            MacAddress: live?.mac ?? "",
            NetworkID: inputs.networkId(e.network),
            EndpointID: "",
            Gateway: live?.gateway ?? "",
            IPAddress: live?.ip ?? "",
            IPPrefixLen: live?.prefix ?? 0,
            IPv6Gateway: "",
            GlobalIPv6Address: "",
            GlobalIPv6PrefixLen: 0,
            DriverOpts: null,
            DNSNames: dnsNames,
          },
        ];
      }),
    ),
  };
}

/** docker's `Ports`: every exposed or published port, `null` where nothing is bound. */
function ports(exposed: string[], published: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of exposed) out[key] = null;
  return { ...out, ...portBindings(published) };
}

/** docker's `ps --format '{{.Networks}}'`: the names, sorted, comma-joined. */
export function networkNames(settings: Record<string, unknown>): string {
  return Object.keys((settings.Networks as Record<string, unknown> | undefined) ?? {})
    .sort()
    .join(",");
}
