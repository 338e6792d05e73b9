/**
 * bench/startup: median time to run `/bin/true` in the same busybox rootfs with
 * tsbox (library API in a warm Node process — through the Runtime's warm
 * helper and, the path before it, a helper spawned per run —, the CLI of this checkout and the
 * CLI of the npm packages installed as a user would) and with the tools
 * people use today (crun, runc, bwrap, podman), plus `unshare -Urpf`, the
 * floor. Each tool runs as root and as an unprivileged user where it can;
 * ratios are to the floor of the same user. The targets also give the CPU a
 * run takes on every core, the library's against bwrap's: what bounds a loop
 * of runs. Needs `scripts/setup.sh --bench`.
 *
 * A second table prices tsbox's security layers on a run of the helper
 * itself (`tsbox-runtime run` on a prepared bundle): the seccomp filter
 * (docker's default profile) and the protection of the runtime binary
 * (sealed memfd copy; read-only overlay, root's default, or bind as root), each against the same run
 * without it, beside bwrap and crun with and without the very same filter.
 *
 *   node --import tsx bench/startup.ts [--runs N] [--security-only]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, chmodSync, writeFileSync } from "node:fs";
import { availableParallelism, release } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { asWho, benchPeople, benchWorkDir, have, hideUnifiedCgroup as hideUnified, peerBundle, podmanArgv, resetPodman, type Who } from "./lib/peers.js";
import { busyCpuMs, fmtMs, fmtRatio, median } from "./lib/stats.js";
import { runLoop } from "./lib/loop.js";
import { buildSpec } from "../src/spec/from-options.js";
import type { ImageConfig } from "../src/image/oci.js";
import { securitySettings, goArch } from "../src/spec/security.js";
import { readPacked } from "../scripts/packed.js";
import { IMAGES_PACKAGE, nativePackageName } from "../src/parts.js";
import { bundlePaths } from "../src/paths.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 40;
const securityOnly = process.argv.includes("--security-only");

const work = benchWorkDir();
const people = benchPeople(work, true);

function sh(argv: string[], opts: { input?: string } = {}): string {
  return execFileSync(argv[0]!, argv.slice(1), { input: opts.input, stdio: ["pipe", "pipe", "pipe"] }).toString();
}

/** hyperfine -N (no shell) median in ms, or a reason it could not run. */
function hyperfine(who: Who, command: string, wrap: (argv: string[]) => string[] = (a) => a): number | string {
  const r = hyperfineFull(who, command, wrap);
  return typeof r === "string" ? r : r.wall;
}

/**
 * Median wall time and mean CPU time (user + system, of the command and its
 * children) in ms. CPU time is what a layer adds even on a machine busy with
 * other work, where wall times mostly measure the wait for a core.
 */
function hyperfineFull(who: Who, command: string, wrap: (argv: string[]) => string[] = (a) => a): { wall: number; cpu: number } | string {
  const out = join(who.home, `hf-${Math.random().toString(36).slice(2)}.json`);
  const argv = wrap(asWho(who, ["hyperfine", "-N", "--style", "none", "--warmup", "3", "--runs", String(runs), "--export-json", out, command]));
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) return (r.stderr || r.stdout).trim().split("\n").filter(Boolean).slice(-1)[0] ?? `exit ${r.status}`;
  const result = JSON.parse(readFileSync(out, "utf8")).results[0];
  return { wall: result.median * 1000, cpu: (result.user + result.system) * 1000 };
}

/**
 * How much longer `command` takes than `node -e 0`, interleaved: a round runs one of each (the order alternating)
 * and the median of the rounds' differences is the figure. This shared machine has slow phases of minutes; the
 * table's rows, taken minutes apart, put the CLI 10 to 25 ms above `node -e 0` in three runs of one tree.
 */
function overNode(who: Who, command: string): number | string {
  const node = asWho(who, [process.execPath, "-e", "0"]);
  const cli = asWho(who, command.split(" "));
  const time = (argv: string[]): number | string => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: "ignore" });
    return r.status === 0 ? Number(process.hrtime.bigint() - t0) / 1e6 : `exit ${r.status}`;
  };
  const differences: number[] = [];
  for (let round = 0; round < runs + 3; round++) {
    const [first, second] = round % 2 === 0 ? [node, cli] : [cli, node];
    const [a, b] = [time(first), time(second)];
    if (typeof a === "string" || typeof b === "string") return `${command}: ${typeof a === "string" ? a : b}`;
    // The first rounds warm both up.
    if (round >= 3) differences.push(round % 2 === 0 ? b - a : a - b);
  }
  return median(differences);
}

