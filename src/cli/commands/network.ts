import { errorMessage, hasReason, TsboxError, UsageError } from "../../errors.js";
import { unknownCommand } from "../unknown-command.js";
import { exitCodeOf } from "../exit-code.js";
import { compareText } from "../../compare.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { allValues, lastValue, parseFlags } from "../flags.js";
import { shortId, table } from "../format.js";
import { groupUsage, isHelp } from "../group-command.js";
import { printInspected } from "./inspect.js";
import { pruneFilterFlag } from "./prune.js";
import { confirm } from "../confirm.js";
import { strictContext } from "../format-template-exec.js";
import { danglingValue, labelMatch, regexMatch } from "../list-filters.js";
import { type FormatDefaults, refuseJsonWith, writeFormatted } from "../format-output.js";
import { BUILTIN_NETWORKS, type BuiltinNetwork, type NetworkConfig } from "../../network/store.js";
import type { Lease } from "../../network/leases.js";

const USAGE = `Usage: tsbox network COMMAND

Manage networks. Containers on one user-defined network reach each other by
name (a DNS server answers on the network's gateway).

Commands:
  create [--subnet CIDR] [--gateway IP] [--internal] [-o mtu=N] [--label K=V] NAME
  ls [-q] [--no-trunc] [--json] [--format F] [--filter name=N|id=I|driver=D|label=K[=V]|type=custom|builtin|dangling=B]
                                         List networks
  inspect [-f TEMPLATE] NETWORK...       Show networks and their containers (docker's JSON)
  rm [-f] NETWORK...                     Remove networks without containers (-f: a missing one is no failure)
  prune [-f] [--filter K=V]              Remove every unused user-defined network
  connect [--alias A] [--ip IP] NETWORK CONTAINER
  disconnect NETWORK CONTAINER
`;

