/**
 * docker's resource flags of `run` (and later `create`): cgroup limits,
 * --oom-score-adj, --cgroups, --cgroup-parent. Values are checked where the
 * library checks them too (src/spec/resources.ts), so both say the same.
 */
import { UsageError } from "../errors.js";
import type { RunOptions } from "../spec/run-options.js";
import type { ResourceOptions } from "../spec/resources.js";
import { type FlagDef, intArgument, lastValue, type ParsedFlags } from "./flags.js";

export const RESOURCE_FLAGS: FlagDef[] = [
  { name: "memory", short: "m", value: true },
  { name: "memory-swap", value: true },
  { name: "memory-reservation", value: true },
  { name: "cpus", value: true },
  { name: "cpu-shares", short: "c", value: true },
  { name: "cpu-period", value: true },
  { name: "cpu-quota", value: true },
  { name: "cpuset-cpus", value: true },
  { name: "pids-limit", value: true },
  { name: "blkio-weight", value: true },
  { name: "oom-score-adj", value: true },
  { name: "cgroups", value: true },
  { name: "cgroup-parent", value: true },
];

export const RESOURCE_USAGE = `  -m, --memory BYTES       Memory limit (e.g. 32m, 1g; at least 6m)
      --memory-swap BYTES  Memory + swap limit (-1: unlimited swap)
      --memory-reservation BYTES  Memory soft limit
      --cpus N             Number of CPUs (e.g. 0.5)
  -c, --cpu-shares N       CPU shares (relative weight, default 1024)
      --cpu-period US      CFS period in microseconds
      --cpu-quota US       CFS quota in microseconds per period
      --cpuset-cpus LIST   CPUs allowed (e.g. 0-1,3)
      --pids-limit N       Process limit (-1: unlimited)
      --blkio-weight N     Block I/O weight (10 to 1000)
      --oom-score-adj N    OOM score adjustment (-1000 to 1000)
      --cgroups MODE       enabled, required (fail without cgroups) or disabled
                           (default: $TSBOX_CGROUPS, else enabled)
      --cgroup-parent PATH Parent cgroup of the container's cgroup (default: tsbox)
`;

function integer(flags: ParsedFlags, name: string): number | undefined {
  const v = lastValue(flags, name);
  return v === undefined ? undefined : intArgument(v, name);
}

/** The resource-related RunOptions of parsed `run` flags. */
export function resourceOptions(flags: ParsedFlags): Pick<RunOptions, "resources" | "cgroups" | "cgroupParent" | "oomScoreAdj"> {
  const r: ResourceOptions = {};
  const text = (name: string) => lastValue(flags, name);
  const set = <K extends keyof ResourceOptions>(key: K, value: ResourceOptions[K] | undefined) => {
    if (value !== undefined) r[key] = value;
  };
  set("memory", text("memory"));
  set("memorySwap", text("memory-swap"));
  set("memoryReservation", text("memory-reservation"));
  const cpus = text("cpus");
  if (cpus !== undefined) {
    // docker's ParseCPUs takes any decimal (-1, 1e1), then its range check speaks.
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(cpus.trim())) throw new UsageError(`invalid argument "${cpus}" for "--cpus" flag: failed to parse ${cpus} as a rational number`);
    r.cpus = Number(cpus);
  }
  set("cpuShares", integer(flags, "cpu-shares"));
  set("cpuPeriod", integer(flags, "cpu-period"));
  set("cpuQuota", integer(flags, "cpu-quota"));
  set("cpusetCpus", text("cpuset-cpus"));
  set("pidsLimit", integer(flags, "pids-limit"));
  set("blkioWeight", integer(flags, "blkio-weight"));
  const out: Pick<RunOptions, "resources" | "cgroups" | "cgroupParent" | "oomScoreAdj"> = {};
  if (Object.keys(r).length > 0) out.resources = r;
  const mode = text("cgroups");
  if (mode !== undefined) out.cgroups = mode as RunOptions["cgroups"]; // checked with $TSBOX_CGROUPS in spec/resources.ts
  const parent = text("cgroup-parent");
  if (parent !== undefined) out.cgroupParent = parent;
  const adj = integer(flags, "oom-score-adj");
  if (adj !== undefined) out.oomScoreAdj = adj;
  return out;
}