/**
 * The CPU every core spent busy per run of `command` (stats.ts `busyCpuMs`), run one after another by a shell as a
 * script would: its kernel threads' work included (what a namespace's teardown costs after the run), which
 * hyperfine's user+system time of the process leaves out.
 */
function busyPerRun(who: Who, command: string): number | string {
  const n = Math.max(runs, 40);
  const argv = asWho(who, ["sh", "-c", `i=0; while [ $i -lt ${n} ]; do ${command} || exit 1; i=$((i+1)); done`]);
  const before = busyCpuMs();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: "ignore" });
  return r.status === 0 ? (busyCpuMs() - before) / n : `exit ${r.status}`;
}

function prepare(who: Who): { rootfs: string; bundle: string } {
  sh(["mkdir", "-p", join(who.home, "data"), join(who.home, "xdg")]);
  chmodSync(join(who.home, "xdg"), 0o700);
  sh(["chown", "-R", `${who.uid}:${who.gid}`, who.home]);
  // Let tsbox import and unpack its embedded busybox image; reuse that very layer as the peers' rootfs.
  sh(asWho(who, [process.execPath, join(repo, "bin/tsbox.js"), "run", "--rm", "--network", "none", "busybox", "true"]));
  const layers = join(who.home, "data", "layers", "sha256");
  const layer = join(layers, sh(["ls", layers]).trim().split("\n")[0]!);
  const rootfs = join(who.home, "rootfs");
  sh(["cp", "-a", layer, rootfs]);
  const bundle = join(who.home, "bundle");
  sh(["mkdir", "-p", bundle]);
  sh(["chown", "-R", `${who.uid}:${who.gid}`, who.home]);
  peerBundle(who, bundle, rootfs, ["/bin/true"]);
  return { rootfs, bundle };
}

const hideUnifiedCgroup = (argv: string[]) => hideUnified(work, argv);

/**
 * Two tsbox bundles on `rootfs` (overlay with an upper dir of their own, as
 * tsbox runs it), with and without docker's default seccomp filter, and a
 * crun bundle with that same filter. Single-id mapping for the user, like
 * the peers' bundles.
 */
async function prepareSecurity(who: Who, rootfs: string, crunBundle: string): Promise<{ plain: string; filtered: string; auto?: string; crunFiltered: string; bpf: string }> {
  const make = async (name: string, seccomp: "default" | "unconfined", userns?: "auto") => {
    const dir = join(who.home, name);
    const paths = bundlePaths(dir);
    sh(["mkdir", "-p", paths.rootfs, paths.upper, paths.work]);
    const spec = await buildSpec({
      id: `bench${name.replace(/[^a-z]/g, "")}`,
      options: { image: "busybox", cmd: ["/bin/true"], seccomp, ...(userns ? { userns } : {}) },
      image: { config: {} } as ImageConfig,
      layers: [rootfs],
      bundle: paths,
      host: { uid: who.uid, gid: who.gid },
    });
    writeFileSync(paths.config, JSON.stringify(spec));
    sh(["chown", "-R", `${who.uid}:${who.gid}`, dir]);
    return dir;
  };
  const plain = await make("tsbox-plain", "unconfined");
  const filtered = await make("tsbox-seccomp", "default");
  // --userns=auto needs root and the "containers" range in /etc/subuid.
  const auto = who.uid === 0 && /^containers:/m.test(readFileSync("/etc/subuid", "utf8")) ? await make("tsbox-auto", "unconfined", "auto") : undefined;
  // The compiled program, for bwrap --seccomp.
  const bpf = join(who.home, "filter.bpf");
  writeFileSync(bpf, execFileSync(runtimeBinary, ["seccomp", "--bundle", filtered]));
  const crunFiltered = join(who.home, "bundle-seccomp");
  sh(["mkdir", "-p", crunFiltered]);
  const cfg = JSON.parse(readFileSync(join(crunBundle, "config.json"), "utf8"));
  cfg.linux.seccomp = securitySettings({}, { arch: goArch(process.arch), kernel: release() }).seccomp;
  writeFileSync(join(crunFiltered, "config.json"), JSON.stringify(cfg, null, 2));
  sh(["chown", "-R", `${who.uid}:${who.gid}`, crunFiltered, bpf]);
  return { plain, filtered, ...(auto ? { auto } : {}), crunFiltered, bpf };
}

