/**
 * bench/build: `tsbox build` beside `podman build` on the same Dockerfile
 * and context (busybox base, WORKDIR, ENV, a COPY of a small tree, two
 * RUNs, CMD), as root and as the unprivileged test user: a build with
 * `--no-cache` and an unchanged rebuild (every step from the cache),
 * median wall times and the ratio podman/tsbox. Both get the same busybox
 * (`tsbox save` → `podman load`) and no network.
 *
 *   node --import tsx bench/build.ts [--runs N] [--no-user]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { asWho, benchPeople, benchWorkDir, have, podmanArgv, resetPodman, type Who } from "./lib/peers.js";
import { fmtMs, fmtRatio, median } from "./lib/stats.js";

const arg = (name: string) => process.argv.indexOf(name);
const runs = arg("--runs") > 0 ? Number(process.argv[arg("--runs") + 1]) : 5;
const repo = fileURLToPath(new URL("..", import.meta.url));
delete process.env.NODE_EXTRA_CA_CERTS;

const DOCKERFILE = `FROM busybox
ENV APP=/app MODE=bench
WORKDIR /app
COPY . .
RUN mkdir -p /app/out && for f in src/*.txt; do cp "$f" out/; done && rm -rf /app/src/tmp
RUN echo "$MODE" > /app/mode && echo "app:x:1000:1000::/app:/bin/sh" >> /etc/passwd
USER app
CMD ["cat", "/app/mode"]
`;

function timed(who: Who, argv: string[]): number {
  const full = asWho(who, argv);
  const t0 = performance.now();
  const r = spawnSync(full[0]!, full.slice(1), { encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function makeContext(dir: string): void {
  mkdirSync(join(dir, "src", "tmp"), { recursive: true });
  writeFileSync(join(dir, "Dockerfile"), DOCKERFILE);
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, "src", `f${i}.txt`), `file ${i}\n`.repeat(100));
  writeFileSync(join(dir, "src", "tmp", "scratch"), "x");
}

const work = benchWorkDir();
const people = benchPeople(work, !process.argv.includes("--no-user"));
const tsbox = [process.execPath, join(repo, "bin/tsbox.js")];
const rows: string[] = [];
for (const who of people) {
  mkdirSync(join(who.home, "xdg"), { recursive: true, mode: 0o700 });
  const ctx = join(who.home, "ctx");
  makeContext(ctx);
  spawnSync("chown", ["-R", `${who.uid}:${who.gid}`, who.home]);
  process.stderr.write(`preparing as ${who.name}…\n`);
  const archive = join(who.home, "busybox.tar");
  timed(who, [...tsbox, "save", "-o", archive, "busybox"]);
  const tools: [string, (noCache: boolean) => string[]][] = [["tsbox", (noCache) => [...tsbox, "build", "-q", ...(noCache ? ["--no-cache"] : []), "-t", "bench", ctx]]];
  const podman = have("podman") ? podmanArgv(who) : undefined;
  if (podman) {
    timed(who, [...podman, "load", "-q", "-i", archive]);
    tools.push(["podman", (noCache) => [...podman, "build", "-q", "--network", "none", ...(noCache ? ["--no-cache"] : []), "-t", "bench", ctx]]);
  }
  const results = new Map<string, { cold: number[]; cached: number[] }>();
  for (const [name, argv] of tools) {
    timed(who, argv(true)); // warm-up (and the cache's first fill)
    const r = { cold: [] as number[], cached: [] as number[] };
    for (let i = 0; i < runs; i++) {
      r.cold.push(timed(who, argv(true)));
      r.cached.push(timed(who, argv(false)));
    }
    results.set(name, r);
    process.stderr.write(`  ${who.name} ${name}: --no-cache ${fmtMs(median(r.cold))}, cached ${fmtMs(median(r.cached))}\n`);
  }
  if (podman) resetPodman(who, podman);
  const base = results.get("tsbox")!;
  for (const [name, r] of results) {
    rows.push(`${who.name.padEnd(6)} ${name.padEnd(8)} ${fmtMs(median(r.cold)).padStart(10)} ${fmtMs(median(r.cached)).padStart(10)}   ${name === "tsbox" ? "" : `${fmtRatio(median(r.cold), median(base.cold))} / ${fmtRatio(median(r.cached), median(base.cached))}`}`);
  }
}
console.log(`\nbuild: median wall time of ${runs} builds (5 steps, a 50-file COPY, 2 RUNs); ratio: podman's time / tsbox's\n`);
console.log(`who    tool      --no-cache     cached   podman/tsbox (no-cache / cached)`);
for (const r of rows) console.log(r);
