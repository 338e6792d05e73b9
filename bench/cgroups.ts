/**
 * bench/cgroups: what a container's cgroup costs, in a warm Node process
 * (library API, as whoever runs it): `/bin/true` with no cgroup
 * (`cgroups: "disabled"`), with one and no limits, and with limits
 * (memory, CPU quota, pids); the three interleaved so machine noise hits
 * them alike, ratios to the first. Then `Container.stats()` and a
 * pause + unpause of a running container (each a tsbox-runtime call on the
 * native backend).
 *
 *   node --import tsx bench/cgroups.ts [--runs N]
 */
import { Runtime, type RunOptions } from "../src/index.js";
import { fmtMs, fmtRatio, median } from "./lib/stats.js";

const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;
const rt = new Runtime({});

const variants: [string, Partial<RunOptions>][] = [
  ["no cgroup", { cgroups: "disabled" }],
  ["cgroup, no limits", {}],
  ["cgroup + -m 32m --cpus 0.5 --pids-limit 100", { resources: { memory: "32m", cpus: 0.5, pidsLimit: 100 } }],
];
const once = async (options: Partial<RunOptions>) => {
  const t0 = process.hrtime.bigint();
  const c = await rt.run({ image: "busybox", cmd: ["/bin/true"], remove: true, ...options }, { onWarning: () => {} });
  await c.wait();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
for (const [, o] of variants) await once(o); // warm-up
const times = variants.map(() => [] as number[]);
for (let i = 0; i < runs; i++) for (const [k, [, o]] of variants.entries()) times[k]!.push(await once(o));
const base = median(times[0]!);
console.log(`run /bin/true, median of ${runs} (${rt.backend.name}, uid ${process.getuid!()}):`);
for (const [k, [name]] of variants.entries()) console.log(`  ${name.padEnd(46)} ${fmtMs(median(times[k]!)).padStart(9)}  ${fmtRatio(median(times[k]!), base)}`);

await using c = await rt.run({ image: "busybox", cmd: ["sleep", "600"], remove: true, resources: { memory: "64m" } });
const stats: number[] = [];
const pause: number[] = [];
for (let i = 0; i < runs; i++) {
  let t0 = process.hrtime.bigint();
  await c.stats();
  stats.push(Number(process.hrtime.bigint() - t0) / 1e6);
  t0 = process.hrtime.bigint();
  await c.pause();
  await c.unpause();
  pause.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
console.log(`  Container.stats()                               ${fmtMs(median(stats)).padStart(9)}`);
console.log(`  pause + unpause                                 ${fmtMs(median(pause)).padStart(9)}`);
