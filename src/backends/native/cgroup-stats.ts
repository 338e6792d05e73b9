/**
 * A container's resource use read straight from its cgroup files, as
 * `tsbox-runtime stats` reads them (native-rs/container/src/cgroups/{v1,v2},
 * each controller's `stats`): `tsbox stats` then starts no helper process,
 * which cost more than the command's own work. Both sides are checked on
 * test/fixtures/contract/cgroup-stats.json. The cgroup is found from the
 * bundle's cgroup.json, which `tsbox-runtime run` writes while it exists.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ContainerStats } from "../backend.js";

/** What cgroup.json records: the version and a dir per controller (v1 keys may join several: "cpu,cpuacct"). */
interface CgroupRecord {
  version: "v1" | "v2";
  dirs: Record<string, string>;
}

/** The bundle's cgroup record, or undefined when it has none (not running, or run without a cgroup). */
function readRecord(bundleDir: string): CgroupRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(bundleDir, "cgroup.json"), "utf8")) as CgroupRecord;
  } catch {
    return undefined;
  }
}

/** The stats, or undefined when the bundle records no cgroup (not running, or run without one). */
export function readCgroupStats(bundleDir: string): ContainerStats | undefined {
  const record = readRecord(bundleDir);
  return record && statsOf(record);
}

/**
 * The host pids in the container's cgroup (every hierarchy holds them all: exec'd processes join each), as
 * docker's `top` takes them; undefined without a cgroup.
 */
export function readCgroupPids(bundleDir: string): number[] | undefined {
  const dir = Object.values(readRecord(bundleDir)?.dirs ?? {})[0];
  if (dir === undefined) return undefined;
  try {
    return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return undefined;
  }
}

/** @internal Stats of the cgroup a record names (the contract test feeds it fixture dirs). */
export function statsOf(record: CgroupRecord): ContainerStats {
  const s: ContainerStats = {
    memory: { usage: 0, peak: null, limit: null, inactiveFile: null },
    cpu: { usageUsec: 0, userUsec: 0, systemUsec: 0, throttledUsec: null, throttledPeriods: null },
    pids: { current: 0, limit: null },
    io: { readBytes: 0, writeBytes: 0 },
  };
  if (record.version === "v2") {
    const dir = Object.values(record.dirs)[0];
    if (dir !== undefined) v2(dir, s);
    return s;
  }
  const dirOf = (controller: string) => Object.entries(record.dirs).find(([k]) => k.split(",").includes(controller))?.[1];
  v1(dirOf, s);
  return s;
}

/** v1 memory, cpu, cpuacct, pids, blkio (v1/*.rs). */
function v1(dirOf: (controller: string) => string | undefined, s: ContainerStats): void {
  const memory = dirOf("memory");
  if (memory) {
    s.memory.usage = readNumber(memory, "memory.usage_in_bytes") ?? 0;
    s.memory.peak = readNumber(memory, "memory.max_usage_in_bytes");
    s.memory.limit = readLimit(memory, "memory.limit_in_bytes", V1_UNLIMITED_FROM);
    s.memory.inactiveFile = keyedIn(memory, "memory.stat", "total_inactive_file");
  }
  const cpu = dirOf("cpu");
  if (cpu) {
    const stat = read(cpu, "cpu.stat");
    s.cpu.throttledPeriods = stat === undefined ? null : keyed(stat, "nr_throttled");
    const ns = stat === undefined ? null : keyed(stat, "throttled_time");
    s.cpu.throttledUsec = ns === null ? null : Math.floor(ns / 1000);
  }
  const cpuacct = dirOf("cpuacct");
  if (cpuacct) {
    s.cpu.usageUsec = Math.floor((readNumber(cpuacct, "cpuacct.usage") ?? 0) / 1000);
    // Nanoseconds since Linux 4.7; ticks of 10 ms in cpuacct.stat before.
    const user = readNumber(cpuacct, "cpuacct.usage_user");
    const sys = readNumber(cpuacct, "cpuacct.usage_sys");
    if (user !== null && sys !== null) {
      s.cpu.userUsec = Math.floor(user / 1000);
      s.cpu.systemUsec = Math.floor(sys / 1000);
    } else {
      const stat = read(cpuacct, "cpuacct.stat") ?? "";
      s.cpu.userUsec = (keyed(stat, "user") ?? 0) * USEC_PER_TICK;
      s.cpu.systemUsec = (keyed(stat, "system") ?? 0) * USEC_PER_TICK;
    }
  }
  const pids = dirOf("pids");
  if (pids) pidsStats(pids, s);
  const blkio = dirOf("blkio");
  if (blkio) {
    // The scheduler's own counters where there are some, else the throttling layer's (which sees every request).
    for (const file of ["blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive"]) {
      const text = read(blkio, file);
      if (text === undefined) continue;
      const [r, w] = serviceBytes(text);
      if (r + w > 0 || file.includes("throttle")) {
        s.io = { readBytes: r, writeBytes: w };
        break;
      }
    }
  }
}

