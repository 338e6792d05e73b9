/**
 * bench/startup: median time to run `/bin/true` in the same busybox rootfs with
 * tsbox (library API in a warm Node process, and the CLI) and with the tools
 * people use today (crun, runc, bwrap, podman), plus `unshare -Urpf`, the
 * floor. Each tool runs as root and as an unprivileged user where it can;
 * ratios are to the floor of the same user. Needs `scripts/setup.sh --bench`.
 *
 *   node --import tsx bench/startup.ts [--runs N]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fmtMs, fmtRatio } from "./lib/stats.js";
import { ensureUser } from "../test/helpers/identities.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 40;
const isRoot = process.getuid!() === 0;

interface Who {
  name: "root" | "user";
  uid: number;
  gid: number;
  home: string;
}

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

const work = mkdtempSync(join(tmpdir(), "tsbox-bench-"));
chmodSync(work, 0o755);
process.on("exit", () => {
  // Anything a peer tool left mounted under the work dir goes first (root only).
  if (isRoot) {
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "");
    for (const m of mounts.filter((m) => m.startsWith(work)).reverse()) spawnSync("umount", ["-l", m]);
  }
  rmSync(work, { recursive: true, force: true });
});

const people: Who[] = [];
if (isRoot) people.push({ name: "root", uid: 0, gid: 0, home: join(work, "root") });
const user = isRoot ? ensureUser("tsbox-test", false) : { uid: process.getuid!(), gid: process.getgid!() };
people.push({ name: "user", ...user, home: join(work, "user") });

/** argv prefix that runs a command as `who` with a clean, predictable env. */
function asWho(who: Who, argv: string[]): string[] {
  // --network none like the peers' configs (an empty network namespace); bench/net.ts times networks.
  const env = ["env", "-i", `PATH=${process.env.PATH}`, `HOME=${who.home}`, `TSBOX_DATA_DIR=${join(who.home, "data")}`, "TSBOX_NETWORK=none"];
  if (!isRoot || who.uid === 0) return [...env, ...argv];
  return ["setpriv", `--reuid=${who.uid}`, `--regid=${who.gid}`, "--init-groups", "--", ...env, ...argv];
}

function sh(argv: string[], opts: { input?: string } = {}): string {
  return execFileSync(argv[0]!, argv.slice(1), { input: opts.input, stdio: ["pipe", "pipe", "pipe"] }).toString();
}

/** hyperfine -N (no shell) median in ms, or a reason it could not run. */
function hyperfine(who: Who, command: string, wrap: (argv: string[]) => string[] = (a) => a): number | string {
  const out = join(who.home, `hf-${Math.random().toString(36).slice(2)}.json`);
  const argv = wrap(asWho(who, ["hyperfine", "-N", "--style", "none", "--warmup", "3", "--runs", String(runs), "--export-json", out, command]));
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) return (r.stderr || r.stdout).trim().split("\n").filter(Boolean).slice(-1)[0] ?? `exit ${r.status}`;
  const result = JSON.parse(readFileSync(out, "utf8")).results[0];
  return result.median * 1000;
}

function prepare(who: Who): { rootfs: string; bundle: string } {
  sh(["mkdir", "-p", join(who.home, "data"), join(who.home, "xdg")]);
  chmodSync(join(who.home, "xdg"), 0o700);
  sh(["chown", "-R", `${who.uid}:${who.gid}`, who.home]);
  // Let tsbox import and unpack its embedded busybox image; reuse that very layer as the peers' rootfs.
  sh(asWho(who, [process.execPath, join(repo, "bin/tsbox.js"), "run", "--rm", "busybox", "true"]));
  const layers = join(who.home, "data", "layers", "sha256");
  const layer = join(layers, sh(["ls", layers]).trim().split("\n")[0]!);
  const rootfs = join(who.home, "rootfs");
  sh(["cp", "-a", layer, rootfs]);
  const bundle = join(who.home, "bundle");
  sh(["mkdir", "-p", bundle]);
  sh(["chown", "-R", `${who.uid}:${who.gid}`, who.home]);
  // A peer runtime's OCI config: same namespaces as tsbox (user, pid, mount, uts, ipc, network, cgroup).
  sh(asWho(who, ["sh", "-c", `cd ${bundle} && crun spec ${who.uid === 0 ? "" : "--rootless"}`]));
  const cfg = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
  cfg.root = { path: rootfs, readonly: false };
  cfg.process.args = ["/bin/true"];
  cfg.process.terminal = false;
  const ns: { type: string }[] = cfg.linux.namespaces;
  for (const type of ["user", "cgroup", "network"]) if (!ns.some((n) => n.type === type)) ns.push({ type });
  const size = who.uid === 0 ? 65536 : 1;
  cfg.linux.uidMappings = [{ containerID: 0, hostID: who.uid, size }];
  cfg.linux.gidMappings = [{ containerID: 0, hostID: who.gid, size }];
  cfg.mounts = cfg.mounts.filter((m: { destination: string }) => m.destination !== "/sys/fs/cgroup");
  writeFileSync(join(bundle, "config.json"), JSON.stringify(cfg, null, 2));
  sh(["chown", "-R", `${who.uid}:${who.gid}`, bundle]);
  return { rootfs, bundle };
}

