/**
 * The library's timing loops (api-loop.ts, exec-loop.ts) and how a bench runs one: `measureLoop` inside the loop's
 * own warm Node process, `runLoop` from the bench, as the user being measured.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { asWho, type Who } from "./peers.js";
import { busyCpuMs, median } from "./stats.js";

export interface LoopResult {
  /** The median wall time of one call. */
  medianMs: number;
  /** The CPU every core spent busy per call meanwhile (`busyCpuMs`). */
  cpuMs: number;
}

/** `once` five times to warm up, then `runs` times timed. */
export async function measureLoop(runs: number, once: () => Promise<void>): Promise<LoopResult> {
  for (let i = 0; i < 5; i++) await once();
  const times: number[] = [];
  const busy0 = busyCpuMs();
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await once();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { medianMs: median(times), cpuMs: (busyCpuMs() - busy0) / runs };
}

/** bench/lib/`script` with `args`, run as `who` (it prints a LoopResult): the result, or the last line it said why not. */
export function runLoop(who: Who, script: string, args: string[]): LoopResult | string {
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  const argv = asWho(who, [process.execPath, "--import", "tsx", fileURLToPath(new URL(script, import.meta.url)), ...args]);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", cwd: repo });
  return r.status === 0 ? (JSON.parse(r.stdout) as LoopResult) : (r.stderr || `exit ${r.status}`).trim().split("\n").pop()!;
}
