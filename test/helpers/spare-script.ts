/**
 * Spare containers of the warm helper (src/containers/spare.ts) seen from a Runtime in this process, run as
 * the identity under test (spares on: the suites' environment turns them off, TSBOX_SPARE=0):
 *   node --import tsx test/helpers/spare-script.ts takes|kinds|close|dropped|owner [USER]
 * Each prints one JSON object of results; `owner` prints the pids and the spare's id once its spare is set up,
 * then waits to be killed.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Runtime } from "../../src/index.js";
import { NativeBackend } from "../../src/backends/native/native-backend.js";

const dataDir = process.env.TSBOX_DATA_DIR!;
const containers = join(dataDir, "containers");
const backend = new NativeBackend({ spare: true });
const rt = new Runtime({ backend });
const results: Record<string, unknown> = {};
const until = async (what: () => boolean) => {
  for (let i = 0; i < 250 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
  return what();
};
/** Bundles with no state.json: spares (a run's bundle has its state before it starts). */
const spares = () => readdirSync(containers).filter((e) => /^[0-9a-f]{64}$/.test(e) && !existsSync(join(containers, e, "state.json")));
const seen = new Set<string>();
/** The next spare: one not seen before (a dropped one may still be going). */
const spareReady = async () => {
  const fresh = () => spares().filter((s) => !seen.has(s));
  await until(() => fresh().length === 1);
  const spare = fresh()[0];
  if (spare) seen.add(spare);
  return spare;
};
const events = (id: string) =>
  readFileSync(join(dataDir, "events.log"), "utf8")
    .split("\n")
    .filter((l) => l.includes(id))
    .map((l) => (JSON.parse(l) as { Action: string }).Action);
const children = (pid: number) => {
  const out: number[] = [];
  for (const p of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1]) === pid) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
};
/** The helper's children that are spares' supervisors (its others: --rm runs' removers, which it reaps). */
const spareSupervisors = (helper: number) =>
  children(helper).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, "utf8").trim() === "tsbox-spare";
    } catch {
      return false;
    }
  });
const base = { image: "busybox", remove: true, network: "none" } as const;
/** The user of the observed runs (argv[3]): one the identity's id maps hold. */
const user = process.argv[3] ?? "65534";
/** Now, and a process's start, in clock ticks since boot (/proc/uptime, /proc/PID/stat): when its PID 1 was cloned. */
const ticksNow = () => Math.floor(Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]) * 100);
const startTicks = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]);
/** A run that waits for a line: what a user sees of it while it runs (inspect, ps), then its end. */
const observed = async (runtime: Runtime, extra: Record<string, unknown>) => {
  // A spare's PID 1 was cloned well before the run asked for it; a container made for the run, after.
  await new Promise((r) => setTimeout(r, 300));
  const asked = ticksNow();
  const c = await runtime.run({ ...base, cmd: ["sh", "-c", "read x; echo $FOO $x; pwd; id -u; grep -E '^(Seccomp|NoNewPrivs|CapEff|CapBnd):' /proc/self/status; exit 3"], env: ["FOO=foo"], workdir: "/work", user, stdin: true, ...extra });
  const clonedBefore = startTicks(c.pid) < asked;
  const info = await c.inspect();
  const listed = (await runtime.list({ all: true })).map((x) => x.id).includes(c.id);
  c.stdin!.end("line\n");
  const output = await c.output();
  const kept = {
    Path: info.Path,
    Args: info.Args,
    Status: info.State.Status,
    Env: info.Config.Env.filter((e: string) => !e.startsWith("HOSTNAME=")),
    WorkingDir: info.Config.WorkingDir,
    User: info.Config.User,
    AutoRemove: info.HostConfig.AutoRemove,
    NetworkMode: info.HostConfig.NetworkMode,
  };
  const gone = await until(() => !existsSync(join(containers, c.id)));
  return { id: c.id, name: c.name, clonedBefore, output, info: kept, listed, gone, nameFreed: !existsSync(join(dataDir, "names", c.name ?? "-")), events: events(c.id) };
};

