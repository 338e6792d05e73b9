/**
 * Docker's resource options (`-m 32m`, `--cpus 0.5`, `--pids-limit 10`, …) →
 * OCI `linux.resources`, with docker's units and its checks and messages.
 * Pure: shared by the CLI and the library (RunOptions.resources).
 */
import { UsageError } from "../errors.js";
import { option } from "../vocabulary.js";
import type { CgroupsMode, LinuxResources, LinuxSpec } from "./container-spec.js";
import type { RunOptions } from "./run-options.js";

/** A memory size: bytes, or docker's units ("32m", "1.5g", "512k", "64MiB"). */
export type MemorySize = number | string;

export interface ResourceOptions {
  /** Memory limit (-m/--memory); at least 6 MiB. */
  memory?: MemorySize;
  /** Memory + swap (--memory-swap); -1: unlimited swap. Needs `memory`, at least as much. */
  memorySwap?: MemorySize;
  /** Soft limit (--memory-reservation), below `memory`. */
  memoryReservation?: MemorySize;
  /** CPUs (--cpus 1.5): CFS quota over a 100 ms period. */
  cpus?: number;
  /** Relative CPU weight (-c/--cpu-shares; default 1024). */
  cpuShares?: number;
  /** CFS period in µs (--cpu-period), 1000..1000000. */
  cpuPeriod?: number;
  /** CFS quota in µs per period (--cpu-quota), at least 1000; -1: none. */
  cpuQuota?: number;
  /** CPUs allowed (--cpuset-cpus "0-2,4"). */
  cpusetCpus?: string;
  /** Process limit (--pids-limit); 0 or -1: unlimited. */
  pidsLimit?: number;
  /** Block-I/O weight (--blkio-weight), 10..1000. */
  blkioWeight?: number;
}

/** What a limit must fit on the container's kernel: its CPUs (--cpus, --cpuset-cpus) and PID_MAX_LIMIT (pids.max takes no more). */
export interface ContainerKernel {
  cpus: number;
  pidMax: number;
}

const MIN_MEMORY = 6 * 1024 * 1024;
const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * docker's RAMInBytes: "32m" = 32 MiB; binary units, an optional "b"/"ib".
 * `name`: the library's option (`memory`), which a message names as the caller does (`--memory` in the CLI).
 */
export function parseMemorySize(value: MemorySize, name: string): number {
  const flag = option(name);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new UsageError(`invalid value ${value} for ${flag}: expected a whole number of bytes (below 8p)`);
    return value;
  }
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?(?:i?b)?$/i.exec(value.trim());
  if (!m) throw new UsageError(`invalid value "${value}" for ${flag}: invalid size (expected e.g. 32m, 1.5g, 512k)`);
  const bytes = Math.floor(Number(m[1]) * UNITS[(m[2] ?? "").toLowerCase()]!);
  // Past 2^53 a size is no longer a whole number here (8 PiB: beyond any machine's memory).
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`invalid value "${value}" for ${flag}: too large (below 8p)`);
  return bytes;
}

/** "0-2,4": docker's cpuset list syntax; the highest CPU must exist here. */
export function checkCpuList(list: string, cpuCount: number): void {
  const parts = list.split(",");
  let highest = -1;
  for (const part of parts) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) throw new UsageError(`invalid value "${list}" for ${option("cpusetCpus")} (expected e.g. 0-2,4)`);
    highest = Math.max(highest, Number(m[2] ?? m[1]));
  }
  if (highest >= cpuCount) throw new UsageError(`requested CPUs are not available - requested ${list}, available: 0-${cpuCount - 1}`);
}

