import { isAbsolute } from "node:path";
import { UsageError } from "../errors.js";
import type { RunOptions, VolumeOption } from "../spec/run-options.js";
import { allValues, type FlagDef, lastValue, parseFlags } from "./flags.js";
import { dataFlagOptions, DATA_FLAGS, DATA_USAGE, readKeyValueFile } from "./run-flags-data.js";

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
  ...DATA_FLAGS,
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
  -v, --volume H:C[:ro]  Bind-mount host path H at container path C; a NAME instead of H
                         mounts the named volume (created on first use), C alone a new
                         anonymous volume
      --read-only        Mount the container's root file system read-only
      --name NAME        Name the container
      --entrypoint CMD   Override the image's entrypoint
      --backend NAME     native, vm or auto (default: $TSBOX_BACKEND, else auto)
${DATA_USAGE}`;

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
    ...dataFlagOptions(flags, env),
  };
  const workdir = lastValue(flags, "workdir");
  if (workdir !== undefined) options.workdir = workdir;
  const user = lastValue(flags, "user");
  if (user !== undefined) options.user = user;
  const hostname = lastValue(flags, "hostname");
  if (hostname !== undefined) options.hostname = hostname;
  const name = lastValue(flags, "name");
  if (name !== undefined) options.name = name;
  const backend = lastValue(flags, "backend");
  return { options, interactive: flags.bools.has("interactive"), tty: flags.bools.has("tty"), ...(backend !== undefined ? { backend } : {}) };
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
  const out: string[] = [];
  for (const line of readKeyValueFile(file, "env")) {
    const resolved = resolveEnvEntry(line, env);
    if (resolved !== undefined) out.push(resolved);
  }
  return out;
}

/**
 * `-v`: `HOST:CONTAINER[:OPTIONS]` (HOST absolute: a bind mount),
 * `NAME:CONTAINER[:OPTIONS]` (a named volume), or `CONTAINER` alone (a new
 * anonymous volume). Options: ro, rw, nocopy (volumes), z/Z (ignored: no SELinux here).
 */
export function parseVolume(spec: string): VolumeOption {
  const parts = spec.split(":");
  if (parts.length > 3 || parts.some((p) => p === "")) throw new UsageError(`invalid volume ${spec}: expected [HOST|NAME:]CONTAINER[:ro|rw]`);
  if (parts.length === 1) {
    if (!isAbsolute(parts[0]!)) throw new UsageError(`invalid volume ${spec}: container path ${parts[0]} must be absolute`);
    return { container: parts[0]! };
  }
  const [source, container, mode] = parts as [string, string, string | undefined];
  if (!isAbsolute(container)) throw new UsageError(`invalid volume ${spec}: container path ${container} must be absolute`);
  const named = !source.includes("/");
  if (!named && !isAbsolute(source)) throw new UsageError(`invalid volume ${spec}: host path ${source} must be absolute`);
  const out: VolumeOption = named ? { volume: source, container } : { host: source, container };
  for (const option of (mode ?? "").split(",").filter((o) => o !== "")) {
    if (option === "ro") out.readonly = true;
    else if (option === "rw") out.readonly = false;
    else if (option === "nocopy" && named) out.noCopy = true;
    else if (option !== "z" && option !== "Z") throw new UsageError(`invalid volume ${spec}: unknown option "${option}" (ro, rw${named ? ", nocopy" : ""})`);
  }
  return out;
}