switch (process.argv[2]) {
  case "takes": {
    // The first run leaves a spare of its kind; the next run of that kind is that spare, with its own process.
    const first = await rt.run({ ...base, cmd: ["true"] });
    results.firstExit = (await first.wait()).exitCode;
    const spare = await spareReady();
    results.spareBeforeSecond = spare !== undefined;
    // Invisible until taken: no list entry, no lookup by its id, no name.
    results.spareListed = (await rt.list({ all: true })).some((c) => c.id === spare);
    results.spareFound = await rt.get(spare!).then(() => true, () => false);
    const taken = await observed(rt, {});
    results.tookSpare = taken.id === spare;
    results.taken = taken;
    // Our stderr handed to a spare's process of another user than the spare's, which opens /dev/stderr again as
    // docker's processes can (relay.rs; no capabilities, which would open anything: a spare of that kind first).
    const noCaps = { ...base, capDrop: ["ALL"] };
    await (await rt.run({ ...noCaps, cmd: ["true"] })).wait();
    const next = await spareReady();
    const inherit = await rt.run({ ...noCaps, cmd: ["sh", "-c", "echo to-stderr > /dev/stderr"], user, stderr: "inherit" });
    results.inheritTook = inherit.id === next;
    results.inheritExit = (await inherit.wait()).exitCode;
    // The same run with no spare anywhere: what it shows must be the same.
    const plain = new Runtime({ backend: new NativeBackend({ spare: false }) });
    results.plain = await observed(plain, {});
    await plain.close();
    await rt.close();
    results.sparesAfterClose = spares();
    break;
  }
  case "kinds": {
    // A spare of one kind; a run of another kind does not take it, works, and leaves a spare of its own kind.
    await (await rt.run({ ...base, cmd: ["true"] })).wait();
    const first = await spareReady();
    const other = await rt.run({ ...base, cmd: ["hostname"], hostname: "elsewhere" });
    results.other = await other.output();
    results.otherTook = other.id === first;
    results.firstGone = await until(() => !existsSync(join(containers, first!)));
    const second = await spareReady();
    results.secondIsNew = second !== undefined && second !== first;
    // A run the spare would fit but for its kind (a read-only root): not taken either.
    const ro = await rt.run({ ...base, cmd: ["sh", "-c", "touch /x 2>/dev/null || echo ro"], readOnly: true });
    results.readOnly = await ro.output();
    results.readOnlyTook = ro.id === second;
    // One of its kind the spare does not fit (a read-only root's working directory is the spare's own): the spare
    // ends, and the run makes its container in the spare's bundle, as a run without one would.
    const roSpare = await spareReady();
    await new Promise((r) => setTimeout(r, 300));
    const asked = ticksNow();
    const misfit = await rt.run({ ...base, cmd: ["sh", "-c", "pwd; read x"], readOnly: true, workdir: "/tmp", stdin: true });
    results.misfitBundle = misfit.id === roSpare;
    results.misfitFresh = startTicks(misfit.pid) >= asked;
    misfit.stdin!.end("\n");
    results.misfit = await misfit.output();
    // A --rm-less run and a terminal's get none and leave the spare there is.
    await (await rt.run({ ...base, cmd: ["true"] })).wait();
    const third = await spareReady();
    const kept = await rt.run({ image: "busybox", network: "none", cmd: ["true"] });
    await kept.wait();
    results.keptTook = kept.id === third;
    await rt.removeContainer(kept.id);
    results.neverTwo = spares().length <= 1;
    // A start that fails (no such command) in a spare: the run's error, as without one.
    let failed: string | undefined;
    try {
      await rt.run({ ...base, cmd: ["/no/such/command"] });
    } catch (err) {
      failed = (err as Error).message;
    }
    results.failed = failed;
    await rt.close();
    results.sparesAfterClose = spares();
    break;
  }
  case "close": {
    // close() drops the spare: its processes and bundle go, and Node is not held (this script ends).
    await (await rt.run({ ...base, cmd: ["true"] })).wait();
    const spare = await spareReady();
    const helper = backend.warmHelperPid!;
    // (its bundle is made before the helper is asked for it)
    await until(() => spareSupervisors(helper).length > 0);
    results.supervisors = spareSupervisors(helper).length;
    await rt.close();
    results.spareGone = !existsSync(join(containers, spare!));
    results.helperChildren = spareSupervisors(helper).length;
    break;
  }
  case "dropped": {
    // A Runtime dropped without close() (a server's per request): once collected, its backend closes, its
    // helper goes, and the spare with it (its supervisor deletes the bundle). gc() as --expose-gc gives it.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    process.env.TSBOX_SPARE = "1";
    const held: Runtime[] = [new Runtime({})];
    await (await held[0]!.run({ ...base, cmd: ["true"] })).wait();
    const spare = await spareReady();
    held.length = 0;
    results.spareGone = await until(() => (gc(), !existsSync(join(containers, spare!))));
    await rt.close();
    break;
  }
  case "owner": {
    await (await rt.run({ ...base, cmd: ["true"] })).wait();
    const spare = await spareReady();
    const helper = backend.warmHelperPid!;
    await until(() => spareSupervisors(helper).flatMap(children).length > 0);
    const supervisors = spareSupervisors(helper);
    const inits = supervisors.flatMap(children);
    console.log(JSON.stringify({ spare, pids: [helper, ...supervisors, ...inits] }));
    await new Promise(() => setInterval(() => {}, 1000));
    break;
  }
  default:
    throw new Error(`spare-script: unknown case ${process.argv[2]}`);
}
console.log(JSON.stringify(results));
