/**
 * bench/net: TCP throughput and connection latency, container → host and
 * host → a published port, for tsbox's bridge as root, rootless bridges
 * through pasta and slirp4netns, host networking and the vm backend, beside
 * podman's rootless networking (slirp4netns, its port forwarder), in one run.
 * The vm row reaches the host at 10.0.2.2 through the agent's relay.
 * Everything happens in a network namespace made for the run (the "host":
 * test/helpers/netns.ts), never on this machine's own network. Needs root and
 * `scripts/setup.sh --bench` (podman); missing pieces are reported n/a.
 *
 *   node --import tsx bench/net.ts [--mb 256] [--runs 3] [--conns 50] [--no-vm]
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cliPath } from "../test/helpers/cli.js";
import { ensureUser } from "../test/helpers/identities.js";
import { TestNetns } from "../test/helpers/netns.js";
import { median } from "./lib/stats.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MB = arg("mb", 256);
const RUNS = arg("runs", 3);
const CONNS = arg("conns", 50);
const BYTES = MB * 1024 * 1024;
if (process.getuid!() !== 0) throw new Error("bench/net.ts runs as root (it makes a network namespace and runs as the test users)");

const work = mkdtempSync(join(tmpdir(), "tsbox-bench-net-"));
chmodSync(work, 0o755);
const ns = TestNetns.create();
const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
  ns.destroy();
  rmSync(work, { recursive: true, force: true });
});

interface Who {
  uid: number;
  gid: number;
  home: string;
}
const root: Who = { uid: 0, gid: 0, home: join(work, "root") };
const user: Who = { ...ensureUser("tsbox-test", false), home: join(work, "user") };
for (const w of [root, user]) {
  spawnSync("mkdir", ["-p", w.home]);
  spawnSync("chown", [`${w.uid}:${w.gid}`, w.home]);
}

/** argv run inside the bench namespace as `who`, with a clean environment. */
function inNs(who: Who, argv: string[], env: Record<string, string> = {}): string[] {
  const vars = { PATH: process.env.PATH!, HOME: who.home, TSBOX_DATA_DIR: join(who.home, "data"), ...env };
  return ["nsenter", `--net=${ns.path}`, "-S", String(who.uid), "-G", String(who.gid), "--", "env", "-i", ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), ...argv];
}

function run(argv: string[], timeoutMs = 600_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: timeoutMs, cwd: "/" });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function background(argv: string[]): ChildProcess {
  const c = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], cwd: "/" });
  children.push(c);
  return c;
}

/** A peer (bench/lib/net-peer.ts) in the namespace as root: its JSON lines. */
function peer(args: string[]): { child: ChildProcess; lines: AsyncGenerator<Record<string, number>> } {
  const child = background(inNs(root, [process.execPath, "--import", import.meta.resolve("tsx"), join(repo, "bench/lib/net-peer.ts"), ...args]));
  if (process.env.BENCH_DEBUG) child.stderr!.pipe(process.stderr);
  const queue: Record<string, number>[] = [];
  let wake: (() => void) | undefined;
  let buf = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      queue.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
      wake?.();
    }
  });
  async function* lines() {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      yield queue.shift()!;
    }
  }
  return { child, lines: lines() };
}

async function next(p: ReturnType<typeof peer>, timeoutMs = 120_000): Promise<Record<string, number>> {
  const t = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer from the peer")), timeoutMs));
  return Promise.race([p.lines.next().then((r) => r.value as Record<string, number>), t]);
}

/** How one kind of container is started: a command line prefix that runs IMAGE CMD…. */
interface Mode {
  name: string;
  who: Who;
  /** argv up to the image, for a container whose command follows. */
  run: (extra: string[]) => string[];
  /** The host as the container reaches it, or why it cannot. */
  host: string | { na: string };
  /** Publishes port 80; returns the host port, and a stop. */
  publish: ((cmd: string) => Promise<{ port: number; stop: () => void }>) | { na: string };
}

