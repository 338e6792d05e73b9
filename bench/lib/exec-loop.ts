/**
 * Times the tsbox library API's `exec` in a warm Node process: `runs` execs of
 * `/bin/true` into one running container, one after another, after a few
 * warm-up execs. Prints the median in ms as JSON (loop.ts `measureLoop`). Run
 * as whichever user is being measured.
 *
 *   exec-loop.ts RUNS [warm|spawn]
 * `warm` (default): execs go through the backend's warm helper (a fork of it per exec); `spawn`: a `tsbox-runtime
 * exec` spawned per exec, the path before it.
 */
import { Runtime } from "../../src/index.js";
import { NativeBackend } from "../../src/backends/native/native-backend.js";
import { measureLoop } from "./loop.js";

const runs = Number(process.argv[2] ?? 40);
const path = process.argv[3] ?? "warm";
if (path !== "warm" && path !== "spawn") throw new Error(`exec-loop: path ${path}: expected warm or spawn`);
const rt = new Runtime({ backend: new NativeBackend({ warmHelper: path === "warm" }) });
const c = await rt.run({ image: "busybox", cmd: ["sleep", "600"], remove: true });
try {
  const once = async () => {
    const r = await c.exec(["/bin/true"]);
    if (r.exitCode !== 0) throw new Error(`exec /bin/true exited ${r.exitCode}: ${r.stderr}`);
  };
  console.log(JSON.stringify(await measureLoop(runs, once)));
} finally {
  await c.kill("SIGKILL").catch(() => {});
  await c.wait();
  await rt.close();
}
