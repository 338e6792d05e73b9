/**
 * `--change` / `-c` for `commit` and `import`: the Dockerfile instructions
 * docker accepts there (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER,
 * VOLUME, WORKDIR, STOPSIGNAL), applied to an image's run config.
 */
import { posix } from "node:path";
import { UsageError } from "../errors.js";
import { stopSignalProblem } from "../containers/signals.js";
import type { ImageRunConfig } from "./oci.js";

/** The image run config with the fields commit may set (OCI's and docker's names). */
export type CommitConfig = ImageRunConfig & {
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  OnBuild?: string[] | null;
};

export function applyChanges(config: CommitConfig, changes: string[]): CommitConfig {
  const out: CommitConfig = { ...config };
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*?)\s*$/.exec(change);
    if (!m) throw new UsageError(`invalid change "${change}": expected INSTRUCTION ARGUMENTS, e.g. CMD ["sh"]`);
    const instruction = m[1]!.toUpperCase();
    const rest = m[2]!;
    switch (instruction) {
      case "CMD":
        out.Cmd = commandForm(rest, change);
        break;
      case "ENTRYPOINT":
        out.Entrypoint = commandForm(rest, change);
        break;
      case "ENV":
        out.Env = mergeKeyValues(out.Env ?? [], keyValues(rest, change, true));
        break;
      case "LABEL":
        out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(keyValues(rest, change, false)) };
        break;
      case "EXPOSE":
        out.ExposedPorts = { ...(out.ExposedPorts ?? {}) };
        for (const port of rest.split(/\s+/)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(port)) throw new UsageError(`invalid port "${port}" in "${change}"`);
          out.ExposedPorts[port.includes("/") ? port : `${port}/tcp`] = {};
        }
        break;
      case "VOLUME": {
        const paths = rest.startsWith("[") ? jsonArray(rest, change) : rest.split(/\s+/);
        out.Volumes = { ...(out.Volumes ?? {}), ...Object.fromEntries(paths.map((p) => [p, {}])) };
        break;
      }
      case "USER":
        out.User = rest;
        break;
      case "WORKDIR":
        // A relative one from the current, as docker's (and build's) WORKDIR.
        out.WorkingDir = posix.resolve(out.WorkingDir || "/", rest);
        break;
      case "STOPSIGNAL": {
        const problem = stopSignalProblem(rest);
        if (problem) throw new UsageError(`${problem} in "${change}"`);
        out.StopSignal = rest;
        break;
      }
      case "ONBUILD":
        out.OnBuild = [...(out.OnBuild ?? []), rest];
        break;
      default:
        throw new UsageError(`${instruction} is not a valid change command (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)`);
    }
  }
  return out;
}

/** `["a","b"]` (exec form) or `a b` (shell form: `/bin/sh -c "a b"`). */
function commandForm(rest: string, change: string): string[] {
  if (rest.startsWith("[")) return jsonArray(rest, change);
  return ["/bin/sh", "-c", rest];
}

function jsonArray(text: string, change: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`invalid JSON array in "${change}"`);
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new UsageError(`expected a JSON array of strings in "${change}"`);
  return value as string[];
}

/** `K=V K2="v 2"`, or (ENV's old form) `K the value`. */
function keyValues(rest: string, change: string, allowSpaceForm: boolean): [string, string][] {
  if (!/^[^\s=]+=/.test(rest)) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!allowSpaceForm || !m) throw new UsageError(`expected KEY=VALUE in "${change}"`);
    return [[m[1]!, m[2]!]];
  }
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  let consumed = "";
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    const raw = m[2]!;
    out.push([m[1]!, raw.startsWith('"') ? (JSON.parse(raw) as string) : raw]);
    consumed += m[0];
  }
  if (consumed.replace(/\s/g, "") !== rest.replace(/\s/g, "")) throw new UsageError(`cannot parse "${change}": expected KEY=VALUE pairs`);
  return out;
}

/** `K=V` entries with `pairs` set: an existing key's entry replaced in place (a bare `K` too), a new one appended. */
export function mergeKeyValues(env: string[], pairs: [string, string][]): string[] {
  const out = [...env];
  for (const [k, v] of pairs) {
    const i = out.findIndex((e) => e === k || e.startsWith(`${k}=`));
    if (i >= 0) out[i] = `${k}=${v}`;
    else out.push(`${k}=${v}`);
  }
  return out;
}
