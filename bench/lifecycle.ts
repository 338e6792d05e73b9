/**
 * bench/lifecycle: median wall time of each everyday lifecycle operation on
 * a detached container — `run -d`, `exec true`, `logs`, `stats --no-stream`,
 * `stop`, `rm` — with the tsbox CLI, podman, and crun/runc where they have
 * the operation (they keep no logs and have no `stop`: their `kill TERM` +
 * waiting for the stop stands in), in one run, as ratios to tsbox. The
 * container runs `sh` that exits on SIGTERM, so `stop` measures the
 * round trip, not a timeout. As root (and `--user`: also as tsbox-test).
 * Each operation's row ends with its target (issue 10: at least 3x faster
 * than podman) and whether this run met it. Then the library's `exec`
 * (bench/lib/exec-loop.ts), through the warm helper and spawning a helper. Every command runs with a
 * cleared environment (bench/lib/peers.ts `asWho`: `env -i`), so a
 * NODE_EXTRA_CA_CERTS of the caller (~60 ms per Node start here) does not
 * count. Needs `scripts/setup.sh --bench`.
 *
 *   node --import tsx bench/lifecycle.ts [--runs N] [--user]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { asWho, benchPeople, benchWorkDir, have, hideUnifiedCgroup, peerBundle, podmanArgv, resetPodman, type Who } from "./lib/peers.js";
import { fmtMs, median } from "./lib/stats.js";
import { runLoop } from "./lib/loop.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const arg = (name: string) => process.argv.indexOf(name);
const runs = arg("--runs") > 0 ? Number(process.argv[arg("--runs") + 1]) : 10;
const OPS = ["run -d", "exec true", "logs", "stats --no-stream", "stop", "rm"] as const;
type Op = (typeof OPS)[number];
/** Exits on TERM at once (PID 1 ignores signals it has no handler for). */
const WORKLOAD = ["sh", "-c", "trap 'exit 0' TERM; echo started; sleep 600 & wait"];

const work = benchWorkDir();
const people = benchPeople(work, arg("--user") > 0);

/** Runs a command line as `who`; its wall time in ms, or throws with its stderr. */
/**
 * `detached`: the command leaves a container running on the descriptors it was
 * given (`runc run -d` without a terminal): they get /dev/null, else waiting for
 * the pipes' end would wait for the container.
 */
