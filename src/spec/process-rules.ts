/**
 * Docker's rules for a container's process, shared by every place that
 * builds a ContainerSpec (from-options.ts on hosts, the browser Worker's
 * container-spec.ts): image values are defaults, the request overrides
 * them. Pure: no Node built-ins (the browser bundle uses it).
 */
import { TsboxError, UsageError } from "../errors.js";
import { capabilitySets } from "./capabilities.js";
import { DEFAULT_CAPABILITIES, DEFAULT_PATH_ENV } from "./defaults.js";
import type { ContainerSpec } from "./container-spec.js";

/** Whether the spec makes a namespace of this type (rather than joining one, or sharing the host's). */
export function createsNamespace(spec: Pick<ContainerSpec, "linux">, type: string): boolean {
  return spec.linux.namespaces.some((n) => n.type === type && n.path === undefined && n.container === undefined);
}

/** Every namespace a container gets. */
export const CONTAINER_NAMESPACES: ContainerSpec["linux"]["namespaces"] = [
  { type: "user" },
  { type: "pid" },
  { type: "mount" },
  { type: "uts" },
  { type: "ipc" },
  { type: "network" },
  { type: "cgroup" },
];

/** The capability sets of a container's process: the OCI default set, none inherited or ambient. */
export function defaultCapabilitySets(): NonNullable<ContainerSpec["process"]["capabilities"]> {
  return capabilitySets([...DEFAULT_CAPABILITIES]);
}

/** Entrypoint + command: a given entrypoint drops the image's Cmd, a given command replaces it. */
export function commandLine(request: { entrypoint?: string[]; cmd?: string[] }, imageEntrypoint: string[], imageCmd: string[]): string[] {
  const entrypoint = request.entrypoint ?? imageEntrypoint;
  const cmd = request.cmd && request.cmd.length > 0 ? request.cmd : request.entrypoint ? [] : imageCmd;
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new UsageError("no command specified (the image has no Cmd or Entrypoint)");
  return args;
}

export function workingDir(requested: string | undefined, imageDir: string | undefined): string {
  if (requested !== undefined) {
    if (!requested.startsWith("/")) throw new UsageError(`the working directory '${requested}' is invalid, it needs to be an absolute path`);
    return normalizeAbsolute(requested);
  }
  return imageDir && imageDir.startsWith("/") ? normalizeAbsolute(imageDir) : "/";
}

/** Image env first, then the request's; a later KEY replaces an earlier one in place. */
export function mergeEnv(imageEnv: string[], requestEnv: string[] | Record<string, string | number | boolean> | undefined): Map<string, string> {
  const env = new Map<string, string>();
  const put = (entry: string) => {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new UsageError(`invalid environment variable "${entry}": expected KEY=VALUE`);
    env.set(entry.slice(0, eq), entry.slice(eq + 1));
  };
  imageEnv.forEach(put);
  if (Array.isArray(requestEnv)) requestEnv.forEach(put);
  else if (requestEnv) {
    for (const [key, value] of Object.entries(requestEnv)) {
      if (key === "" || key.includes("=")) throw new UsageError(`invalid environment variable name "${key}"`);
      env.set(key, String(value));
    }
  }
  return env;
}

/** The variables docker adds when the image and request did not set them (HOSTNAME always). */
export function addDefaultEnv(env: Map<string, string>, defaults: { hostname: string; home: string; tty: boolean }): Map<string, string> {
  if (!env.has("PATH")) env.set("PATH", DEFAULT_PATH_ENV.slice("PATH=".length));
  env.set("HOSTNAME", defaults.hostname);
  if (defaults.tty && !env.has("TERM")) env.set("TERM", "xterm");
  if (!env.has("HOME")) env.set("HOME", defaults.home);
  return env;
}

export const envList = (env: Map<string, string>): string[] => [...env].map(([k, v]) => `${k}=${v}`);

/** `/a/./b/../c/` → `/a/c` (path.posix.normalize for absolute paths, without node:path). */
function normalizeAbsolute(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return `/${out.join("/")}`;
}