const runtimeBinary = join(repo, "native-rs", "target", "release", "tsbox-runtime");

type Row = { tool: string; root?: number | string; user?: number | string };
const rows: Row[] = [];
const securityRows: Row[] = [];
const securityCpu: Row[] = [];
/** Differences measured interleaved (overNode): in the targets, not in the table of times. */
const margins: Row[] = [];
/** The CPU a run takes on every core (stats.ts `busyCpuMs`): in the targets. */
const cpuPerRun: Row[] = [];
const record = (tool: string, who: Who, value: number | string, table: Row[] = rows) => {
  let row = table.find((r) => r.tool === tool);
  if (!row) table.push((row = { tool }));
  row[who.name] = value;
  process.stderr.write(`  ${tool} as ${who.name}: ${typeof value === "number" ? fmtMs(value) : `n/a (${value})`}\n`);
};

/**
 * tsbox as npm users get it: the packages of scripts/pack.ts installed into
 * a fresh directory (v86 from npm's cache), run through node_modules/.bin.
 */
function installPackage(): string {
  process.stderr.write("packing and installing the npm packages…\n");
  const packages = join(work, "packages");
  execFileSync(process.execPath, ["--import", "tsx", join(repo, "scripts", "pack.ts"), "--out", packages], { stdio: ["ignore", "ignore", "inherit"], cwd: repo });
  const app = join(work, "app");
  sh(["mkdir", "-p", app]);
  // What a registry gives this host (npm refuses another CPU's native package given by name); tsbox's own
  // scope points nowhere, so its other optional packages are skipped without a lookup that could fetch them.
  const wanted = ["tsbox", IMAGES_PACKAGE, nativePackageName()];
  const tarballs = readPacked(packages).filter((p) => wanted.includes(p.name)).map((p) => join(packages, p.file));
  const npmArgs = ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", "--fetch-retries=0", "--@tsbox:registry=http://127.0.0.1:9/"];
  execFileSync("npm", [...npmArgs, ...tarballs], { cwd: app, stdio: ["ignore", "ignore", "inherit"] });
  sh(["chmod", "-R", "a+rX", app]);
  return join(app, "node_modules", ".bin", "tsbox");
}
const installedCli = installPackage();

for (const who of people) {
  process.stderr.write(`preparing as ${who.name}…\n`);
  const { rootfs, bundle } = prepare(who);
  await securityCosts(who, rootfs, bundle);
  if (securityOnly) continue;
  record("unshare -Urpf (floor)", who, hyperfine(who, "unshare -Urpf /bin/true"));
  // The library's paths in one run: through the Runtime's warm helper (the default), the same with every container
  // prepared in full (no plan replayed), and a helper spawned per run.
  for (const [tool, path] of [["tsbox library API", "warm"], ["tsbox library API (no plans)", "unplanned"], ["tsbox library API (spawn)", "spawn"]] as const) {
    const result = runLoop(who, "api-loop.ts", [String(runs), path]);
    record(tool, who, typeof result === "string" ? result : result.medianMs);
    if (typeof result !== "string" && path === "warm") record("tsbox library API, CPU per run (all cores)", who, result.cpuMs, cpuPerRun);
  }
  record("tsbox --help (checkout)", who, hyperfine(who, `${process.execPath} ${join(repo, "bin/tsbox.js")} --help`));
  record("tsbox CLI (checkout)", who, hyperfine(who, `${process.execPath} ${join(repo, "bin/tsbox.js")} run --rm --network none busybox /bin/true`));
  record("tsbox CLI (npm package)", who, hyperfine(who, `${installedCli} run --rm --network none busybox /bin/true`));
  // The same without the run cache (src/cli/run-cache/): each run computes its container, as a first run does.
  const noRunCache = (argv: string[]) => [...argv.slice(0, argv.indexOf("hyperfine")), "TSBOX_RUN_CACHE=0", ...argv.slice(argv.indexOf("hyperfine"))];
  record("tsbox CLI (npm package, no run cache)", who, hyperfine(who, `${installedCli} run --rm --network none busybox /bin/true`, noRunCache));
  record("node -e 0", who, hyperfine(who, `${process.execPath} -e 0`));
  record("tsbox CLI (npm package) over node -e 0, interleaved", who, overNode(who, `${installedCli} run --rm --network none busybox /bin/true`), margins);
  if (have("bwrap")) {
    const bwrap = `bwrap --unshare-all --uid 0 --gid 0 --bind ${rootfs} / --proc /proc --dev /dev /bin/true`;
    record("bwrap", who, hyperfine(who, bwrap));
    record("bwrap, CPU per run (all cores)", who, busyPerRun(who, bwrap), cpuPerRun);
  }
  if (have("crun")) {
    record("crun run", who, hyperfine(who, `crun --root ${join(who.home, "crun")} --cgroup-manager=disabled run --bundle ${bundle} bench-crun-${who.name}`, hideUnifiedCgroup));
  }
  if (have("runc")) {
    const rootless = who.uid === 0 ? "" : "--rootless true ";
    record("runc run", who, hyperfine(who, `runc ${rootless}--root ${join(who.home, "runc")} run --bundle ${bundle} bench-runc-${who.name}`));
  }
  if (have("podman")) {
    const podman = podmanArgv(who);
    record("podman run", who, hyperfine(who, `${podman.join(" ")} run --rm --network none --rootfs ${rootfs} /bin/true`));
    resetPodman(who, podman);
  }
}

