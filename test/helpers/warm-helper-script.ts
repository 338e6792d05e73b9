/**
 * The native backend's warm helper (`tsbox-runtime serve`) seen from a
 * Runtime in this process, run as the identity under test:
 *   node --import tsx test/helpers/warm-helper-script.ts concurrent|exec|restart|close|dropped|owner|maps|worker
 * `concurrent` and `restart` print one JSON object of results; `owner` runs
 * a --rm container and a kept one, prints the pids of its helper, the runs'
 * supervisors and containers, and the two ids, then waits to be killed.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { Runtime } from "../../src/index.js";
import { idMappings, probeHostIdentity } from "../../src/spec/id-mappings.js";
import type { NativeBackend } from "../../src/backends/native/native-backend.js";

const rt = new Runtime({});
const backend = rt.backend as NativeBackend;
const parentOf = (pid: number) => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
};
const until = async (what: () => boolean) => {
  for (let i = 0; i < 250 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
  return what();
};
const results: Record<string, unknown> = {};

switch (process.argv[2]) {
  case "concurrent": {
    // Four at once through one helper: each its own supervisor (the helper's child), output and exit.
    const started = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", `echo run${i}; ls /proc/self/fd; sleep 3; exit ${i}`], remove: true });
        return { c, supervisor: parentOf(c.pid) };
      }),
    );
    const runs = started.map((s) => s.c);
    const helper = backend.warmHelperPid;
    const supervisors = started.map((s) => s.supervisor);
    results.sameHelper = supervisors.every((s) => parentOf(s) === helper);
    results.distinctSupervisors = new Set(supervisors).size === 4;
    results.outputs = await Promise.all(runs.map((c) => c.output()));
    results.helperAfter = backend.warmHelperPid === helper && helper !== undefined && alive(helper);
    break;
  }
  case "exec": {
    // An exec into a running container: a fork of the helper too (its process's parent is the exec's helper, whose
    // parent is the warm helper), with the exec's output and exit code as ever.
    const c = await rt.run({ image: "busybox", cmd: ["sleep", "60"], remove: true });
    const p = await c.spawn(["sh", "-c", "sleep 0.5; echo exec-out; echo exec-err >&2; exit 3"]);
    results.forkOfHelper = parentOf(parentOf(p.pid)) === backend.warmHelperPid;
    results.exec = await p.output();
    results.tty = await c.exec(["tty"], { tty: true });
    await c.kill("SIGKILL");
    results.killed = await c.wait();
    break;
  }
  case "restart": {
    // A helper killed while a container runs takes it along; the next run starts a new helper.
    const c = await rt.run({ image: "busybox", cmd: ["sleep", "60"], remove: true });
    const first = backend.warmHelperPid!;
    process.kill(first, "SIGKILL");
    results.killedRun = await c.wait();
    results.firstGone = await until(() => !alive(first));
    const again = await rt.run({ image: "busybox", cmd: ["echo", "again"], remove: true });
    results.again = await again.output();
    results.newHelper = backend.warmHelperPid !== undefined && backend.warmHelperPid !== first;
    break;
  }
  case "close": {
    // close() with containers running (docs: "Containers are not touched"): each goes on to its own end, an exec'd
    // process too; the helper goes once the last has ended, and a run after that starts a new one.
    const gate = (file: string) => `while [ ! -f ${file} ]; do sleep 0.1; done`;
    const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", `echo start; ${gate("/tmp/end")}; echo done; exit 7`], remove: true });
    const other = await rt.run({ image: "busybox", cmd: ["sh", "-c", "read line; echo got $line"], stdin: true, remove: true });
    const p = await c.spawn(["sh", "-c", `${gate("/tmp/go")}; echo exec-done`]);
    const helper = backend.warmHelperPid!;
    await rt.close();
    results.helperAtClose = alive(helper);
    await c.exec(["touch", "/tmp/go"]);
    results.exec = await p.output();
    // The exec'd process first: the container's end takes what still runs in it.
    await c.exec(["touch", "/tmp/end"]);
    results.output = await c.output();
    results.helperWhileOneRuns = alive(helper);
    other.stdin!.end("x\n");
    results.other = await other.output();
    results.helperGone = await until(() => !alive(helper));
    results.again = await (await rt.run({ image: "busybox", cmd: ["echo", "again"], remove: true })).output();
    results.newHelper = backend.warmHelperPid !== undefined && backend.warmHelperPid !== helper;
    await rt.close();
    break;
  }
  case "dropped": {
    // Runtimes made and dropped without close() (a server's one per request): each one's helper goes once it is
    // collected, not with this process. gc() as --expose-gc gives it (runJsonScript passes no Node flags).
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const held: Runtime[] = [];
    const oneRequest = async (i: number) => {
      const mine = new Runtime({});
      held.push(mine);
      const output = await (await mine.run({ image: "busybox", cmd: ["echo", `request${i}`], remove: true })).output();
      return { output, helper: (mine.backend as NativeBackend).warmHelperPid! };
    };
    const requests = [await oneRequest(0), await oneRequest(1), await oneRequest(2)];
    results.outputs = requests.map((r) => r.output);
    results.helpersWhileHeld = requests.every((r) => alive(r.helper));
    held.length = 0;
    results.helpersGone = await until(() => (gc(), requests.every((r) => !alive(r.helper))));
    break;
  }
  case "owner": {
    const c = await rt.run({ image: "busybox", cmd: ["sleep", "600"], remove: true });
    const kept = await rt.run({ image: "busybox", cmd: ["sleep", "600"] });
    console.log(JSON.stringify({
      pids: { helper: backend.warmHelperPid, supervisor: parentOf(c.pid), container: c.pid, keptSupervisor: parentOf(kept.pid), kept: kept.pid },
      removed: c.id,
      kept: kept.id,
    }));
    await new Promise(() => setInterval(() => {}, 1000));
    break;
  }
  case "maps": {
    // Two at once: the id maps as the host sees them and from inside, each container's user namespace,
    // and a file of a subordinate id in each writable layer, which the removal must delete.
    const script = "cat /proc/self/uid_map; touch /owned; chown 1000:1000 /owned 2>/dev/null; sleep 2";
    const runs = await Promise.all([0, 1].map(() => rt.run({ image: "busybox", cmd: ["sh", "-c", script], remove: true })));
    results.hostView = runs.map((c) => readFileSync(`/proc/${c.pid}/uid_map`, "utf8").trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number)));
    results.namespaces = runs.map((c) => readlinkSync(`/proc/${c.pid}/ns/user`));
    const outputs = await Promise.all(runs.map((c) => c.output()));
    results.exitCodes = outputs.map((o) => o.exitCode);
    results.insideView = outputs.map((o) => o.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number)));
    results.uidMappings = idMappings(probeHostIdentity()).uidMappings;
    // Gone when wait() settled (renamed aside, the name free); the tree goes after, by a remover the run forked,
    // which close() waits for (a caller may delete the data dir next).
    results.visibleAfterWait = (await rt.list({ all: true })).length;
    await rt.close();
    results.containersLeft = readdirSync(join(process.env.TSBOX_DATA_DIR!, "containers"));
    break;
  }
  case "worker": {
    // The library in worker threads (a test runner's pool): one that ends by itself after a run, one terminated
    // while its run goes on. Neither may leave a child of this process behind, running or a zombie.
    const body = async (mode: string) => {
      // (tsx's hooks are not a worker's: it registers them, then loads this script)
      const tsx = import.meta.resolve("tsx/esm/api");
      const code = `import(${JSON.stringify(tsx)}).then((m) => (m.register(), import(${JSON.stringify(import.meta.url)})))`;
      const worker = new Worker(code, { eval: true, argv: ["worker-body", mode] });
      const ended = new Promise((resolve) => worker.once("exit", resolve));
      const running = new Promise((resolve) =>
        worker.on("message", (m: { warning?: string }) => (m.warning !== undefined ? warnings.push(m.warning) : resolve(m))),
      );
      if (mode === "terminate") {
        await running;
        await worker.terminate();
      }
      await ended;
    };
    // (and nothing to warn about: closing the addon's descriptors with fs.closeSync warned in a worker)
    const warnings: string[] = [];
    await body("end");
    await body("terminate");
    const children = () =>
      readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .flatMap((p) => {
          try {
            const stat = readFileSync(`/proc/${p}/stat`, "utf8");
            const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
            const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            // (tsx's esbuild service is the worker's too)
            return Number(ppid) === process.pid && comm !== "esbuild" ? [`${p} ${state} ${comm}`] : [];
          } catch {
            return [];
          }
        });
    await until(() => children().length === 0);
    results.children = children();
    await until(() => readdirSync(join(process.env.TSBOX_DATA_DIR!, "containers")).length === 0);
    results.containersLeft = readdirSync(join(process.env.TSBOX_DATA_DIR!, "containers"));
    results.warnings = warnings;
    break;
  }
  case "worker-body": {
    process.on("warning", (w) => parentPort!.postMessage({ warning: w.message }));
    const c = await rt.run({ image: "busybox", cmd: process.argv[3] === "end" ? ["true"] : ["sleep", "600"], remove: true });
    if (process.argv[3] === "end") await c.wait();
    else parentPort!.postMessage({ running: true });
    break;
  }
  default:
    throw new Error(`unknown scenario ${process.argv[2]}`);
}
if (isMainThread) console.log(JSON.stringify(results));
// Idle, the helper must not keep us alive: no explicit exit here.