function timed(who: Who, argv: string[], detached = false): number {
  const full = asWho(who, argv);
  const t0 = performance.now();
  const r = spawnSync(full[0]!, full.slice(1), { encoding: "utf8", ...(detached ? { stdio: "ignore" as const } : {}) });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: exit ${r.status}: ${(r.stderr || r.stdout || "(its output was not kept)").trim().split("\n").pop()}`);
  return ms;
}

/** One tool: how it does each operation on container `name` (undefined: it has no such operation). */
interface Tool {
  name: string;
  ops: Partial<Record<Op, (name: string) => number>>;
  cleanup?: () => void;
}

function tsboxTool(who: Who): Tool {
  const tsbox = (...a: string[]) => [process.execPath, join(repo, "bin/tsbox.js"), ...a];
  return {
    name: "tsbox",
    ops: {
      "run -d": (n) => timed(who, tsbox("run", "-d", "--name", n, "busybox", ...WORKLOAD)),
      "exec true": (n) => timed(who, tsbox("exec", n, "true")),
      logs: (n) => timed(who, tsbox("logs", n)),
      "stats --no-stream": (n) => timed(who, tsbox("stats", "--no-stream", n)),
      stop: (n) => timed(who, tsbox("stop", n)),
      rm: (n) => timed(who, tsbox("rm", n)),
    },
  };
}

function podmanTool(who: Who, rootfs: string): Tool {
  const base = podmanArgv(who);
  const podman = (...a: string[]) => [...base, ...a];
  return {
    name: "podman",
    ops: {
      "run -d": (n) => timed(who, podman("run", "-d", "--name", n, "--network", "none", "--rootfs", rootfs, ...WORKLOAD)),
      "exec true": (n) => timed(who, podman("exec", n, "true")),
      logs: (n) => timed(who, podman("logs", n)),
      "stats --no-stream": (n) => timed(who, podman("stats", "--no-stream", n)),
      stop: (n) => timed(who, podman("stop", n)),
      rm: (n) => timed(who, podman("rm", n)),
    },
    cleanup: () => resetPodman(who, base),
  };
}


/** runc or crun on an OCI bundle per container: run -d, exec, events --stats, kill TERM + wait, delete. */
function ociTool(who: Who, binary: "runc" | "crun", rootfs: string): Tool {
  const state = join(who.home, `${binary}-state`);
  const base = binary === "crun" ? [binary, "--root", state, "--cgroup-manager=disabled"] : [binary, ...(who.uid === 0 ? [] : ["--rootless", "true"]), "--root", state];
  const wrap = (argv: string[]) => (binary === "crun" ? hideUnifiedCgroup(work, argv) : argv);
  const bundleFor = (n: string) => {
    const bundle = join(who.home, "bundles", n);
    peerBundle(who, bundle, rootfs, WORKLOAD);
    return bundle;
  };
  const stopped = (n: string) => {
    const argv = asWho(who, wrap([...base, "state", n]));
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    return r.status !== 0 || JSON.parse(r.stdout).status === "stopped";
  };
  return {
    name: binary,
    ops: {
      "run -d": (n) => {
        const bundle = bundleFor(n);
        return timed(who, wrap([...base, "run", "-d", "--bundle", bundle, n]), true);
      },
      "exec true": (n) => timed(who, wrap([...base, "exec", n, "/bin/true"])),
      ...(binary === "runc" ? { "stats --no-stream": (n: string) => timed(who, wrap([...base, "events", "--stats", n])) } : {}),
      stop: (n) => {
        const t0 = performance.now();
        timed(who, wrap([...base, "kill", n, "TERM"]));
        while (!stopped(n)) spawnSync("sleep", ["0.001"]);
        return performance.now() - t0;
      },
      rm: (n) => timed(who, wrap([...base, "delete", n])),
    },
  };
}

function prepare(who: Who): string {
  mkdirSync(join(who.home, "data"), { recursive: true });
  mkdirSync(join(who.home, "xdg"), { recursive: true, mode: 0o700 });
  spawnSync("chown", ["-R", `${who.uid}:${who.gid}`, who.home]);
  // tsbox imports its busybox image; its unpacked layer is the peers' rootfs.
  timed(who, [process.execPath, join(repo, "bin/tsbox.js"), "run", "--rm", "busybox", "true"]);
  const layers = join(who.home, "data", "layers", "sha256");
  const first = spawnSync("ls", [layers], { encoding: "utf8" }).stdout.trim().split("\n")[0]!;
  const rootfs = join(who.home, "rootfs");
  spawnSync("cp", ["-a", join(layers, first), rootfs]);
  spawnSync("chown", ["-R", `${who.uid}:${who.gid}`, who.home]);
  return rootfs;
}

const results: { who: string; tool: string; op: Op; ms: number | string }[] = [];
for (const who of people) {
  process.stderr.write(`preparing as ${who.name}…\n`);
  const rootfs = prepare(who);
  const tools = [tsboxTool(who), ...(have("podman") ? [podmanTool(who, rootfs)] : []), ...(have("runc") ? [ociTool(who, "runc", rootfs)] : []), ...(have("crun") ? [ociTool(who, "crun", rootfs)] : [])];
  for (const tool of tools) {
    const times = new Map<Op, number[]>();
    const failed = new Map<Op, string>();
    // One warm-up container, then `runs` measured ones, each through every operation in order.
    for (let i = -1; i < runs; i++) {
      const name = `bench-${tool.name}-${who.name}-${i + 1}`;
      for (const op of OPS) {
        const run = tool.ops[op];
        if (!run || failed.has(op)) continue;
        try {
          const ms = run(name);
          if (i >= 0) times.set(op, [...(times.get(op) ?? []), ms]);
        } catch (err) {
          failed.set(op, (err as Error).message);
          if (op === "run -d") break;
        }
      }
    }
    tool.cleanup?.();
    for (const op of OPS) {
      const ms = times.get(op);
      const value = ms && ms.length > 0 ? median(ms) : failed.get(op) ?? (tool.ops[op] ? "failed" : "no such operation");
      results.push({ who: who.name, tool: tool.name, op, ms: value });
      process.stderr.write(`  ${who.name} ${tool.name} ${op}: ${typeof value === "number" ? fmtMs(value) : `n/a (${value})`}\n`);
    }
  }
}

const toolNames = [...new Set(results.map((r) => r.tool))];
const TARGET = 3;
console.log(`\nlifecycle: median wall time per operation on a detached container, ${runs} runs (ratio: that tool's time / tsbox's; environment cleared, NODE_EXTRA_CA_CERTS unset)\n`);
for (const who of people) {
  console.log(`as ${who.name}`);
  console.log(["operation".padEnd(20), ...toolNames.map((t) => t.padEnd(22)), `target: podman/tsbox >= ${TARGET}x`].join(""));
  for (const op of OPS) {
    const base = results.find((r) => r.who === who.name && r.tool === "tsbox" && r.op === op)?.ms;
    const cells = toolNames.map((t) => {
      const v = results.find((r) => r.who === who.name && r.tool === t && r.op === op)?.ms;
      if (typeof v !== "number") return "n/a".padEnd(22);
      const ratio = typeof base === "number" && t !== "tsbox" ? ` (${(v / base).toFixed(1)}x)` : "";
      return `${fmtMs(v)}${ratio}`.padEnd(22);
    });
    const podman = results.find((r) => r.who === who.name && r.tool === "podman" && r.op === op)?.ms;
    const target = typeof base === "number" && typeof podman === "number" ? `${(podman / base).toFixed(2)}x ${podman / base >= TARGET ? "met" : "NOT met"}` : "n/a";
    console.log([op.padEnd(20), ...cells, target].join(""));
  }
  const podmanRatios = OPS.map((op) => {
    const t = results.find((r) => r.who === who.name && r.tool === "tsbox" && r.op === op)?.ms;
    const p = results.find((r) => r.who === who.name && r.tool === "podman" && r.op === op)?.ms;
    return typeof t === "number" && typeof p === "number" ? `${op} ${(p / t).toFixed(1)}x` : `${op} n/a`;
  });
  console.log(`target: every operation >= ${TARGET}x faster than podman: ${podmanRatios.join(", ")}\n`);
}
// The library's exec (bench/lib/exec-loop.ts): `exec(["/bin/true"])` into one running container from a warm Node
// process, through the Runtime's warm helper and, the path before it, a `tsbox-runtime exec` spawned per exec.
for (const who of people) {
  const loop = (path: string): number | string => {
    const r = runLoop(who, "exec-loop.ts", [String(Math.max(runs, 40)), path]);
    return typeof r === "string" ? r : r.medianMs;
  };
  const [warm, spawned] = [loop("warm"), loop("spawn")];
  const cell = (v: number | string) => (typeof v === "number" ? fmtMs(v) : `n/a (${v})`);
  const ratio = typeof warm === "number" && typeof spawned === "number" ? ` (${(warm / spawned).toFixed(2)}x)` : "";
  console.log(`library API, exec true into a running container, as ${who.name}: ${cell(warm)} through the warm helper${ratio}, ${cell(spawned)} spawning a helper per exec`);
}
const notes = results.filter((r) => typeof r.ms === "string" && r.ms !== "no such operation");
for (const n of notes) console.log(`n/a ${n.who} ${n.tool} ${n.op}: ${n.ms}`);