/** The security table: each layer of tsbox on and off, and the peers with the same filter. */
async function securityCosts(who: Who, rootfs: string, crunBundle: string): Promise<void> {
  const b = await prepareSecurity(who, rootfs, crunBundle);
  const helper = (seal: string, bundle: string) => `env TSBOX_RUNTIME_SEAL=${seal} ${runtimeBinary} run --bundle ${bundle}`;
  const put = (tool: string, v: { wall: number; cpu: number } | string) => {
    record(tool, who, typeof v === "string" ? v : v.wall, securityRows);
    if (typeof v !== "string") record(tool, who, v.cpu, securityCpu);
  };
  put("tsbox-runtime, no filter, binary as is", hyperfineFull(who, helper("off", b.plain)));
  put("  + seccomp filter", hyperfineFull(who, helper("off", b.filtered)));
  put("  + sealed memfd copy", hyperfineFull(who, helper("memfd", b.plain)));
  if (who.uid === 0) put("  + read-only overlay (root's default)", hyperfineFull(who, helper("overlay", b.plain)));
  if (who.uid === 0) put("  + read-only bind (root)", hyperfineFull(who, helper("bind", b.plain)));
  if (b.auto) put("  + --userns=auto (root)", hyperfineFull(who, helper("off", b.auto)));
  put("  + both (tsbox's default)", hyperfineFull(who, helper("auto", b.filtered)));
  if (have("bwrap")) {
    // Both through sh, which opens the filter's fd for bwrap.
    const bwrap = `bwrap --unshare-all --uid 0 --gid 0 --bind ${rootfs} / --proc /proc --dev /dev`;
    put("bwrap (via sh)", hyperfineFull(who, `sh -c 'exec ${bwrap} /bin/true'`));
    put("  + the same program (--seccomp)", hyperfineFull(who, `sh -c 'exec ${bwrap} --seccomp 9 /bin/true 9< ${b.bpf}'`));
  }
  if (have("crun")) {
    const crun = (bundle: string) => `crun --root ${join(who.home, "crun")} --cgroup-manager=disabled run --bundle ${bundle} bench-crun-sec-${who.name}`;
    put("crun", hyperfineFull(who, crun(crunBundle), hideUnifiedCgroup));
    put("  + the same profile (libseccomp)", hyperfineFull(who, crun(b.crunFiltered), hideUnifiedCgroup));
  }
}