const tsbox = (who: Who, env: Record<string, string>, flags: string[]) => (extra: string[]) => inNs(who, [process.execPath, cliPath, "run", "--rm", ...flags, ...extra, "busybox"], env);

function tsboxMode(name: string, who: Who, env: Record<string, string>, flags: string[], host: Mode["host"]): Mode {
  let n = 0;
  return {
    name,
    who,
    host,
    run: tsbox(who, env, flags),
    publish: async (cmd) => {
      const cname = `bench-${n++}-${Date.now()}`;
      background(tsbox(who, env, flags)(["--name", cname, "-p", "127.0.0.1::80"]).concat(["sh", "-c", cmd]));
      let port = 0;
      for (let i = 0; i < 600 && !port; i++) {
        const r = run(inNs(who, [process.execPath, cliPath, "port", cname, "80/tcp"], env));
        port = Number(r.stdout.trim().split(":").pop()) || 0;
        if (!port) await new Promise((r) => setTimeout(r, 100));
      }
      if (!port) throw new Error(`${name}: the published port did not appear`);
      return { port, stop: () => void run(inNs(who, [process.execPath, cliPath, "rm", "-f", cname], env)) };
    },
  };
}

/** podman, rootless, with the busybox layer tsbox unpacked as its rootfs. */
function podmanMode(): Mode | undefined {
  if (run(["sh", "-c", "command -v podman"]).code !== 0) return undefined;
  const layers = join(user.home, "data", "layers", "sha256");
  const rootfs = existsSync(layers) ? join(layers, readdirSync(layers)[0]!) : undefined;
  if (!rootfs) return undefined;
  const conf = join(user.home, "containers.conf");
  writeFileSync(conf, '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[containers]\ndefault_ulimits = []\n');
  chmodSync(conf, 0o644);
  const base = ["podman", "--root", join(user.home, "podman"), "--runroot", join(user.home, "podman-run"), "--runtime", "runc"];
  const env = { CONTAINERS_CONF: conf, XDG_RUNTIME_DIR: join(user.home, "xdg") };
  spawnSync("mkdir", ["-p", env.XDG_RUNTIME_DIR]);
  spawnSync("chown", [`${user.uid}:${user.gid}`, env.XDG_RUNTIME_DIR]);
  const net = ["--network", "slirp4netns:allow_host_loopback=true"];
  let n = 0;
  return {
    name: "podman rootless (slirp4netns)",
    who: user,
    host: "10.0.2.2",
    run: (extra) => inNs(user, [...base, "run", "--rm", ...net, ...extra, "--rootfs", rootfs], env),
    publish: async (cmd) => {
      const cname = `bench-${n++}`;
      background(inNs(user, [...base, "run", "--rm", "--name", cname, ...net, "-p", "127.0.0.1::80", "--rootfs", rootfs, "sh", "-c", cmd], env));
      let port = 0;
      for (let i = 0; i < 600 && !port; i++) {
        const r = run(inNs(user, [...base, "port", cname, "80/tcp"], env));
        port = Number(r.stdout.trim().split(":").pop()) || 0;
        if (!port) await new Promise((r) => setTimeout(r, 100));
      }
      if (!port) throw new Error("podman: the published port did not appear");
      return {
        port,
        stop: () => {
          run(inNs(user, [...base, "rm", "-f", cname], env));
        },
      };
    },
  };
}

function cleanupPodman(): void {
  const base = ["podman", "--root", join(user.home, "podman"), "--runroot", join(user.home, "podman-run")];
  run(inNs(user, [...base, "system", "reset", "--force"], { CONTAINERS_CONF: join(user.home, "containers.conf"), XDG_RUNTIME_DIR: join(user.home, "xdg") }));
  const pause = join(user.home, "xdg", "libpod", "tmp", "pause.pid");
  if (existsSync(pause)) spawnSync("kill", [readFileSync(pause, "utf8").trim()]);
}

