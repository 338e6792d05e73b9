import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { UsageError } from "../errors.js";
import type { RunOptions, VolumeOption } from "../spec/run-options.js";
import { allValues, type FlagDef, lastValue, type ParsedFlags, parseFlags } from "./flags.js";

export const RUN_FLAGS: FlagDef[] = [
  { name: "rm" },
  { name: "interactive", short: "i" },
  { name: "tty", short: "t" },
  { name: "env", short: "e", value: true, repeat: true },
  { name: "env-file", value: true, repeat: true },
  { name: "workdir", short: "w", value: true },
  { name: "user", short: "u", value: true },
  { name: "hostname", short: "h", value: true },
  { name: "volume", short: "v", value: true, repeat: true },
  { name: "read-only" },
  { name: "name", value: true },
  { name: "entrypoint", value: true },
  { name: "backend", value: true },
  // networking (src/network/)
  { name: "network", value: true },
  { name: "network-alias", value: true, repeat: true },
  { name: "ip", value: true },
  { name: "publish", short: "p", value: true, repeat: true },
  { name: "publish-all", short: "P" },
  { name: "add-host", value: true, repeat: true },
  { name: "dns", value: true, repeat: true },
  { name: "dns-search", value: true, repeat: true },
  { name: "dns-option", value: true, repeat: true },
];

export const RUN_USAGE = `Usage: tsbox run [OPTIONS] IMAGE [COMMAND] [ARG...]

Run a command in a new container.

Options:
  --rm                   Remove the container when it exits
  -i, --interactive      Pass stdin to the container
  -t, --tty              Allocate a pseudo-terminal
  -e, --env K=V          Set an environment variable (K alone: take it from here)
      --env-file FILE    Read KEY=VALUE lines from FILE
  -w, --workdir DIR      Working directory inside the container (absolute)
  -u, --user USER        UID[:GID] or NAME[:GROUP] from the image's /etc/passwd
  -h, --hostname NAME    Container hostname (default: the short id)
  -v, --volume H:C[:ro]  Bind-mount host path H at container path C
      --read-only        Mount the container's root file system read-only
      --name NAME        Name the container
      --entrypoint CMD   Override the image's entrypoint
      --backend NAME     native, vm or auto (default: $TSBOX_BACKEND, else auto)
      --network NET      bridge (default; $TSBOX_NETWORK), none, host, container:NAME or a network's name
      --network-alias A  Another name on a user-defined network's DNS
      --ip ADDR          A fixed IPv4 address on the network
  -p, --publish SPEC     Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]
  -P, --publish-all      Publish every port the image EXPOSEs on free host ports
      --add-host H:IP    Add a line to /etc/hosts (IP may be host-gateway: the host)
      --dns IP           A name server for /etc/resolv.conf
      --dns-search DOM   A search domain for /etc/resolv.conf
      --dns-option OPT   A resolver option for /etc/resolv.conf
`;

export interface RunRequest {
  options: RunOptions;
  interactive: boolean;
  tty: boolean;
  /** --backend: native, vm or auto. */
  backend?: string;
}

/** `tsbox run` arguments → RunOptions; everything after IMAGE is the command, as in docker. */
export function parseRunArgs(args: string[], env: NodeJS.ProcessEnv): RunRequest | "help" {
  const flags = parseFlags(args, RUN_FLAGS, { stopAtPositional: true });
  if (flags.help) return "help";
  const [image, ...cmd] = flags.positionals;
  if (image === undefined) throw new UsageError(`"tsbox run" requires an image (tsbox run [OPTIONS] IMAGE [COMMAND] [ARG...])`);

  const environment: string[] = [];
  for (const file of allValues(flags, "env-file")) environment.push(...readEnvFile(file, env));
  for (const entry of allValues(flags, "env")) {
    const resolved = resolveEnvEntry(entry, env);
    if (resolved !== undefined) environment.push(resolved);
  }
  const entrypoint = lastValue(flags, "entrypoint");
  const options: RunOptions = {
    image,
    ...(cmd.length > 0 ? { cmd } : {}),
    ...(entrypoint !== undefined ? { entrypoint: entrypoint === "" ? [] : [entrypoint] } : {}),
    env: environment,
    volumes: allValues(flags, "volume").map(parseVolume),
    readOnly: flags.bools.has("read-only"),
    remove: flags.bools.has("rm"),
  };
  const workdir = lastValue(flags, "workdir");
  if (workdir !== undefined) options.workdir = workdir;
  const user = lastValue(flags, "user");
  if (user !== undefined) options.user = user;
  const hostname = lastValue(flags, "hostname");
  if (hostname !== undefined) options.hostname = hostname;
  const name = lastValue(flags, "name");
  if (name !== undefined) options.name = name;
  Object.assign(options, networkOptions(flags));
  const backend = lastValue(flags, "backend");
  return { options, interactive: flags.bools.has("interactive"), tty: flags.bools.has("tty"), ...(backend !== undefined ? { backend } : {}) };
}

/** The network flags as RunOptions (parsed further in src/network/plan.ts). */
function networkOptions(flags: ParsedFlags): Partial<RunOptions> {
  const out: Partial<RunOptions> = {};
  const network = lastValue(flags, "network");
  if (network !== undefined) out.network = network;
  const ip = lastValue(flags, "ip");
  if (ip !== undefined) out.ip = ip;
  const lists = [
    ["network-alias", "networkAliases"],
    ["publish", "publish"],
    ["add-host", "addHosts"],
    ["dns", "dns"],
    ["dns-search", "dnsSearch"],
    ["dns-option", "dnsOptions"],
  ] as const;
  for (const [flag, key] of lists) {
    const values = allValues(flags, flag);
    if (values.length > 0) out[key] = values;
  }
  if (flags.bools.has("publish-all")) out.publishAll = true;
  return out;
}

/** `K=V` as is; a bare `K` takes this process's value (and is dropped when unset), like docker. */
function resolveEnvEntry(entry: string, env: NodeJS.ProcessEnv): string | undefined {
  const eq = entry.indexOf("=");
  if (eq === 0 || entry === "") throw new UsageError(`invalid environment variable "${entry}": expected KEY=VALUE`);
  if (eq > 0) return entry;
  const value = env[entry];
  return value === undefined ? undefined : `${entry}=${value}`;
}

function readEnvFile(file: string, env: NodeJS.ProcessEnv): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read env file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^\s+/, "").replace(/\r$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const resolved = resolveEnvEntry(line, env);
    if (resolved !== undefined) out.push(resolved);
  }
  return out;
}

/** `HOST:CONTAINER[:ro|rw]`. Named volumes are not supported yet, so HOST must be absolute. */
export function parseVolume(spec: string): VolumeOption {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3 || parts[0] === "" || parts[1] === "") {
    throw new UsageError(`invalid volume ${spec}: expected HOST:CONTAINER[:ro|rw]`);
  }
  const [host, container, mode] = parts as [string, string, string | undefined];
  if (!isAbsolute(host)) throw new UsageError(`invalid volume ${spec}: host path ${host} must be absolute (named volumes are not supported)`);
  if (!isAbsolute(container)) throw new UsageError(`invalid volume ${spec}: container path ${container} must be absolute`);
  let readonly = false;
  for (const option of (mode ?? "").split(",").filter((o) => o !== "")) {
    if (option === "ro") readonly = true;
    else if (option === "rw") readonly = false;
    else throw new UsageError(`invalid volume ${spec}: unknown option "${option}" (ro or rw)`);
  }
  return { host, container, readonly };
}
