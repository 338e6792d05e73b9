/**
 * bench/data: median wall time of the data commands — cp out and in, diff,
 * export, commit, ps, inspect — for tsbox and podman (root, runc, the same
 * busybox image loaded from `tsbox save`), on a stopped container holding
 * 1000 small files and 8 MiB. Ratios are podman's time over tsbox's.
 *
 *   node --import tsx bench/data.ts [--runs N]
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fmtMs, median } from "./lib/stats.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
if (process.getuid!() !== 0) {
  console.error("bench/data runs as root (podman is compared as root)");
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "tsbox-bench-data-"));
chmodSync(work, 0o755);
const env = { ...process.env, TSBOX_DATA_DIR: join(work, "tsbox"), CONTAINERS_CONF: join(work, "containers.conf"), XDG_RUNTIME_DIR: join(work, "xdg") };
writeFileSync(env.CONTAINERS_CONF, '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[containers]\ndefault_ulimits = []\n');
const podmanArgs = ["--root", join(work, "podman"), "--runroot", join(work, "podman-run"), "--runtime", "runc"];
const tsbox = (...args: string[]) => [process.execPath, join(repo, "bin/tsbox.js"), ...args];
const podman = (...args: string[]) => ["podman", ...podmanArgs, ...args];

function run(argv: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const FILL = "mkdir /big; i=0; while [ $i -lt 1000 ]; do echo $i > /big/f$i; i=$((i+1)); done; dd if=/dev/zero of=/big/blob bs=1M count=8 2>/dev/null";
const src = join(work, "src");
try {
  process.stderr.write("preparing…\n");
  run(tsbox("save", "-o", join(work, "busybox.tar"), "busybox"));
  run(podman("load", "-q", "-i", join(work, "busybox.tar")));
  run(tsbox("run", "--name", "b", "busybox", "sh", "-c", FILL));
  run(podman("run", "--network", "none", "--name", "b", "busybox", "sh", "-c", FILL));
  run(tsbox("cp", "b:/big", src));

  const ops: [string, (tool: typeof tsbox, i: number) => string[]][] = [
    ["cp out (dir)", (t, i) => t("cp", "b:/big", join(work, `out-${t === tsbox ? "t" : "p"}-${i}`))],
    ["cp in (dir)", (t, i) => t("cp", src, `b:/in${i}`)],
    ["cp out (file)", (t, i) => t("cp", "b:/big/f1", join(work, `f-${t === tsbox ? "t" : "p"}-${i}`))],
    ["diff", (t) => t("diff", "b")],
    ["export", (t, i) => t("export", "-o", join(work, `e-${t === tsbox ? "t" : "p"}-${i}.tar`), "b")],
    ["commit", (t) => t("commit", "b")],
    ["ps -a", (t) => t("ps", "-a")],
    ["inspect", (t) => t("inspect", "b")],
  ];
  const rows: [string, number, number][] = [];
  for (const [name, argv] of ops) {
    const times = { t: [] as number[], p: [] as number[] };
    for (let i = 0; i < runs; i++) {
      times.t.push(run(argv(tsbox, i)));
      times.p.push(run(argv(podman, i)));
    }
    rows.push([name, median(times.t), median(times.p)]);
    process.stderr.write(`  ${name}: tsbox ${fmtMs(median(times.t))}, podman ${fmtMs(median(times.p))}\n`);
  }
  console.log(`\ndata: median wall time, ${runs} runs each, root (ratio: podman / tsbox)\n`);
  console.log(`${"operation".padEnd(16)}${"tsbox".padEnd(12)}${"podman".padEnd(12)}ratio`);
  for (const [name, t, p] of rows) console.log(`${name.padEnd(16)}${fmtMs(t).padEnd(12)}${fmtMs(p).padEnd(12)}${(p / t).toFixed(2)}x`);
} finally {
  spawnSync("podman", [...podmanArgs, "system", "reset", "--force"], { env, stdio: "ignore" });
  rmSync(work, { recursive: true, force: true });
}