interface Result {
  /** Median wall time of `run --rm … true` with this network (after one warm-up run). */
  startMs: number | string;
  toHostMbps: number | string;
  toHostConnMs: number | string;
  publishedMbps: number | string;
  publishedConnMs: number | string;
}

const SERVE_BIG = `mkdir -p /www && head -c ${BYTES} /dev/zero > /www/big && echo ok > /www/index.html && exec httpd -f -p 80 -h /www`;

async function measure(mode: Mode, sink: ReturnType<typeof peer>, sinkPort: number, httpPort: number): Promise<Result> {
  const r: Result = { startMs: "", toHostMbps: "", toHostConnMs: "", publishedMbps: "", publishedConnMs: "" };
  process.stderr.write(`${mode.name}…\n`);
  const starts: number[] = [];
  for (let i = 0; i <= Math.max(5, RUNS * 3); i++) {
    const t0 = performance.now();
    const c = run(mode.run([]).concat(["true"]));
    if (c.code !== 0) throw new Error(`${mode.name}: run true exited ${c.code} (${c.stderr.trim()})`);
    if (i > 0) starts.push(performance.now() - t0);
  }
  r.startMs = median(starts);
  if (typeof mode.host === "string") {
    const rates: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const c = run(mode.run([]).concat(["sh", "-c", `head -c ${BYTES} /dev/zero | nc ${mode.host} ${sinkPort}`]));
      const got = await next(sink).catch(() => undefined);
      if (process.env.BENCH_DEBUG) process.stderr.write(`container: ${c.code} ${c.stderr} sink: ${JSON.stringify(got)}\n`);
      if (!got?.mbps) throw new Error(`${mode.name}: no transfer (${c.stderr.trim()})`);
      rates.push(got.mbps);
    }
    r.toHostMbps = median(rates);
    // Wall time of CONNS wget runs inside, each a new connection (fork+exec of wget included, as for every mode).
    const loop = run(mode.run([]).concat(["sh", "-c", `time sh -c 'for i in $(seq ${CONNS}); do wget -q -O /dev/null http://${mode.host}:${httpPort}/ || exit 1; done'`]));
    const real = /real\s+(?:(\d+)m\s*)?([\d.]+)s/.exec(loop.stderr);
    r.toHostConnMs = real ? ((Number(real[1] ?? 0) * 60 + Number(real[2])) * 1000) / CONNS : `failed: ${loop.stderr.trim().split("\n").pop()}`;
  } else {
    r.toHostMbps = r.toHostConnMs = mode.host.na;
  }
  if (typeof mode.publish === "function") {
    const server = await mode.publish(SERVE_BIG);
    if (process.env.BENCH_DEBUG) process.stderr.write(`published on ${server.port}\n`);
    try {
      const rates: number[] = [];
      // The file is written before httpd starts: wait until it answers.
      for (let i = 0; i < 600; i++) {
        const ping = peer(["connect", "127.0.0.1", String(server.port), "1"]);
        const got = await next(ping);
        if (process.env.BENCH_DEBUG) process.stderr.write(`ping: ${JSON.stringify(got)}\n`);
        ping.child.kill();
        if (got.ok) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      for (let i = 0; i < RUNS; i++) {
        const f = peer(["fetch", `http://127.0.0.1:${server.port}/big`, String(BYTES)]);
        const got = await next(f);
        if (process.env.BENCH_DEBUG) process.stderr.write(`fetch: ${JSON.stringify(got)}\n`);
        f.child.kill();
        if (got.mbps) rates.push(got.mbps);
      }
      r.publishedMbps = rates.length ? median(rates) : "failed";
      const lat = peer(["connect", "127.0.0.1", String(server.port), String(CONNS)]);
      const got = await next(lat);
      lat.child.kill();
      r.publishedConnMs = got.ms ?? "failed";
    } finally {
      server.stop();
    }
  } else {
    r.publishedMbps = r.publishedConnMs = mode.publish.na;
  }
  return r;
}

