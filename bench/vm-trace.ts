/**
 * bench/vm-trace: where a vm container round trip and an exec round trip
 * spend their time. Per agent request the host-side time (median), and with
 * TRACE=1 the guest's own timing marks (the agent, its supervisors and the
 * container crate write `tsbox-trace` lines to the guest console when the
 * kernel command line has TSBOX_TRACE=1; container/src/trace.rs) merged
 * with the host's, for the last run of each, each line with the guest's
 * instruction counter (v86's, read as the line is written: the guest's work
 * in emulated instructions, which, unlike milliseconds, does not move with the
 * host's load). Per round trip the median of guest instructions too, and the
 * 9p requests the guest made (each one stops the guest until the host's
 * server answers). Boots its own guest (the
 * command line is part of the snapshot's fingerprint). A profiling aid, not
 * a benchmark: bench/vm.ts has the figures.
 *
 *   [TRACE=1] [NETWORK=none] [PAUSE=MS] node --import tsx bench/vm-trace.ts [RUNS]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Runtime } from "../src/index.js";
import { VmBackend } from "../src/backends/vm/node/vm-backend.js";
import { DEFAULT_CONFIG } from "../src/backends/vm/node/machine.js";
import { P9Server } from "../src/backends/vm/core/p9/server.js";
/** 9p requests the guest made (and how many were Tread), and the host's milliseconds answering them. */
const p9 = { requests: 0, reads: 0, ms: 0 };
const handle9p = P9Server.prototype.handle;
P9Server.prototype.handle = function (req: Uint8Array, reply: (buf: Uint8Array) => void) {
  const t0 = performance.now();
  p9.requests++;
  if (req[4] === 116) p9.reads++;
  try { return handle9p.call(this, req, reply); } finally { p9.ms += performance.now() - t0; }
};
const runs = Number(process.argv[2] ?? 15);
const scratch = mkdtempSync(join(tmpdir(), "tsbox-prof-"));
const TRACE = !!process.env.TRACE;
const PAUSE = Number(process.env.PAUSE ?? 0);
const config = TRACE ? { ...DEFAULT_CONFIG, cmdline: DEFAULT_CONFIG.cmdline + " TSBOX_TRACE=1" } : DEFAULT_CONFIG;
{ const b = new VmBackend({ snapshot: "cold-save", savePath: join(scratch, "s.state"), config }); await b.acquire(); b.release(); await b.shutdown(); }
const backend = new VmBackend({ savePath: join(scratch, "s.state"), idleMs: 60_000, config });
const rt = new Runtime({ dataDir: join(scratch, "data"), backend, ...(process.env.NETWORK ? { network: process.env.NETWORK } : {}) });
const opened = await backend.acquire();
const link = opened.machine.link as any;
const orig = link.request.bind(link);
let serial = "";
const traces: string[] = [];
const emulator = (opened.machine as any).emulator;
/** Emulated instructions so far (v86's u32 counter: deltas are taken mod 2^32). */
const icount = (): number => emulator.get_instruction_counter() >>> 0;
const idelta = (from: number, to: number): number => (to - from) >>> 0;
emulator.add_listener("serial0-output-byte", (b: number) => {
  const ch = String.fromCharCode(b);
  if (ch !== "\n") { serial += ch; return; }
  if (serial.startsWith("tsbox-trace ")) traces.push(`${serial.trim()} @${icount()}`);
  serial = "";
});
const hostMark = (what: string) => { if (TRACE) traces.push(`tsbox-trace ${(performance.timeOrigin + performance.now()).toFixed(3)} host ${what} @${icount()}`); };
let log: [string, number][] = [];
/** Bytes of each request as it went on the link (after seccompRef), by op; DUMP=OP prints one request's fields. */
const sizes = new Map<string, number>();
let lastRequestBytes = 0;
const sendFrame = link.sendFrame.bind(link);
link.sendFrame = (type: number, channel: number, payload?: Uint8Array) => { if (type === 1 && channel === 0) lastRequestBytes = payload?.length ?? 0; return sendFrame(type, channel, payload); };
link.request = async (op: string, args: any, t: number) => {
  if (process.env.DUMP === op) console.log(JSON.stringify(args, null, 1));
  const t0 = performance.now();
  hostMark(`request ${op}`);
  try {
    const reply = orig(op, args, t);
    sizes.set(op, lastRequestBytes);
    return await reply;
  } finally { hostMark(`replied ${op}`); log.push([op, performance.now() - t0]); }
};
function dumpTrace(title: string) {
  if (!TRACE) return;
  // Ordered by the instruction counter (exact), not by the clocks (host and guest differ by a few ms).
  const lines = traces.splice(0).map((l) => l.split(" ")).map(([, t, who, ...w]) => [Number(t), who, w.slice(0, -1).join(" "), Number(w[w.length - 1]!.slice(1))] as [number, string, string, number]);
  console.log(`--- trace: ${title}  (ms, +ms, +k guest instructions)`);
  const t0 = lines[0]?.[0] ?? 0; let prev = t0; let prevI = lines[0]?.[3] ?? 0;
  for (const [t, who, w, i] of lines) {
    console.log(`${(t - t0).toFixed(1).padStart(8)} +${(t - prev).toFixed(1).padStart(6)} +${(idelta(prevI, i) / 1000).toFixed(0).padStart(6)}k  ${who.padEnd(5)} ${w}`);
    prev = t; prevI = i;
  }
}
const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
function summarize(name: string, totals: number[], logs: [string, number][][], instr: number[]) {
  console.log(`${name}: per run ${(p9.requests / totals.length).toFixed(0)} 9p requests (${(p9.reads / totals.length).toFixed(0)} reads), ${(p9.ms / totals.length).toFixed(1)} ms in the host's 9p server`);
  p9.requests = p9.reads = p9.ms = 0;
  const ops = new Map<string, number[]>();
  for (const l of logs) for (const [op, ms] of l) (ops.get(op) ?? ops.set(op, []).get(op)!).push(ms);
  console.log(`${name}: median ${med(totals).toFixed(1)} ms  [${totals.map((t) => t.toFixed(0)).join(" ")}]`);
  console.log(`   guest instructions: median ${(med(instr) / 1e6).toFixed(2)} M  [${instr.map((n) => (n / 1e6).toFixed(1)).join(" ")}]`);
  for (const [op, a] of ops) console.log(`   ${op}: median ${med(a).toFixed(1)} ms, ${sizes.get(op)} bytes`);
}
traces.length = 0;
for (let w = 0; w < 3; w++) await (await rt.run({ image: "busybox", cmd: ["true"], remove: true })).wait();
p9.requests = p9.reads = p9.ms = 0;
{
  const totals: number[] = [], logs: [string, number][][] = [], instr: number[] = [];
  for (let i = 0; i < runs; i++) {
    log = [];
    const t0 = performance.now(), i0 = icount();
    const c = await rt.run({ image: "busybox", cmd: ["true"], remove: true });
    c.stdout!.resume(); c.stderr!.resume();
    await c.wait();
    totals.push(performance.now() - t0); logs.push(log); instr.push(idelta(i0, icount()));
    if (i === runs - 1) dumpTrace("container"); else traces.length = 0;
  }
  summarize("container round trip", totals, logs, instr);
}
{
  await using c = await rt.run({ image: "busybox", cmd: ["sleep", "600"], remove: true });
  for (let w = 0; w < 3; w++) await c.exec(["true"]);
  p9.requests = p9.reads = p9.ms = 0;
  const totals: number[] = [], logs: [string, number][][] = [], instr: number[] = [];
  for (let i = 0; i < runs; i++) {
    // PAUSE=MS: a quiet guest between execs (a user at a prompt), not one exec right behind another.
    if (PAUSE > 0) { await new Promise((r) => setTimeout(r, PAUSE)); traces.length = 0; }
    log = [];
    const t0 = performance.now(), i0 = icount();
    await c.exec(["true"]);
    totals.push(performance.now() - t0); logs.push(log); instr.push(idelta(i0, icount()));
    if (i === runs - 1) dumpTrace("exec"); else traces.length = 0;
  }
  summarize("exec round trip", totals, logs, instr);
  const p: number[] = [];
  for (let i = 0; i < runs; i++) { const t0 = performance.now(); await orig("ping", {}, 10000); p.push(performance.now() - t0); }
  console.log(`ping median ${med(p).toFixed(2)}`);
}
backend.release();
await backend.shutdown();
// Its data dir and snapshot: nothing of a run is left in /tmp.
rmSync(scratch, { recursive: true, force: true });
