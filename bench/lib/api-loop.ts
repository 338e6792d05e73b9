/**
 * Times the tsbox library API in a warm Node process: `runs` containers of
 * `/bin/true`, one after another, after a few warm-up runs. Prints the median
 * in ms as JSON, and `cpuMs`, the CPU every core spent busy per run meanwhile (loop.ts `measureLoop`). Run as
 * whichever user is being measured.
 *
 *   api-loop.ts RUNS [warm|spawn|unplanned] [RUN-OPTIONS-JSON]
 * `warm` (default): runs go through the backend's warm helper (one
 * `tsbox-runtime serve`, a fork per run); `spawn`: a `tsbox-runtime run`
 * spawned per run, the path before it; `unplanned`: the warm helper with
 * every container prepared in full (`TSBOX_RUN_CACHE=0`: no plan replayed,
 * src/containers/plan-cache.ts). RUN-OPTIONS-JSON: more `run` options
 * (`{"seccomp":"unconfined"}`, say), to price one part of a run by switching it off.
 */
import { Runtime } from "../../src/index.js";
import { NativeBackend } from "../../src/backends/native/native-backend.js";
import { measureLoop } from "./loop.js";

const runs = Number(process.argv[2] ?? 40);
const path = process.argv[3] ?? "warm";
if (path !== "warm" && path !== "spawn" && path !== "unplanned") throw new Error(`api-loop: path ${path}: expected warm, spawn or unplanned`);
if (path === "unplanned") process.env.TSBOX_RUN_CACHE = "0";
const extra = JSON.parse(process.argv[4] ?? "{}") as Record<string, unknown>;
const rt = new Runtime({ backend: new NativeBackend({ warmHelper: path !== "spawn" }) });
const once = async () => {
  const c = await rt.run({ image: "busybox", cmd: ["/bin/true"], remove: true, ...extra });
  const { exitCode } = await c.wait();
  if (exitCode !== 0) throw new Error(`/bin/true exited ${exitCode}`);
};
console.log(JSON.stringify(await measureLoop(runs, once)));