export async function networkCommand(args: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || isHelp(sub)) return groupUsage(sub, USAGE, ctx);
  const runtime = () => new Runtime({ dataDir: defaultDataDir(ctx.env) });
  switch (sub) {
    case "create": {
      const flags = parseFlags(rest, [
        { name: "subnet", value: true },
        { name: "gateway", value: true },
        { name: "internal" },
        { name: "opt", short: "o", value: true, repeat: true },
        { name: "label", value: true, repeat: true },
        { name: "driver", short: "d", value: true },
      ]);
      if (flags.help) return ctx.stdout.write("Usage: tsbox network create [--subnet CIDR] [--gateway IP] [--internal] [-o mtu=N] [--label K=V] NAME\n"), 0;
      const [name, extra] = flags.positionals;
      if (name === undefined || extra !== undefined) throw new UsageError(`"tsbox network create" takes one network name`);
      const driver = lastValue(flags, "driver");
      if (driver !== undefined && driver !== "bridge") throw new UsageError(`unknown network driver ${driver} (only bridge)`);
      let mtu: number | undefined;
      for (const opt of allValues(flags, "opt")) {
        const m = /^(?:com\.docker\.network\.driver\.)?mtu=(\d+)$/.exec(opt);
        if (!m) throw new UsageError(`unknown network option ${opt} (mtu=N)`);
        mtu = Number(m[1]);
      }
      const labels = Object.fromEntries(allValues(flags, "label").map((l) => [l.split("=")[0]!, l.slice(l.indexOf("=") + 1)]));
      const subnet = lastValue(flags, "subnet");
      const gateway = lastValue(flags, "gateway");
      const config = runtime().networks.create(name, {
        ...(subnet !== undefined ? { subnet } : {}),
        ...(gateway !== undefined ? { gateway } : {}),
        ...(mtu !== undefined ? { mtu } : {}),
        internal: flags.bools.has("internal"),
        labels,
      });
      ctx.stdout.write(config.id + "\n");
      return 0;
    }
    case "ls":
    case "list": {
      const flags = parseFlags(rest, [{ name: "quiet", short: "q" }, { name: "json" }, { name: "format", value: true }, { name: "filter", short: "f", value: true, repeat: true }, { name: "no-trunc" }]);
      if (flags.help) return ctx.stdout.write(`Usage: tsbox network ls [-q] [--no-trunc] [--json] [--format F] [--filter ${NETWORK_FILTERS}]\n`), 0;
      refuseJsonWith(flags.bools.has("json"), lastValue(flags, "format"), flags.bools.has("quiet"));
      const store = runtime().networks;
      store.ensureDefault();
      const inUse = (n: Listed) => "subnet" in n && store.leases(n.name).length > 0;
      const nets: Listed[] = [...store.list(), ...BUILTIN_NETWORKS].sort((a, b) => compareText(a.name, b.name)).filter(networkFilter(allValues(flags, "filter"), inUse));
      const format = lastValue(flags, "format");
      const id = flags.bools.has("no-trunc") ? (n: Listed) => n.id : (n: Listed) => shortId(n.id);
      if (flags.bools.has("json")) ctx.stdout.write(JSON.stringify(nets, null, 2) + "\n");
      else if (format !== undefined) writeFormatted(ctx.stdout, nets.map((n) => networkContext(n, id)), format, NETWORK_FORMAT, flags.bools.has("quiet"));
      else if (flags.bools.has("quiet")) ctx.stdout.write(nets.map((n) => id(n) + "\n").join(""));
      else ctx.stdout.write(table(["NETWORK ID", "NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE"], nets.map((n) => [id(n), n.name, n.driver, "subnet" in n ? n.subnet : "", "subnet" in n ? n.gateway : "", "subnet" in n ? n.bridge : ""])));
      return 0;
    }
    case "inspect": {
      const flags = parseFlags(rest, [{ name: "format", short: "f", value: true }]);
      if (flags.help) return ctx.stdout.write("Usage: tsbox network inspect [-f TEMPLATE] NETWORK...\n"), 0;
      if (flags.positionals.length === 0) throw new UsageError(`"tsbox network inspect" requires at least one network`);
      return printInspected(ctx, flags.positionals, lastValue(flags, "format"), networkInspector(runtime()));
    }
    case "rm":
    case "remove": {
      const flags = parseFlags(rest, [{ name: "force", short: "f" }]);
      if (flags.help) return ctx.stdout.write("Usage: tsbox network rm [-f] NETWORK...\n"), 0;
      if (flags.positionals.length === 0) throw new UsageError(`"tsbox network rm" requires at least one network`);
      // docker-cli's network/remove.go: each is tried, a failure said and exit 1; -f passes over a missing one silently.
      let code = 0;
      for (const ref of flags.positionals) {
        try {
          const builtin = builtinNetwork(ref);
          if (builtin) throw new TsboxError(`${builtin.name} is a pre-defined network and cannot be removed`);
          await runtime().removeNetwork(ref);
          ctx.stdout.write(ref + "\n");
        } catch (err) {
          if (flags.bools.has("force") && hasReason(err, "no_such_network")) continue;
          ctx.stderr.write(`tsbox: ${errorMessage(err)}\n`);
          code = exitCodeOf(err, "network");
        }
      }
      return code;
    }
    case "prune": {
      const flags = parseFlags(rest, [{ name: "force", short: "f" }, { name: "filter", value: true, repeat: true }]);
      if (flags.help) return ctx.stdout.write("Usage: tsbox network prune [-f] [--filter until=TIME|label=K[=V]|label!=K[=V]]\n"), 0;
      if (flags.positionals.length > 0) throw new UsageError(`"tsbox network prune" takes no arguments`);
      const filter = pruneFilterFlag(allValues(flags, "filter"));
      if (!(await confirm(ctx, "WARNING! This will remove all custom networks not used by at least one container.", flags.bools.has("force")))) return 0;
      const removed = await runtime().pruneNetworks(filter);
      if (removed.length > 0) ctx.stdout.write("Deleted Networks:\n" + removed.map((n) => n + "\n").join(""));
      return 0;
    }
    case "connect":
    case "disconnect": {
      const flags = parseFlags(rest, sub === "connect" ? [{ name: "alias", value: true, repeat: true }, { name: "ip", value: true }] : [{ name: "force", short: "f" }]);
      if (flags.help) return ctx.stdout.write(`Usage: tsbox network ${sub === "connect" ? "connect [--alias A] [--ip IP]" : "disconnect [-f]"} NETWORK CONTAINER\n`), 0;
      const [network, container, extra] = flags.positionals;
      if (network === undefined || container === undefined || extra !== undefined) throw new UsageError(`"tsbox network ${sub}" takes a network and a container`);
      if (sub === "connect") {
        const ip = lastValue(flags, "ip");
        await runtime().connectNetwork(network, container, { aliases: allValues(flags, "alias"), ...(ip !== undefined ? { ip } : {}) });
      } else {
        await runtime().disconnectNetwork(network, container);
      }
      return 0;
    }
    default:
      throw unknownCommand(sub, ["create", "ls", "list", "inspect", "rm", "remove", "prune", "connect", "disconnect"], "network");
  }
}

