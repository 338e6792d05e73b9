/**
 * bench/vm-exec-ab: one side of an A/B comparison of the vm exec round trip
 * (`exec true` in a running container). Wall time on this machine moves with
 * its load, so compare builds by alternating runs of this script, each with a
 * long warm-up (v86's JIT takes ≈ 40 execs to settle in a new guest), and
 * read the guest's instruction count beside the milliseconds. Prints the
 * first exec, the steady median and 25th percentile, the median instructions
 * and how many pages v86 compiled per exec (JIT=1).
 *
 *   [TSBOX_VM_IMAGES=DIR] [PAUSE=MS] [CMDLINE_DROP=WORD] [JIT=1] node --import tsx bench/vm-exec-ab.ts [RUNS] [WARMUPS]
 *
 * TSBOX_VM_IMAGES: a guest build (a copy of vm-images/dist) per side.
 * PAUSE: a quiet guest for MS before each exec (not timed).
 * CMDLINE_DROP: a kernel command-line word left out (a cold boot saves its own snapshot first).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Runtime } from "../src/index.js";
import { VmBackend } from "../src/backends/vm/node/vm-backend.js";
import { DEFAULT_CONFIG } from "../src/backends/vm/node/machine.js";
import { median } from "./lib/stats.js";

const runs = Number(process.argv[2] ?? 60);
const warmups = Number(process.argv[3] ?? 60);
const pause = Number(process.env.PAUSE ?? 0);
const drop = process.env.CMDLINE_DROP;
const scratch = mkdtempSync(join(tmpdir(), "tsbox-exec-ab-"));
const savePath = join(scratch, "s.state");
const config = drop ? { ...DEFAULT_CONFIG, cmdline: DEFAULT_CONFIG.cmdline.replace(drop, "").replace(/ {2,}/g, " ").trim() } : DEFAULT_CONFIG;
if (drop) {
  const b = new VmBackend({ snapshot: "cold-save", savePath, config });
  await b.acquire();
  b.release();
  await b.shutdown();
}
const backend = new VmBackend({ savePath, idleMs: 60_000, config });
const rt = new Runtime({ dataDir: join(scratch, "data"), backend });
const opened = await backend.acquire();
const emulator = (opened.machine as any).emulator;
const icount = (): number => emulator.get_instruction_counter() >>> 0;
// v86 hands each page of guest code it compiles to codegen_finalize.
const cpu = emulator.v86.cpu;
let compiled = 0;
const finalize = cpu.codegen_finalize.bind(cpu);
cpu.codegen_finalize = (...a: unknown[]) => (compiled++, finalize(...a));
try {
  await using c = await rt.run({ image: "busybox", cmd: ["sleep", "600"], remove: true });
  const ms: number[] = [], instr: number[] = [], pages: number[] = [];
  for (let i = 0; i < warmups + runs; i++) {
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    const i0 = icount(), c0 = compiled, t0 = performance.now();
    const r = await c.exec(["true"]);
    ms.push(performance.now() - t0);
    instr.push((icount() - i0) >>> 0);
    pages.push(compiled - c0);
    if (r.exitCode !== 0) throw new Error(`exec true failed: ${r.stderr}`);
  }
  const steady = ms.slice(warmups).sort((a, b) => a - b);
  console.log(`exec: first ${ms[0]!.toFixed(1)} ms, steady median ${median(steady).toFixed(1)} ms, p25 ${steady[Math.floor(steady.length / 4)]!.toFixed(1)} ms, median ${(median(instr.slice(warmups)) / 1e6).toFixed(3)} M instructions`);
  if (process.env.JIT) console.log(`pages compiled per exec: ${pages.join(" ")}`);
} finally {
  backend.release();
  await backend.shutdown();
  rmSync(scratch, { recursive: true, force: true });
}