const num = (v: number | string | undefined) => (typeof v === "number" ? v : undefined);
printSecurityTable();
if (securityOnly) process.exit(0);
const floor = rows.find((r) => r.tool.startsWith("unshare"))!;
const pad = (s: string, n: number) => s.padEnd(n);
console.log(`\nstartup: median wall time of /bin/true, ${runs} runs each (ratio to the same user's unshare -Urpf floor; environment cleared, so NODE_EXTRA_CA_CERTS, ~60 ms per Node start here, is unset)\n`);
console.log(`${pad("tool", 26)}${pad("root", 12)}${pad("ratio", 9)}${pad("user", 12)}ratio`);
for (const r of rows) {
  const cell = (v: number | string | undefined) => (typeof v === "string" ? "n/a" : fmtMs(v));
  console.log(
    `${pad(r.tool, 26)}${pad(cell(r.root), 12)}${pad(fmtRatio(num(r.root), num(floor.root)), 9)}${pad(cell(r.user), 12)}${fmtRatio(num(r.user), num(floor.user))}`,
  );
}
/** Each "+" row against the row it extends (the last one without "+"). */
function printSecurityTable(): void {
  const pad = (t: string, n: number) => t.padEnd(n);
  for (const [table, what] of [[securityRows, "median wall time"], [securityCpu, "mean CPU time (user+sys)"]] as const) {
    console.log(`\nsecurity layers: ${what} of /bin/true, ${runs} runs each (ratio to the same tool without the layer)\n`);
    console.log(`${pad("", 42)}${pad("root", 12)}${pad("ratio", 9)}${pad("user", 12)}ratio`);
    let base: Row | undefined;
    for (const r of table) {
      if (!r.tool.startsWith(" ")) base = r;
      const cell = (v: number | string | undefined) => (typeof v === "string" ? "n/a" : fmtMs(v));
      const ratio = (who: "root" | "user") => (r === base ? "" : fmtRatio(num(r[who]), num(base?.[who])));
      console.log(`${pad(r.tool, 42)}${pad(cell(r.root), 12)}${pad(ratio("root"), 9)}${pad(cell(r.user), 12)}${ratio("user")}`);
    }
  }
}

const get = (tool: string, who: "root" | "user") => num(rows.find((r) => r.tool === tool)?.[who]);
console.log("\ntargets:");
for (const who of ["root", "user"] as const) {
  const lib = get("tsbox library API", who);
  const spawned = get("tsbox library API (spawn)", who);
  const cli = get("tsbox CLI (npm package)", who);
  const node = get("node -e 0", who);
  const bwrap = get("bwrap", who);
  const podman = get("podman run", who);
  const f = num(floor[who]);
  if (lib === undefined || f === undefined) continue;
  console.log(`  ${who}: library API (warm helper) ${fmtRatio(lib, f)} of the floor (target <= 1.60x)` + (bwrap ? `, ${fmtRatio(lib, bwrap)} of bwrap (target <= 1.00x)` : ""));
  const libCpu = num(cpuPerRun.find((r) => r.tool.startsWith("tsbox library"))?.[who]);
  const bwrapCpu = num(cpuPerRun.find((r) => r.tool.startsWith("bwrap"))?.[who]);
  if (libCpu !== undefined && bwrapCpu !== undefined) {
    // What bounds a loop of runs on this machine: their CPU spread over its cores.
    const cores = availableParallelism();
    console.log(`  ${who}: CPU per run, every core: library API ${fmtMs(libCpu)}, bwrap ${fmtMs(bwrapCpu)} (${fmtRatio(libCpu, bwrapCpu)}); on ${cores} cores a loop of library runs needs >= ${fmtMs(libCpu / cores)} a run`);
  }
  const unplanned = get("tsbox library API (no plans)", who);
  if (unplanned !== undefined) console.log(`  ${who}: library API without plans ${fmtRatio(unplanned, f)} of the floor` + (bwrap ? `, ${fmtRatio(unplanned, bwrap)} of bwrap; with them ${fmtRatio(lib, unplanned)} of it` : ""));
  if (spawned !== undefined) console.log(`  ${who}: library API (spawn per run) ${fmtRatio(spawned, f)} of the floor` + (bwrap ? `, ${fmtRatio(spawned, bwrap)} of bwrap; the warm helper is ${fmtRatio(lib, spawned)} of it` : ""));
  const over = num(margins.find((r) => r.tool === "tsbox CLI (npm package) over node -e 0, interleaved")?.[who]);
  if (cli !== undefined && node !== undefined) {
    const interleaved = over !== undefined ? `, ${over.toFixed(1)} ms interleaved (target <= 15 ms)` : "";
    console.log(`  ${who}: CLI (npm package) ${(cli - node).toFixed(1)} ms above node -e 0 in the table${interleaved}` + (podman ? `, ${(podman / cli).toFixed(1)}x faster than podman (target >= 3x)` : ""));
  }
  const full = get("tsbox CLI (npm package, no run cache)", who);
  if (full !== undefined && node !== undefined) {
    console.log(`  ${who}: CLI (npm package) without the run cache ${(full - node).toFixed(1)} ms above node -e 0` + (podman ? `, ${(podman / full).toFixed(1)}x faster than podman` : ""));
  }
  const help = get("tsbox --help (checkout)", who);
  if (help !== undefined && node !== undefined) console.log(`  ${who}: tsbox --help ${(help - node).toFixed(1)} ms above node -e 0 (what loading the CLI costs; the run's own work is the rest)`);
}