/** v2 memory, cpu, pids, io (v2/*.rs). */
function v2(dir: string, s: ContainerStats): void {
  s.memory.usage = readNumber(dir, "memory.current") ?? 0;
  s.memory.peak = readNumber(dir, "memory.peak");
  s.memory.limit = readLimit(dir, "memory.max", Infinity);
  s.memory.inactiveFile = keyedIn(dir, "memory.stat", "inactive_file");
  const stat = read(dir, "cpu.stat") ?? "";
  s.cpu = {
    usageUsec: keyed(stat, "usage_usec") ?? 0,
    userUsec: keyed(stat, "user_usec") ?? 0,
    systemUsec: keyed(stat, "system_usec") ?? 0,
    throttledUsec: keyed(stat, "throttled_usec"),
    throttledPeriods: keyed(stat, "nr_throttled"),
  };
  pidsStats(dir, s);
  let r = 0;
  let w = 0;
  for (const field of (read(dir, "io.stat") ?? "").split(/\s+/)) {
    if (field.startsWith("rbytes=")) r += Number(field.slice(7)) || 0;
    else if (field.startsWith("wbytes=")) w += Number(field.slice(7)) || 0;
  }
  s.io = { readBytes: r, writeBytes: w };
}

function pidsStats(dir: string, s: ContainerStats): void {
  s.pids.current = readNumber(dir, "pids.current") ?? 0;
  s.pids.limit = readLimit(dir, "pids.max", Infinity);
}

/** v1's "no limit": the page-rounded i64::MAX and anything that large (v1/memory.rs UNLIMITED_FROM). */
const V1_UNLIMITED_FROM = 2 ** 62;
const USEC_PER_TICK = 10_000;

function read(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), "utf8");
  } catch {
    return undefined;
  }
}

/** A file holding one whole number; null when missing or not one. */
function readNumber(dir: string, file: string): number | null {
  const text = read(dir, file)?.trim();
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : null;
}

/** A limit: "max" (v2), -1, or a value at or above `unlimitedFrom` is none. */
function readLimit(dir: string, file: string, unlimitedFrom: number): number | null {
  const n = readNumber(dir, file);
  return n === null || n >= unlimitedFrom ? null : n;
}

/** The value of `key` in a flat keyed file ("key value" lines). */
function keyed(text: string, key: string): number | null {
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key && v !== undefined && /^\d+$/.test(v)) return Number(v);
  }
  return null;
}

/** `key`'s number in a "key value" file; null when the file or the key is missing. */
function keyedIn(dir: string, file: string, key: string): number | null {
  const text = read(dir, file);
  return text === undefined ? null : keyed(text, key);
}

/** Sums "MAJ:MIN Read N" / "MAJ:MIN Write N" lines over devices. */
function serviceBytes(text: string): [number, number] {
  let r = 0;
  let w = 0;
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    const n = Number(f[2]) || 0;
    if (f[1] === "Read") r += n;
    else if (f[1] === "Write") w += n;
  }
  return [r, w];
}