/** `network inspect`'s (and untyped `inspect`'s) lookup: a network by name or id, in docker's shape. */
export function networkInspector(rt: Runtime): (ref: string) => Promise<object> {
  let names: Promise<Map<string, string>> | undefined;
  return async (ref) => {
    const builtin = builtinNetwork(ref);
    if (builtin) {
      const running = (await rt.containers({ all: false })).filter((c) => c.status === "running");
      const inspected = await Promise.all(running.map((c) => rt.inspectContainer(c.id).catch(() => undefined)));
      return dockerBuiltin(builtin, inspected.filter((c) => c?.HostConfig.NetworkMode === builtin.name).map((c) => ({ id: c!.Id, name: c!.Name.replace(/^\//, "") })));
    }
    const n = rt.networks.get(ref);
    names ??= rt.containers({ all: true }).then((all) => new Map(all.map((c) => [c.id, c.name ?? c.id.slice(0, 12)])));
    const known = await names;
    return dockerNetwork(n, rt.networks.leases(n.name), (id) => known.get(id) ?? id.slice(0, 12));
  };
}

/** A network in docker's `network inspect` shape (`{{.IPAM.Config}}`, `{{range .Containers}}{{.IPv4Address}}{{end}}`). */
function dockerNetwork(n: NetworkConfig, leases: Lease[], nameOf: (id: string) => string): object {
  const prefix = n.subnet.split("/")[1];
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: "local",
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: {}, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: Object.fromEntries(leases.map((l) => [l.container, { Name: nameOf(l.container), EndpointID: "", MacAddress: "", IPv4Address: `${l.ip}/${prefix}`, IPv6Address: "" }])),
    Options: { "com.docker.network.bridge.name": n.bridge, "com.docker.network.driver.mtu": String(n.mtu), "dev.tsbox.network.dns": String(n.dns) },
    Labels: n.labels,
  };
}

type Listed = NetworkConfig | BuiltinNetwork;

/** host or none by name, full id or an id prefix of at least 3 digits (as the store's own networks). */
function builtinNetwork(ref: string): BuiltinNetwork | undefined {
  return BUILTIN_NETWORKS.find((b) => b.name === ref || (/^[0-9a-f]{3,64}$/.test(ref) && b.id.startsWith(ref)));
}

/** host or none in docker's `network inspect` shape: no IPAM, the containers that run in that mode. */
function dockerBuiltin(b: BuiltinNetwork, members: { id: string; name: string }[]): object {
  return {
    Name: b.name,
    Id: b.id,
    Created: "0001-01-01T00:00:00Z",
    Scope: "local",
    Driver: b.driver,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: Object.fromEntries(members.map((c) => [c.id, { Name: c.name, EndpointID: "", MacAddress: "", IPv4Address: "", IPv6Address: "" }])),
    Options: {},
    Labels: {},
  };
}

/** docker's network ls fields (`--format`). */
const NETWORK_FORMAT: FormatDefaults = {
  table: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
  quiet: "{{.ID}}",
  typeName: "*formatter.networkContext",
  headers: { ID: "NETWORK ID", Name: "NAME", Driver: "DRIVER", Scope: "SCOPE", IPv6: "IPV6", Internal: "INTERNAL", Labels: "LABELS", Label: (name: unknown) => String(name).toUpperCase(), CreatedAt: "CREATED AT" },
};

function networkContext(n: Listed, id: (n: Listed) => string): object {
  const labels = "labels" in n ? n.labels : {};
  return strictContext(NETWORK_FORMAT.typeName, {
    ID: id(n),
    Name: n.name,
    Driver: n.driver,
    Scope: "local",
    IPv6: "false",
    Internal: String("internal" in n && n.internal),
    Labels: Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(","),
    Label: (name: unknown) => labels[String(name)] ?? "",
    CreatedAt: "created" in n ? n.created : "",
  });
}

const NETWORK_FILTERS = "name=N|id=I|driver=D|label=K[=V]|type=custom|builtin|dangling=true|false";

/**
 * docker's `network ls --filter`: name and id as regular expressions (moby's filters.Match), driver, label (K or
 * K=V), type custom or builtin, dangling (moby's filterNetworkByUse: a user network without containers; the
 * pre-defined ones are never dangling).
 */
function networkFilter(specs: string[], inUse: (n: Listed) => boolean): (n: Listed) => boolean {
  // Filters of one key widen (any of them), of different keys narrow, as docker's do.
  const byKey = new Map<string, ((n: Listed) => boolean)[]>();
  for (const spec of specs) {
    const m = /^(name|id|driver|label|type|dangling)=(.*)$/.exec(spec);
    if (!m) throw new UsageError(`invalid filter '${spec}'`);
    byKey.set(m[1]!, [...(byKey.get(m[1]!) ?? []), networkTest(m[1]!, m[2]!, inUse)]);
  }
  return (n) => [...byKey.values()].every((group) => group.some((t) => t(n)));
}

function networkTest(key: string, value: string, inUse: (n: Listed) => boolean): (n: Listed) => boolean {
  const predefined = (n: Listed) => n.name === "bridge" || !("subnet" in n);
  switch (key) {
    case "name":
      return (n) => regexMatch(value, n.name);
    case "id":
      return (n) => regexMatch(value, n.id);
    case "dangling": {
      const dangling = danglingValue(value);
      return (n) => (!predefined(n) && !inUse(n)) === dangling;
    }
    case "driver":
      return (n) => n.driver === value;
    case "label":
      return (n) => labelMatch("labels" in n ? n.labels : {}, value);
    default:
      if (value !== "custom" && value !== "builtin") throw new UsageError(`invalid filter 'type=${value}': custom or builtin`);
      return (n) => predefined(n) === (value === "builtin");
  }
}
