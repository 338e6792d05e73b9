/**
 * Times the tsbox library API in a warm Node process: `runs` containers of
 * `/bin/true`, one after another, after a few warm-up runs. Prints the median
 * in ms as JSON. Run as whichever user is being measured.
 */
import { Runtime } from "../../src/index.js";
import { median } from "./stats.js";

const runs = Number(process.argv[2] ?? 40);
const rt = new Runtime({});
const once = async () => {
  const c = await rt.run({ image: "busybox", cmd: ["/bin/true"], remove: true });
  const { exitCode } = await c.wait();
  if (exitCode !== 0) throw new Error(`/bin/true exited ${exitCode}`);
};
for (let i = 0; i < 5; i++) await once();
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  await once();
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
console.log(JSON.stringify({ medianMs: median(times) }));
