import { TsboxError } from "../errors.js";
import type { ContainerStats } from "./backend.js";

/**
 * Checks the stats object `tsbox-runtime stats` prints and the vm agent's
 * `stats` op answers (both made by native-rs/container/src/cgroups/stats.rs;
 * test/fixtures/contract/stats.json is the shape both sides test against).
 */
export function parseContainerStats(value: unknown, source: string): ContainerStats {
  const bad = (field: string): never => {
    throw new TsboxError(`${source} gave malformed stats (${field})`, { code: "runtime" });
  };
  const group = (key: string): Record<string, unknown> => {
    const v = (value as Record<string, unknown> | null)?.[key];
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : bad(key);
  };
  const num = (g: Record<string, unknown>, key: string, field: string): number => (typeof g[key] === "number" ? (g[key] as number) : bad(field));
  const orNull = (g: Record<string, unknown>, key: string, field: string): number | null => (g[key] === null ? null : num(g, key, field));
  if (typeof value !== "object" || value === null) bad("not an object");
  const memory = group("memory");
  const cpu = group("cpu");
  const pids = group("pids");
  const io = group("io");
  return {
    memory: {
      usage: num(memory, "usage", "memory.usage"),
      peak: orNull(memory, "peak", "memory.peak"),
      limit: orNull(memory, "limit", "memory.limit"),
      // A guest built before stop 43 leaves it out: unknown.
      inactiveFile: memory.inactiveFile === undefined ? null : orNull(memory, "inactiveFile", "memory.inactiveFile"),
    },
    cpu: {
      usageUsec: num(cpu, "usageUsec", "cpu.usageUsec"),
      userUsec: num(cpu, "userUsec", "cpu.userUsec"),
      systemUsec: num(cpu, "systemUsec", "cpu.systemUsec"),
      throttledUsec: orNull(cpu, "throttledUsec", "cpu.throttledUsec"),
      throttledPeriods: orNull(cpu, "throttledPeriods", "cpu.throttledPeriods"),
    },
    pids: { current: num(pids, "current", "pids.current"), limit: orNull(pids, "limit", "pids.limit") },
    io: { readBytes: num(io, "readBytes", "io.readBytes"), writeBytes: num(io, "writeBytes", "io.writeBytes") },
  };
}