/** The OCI resources of `opts`, or undefined when it sets none. */
export function resourcesFromOptions(opts: ResourceOptions, kernel: ContainerKernel): LinuxResources | undefined {
  const cpuCount = kernel.cpus;
  const r: LinuxResources = {};
  const memory = opts.memory === undefined ? undefined : parseMemorySize(opts.memory, "memory");
  // docker's MemSwapBytes: a size, or "-1" for unlimited swap (the CLI's only way to say it).
  const swap = opts.memorySwap === undefined ? undefined : String(opts.memorySwap).trim() === "-1" ? -1 : parseMemorySize(opts.memorySwap, "memorySwap");
  const reservation = opts.memoryReservation === undefined ? undefined : parseMemorySize(opts.memoryReservation, "memoryReservation");
  if ((memory ?? 0) < 0 || (reservation ?? 0) < 0) throw new UsageError("memory sizes cannot be negative");
  if (memory !== undefined && memory > 0 && memory < MIN_MEMORY) throw new UsageError("minimum memory limit allowed is 6MB");
  if (swap !== undefined && swap !== 0) {
    if (memory === undefined || memory <= 0) throw new UsageError("you should always set the memory limit when using the memoryswap limit");
    if (swap > 0 && swap < memory) throw new UsageError("minimum memoryswap limit should be larger than memory limit");
    if (swap < -1) throw new UsageError(`invalid value ${swap} for ${option("memorySwap")}: -1 means unlimited`);
  }
  if (reservation !== undefined && reservation !== 0) {
    if (reservation > 0 && reservation < MIN_MEMORY) throw new UsageError("minimum memory reservation allowed is 6MB");
    if (memory !== undefined && memory > 0 && reservation > memory) throw new UsageError("minimum memory limit can not be less than memory reservation limit");
  }
  if (memory || (swap !== undefined && swap !== 0) || reservation) {
    r.memory = {
      ...(memory ? { limit: memory } : {}),
      ...(swap !== undefined && swap !== 0 ? { swap } : {}),
      ...(reservation ? { reservation } : {}),
    };
  }

  const cpu: NonNullable<LinuxResources["cpu"]> = {};
  if (opts.cpus !== undefined && opts.cpus !== 0) {
    if (opts.cpuPeriod) throw new UsageError("conflicting options: Nano CPUs and CPU Period cannot both be set");
    if (opts.cpuQuota) throw new UsageError("conflicting options: Nano CPUs and CPU Quota cannot both be set");
    if (!Number.isFinite(opts.cpus) || opts.cpus < 0.01 || opts.cpus > cpuCount) {
      throw new UsageError(`range of CPUs is from 0.01 to ${cpuCount.toFixed(2)}, as there are only ${cpuCount} CPUs available`);
    }
    cpu.period = 100_000;
    cpu.quota = Math.round(opts.cpus * 100_000);
  }
  if (opts.cpuPeriod !== undefined && opts.cpuPeriod !== 0) {
    if (!Number.isInteger(opts.cpuPeriod) || opts.cpuPeriod < 1000 || opts.cpuPeriod > 1_000_000) {
      throw new UsageError("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
    }
    cpu.period = opts.cpuPeriod;
  }
  if (opts.cpuQuota !== undefined && opts.cpuQuota !== 0) {
    if (!Number.isSafeInteger(opts.cpuQuota) || (opts.cpuQuota > 0 && opts.cpuQuota < 1000) || opts.cpuQuota < -1) {
      throw new UsageError("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    cpu.quota = opts.cpuQuota;
  }
  if (opts.cpuShares !== undefined && opts.cpuShares !== 0) {
    if (!Number.isSafeInteger(opts.cpuShares) || opts.cpuShares < 0) throw new UsageError(`invalid CPU shares (${opts.cpuShares}): value must be a positive integer`);
    // What docker gets: the kernel's v1 cpu.shares clamps to 2..262144 (and runc's v2 weight stays in range).
    cpu.shares = Math.min(Math.max(opts.cpuShares, 2), 262_144);
  }
  if (opts.cpusetCpus !== undefined && opts.cpusetCpus !== "") {
    checkCpuList(opts.cpusetCpus, cpuCount);
    cpu.cpus = opts.cpusetCpus;
  }
  if (Object.keys(cpu).length > 0) r.cpu = cpu;

  if (opts.pidsLimit !== undefined && opts.pidsLimit !== 0) {
    if (!Number.isSafeInteger(opts.pidsLimit)) throw new UsageError(`invalid value ${opts.pidsLimit} for ${option("pidsLimit")}: expected a whole number (0 or less: unlimited)`);
    // The kernel refuses more (EINVAL), which a running container's update met after writing the other limits.
    if (opts.pidsLimit > kernel.pidMax) throw new UsageError(`invalid value ${opts.pidsLimit} for ${option("pidsLimit")}: at most ${kernel.pidMax} (the kernel's PID_MAX_LIMIT)`);
    // docker's getPidsLimit: any value below 0 is unlimited.
    r.pids = { limit: Math.max(opts.pidsLimit, -1) };
  }
  if (opts.blkioWeight !== undefined && opts.blkioWeight !== 0) {
    if (!Number.isInteger(opts.blkioWeight) || opts.blkioWeight < 10 || opts.blkioWeight > 1000) throw new UsageError("range of blkio weight is from 10 to 1000");
    r.blockIO = { weight: opts.blkioWeight };
  }
  return Object.keys(r).length > 0 ? r : undefined;
}

/** docker's HostConfig.NanoCpus of `--cpus` (0: none): what the CFS quota and period come from then, not the user's own. */
export function nanoCpusOf(opts: ResourceOptions | undefined): number {
  return opts?.cpus ? Math.round(opts.cpus * 1e9) : 0;
}

/**
 * docker's UpdateContainer rule: `--cpus` sets the quota and period itself,
 * so neither may be changed on its own once it is set, nor `--cpus` once
 * they are (merged field by field, 0.2 CPUs and a new period made 2).
 */
function checkCpuUpdate(current: LinuxResources | undefined, nanoCpus: number, change: ResourceOptions): void {
  if (nanoCpusOf(change) > 0 && nanoCpus === 0) {
    if ((current?.cpu?.period ?? 0) > 0) throw new UsageError("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
    if ((current?.cpu?.quota ?? 0) > 0) throw new UsageError("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
  }
  if (nanoCpus > 0 && (change.cpuPeriod ?? 0) > 0) throw new UsageError("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
  if (nanoCpus > 0 && (change.cpuQuota ?? 0) > 0) throw new UsageError("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
}

/**
 * `update`: the container's limits with `change` over them, field by field
 * (docker's), and the NanoCpus they come to. `nanoCpus`: the container's
 * (its inspect record's). A `--memory-swap` alone is checked against the
 * limit the container has; the result must still hold together (swap ≥
 * memory ≥ reservation).
 */
export function mergeResources(current: LinuxResources | undefined, nanoCpus: number, change: ResourceOptions, kernel: ContainerKernel): { resources: LinuxResources; nanoCpus: number; changed: LinuxResources } {
  checkCpuUpdate(current, nanoCpus, change);
  const limit = current?.memory?.limit;
  const asked = change.memorySwap !== undefined && change.memory === undefined && limit ? { ...change, memory: limit } : change;
  const next = resourcesFromOptions(asked, kernel) ?? {};
  const merged: LinuxResources = structuredClone(current ?? {});
  if (next.memory) merged.memory = { ...merged.memory, ...next.memory };
  if (next.cpu) merged.cpu = { ...merged.cpu, ...next.cpu };
  if (next.pids) merged.pids = next.pids;
  // docker's update: 0 too ends the limit (at create it is just no limit).
  else if (change.pidsLimit === 0 && merged.pids) merged.pids = next.pids = { limit: -1 };
  if (next.blockIO) merged.blockIO = next.blockIO;
  const m = merged.memory;
  if (m?.limit && m.swap !== undefined && m.swap > 0 && m.swap < m.limit) {
    throw new UsageError("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
  }
  if (m?.limit && m.reservation && m.reservation > m.limit) throw new UsageError("minimum memory limit can not be less than memory reservation limit");
  // A quota of -1 (the only one allowed beside --cpus) ends what --cpus set.
  const cpusNow = nanoCpusOf(change) || (change.cpuQuota || change.cpuPeriod ? 0 : nanoCpus);
  // `changed`: the change's own limits, of which the runtime names those it could not apply (not, again, one an
  // earlier update or the start already said it cannot).
  return { resources: merged, nanoCpus: cpusNow, changed: next };
}

/**
 * The limits that put a cgroup given `attempted` (written in part: the kernel refused one) back to `before`:
 * `before`'s, with what only `attempted` set reset to the kernel's defaults (-1: none; 1024 shares, a 100 ms
 * period). A reservation, cpuset or block-I/O weight it added stays: they have no such value on both versions.
 */
export function undoResources(before: LinuxResources | undefined, attempted: LinuxResources): LinuxResources {
  const undo: LinuxResources = structuredClone(before ?? {});
  const reset = <T extends object>(group: T | undefined, was: T | undefined, defaults: Partial<Record<keyof T, number>>): T | undefined => {
    const out = { ...was } as Record<string, unknown>;
    for (const [k, v] of Object.entries(defaults)) if ((group as Record<string, unknown> | undefined)?.[k] !== undefined && out[k] === undefined) out[k] = v;
    return Object.keys(out).length > 0 ? (out as T) : undefined;
  };
  const memory = reset(attempted.memory, undo.memory, { limit: -1, swap: -1 });
  const cpu = reset(attempted.cpu, undo.cpu, { quota: -1, period: 100_000, shares: 1024 });
  const pids = reset(attempted.pids, undo.pids, { limit: -1 });
  return { ...undo, ...(memory ? { memory } : {}), ...(cpu ? { cpu } : {}), ...(pids ? { pids } : {}) };
}

export function checkOomScoreAdj(adj: number): number {
  if (!Number.isInteger(adj) || adj < -1000 || adj > 1000) throw new UsageError(`invalid value ${adj}, range for oom score adj is [-1000, 1000]`);
  return adj;
}

const MODES: readonly CgroupsMode[] = ["enabled", "required", "disabled"];

/** `--cgroups`, else `$TSBOX_CGROUPS`; undefined: enabled. */
export function cgroupsMode(asked: string | undefined, env: Record<string, string | undefined>): CgroupsMode | undefined {
  const [value, from] = asked !== undefined ? [asked, option("cgroups")] : [env.TSBOX_CGROUPS, "TSBOX_CGROUPS"];
  if (value === undefined || value === "") return undefined;
  if (!MODES.includes(value as CgroupsMode)) throw new UsageError(`invalid value "${value}" for ${from}: expected enabled, required or disabled`);
  return value as CgroupsMode;
}

/**
 * `linux.resources`, `cgroupsPath` and `cgroupsMode` of a run: the options,
 * else `$TSBOX_CGROUPS` and `$TSBOX_CGROUP_PARENT` from `env`.
 */
export function cgroupSettings(
  id: string,
  options: Pick<RunOptions, "resources" | "cgroups" | "cgroupParent">,
  env: Record<string, string | undefined>,
  kernel: ContainerKernel,
  swap = false,
): Pick<LinuxSpec, "resources" | "cgroupsPath" | "cgroupsMode"> {
  const resources = options.resources ? resourcesFromOptions(options.resources, kernel) : undefined;
  // docker's default where there is swap: memory+swap twice the memory limit (before stop 40, unlimited swap: a
  // -m container could swap without bound). Without swap there is nothing to limit, and no file to write.
  const memory = resources?.memory;
  if (swap && memory?.limit && memory.swap === undefined) memory.swap = 2 * memory.limit;
  const mode = cgroupsMode(options.cgroups, env);
  if (mode === "disabled" && resources) throw new UsageError(`resource limits need a cgroup: they cannot be used with ${option("cgroups", "disabled")}`);
  const parent = options.cgroupParent ?? env.TSBOX_CGROUP_PARENT;
  // The runtime refuses it too, naming the spec's linux.cgroupsPath, which the user never wrote.
  if (parent?.split("/").includes("..")) {
    const from = options.cgroupParent !== undefined ? option("cgroupParent") : "TSBOX_CGROUP_PARENT";
    throw new UsageError(`invalid value "${parent}" for ${from}: a cgroup path cannot go up ("..")`);
  }
  return {
    ...(resources ? { resources } : {}),
    ...(parent ? { cgroupsPath: `${parent.replace(/\/+$/, "")}/${id}` } : {}),
    ...(mode ? { cgroupsMode: mode } : {}),
  };
}
