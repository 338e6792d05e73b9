/** Small numeric helpers shared by the benchmarks. */
import { readFileSync } from "node:fs";
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function fmtMs(ms: number | undefined): string {
  return ms === undefined ? "n/a" : `${ms.toFixed(1)} ms`;
}

export function fmtRatio(value: number | undefined, base: number | undefined): string {
  return value === undefined || base === undefined ? "" : `${(value / base).toFixed(2)}x`;
}

/**
 * CPU time every core spent busy so far (ms, from /proc/stat's user, nice, system, irq and softirq): what a run costs
 * the machine, its kernel threads' work on its behalf included (a namespace's or cgroup's teardown after it), which
 * the run's own user+system time leaves out. The difference over many runs, divided by their number.
 */
export function busyCpuMs(): number {
  const [user, nice, system, , , irq, softirq] = readFileSync("/proc/stat", "latin1").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return ((user! + nice! + system! + irq! + softirq!) * 1000) / 100;
}