/** crun refuses a hybrid cgroup host unless the unified hierarchy's controllers file looks empty. */
function hideUnifiedCgroup(argv: string[]): string[] {
  const ctl = "/sys/fs/cgroup/unified/cgroup.controllers";
  if (!isRoot || !existsSync(ctl)) return argv;
  const empty = join(work, "empty");
  writeFileSync(empty, "");
  return ["unshare", "-m", "--propagation", "private", "sh", "-c", `mount --bind ${empty} ${ctl} && exec "$@"`, "sh", ...argv];
}

type Row = { tool: string; root?: number | string; user?: number | string };
const rows: Row[] = [];
const record = (tool: string, who: Who, value: number | string) => {
  let row = rows.find((r) => r.tool === tool);
  if (!row) rows.push((row = { tool }));
  row[who.name] = value;
  process.stderr.write(`  ${tool} as ${who.name}: ${typeof value === "number" ? fmtMs(value) : `n/a (${value})`}\n`);
};

for (const who of people) {
  process.stderr.write(`preparing as ${who.name}…\n`);
  const { rootfs, bundle } = prepare(who);
  record("unshare -Urpf (floor)", who, hyperfine(who, "unshare -Urpf /bin/true"));
  const apiArgv = asWho(who, [process.execPath, "--import", "tsx", join(repo, "bench/lib/api-loop.ts"), String(runs)]);
  const api = spawnSync(apiArgv[0]!, apiArgv.slice(1), { encoding: "utf8", cwd: repo });
  record("tsbox library API", who, api.status === 0 ? JSON.parse(api.stdout).medianMs : api.stderr.trim().split("\n").pop()!);
  record("tsbox CLI", who, hyperfine(who, `${process.execPath} ${join(repo, "bin/tsbox.js")} run --rm busybox /bin/true`));
  record("node -e 0", who, hyperfine(who, `${process.execPath} -e 0`));
  if (have("bwrap")) {
    record("bwrap", who, hyperfine(who, `bwrap --unshare-all --uid 0 --gid 0 --bind ${rootfs} / --proc /proc --dev /dev /bin/true`));
  }
  if (have("crun")) {
    record("crun run", who, hyperfine(who, `crun --root ${join(who.home, "crun")} --cgroup-manager=disabled run --bundle ${bundle} bench-crun-${who.name}`, hideUnifiedCgroup));
  }
  if (have("runc")) {
    const rootless = who.uid === 0 ? "" : "--rootless true ";
    record("runc run", who, hyperfine(who, `runc ${rootless}--root ${join(who.home, "runc")} run --bundle ${bundle} bench-runc-${who.name}`));
  }
  if (have("podman")) {
    // cgroupfs + file events: no systemd here; runc: podman's default crun refuses this hybrid cgroup host.
    const conf = join(who.home, "containers.conf");
    writeFileSync(conf, '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[containers]\ndefault_ulimits = []\n');
    chmodSync(conf, 0o644);
    const podman = `env CONTAINERS_CONF=${conf} XDG_RUNTIME_DIR=${join(who.home, "xdg")} podman --root ${join(who.home, "podman")} --runroot ${join(who.home, "podman-run")} --runtime runc`;
    record("podman run", who, hyperfine(who, `${podman} run --rm --network none --rootfs ${rootfs} /bin/true`));
    // podman's overlay driver leaves its storage dir mounted: reset it so nothing outlives the bench.
    spawnSync("sh", ["-c", asWho(who, [`${podman} system reset --force`]).join(" ")], { stdio: "ignore" });
    // Rootless podman keeps a "pause" process holding its user namespace: end it too.
    const pausePid = join(who.home, "xdg", "libpod", "tmp", "pause.pid");
    if (existsSync(pausePid)) spawnSync("kill", [readFileSync(pausePid, "utf8").trim()]);
  }
}

const num = (v: number | string | undefined) => (typeof v === "number" ? v : undefined);
const floor = rows.find((r) => r.tool.startsWith("unshare"))!;
const pad = (s: string, n: number) => s.padEnd(n);
console.log(`\nstartup: median wall time of /bin/true, ${runs} runs each (ratio to the same user's unshare -Urpf floor)\n`);
console.log(`${pad("tool", 24)}${pad("root", 12)}${pad("ratio", 9)}${pad("user", 12)}ratio`);
for (const r of rows) {
  const cell = (v: number | string | undefined) => (typeof v === "string" ? "n/a" : fmtMs(v));
  console.log(
    `${pad(r.tool, 24)}${pad(cell(r.root), 12)}${pad(fmtRatio(num(r.root), num(floor.root)), 9)}${pad(cell(r.user), 12)}${fmtRatio(num(r.user), num(floor.user))}`,
  );
}
const get = (tool: string, who: "root" | "user") => num(rows.find((r) => r.tool === tool)?.[who]);
console.log("\ntargets:");
for (const who of ["root", "user"] as const) {
  const lib = get("tsbox library API", who);
  const cli = get("tsbox CLI", who);
  const node = get("node -e 0", who);
  const bwrap = get("bwrap", who);
  const podman = get("podman run", who);
  const f = num(floor[who]);
  if (lib === undefined || f === undefined) continue;
  console.log(`  ${who}: library API ${fmtRatio(lib, f)} of the floor (target <= 1.60x)` + (bwrap ? `, ${fmtRatio(lib, bwrap)} of bwrap (target <= 1.00x)` : ""));
  if (cli !== undefined && node !== undefined) {
    console.log(`  ${who}: CLI ${(cli - node).toFixed(1)} ms above node -e 0 (target <= 15 ms)` + (podman ? `, ${(podman / cli).toFixed(1)}x faster than podman (target >= 2.5x)` : ""));
  }
}