// The busybox image in both data dirs (the vm backend's own linux/386 store fills on its first run).
for (const w of [root, user]) run(inNs(w, [process.execPath, cliPath, "run", "--rm", "--network", "none", "busybox", "true"]));

const modes: Mode[] = [
  tsboxMode("tsbox bridge, root", root, { TSBOX_NETWORK: "bridge" }, [], "10.88.0.1"),
  tsboxMode("tsbox rootless, pasta", user, { TSBOX_NETWORK: "bridge", TSBOX_ROOTLESS_NETWORK: "pasta" }, [], "10.0.2.2"),
  tsboxMode("tsbox rootless, slirp4netns", user, { TSBOX_NETWORK: "bridge", TSBOX_ROOTLESS_NETWORK: "slirp4netns" }, [], "10.0.2.2"),
  { ...tsboxMode("tsbox --network host, root", root, {}, ["--network", "host"], "127.0.0.1"), publish: { na: "no ports to publish (the host's own)" } },
];
if (!process.argv.includes("--no-vm")) {
  modes.push({ ...tsboxMode("tsbox vm backend", root, { TSBOX_NETWORK: "bridge" }, ["--backend", "vm"], "10.0.2.2") });
}
const podman = podmanMode();

const sink = peer(["sink", "0", String(BYTES)]);
const sinkPort = (await next(sink)).port!;
const http = peer(["http", "0"]);
const httpPort = (await next(http)).port!;

const results: [string, Result][] = [];
for (const mode of [...modes, ...(podman ? [podman] : [])]) {
  try {
    results.push([mode.name, await measure(mode, sink, sinkPort, httpPort)]);
  } catch (err) {
    const msg = `failed: ${(err as Error).message}`;
    results.push([mode.name, { startMs: msg, toHostMbps: msg, toHostConnMs: msg, publishedMbps: msg, publishedConnMs: msg }]);
  }
}
if (podman) cleanupPodman();
else results.push(["podman rootless", { startMs: "n/a (podman not installed)", toHostMbps: "", toHostConnMs: "", publishedMbps: "", publishedConnMs: "" }]);

const show = (v: number | string, unit: string) => (typeof v === "number" ? `${v.toFixed(unit === "ms" ? 2 : 0)} ${unit}` : v);
console.log(`\nbench/net: ${MB} MiB per transfer (median of ${RUNS}), ${CONNS} connections for latency, in a network namespace of its own`);
console.log("| | start (`run --rm … true`) | container → host | connection (wget, in the container) | host → published port | connection (host client) |");
console.log("|---|---|---|---|---|---|");
for (const [name, r] of results) {
  console.log(`| ${name} | ${show(r.startMs, "ms")} | ${show(r.toHostMbps, "Mbit/s")} | ${show(r.toHostConnMs, "ms")} | ${show(r.publishedMbps, "Mbit/s")} | ${show(r.publishedConnMs, "ms")} |`);
}
const get = (name: string) => results.find(([n]) => n === name)?.[1];
const pod = get("podman rootless (slirp4netns)");
for (const name of ["tsbox rootless, pasta", "tsbox rootless, slirp4netns", "tsbox vm backend"]) {
  const r = get(name);
  if (!r || !pod) continue;
  const ratio = (a: number | string, b: number | string) => (typeof a === "number" && typeof b === "number" ? `${(a / b).toFixed(2)}x` : "n/a");
  // The vm row has no target: every byte crosses the emulated guest and its console link.
  const target = name.includes("vm") ? "" : " (target >= 1.00x)";
  console.log(`${name} / podman: container → host ${ratio(r.toHostMbps, pod.toHostMbps)}, host → published port ${ratio(r.publishedMbps, pod.publishedMbps)}${target}; start ${ratio(pod.startMs, r.startMs)} faster`);
}
process.exit(0);
