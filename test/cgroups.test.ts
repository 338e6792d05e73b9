/**
 * cgroups for real containers: limits that bite, stats, pause/unpause, OOM
 * kills, measured from the containers' cgroups. As root on this host's
 * v1/hybrid hierarchies; as the unprivileged test users inside cgroups
 * delegated to them (as systemd's Delegate=yes would: chown'd v1 controller
 * dirs), and without one: one warning naming the dropped limits, and
 * --cgroups=required refusing to start. The vm variant
 * (test/vm-cgroups.test.ts) runs the same scenarios in the pure-v2 guest.
 */
import { describe, it, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { identities, sharedSuiteIdentities, cleanupIdentities, type Identity } from "./helpers/identities.js";
import { cliPath, runJsonScript, signalSpawned, tsbox } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { cgroupLeftovers, cgroupMounts, cgroupParent, delegate, type Delegation, removeCgroupTree } from "./helpers/cgroups.js";
import { EVENTS_FILE } from "../src/containers/events.js";

after(cleanupIdentities);

const vm = process.env.TSBOX_BACKEND === "vm";
const script = fileURLToPath(new URL("./helpers/cgroups-script.ts", import.meta.url));
const LIMITED = ["oom", "cpu", "pids", "pause", "stats", "view", "update"];

const scenarios = (who: Identity, names: string[], delegation?: Delegation) => runJsonScript(who, script, names, delegation?.wrap);

/** The scenarios' assertions, for any identity that has a cgroup. */
function limitsBite(get: () => Record<string, any>) {
  // A scenario that threw reports its stack instead of figures: show it, not a missing field.
  const result = (name: string) => {
    const r = get()[name];
    if (r?.error) assert.fail(`the ${name} scenario failed: ${r.error}`);
    return r;
  };
  it("-m 32m OOM-kills a 64 MiB allocation: exit 137, oomKilled", () => {
    const r = result("oom");
    assert.equal(r.exitCode, 137, JSON.stringify(r));
    assert.equal(r.oomKilled, true);
    if (!vm) assert.equal(r.limit, String(32 * 1024 * 1024), "memory limit file");
  });

  it("--cpus 0.2 holds a busy loop near a fifth of a core", () => {
    const r = result("cpu");
    assert.ok(r.share > 0.05 && r.share < 0.3, `CPU share ${r.share} (cgroup CPU time / elapsed)`);
    assert.ok(r.throttledPeriods > 0, "the CFS quota throttled it");
    if (!vm) assert.match(r.quota, /^20000( 100000)?$/, "quota file");
  });

  it("--pids-limit 10 stops a fork bomb", () => {
    const r = result("pids");
    assert.equal(r.limit, 10);
    assert.ok(r.most >= 2 && r.most <= 10, `at most 10 processes, saw ${r.most}`);
    // pids.events counts the forks the limit refused.
    if (!vm) assert.match(r.refused, /^max [1-9]\d*$/m, `pids.events: ${r.refused}`);
  });

  it("pause stops the output, unpause resumes it", () => {
    const r = result("pause");
    assert.ok(r.before >= 3, JSON.stringify(r));
    assert.equal(r.during, r.before, "no output while paused");
    assert.ok(r.after > r.during, "output again after unpause");
    assert.equal(r.killed, 137, "a SIGKILL thaws a paused container");
    assert.deepEqual(r.refusals, ["not_paused", "paused"], "the reasons of unpause of a running one, pause of a paused one");
    if (!vm) assert.match(r.state, /^(FROZEN|.*frozen 1.*)$/s, "the freezer says frozen");
  });

  it("the container sees its own cgroup at /sys/fs/cgroup, read-only", () => {
    const v = result("view");
    assert.equal(v.exitCode, 0, JSON.stringify(v));
    assert.equal(v["memory.max"] ?? v["memory/memory.limit_in_bytes"], String(32 * 1024 * 1024), JSON.stringify(v));
    assert.equal(v["pids.max"] ?? v["pids/pids.max"], "10");
    assert.match(v["cpu.max"] ?? v["cpu/cpu.cfs_quota_us"], /^50000( 100000)?$/);
    assert.equal(v.write, "refused");
  });

  it("update gives a running container new limits; one the kernel refuses changes nothing", () => {
    const r = result("update");
    assert.equal(r.warning, null, JSON.stringify(r));
    assert.deepEqual([r.memory, r.pids, r.hostMemory, r.hostPids], [48 * 1024 * 1024, 20, 48 * 1024 * 1024, 20], JSON.stringify(r));
    assert.match(r.quota, /^50000( 100000)?$/);
    if (vm) return; // the guest's cgroup v2 OOM-kills instead of refusing (cgroups-script.ts)
    assert.match(r.refused, /memory\.(limit_in_bytes|max).*(busy|Device or resource busy)/i, JSON.stringify(r));
    assert.equal(r.memoryAfter, 48 * 1024 * 1024, "the refused limit is not recorded either");
  });

  it("stats are plausible", () => {
    const s = result("stats");
    assert.ok(s.memory.usage > 0 && s.memory.usage < 64 * 1024 * 1024, `memory usage ${s.memory.usage}`);
    assert.equal(s.memory.limit, 64 * 1024 * 1024);
    assert.ok(s.memory.peak === null || s.memory.peak >= s.memory.usage);
    assert.ok(Number.isInteger(s.memory.inactiveFile) && s.memory.inactiveFile <= s.memory.usage, `inactive file ${s.memory.inactiveFile}`);
    assert.ok(s.pids.current >= 1 && s.pids.current <= 3, `pids ${s.pids.current}`);
    assert.equal(s.pids.limit, 20);
    assert.ok(s.cpu.usageUsec > 0 && s.cpu.usageUsec < 5_000_000, `cpu ${s.cpu.usageUsec}`);
    assert.ok(s.cpu.userUsec + s.cpu.systemUsec <= s.cpu.usageUsec + 20_000);
    assert.ok(Number.isInteger(s.io.readBytes) && Number.isInteger(s.io.writeBytes));
  });
}

/** Containers with a cgroup left (one directory per v1 hierarchy each), but those in `earlier`. */
const leftContainers = (earlier = new Set<string>()) => new Set(cgroupLeftovers().map((d) => d.split("/").at(-1)!).filter((id) => !earlier.has(id))).size;

/** The CLI as `who`, inside the delegated cgroup when the host gives one (where a rootless container can have a cgroup). */
function delegatedCli(who: Identity, delegation: Delegation | undefined): (args: string[]) => ReturnType<typeof tsbox> {
  return (args) => tsbox(who, args, delegation ? { argv: delegation.wrap([process.execPath, cliPath, ...args]) } : {});
}

/** A runtime SIGKILLed mid-run leaves its cgroup; whoever collects the orphan bundle (`ps -a` here) removes it. */
function crashCleanup(who: Identity, getDelegation: () => Delegation | undefined) {
  it("a killed runtime's cgroup goes with its orphan bundle", { skip: vm }, async () => {
    const delegation = getDelegation();
    const wrap = (args: string[]) => (delegation ? { argv: delegation.wrap([process.execPath, cliPath, ...args]) } : {});
    const args = ["run", "--rm", "-m", "32m", "busybox", "sleep", "30"];
    // What an earlier failure left is not this container's (nor its pid 0 one to kill: that is our process group).
    const earlier = new Set(cgroupLeftovers().map((d) => d.split("/").at(-1)!));
    let cli = 0;
    const running = tsbox(who, args, { ...wrap(args), onSpawn: (pid) => (cli = pid), timeoutMs: 30_000 });
    for (let i = 0; i < 300 && (cli === 0 || leftContainers(earlier) === 0); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(cli > 0, "the CLI started");
    assert.equal(leftContainers(earlier), 1, "the container has a cgroup");
    // The CLI dies, at any moment of the start; tsbox-runtime and the container die with it (PDEATHSIG); the cgroup stays.
    signalSpawned(cli, "SIGKILL");
    await running;
    // Should this fail: what the data dir held (a rare failure here was never explained).
    const bundles = () => {
      const dir = join(who.dataDir, "containers");
      const read = (e: string) => {
        try {
          return `${e}: ${readFileSync(join(dir, e, "state.json"), "utf8")} cgroup.json: ${readFileSync(join(dir, e, "cgroup.json"), "utf8")}`;
        } catch (err) {
          return `${e} (${(err as Error).message})`;
        }
      };
      try {
        return readdirSync(dir).map(read).join("\n");
      } catch (err) {
        return (err as Error).message;
      }
    };
    assert.equal(leftContainers(earlier), 1, `the cgroup outlived its runtime\n${bundles()}`);
    // Whoever comes across the orphan removes it, as docker's daemon removes an --rm container when it ends: `ps -a`
    // too, which listed it as "Exited (unknown)" with its cgroups until a later run collected it.
    const next = ["ps", "-a", "-q"];
    const r = await tsbox(who, next, wrap(next));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "", "not listed");
    const left = cgroupLeftovers().filter((d) => !earlier.has(d.split("/").at(-1)!));
    assert.deepEqual(left, [], `collected with the orphan bundle\n${r.stderr}\n${bundles()}`);
  });
}

/**
 * A detached container's per-run supervisor (the monitor's `tsbox-supervise` child, which removes the run's cgroup
 * when the container ends) SIGKILLed: the container dies with it, and the monitor, which records the end, removes
 * the cgroup it left. Before, the empty cgroups stayed, named by cgroup.json, until the next start or rm.
 */
function killedSupervisor(who: Identity, getDelegation: () => Delegation | undefined) {
  it("a killed supervisor's cgroup goes when its monitor records the end", { skip: vm }, async () => {
    const cli = delegatedCli(who, getDelegation());
    const earlier = new Set(cgroupLeftovers().map((d) => d.split("/").at(-1)!));
    const name = `killed-supervisor-${who.name}`;
    const r = await cli(["run", "-d", "--name", name, "-m", "32m", "busybox", "sleep", "600"]);
    assert.equal(r.code, 0, r.stderr);
    const bundle = join(who.dataDir, "containers", r.stdout.trim());
    const state = () => JSON.parse(readFileSync(join(bundle, "state.json"), "utf8")) as { status: string; exitCode: number | null; monitorPid: number };
    try {
      assert.equal(leftContainers(earlier), 1, "the container has a cgroup");
      const monitor = state().monitorPid;
      const supervisor = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).find((p) => {
        try {
          const stat = readFileSync(`/proc/${p}/stat`, "utf8");
          return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === monitor && readFileSync(`/proc/${p}/comm`, "utf8") === "tsbox-supervise\n";
        } catch {
          return false; // gone meanwhile
        }
      });
      assert.ok(supervisor, `the monitor ${monitor} has a supervisor`);
      process.kill(Number(supervisor), "SIGKILL");
      for (let i = 0; i < 500 && state().status !== "exited"; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual([state().status, state().exitCode], ["exited", 137]);
      // Removed before the end is recorded, as the runtime's own removal is.
      assert.equal(leftContainers(earlier), 0, "its cgroup went with the run");
      assert.ok(!existsSync(join(bundle, "cgroup.json")), "and its record");
    } finally {
      await cli(["rm", "-f", name]);
    }
  });
}

/**
 * A paused container whose Node program is SIGKILLed: the v1 freezer holds a
 * frozen task's SIGKILL until thawed, so the container outlived it (D state,
 * for good); its runtime now thaws and kills it before it goes.
 */
function pausedOrphan(who: Identity, getDelegation: () => Delegation | undefined) {
  it("a paused container dies with its killed Node program (thawed), and is collected", { skip: vm }, async () => {
    const delegation = getDelegation();
    const code = `const { Runtime } = await import(${JSON.stringify(new URL("../src/index.ts", import.meta.url).href)});
      const c = await new Runtime().run({ image: "busybox", cmd: ["sleep", "600"], remove: true });
      await c.pause();
      await new Promise(() => {});`;
    const argv = [process.execPath, "--import", import.meta.resolve("tsx"), "--input-type=module", "-e", code];
    let node = 0;
    const running = tsbox(who, [], { argv: delegation ? delegation.wrap(argv) : argv, onSpawn: (pid) => (node = pid), timeoutMs: 30_000 });
    const paused = () => {
      const dir = join(who.dataDir, "containers");
      for (const id of readdirSync(dir).filter((e) => /^[0-9a-f]{64}$/.test(e))) {
        const state = JSON.parse(readFileSync(join(dir, id, "state.json"), "utf8")) as { status: string; pid: number | null };
        if (state.status === "paused" && state.pid) return state.pid;
      }
      return undefined;
    };
    let pid: number | undefined;
    for (let i = 0; i < 500 && pid === undefined; i++) {
      try {
        pid = paused();
      } catch {
        // not made yet
      }
      if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(pid, "the container was paused");
    signalSpawned(node, "SIGKILL");
    await running;
    // Gone between a look and the read (ESRCH, ENOENT): not alive.
    const alive = () => {
      try {
        return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 250 && alive(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(), false, "the frozen container process is gone");
    // Its --rm bundle is an orphan now: the next run collects it (the leak check after this test looks).
    const next = ["run", "--rm", "busybox", "true"];
    assert.equal((await tsbox(who, next, delegation ? { argv: delegation.wrap([process.execPath, cliPath, ...next]) } : {})).code, 0);
  });
}

/** `kill` of a paused container (the CLI, its monitor): the SIGKILL thaws it, as docker's does. */
/**
 * `stats --no-stream`'s CPU % is over an interval between two samples (docker's precpu_stats/cpu_stats), not
 * since the start: a container idle for a while, spinning now, shows well above its lifetime average.
 */
function statsCpuNow(who: Identity, getDelegation: () => Delegation | undefined) {
  it("stats --no-stream: CPU % of now (two samples), not the average since the start", { skip: vm }, async () => {
    const cli = delegatedCli(who, getDelegation());
    const name = `spin-${who.name}`;
    // Idle (asleep) until /tmp/go exists, then a busy loop in the shell itself (`:` is a builtin: no child).
    const run = await cli(["run", "-d", "--name", name, "busybox", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.2; done; while :; do :; done"]);
    assert.equal(run.code, 0, run.stderr);
    try {
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      assert.equal((await cli(["exec", name, "touch", "/tmp/go"])).code, 0);
      const stats = await cli(["stats", "--no-stream", "--format", "{{.CPUPerc}}", name]);
      assert.equal(stats.code, 0, stats.stderr);
      const now = Number.parseFloat(stats.stdout);
      // Its lifetime average, read after: the shell's CPU time over the time since it started.
      const [pid, started] = (await cli(["inspect", "-f", "{{.State.Pid}} {{.State.StartedAt}}", name])).stdout.trim().split(" ");
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));
      const lifetime = (cpuSeconds / ((Date.now() - Date.parse(started!)) / 1000)) * 100;
      assert.ok(now > 2 * lifetime, `stats said ${stats.stdout.trim()} for a loop that has spun for the last seconds only; its lifetime average is ${lifetime.toFixed(2)}%`);
    } finally {
      await cli(["rm", "-f", name]);
    }
  });
}

/**
 * docker's EventOOM is the cgroup's, exec or not: an exec'd process the OOM killer took sets the container's
 * OOMKilled and logs one `oom` while the container runs on (before, nothing until the container ended).
 */
function execOom(who: Identity, getDelegation: () => Delegation | undefined) {
  it("an exec'd process OOM-killed: the container's OOMKilled and one oom event, while it runs", { skip: vm }, async () => {
    const cli = delegatedCli(who, getDelegation());
    const name = `execoom-${who.name}`;
    const started = await cli(["run", "-d", "--name", name, "--network", "none", "-m", "32m", "busybox", "sleep", "600"]);
    assert.equal(started.code, 0, started.stderr);
    try {
      const fine = await cli(["exec", name, "true"]);
      assert.equal(fine.code, 0, fine.stderr);
      const oomKilled = async () => (await cli(["inspect", "-f", "{{.State.Status}} {{.State.OOMKilled}}", name])).stdout;
      assert.equal(await oomKilled(), "running false\n", "an exec that ends well records nothing");
      // tail holds all it reads: 64 MiB in a 32 MiB cgroup.
      const hog = await cli(["exec", name, "sh", "-c", "head -c 64m /dev/zero | tail"]);
      assert.equal(hog.code, 137, hog.stderr);
      // Recorded before the exec returned (the helper waits for its watcher).
      assert.equal(await oomKilled(), "running true\n");
      assert.equal((await cli(["kill", name])).code, 0);
      assert.equal((await cli(["wait", name])).stdout, "137\n");
      const events = readFileSync(join(who.dataDir, EVENTS_FILE), "utf8").split("\n").filter((l) => l.includes(`"${name}"`));
      const actions = events.map((l) => (JSON.parse(l) as { Action: string }).Action);
      assert.deepEqual(actions, ["create", "start", "oom", "kill", "die"], "one oom, when it happened; none again at the end");
    } finally {
      await cli(["rm", "-f", name]);
    }
  });
}

function killPaused(who: Identity, getDelegation: () => Delegation | undefined) {
  // (the vm's is the library scenario's "pause" above: a detached vm container's daemon would outlive the test)
  it("kill of a paused container ends it (thawed): exit 137", { skip: vm }, async () => {
    const cli = delegatedCli(who, getDelegation());
    const name = `frozen-${who.name}`;
    assert.equal((await cli(["run", "-d", "--name", name, "busybox", "sleep", "600"])).code, 0);
    try {
      assert.equal((await cli(["pause", name])).code, 0);
      const again = await cli(["pause", name]);
      assert.deepEqual([again.code, again.stderr], [1, `tsbox: container ${name} is already paused\n`]);
      assert.equal((await cli(["kill", name])).stdout, `${name}\n`);
      // Before stop 40 the v1 freezer held the SIGKILL: "Up (Paused)" for good, `start` and `pause` both refused.
      const waited = await cli(["wait", name]);
      assert.deepEqual([waited.code, waited.stdout], [0, "137\n"], waited.stderr);
    } finally {
      await cli(["rm", "-f", name]);
    }
    if (who.name !== "root") return;
    // Asked to run without one, the host is not to blame.
    const bare = `bare-${who.name}`;
    assert.equal((await cli(["run", "-d", "--name", bare, "--cgroups", "disabled", "busybox", "sleep", "600"])).code, 0);
    try {
      const p = await cli(["pause", bare]);
      assert.equal(p.stderr, `tsbox: container ${bare} runs without a cgroup (--cgroups=disabled), so it cannot be paused\n`);
    } finally {
      await cli(["rm", "-f", bare]);
    }
  });

  it("pause of a container that ended but whose end is not recorded yet says it is not running, not that the host gives no cgroup", { skip: vm }, async () => {
    const cli = delegatedCli(who, getDelegation());
    const name = `ended-${who.name}`;
    assert.equal((await cli(["run", "-d", "--name", name, "busybox", "sleep", "600"])).code, 0);
    const id = (await cli(["inspect", "-f", "{{.Id}}", name])).stdout.trim();
    const bundle = join(who.dataDir, "containers", id);
    const state = JSON.parse(readFileSync(join(bundle, "state.json"), "utf8")) as { pid: number; monitorPid: number };
    // The monitor, which records the end, is held: the runtime removes the cgroup when the init has ended, before
    // the end is recorded — the window a pause racing a kill or the container's own end falls in.
    process.kill(state.monitorPid, "SIGSTOP");
    try {
      process.kill(state.pid, "SIGKILL");
      for (let i = 0; i < 1000 && existsSync(join(bundle, "cgroup.json")); i++) await new Promise((r) => setTimeout(r, 10));
      const paused = await cli(["pause", name]);
      assert.deepEqual([paused.code, paused.stderr], [1, `tsbox: container ${name} is not running\n`]);
    } finally {
      process.kill(state.monitorPid, "SIGCONT");
      await cli(["rm", "-f", name]);
    }
  });

  it("a pause while a stop waits: the stop's SIGKILL thaws the container and the stop returns (exit 137)", { skip: vm }, async () => {
    const cli = delegatedCli(who, getDelegation());
    const name = `stopfrozen-${who.name}`;
    // busybox sleep as PID 1 ignores the SIGTERM: only the stop's SIGKILL ends it.
    assert.equal((await cli(["run", "-d", "--name", name, "busybox", "sleep", "600"])).code, 0);
    try {
      const stopped = cli(["stop", "-t", "2", name]);
      // The stop's `kill` event is recorded once it has read the container as running: a pause after it lands
      // while the stop waits (before, the SIGKILL never landed: the stop hung until an unpause).
      const events = join(who.dataDir, EVENTS_FILE);
      const killed = () => existsSync(events) && readFileSync(events, "utf8").split("\n").some((l) => l.includes(`"${name}"`) && l.includes(`"kill"`));
      for (let i = 0; i < 500 && !killed(); i++) await new Promise((r) => setTimeout(r, 10));
      const paused = await cli(["pause", name]);
      assert.equal(paused.code, 0, paused.stderr);
      const stop = await stopped;
      assert.deepEqual([stop.code, stop.stdout], [0, `${name}\n`], stop.stderr);
      const waited = await cli(["wait", name]);
      assert.deepEqual([waited.code, waited.stdout], [0, "137\n"], waited.stderr);
      assert.equal((await cli(["ps", "-a", "--filter", `name=^${name}$`, "--format", "{{.State}}"])).stdout, "exited\n");
    } finally {
      await cli(["rm", "-f", name]);
    }
  });
}

for (const who of sharedSuiteIdentities()) {
  describe(`cgroups as ${who.name}${vm ? " (vm)" : ""}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    if (who.name === "root" || vm) {
      // Root here; in the vm the guest's agent is root whoever asks.
      let results: Record<string, any> = {};
      before(async () => (results = await scenarios(who, LIMITED)), { timeout: vm ? 900_000 : 180_000 });
      limitsBite(() => results);
      crashCleanup(who, () => undefined);
      killedSupervisor(who, () => undefined);
      pausedOrphan(who, () => undefined);
      killPaused(who, () => undefined);
      execOom(who, () => undefined);
      statsCpuNow(who, () => undefined);
      it("tsbox info: root gets every controller", { skip: vm }, async () => {
        const r = await tsbox(who, ["info", "--json"]);
        const cg = (JSON.parse(r.stdout) as { probe: { cgroups: { controllers: Record<string, { root: boolean; user: boolean }> } } }).probe.cgroups;
        for (const c of ["memory", "cpu", "pids", "freezer"]) assert.deepEqual(cg.controllers[c], { root: true, user: true }, c);
      });
      return;
    }

    describe("with a delegated cgroup", () => {
      let delegation: Delegation | undefined;
      let results: Record<string, any> = {};
      before(async () => {
        delegation = delegate(who.uid, who.gid, who.name);
        if (delegation) results = await scenarios(who, LIMITED, delegation);
      }, { timeout: 180_000 });
      after(() => delegation?.remove());
      limitsBite(() => {
        if (!delegation) throw new Error("no v1 hierarchies to delegate on this host");
        return results;
      });
      crashCleanup(who, () => delegation);
      killedSupervisor(who, () => delegation);
      pausedOrphan(who, () => delegation);
      killPaused(who, () => delegation);
      execOom(who, () => delegation);
      statsCpuNow(who, () => delegation);

      it("tsbox info names the controllers this user has", { skip: vm }, async () => {
        const args = ["info"];
        const r = await tsbox(who, args, delegation ? { argv: delegation.wrap([process.execPath, cliPath, ...args]) } : {});
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^cgroups root: {2}memory cpu cpuacct cpuset pids blkio freezer$/m);
        assert.match(r.stdout, /^cgroups you: {3}memory cpu cpuacct cpuset pids blkio freezer \(in \/sys\/fs\/cgroup\/.*tsbox-deleg-/m);
        assert.doesNotMatch(r.stderr, /delegated cgroup/);
      });
    });

    describe("without one", () => {
      let results: Record<string, any> = {};
      before(async () => (results = await scenarios(who, ["unlimited", "unlimitedStarted", "required", "nostats", "noview", "noupdate"])), { timeout: 60_000 });

      it("runs without the limits and warns once, naming each", () => {
        const r = results.unlimited;
        assert.equal(r.exitCode, 0, JSON.stringify(r));
        assert.equal(r.warnings.length, 1, JSON.stringify(r.warnings));
        assert.match(r.warnings[0], new RegExp(`^this user \\(uid ${who.uid}\\) has no delegated cgroup .*: running without memory limit and pids limit$`));
        assert.deepEqual(results.unlimitedStarted, r, "create and start warn as run does");
      });

      it("--cgroups=required refuses to start", () => {
        const r = results.required;
        assert.equal(r.exitCode, 125);
        assert.match(r.message, /^cgroups are required, but this user \(uid \d+\) has no delegated cgroup/);
      });

      it("tsbox info says so, per controller, with one warning", { skip: vm }, async () => {
        const r = await tsbox(who, ["info", "--json"]);
        assert.equal(r.code, 0, r.stderr);
        const info = JSON.parse(r.stdout) as { probe: { cgroups: { controllers: Record<string, { root: boolean; user: boolean }>; userReason: string } } };
        const { controllers, userReason } = info.probe.cgroups;
        assert.deepEqual(controllers.memory, { root: true, user: false });
        assert.ok(Object.values(controllers).every((c) => !c.user));
        assert.match(userReason, new RegExp(`^this user \\(uid ${who.uid}\\) has no delegated cgroup`));
        const text = await tsbox(who, ["info"]);
        assert.match(text.stdout, /^cgroups you: {3}none \(this user/m);
        assert.match(text.stderr, /^tsbox: warning: this user \(uid \d+\) has no delegated cgroup .*: containers run without resource limits/m);
        if (who.name === "single") {
          // The subordinate ids it suggests are no other user's (it suggested 100000-165535, which the test user holds).
          const [, first, last] = /^tsbox: warning: no \/etc\/subuid and \/etc\/subgid range for this user.*usermod --add-subuids (\d+)-(\d+) /m.exec(text.stderr) ?? [];
          assert.ok(first && last, text.stderr);
          for (const line of (existsSync("/etc/subuid") ? readFileSync("/etc/subuid", "utf8") : "").split("\n").filter(Boolean)) {
            const [, start, count] = line.split(":").map(Number);
            assert.ok(Number(first) >= start! + count! || Number(last) < start!, `${first}-${last} overlaps ${line}`);
          }
        }
      });

      it("sees no cgroup at /sys/fs/cgroup, not even the host's", () => {
        assert.deepEqual(results.noview, { exitCode: 0, entries: 0 });
      });

      it("update records the limits, with a warning that it runs on without them", () => {
        assert.equal(results.noupdate.memory, 48 * 1024 * 1024, JSON.stringify(results.noupdate));
        // Before: "so it takes the new limits at its next start", which gets no cgroup either on this host.
        assert.match(results.noupdate.warning, /^container \S+ runs without a cgroup \(this host delegates no cgroup to this user; see tsbox info\), so it runs on without the new limits, recorded \(inspect shows them\) for a start that gets one$/);
      });

      it("has no stats", () => {
        assert.match(results.nostats.message, /^container \S+ runs without a cgroup \(this host delegates no cgroup to this user; see tsbox info\), so it has no stats$/);
        assert.equal(results.nostats.reason, "no_cgroup");
      });

      it("the CLI: one warning line, TSBOX_CGROUPS=required an error", async () => {
        const r = await tsbox(who, ["run", "--rm", "-m", "32m", "--pids-limit", "10", "busybox", "echo", "ran"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "ran\n");
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, /^tsbox: warning: this user \(uid \d+\) has no delegated cgroup .*: running without memory limit and pids limit$/);
        // Detached (the monitor's start, handed off or not) and create + start: the same line.
        const name = `limits-${who.name}`;
        const detached = await tsbox(who, ["run", "-d", "--name", name, "-m", "32m", "busybox", "sleep", "600"]);
        // Every running container's stats: one without a cgroup is a row of "--" (the table said nothing, exit 1).
        const all = await tsbox(who, ["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}"]);
        assert.deepEqual([all.code, all.stdout], [0, `${name} -- / -- --\n`], all.stderr);
        assert.match(all.stderr, /^tsbox: warning: 1 container runs without a cgroup \(see tsbox info\): "--" for its figures\n$/);
        const one = await tsbox(who, ["stats", "--no-stream", name]);
        assert.equal(one.code, 1, "asked by name, it is still an error");
        // inspect keeps what was asked for (docker's and podman's HostConfig); the warnings above and info say it is not applied.
        assert.equal((await tsbox(who, ["inspect", "-f", "{{.HostConfig.Memory}}", name])).stdout, `${32 << 20}\n`);
        assert.match((await tsbox(who, ["info"])).stdout + (await tsbox(who, ["info"])).stderr, /containers run without resource limits \(-m, --cpus, --pids-limit, …\)/);
        const created = await tsbox(who, ["create", "-m", "32m", "busybox", "true"]);
        const started = await tsbox(who, ["start", created.stdout.trim()]);
        // Ended before start -a (a loaded machine's `true` could still run then: start -a only attached, starting nothing).
        await tsbox(who, ["wait", created.stdout.trim()]);
        // start -a and restart start it too, and said nothing.
        const attached = await tsbox(who, ["start", "-a", created.stdout.trim()]);
        const restarted = await tsbox(who, ["restart", "-t", "0", created.stdout.trim()]);
        await tsbox(who, ["rm", "-f", name, created.stdout.trim()]);
        for (const [what, out] of [["run -d", detached], ["start", started], ["start -a", attached]] as const) {
          assert.equal(out.code, 0, `${what}: ${out.stderr}`);
          assert.match(out.stderr, /^tsbox: warning: this user \(uid \d+\) has no delegated cgroup .*: running without memory limit\n$/, what);
        }
        assert.match(restarted.stderr, /^tsbox: warning: this user \(uid \d+\) has no delegated cgroup .*: running without memory limit\n$/, "restart");
        const req = await tsbox(who, ["run", "--rm", "busybox", "true"], { env: { TSBOX_CGROUPS: "required" } });
        assert.equal(req.code, 125);
        assert.match(req.stderr, /^tsbox: cgroups are required, but this user/);
        const flag = await tsbox(who, ["run", "--rm", "--cgroups=required", "busybox", "true"]);
        assert.equal(flag.code, 125, flag.stderr);
      });
    });
  });
}

/** CAP_SYS_RESOURCE (bit 24) in our effective set: root here may lack it (this machine's root does). */
const hasCapSysResource = () => (BigInt("0x" + /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))![1]) >> 24n) & 1n;

describe("--oom-score-adj", { skip: vm && "the guest's agent is root: nothing rootless to show" }, () => {
  for (const who of sharedSuiteIdentities()) {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));
    it(`as ${who.name}: raised for anyone, lowered only with CAP_SYS_RESOURCE`, async () => {
      const up = await tsbox(who, ["run", "--rm", "--oom-score-adj", "500", "busybox", "cat", "/proc/self/oom_score_adj"]);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(up.stdout, "500\n");
      // An exec'd process (and so a health check) gets the container's value; its helper joined first, where
      // the container's /proc had no /proc/self for it.
      const name = `oom-${who.name}-${process.pid}`;
      const started = await tsbox(who, ["run", "-d", "--name", name, "--network", "none", "--oom-score-adj", "300", "busybox", "sleep", "60"]);
      assert.equal(started.code, 0, started.stderr);
      try {
        const exec = await tsbox(who, ["exec", name, "cat", "/proc/self/oom_score_adj"]);
        assert.deepEqual([exec.code, exec.stdout, exec.stderr], [0, "300\n", ""]);
        // Only the container's processes: the runtime holding the init, and an exec's helper, keep their own
        // (with the score, the larger runtime was what a host OOM killed, and the container with it).
        const adj = (pid: number) => readFileSync(`/proc/${pid}/oom_score_adj`, "utf8").trim();
        const parent = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]);
        const init = Number((await tsbox(who, ["inspect", "-f", "{{.State.Pid}}", name])).stdout);
        assert.equal(adj(parent(init)), adj(parent(parent(init))), "the runtime holding the init");
        const held = tsbox(who, ["exec", name, "sleep", "600"]);
        let execd: string | undefined;
        for (let i = 0; i < 200 && !execd; i++) execd = (await tsbox(who, ["top", name, "-o", "pid,args"])).stdout.split("\n").find((l) => l.endsWith("sleep 600"));
        const helper = parent(Number(execd!.trim().split(/\s+/)[0]));
        assert.equal(adj(helper), adj(parent(helper)), "the exec helper");
        await tsbox(who, ["kill", name]);
        await held;
      } finally {
        await tsbox(who, ["rm", "-f", name]);
      }
      const down = await tsbox(who, ["run", "--rm", "--oom-score-adj", "-500", "busybox", "cat", "/proc/self/oom_score_adj"]);
      if (who.name === "root" && hasCapSysResource()) {
        assert.equal(down.stdout, "-500\n", down.stderr);
      } else {
        assert.equal(down.code, 125);
        assert.match(down.stderr, /^tsbox: setting oom_score_adj to -500 \(lowering it needs CAP_SYS_RESOURCE on the host\): Permission denied\n$/);
      }
    });
  }
});

// The front end's checks: the same whichever backend would run the container.
describe("cgroup flags", { skip: vm && "front-end checks, run by test/cgroups.test.ts" }, () => {
  const who = identities()[0]!;
  it("docker's units and checks, one stderr line and 125 each", async () => {
    const cases: [string[], RegExp][] = [
      [["-m", "3m"], /^tsbox: minimum memory limit allowed is 6MB\n$/],
      [["-m", "32x"], /^tsbox: invalid value "32x" for --memory: invalid size/],
      [["--memory-swap", "64m"], /^tsbox: you should always set the memory limit when using the memoryswap limit\n$/],
      [["-m", "64m", "--memory-swap", "32m"], /^tsbox: minimum memoryswap limit should be larger than memory limit\n$/],
      [["--cpus", "0.2", "--cpu-quota", "20000"], /^tsbox: conflicting options: Nano CPUs and CPU Quota cannot both be set\n$/],
      [["--cpus", "99"], /^tsbox: range of CPUs is from 0.01 to \d+\.00, as there are only \d+ CPUs available\n$/],
      [["--cpus", "abc"], /^tsbox: invalid argument "abc" for "--cpus" flag/],
      [["--cpu-period", "10"], /^tsbox: CPU cfs period can not be less than 1ms/],
      [["--cpuset-cpus", "0-"], /^tsbox: invalid value "0-" for --cpuset-cpus/],
      [["--cpuset-cpus", "999"], /^tsbox: requested CPUs are not available - requested 999/],
      [["--blkio-weight", "5"], /^tsbox: range of blkio weight is from 10 to 1000\n$/],
      [["-c", "-3"], /^tsbox: invalid CPU shares \(-3\): value must be a positive integer\n$/],
      // docker's ParseCPUs reads both; its range check refuses them.
      [["--cpus", "-1"], /^tsbox: range of CPUs is from 0.01 to/],
      [["--cpus", "1e3"], /^tsbox: range of CPUs is from 0.01 to/],
      [["--ulimit", "nofile=-1"], /^tsbox: invalid ulimit nofile: open files cannot be unlimited \(-1\), the kernel caps them at fs.nr_open\n$/],
      // Past 2^53 a number was another (an internal spec error naming a field the user never wrote), or unlimited.
      [["--pids-limit", "9007199254740993"], /^tsbox: invalid argument "9007199254740993" for "--pids-limit" flag: strconv.ParseInt: parsing "9007199254740993": value out of range\n$/],
      [["--cpu-quota", "99999999999999999999"], /^tsbox: invalid argument "99999999999999999999" for "--cpu-quota" flag: strconv.ParseInt: parsing "99999999999999999999": value out of range\n$/],
      [["--ulimit", "nofile=99999999999999999999"], /^tsbox: invalid argument "nofile=99999999999999999999" for "--ulimit" flag: strconv.ParseInt: parsing "99999999999999999999": value out of range\n$/],
      [["-m", "8p"], /^tsbox: invalid value "8p" for --memory: too large \(below 8p\)\n$/],
      // Above PID_MAX_LIMIT the kernel refuses pids.max, after the other limits were written.
      [["--pids-limit", "5000000"], /^tsbox: invalid value 5000000 for --pids-limit: at most 4194304 \(the kernel's PID_MAX_LIMIT\)\n$/],
      [["--oom-score-adj", "2000"], /^tsbox: invalid value 2000, range for oom score adj is \[-1000, 1000\]\n$/],
      [["--cgroups", "maybe"], /^tsbox: invalid value "maybe" for --cgroups: expected enabled, required or disabled\n$/],
      [["--cgroups", "disabled", "-m", "32m"], /^tsbox: resource limits need a cgroup/],
      // Before: `invalid container spec: linux.cgroupsPath: "../../etc/<id>" is not a cgroup path without '..'`.
      [["--cgroup-parent", "../../etc"], /^tsbox: invalid value "\.\.\/\.\.\/etc" for --cgroup-parent: a cgroup path cannot go up \("\.\."\)\n$/],
    ];
    for (const [flags, want] of cases) {
      const r = await tsbox(who, ["run", "--rm", ...flags, "busybox", "true"]);
      assert.equal(r.code, 125, `${flags.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, want, flags.join(" "));
    }
  });

  it("update: docker's flags on a stopped container, recorded for its next start; what it refuses", async () => {
    const created = await tsbox(who, ["create", "--name", "upd", "-m", "32m", "--memory-swap", "64m", "busybox", "true"]);
    assert.equal(created.code, 0, created.stderr);
    try {
      assert.deepEqual(await tsbox(who, ["update", "--cpus", "0.5", "--pids-limit", "7", "upd"]).then((r) => [r.code, r.stdout, r.stderr]), [0, "upd\n", ""]);
      const fields = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}";
      assert.equal((await tsbox(who, ["inspect", "-f", fields, "upd"])).stdout, `${32 << 20} ${64 << 20} 500000000 7\n`);
      const refused: [string[], RegExp, number][] = [
        [["upd"], /you must provide one or more flags/, 125],
        [["-m", "128m", "upd"], /Memory limit should be smaller than already set memoryswap limit/, 1],
        [["--restart", "sometimes", "upd"], /invalid restart policy "sometimes"/, 125],
        [["-m", "64m", "nosuch"], /no such container: nosuch/, 1],
      ];
      for (const [args, want, code] of refused) {
        const r = await tsbox(who, ["update", ...args]);
        assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, want);
      }
      // Both at once: swap first, then the memory, as docker documents.
      assert.equal((await tsbox(who, ["update", "-m", "128m", "--memory-swap", "256m", "upd"])).code, 0);
      assert.equal((await tsbox(who, ["inspect", "-f", "{{.HostConfig.Memory}}", "upd"])).stdout, `${128 << 20}\n`);
      // -1: no quota (NanoCpus was -10000); -1 swap: unlimited, the CLI's way to say it.
      assert.equal((await tsbox(who, ["update", "--cpu-quota=-1", "--memory-swap", "-1", "upd"])).code, 0);
      assert.equal((await tsbox(who, ["inspect", "-f", "{{.HostConfig.NanoCpus}} {{.HostConfig.CpuQuota}} {{.HostConfig.MemorySwap}}", "upd"])).stdout, "0 -1 -1\n");
    } finally {
      await tsbox(who, ["rm", "-f", "upd"]);
    }
  });

  it("update: --cpus and --cpu-period/--cpu-quota do not mix (docker's refusals); inspect shows --cpus as NanoCpus alone", async () => {
    const fields = "{{.HostConfig.NanoCpus}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}}";
    const nano = "upd-nano";
    const cfs = "upd-cfs";
    assert.equal((await tsbox(who, ["create", "--name", nano, "--cpus", "0.2", "busybox", "true"])).code, 0);
    assert.equal((await tsbox(who, ["create", "--name", cfs, "--cpu-period", "50000", "--cpu-quota", "25000", "busybox", "true"])).code, 0);
    try {
      assert.equal((await tsbox(who, ["inspect", "-f", fields, nano, cfs])).stdout, "200000000 0 0\n0 50000 25000\n");
      const refused: [string[], string][] = [
        // Merged field by field, 0.2 CPUs and a period of 10000 made 2 CPUs.
        [["--cpu-period", "10000", nano], "CPU Period cannot be updated as NanoCPUs has already been set"],
        [["--cpu-quota", "20000", nano], "CPU Quota cannot be updated as NanoCPUs has already been set"],
        [["--cpus", "1", cfs], "Nano CPUs cannot be updated as CPU Period has already been set"],
      ];
      for (const [args, message] of refused) {
        const r = await tsbox(who, ["update", ...args]);
        assert.deepEqual([r.code, r.stderr], [1, `tsbox: Conflicting options: ${message}\n`], args.join(" "));
      }
      assert.equal((await tsbox(who, ["inspect", "-f", fields, nano, cfs])).stdout, "200000000 0 0\n0 50000 25000\n", "nothing changed");
      const config = (name: string) => tsbox(who, ["inspect", "-f", "{{.Id}}", name]).then((r) => JSON.parse(readFileSync(join(who.dataDir, "containers", r.stdout.trim(), "config.json"), "utf8")).linux.resources.cpu);
      // A new --cpus replaces the old one; a new period keeps the quota it was given.
      assert.equal((await tsbox(who, ["update", "--cpus", "0.5", nano])).code, 0);
      assert.equal((await tsbox(who, ["update", "--cpu-period", "100000", cfs])).code, 0);
      assert.equal((await tsbox(who, ["inspect", "-f", fields, nano, cfs])).stdout, "500000000 0 0\n0 100000 25000\n");
      assert.deepEqual(await config(nano), { period: 100000, quota: 50000 });
    } finally {
      await tsbox(who, ["rm", "-f", nano, cfs]);
    }
  });

  it("update: a limit the kernel refuses puts back the ones written before it (the cgroup says what inspect does)", { skip: process.getuid!() !== 0 || availableParallelism() < 2 }, async (t) => {
    // A parent whose cpuset holds CPU 0 alone: --cpuset-cpus 1 passes the front end's check (the host has it) and
    // is refused by the kernel after the memory and CPU limits were written.
    const cpuset = cgroupMounts().find((m) => m.controllers.includes("cpuset") && !m.v2);
    if (!cpuset) return t.skip("no v1 cpuset hierarchy");
    const parent = join(cpuset.mount, cgroupParent);
    const narrow = join(parent, "narrow");
    mkdirSync(narrow, { recursive: true });
    for (const [dir, cpus] of [[parent, readFileSync(join(cpuset.mount, "cpuset.cpus"), "utf8")], [narrow, "0"]] as const) {
      writeFileSync(join(dir, "cpuset.cpus"), cpus);
      writeFileSync(join(dir, "cpuset.mems"), readFileSync(join(cpuset.mount, "cpuset.mems"), "utf8"));
    }
    const name = "upd-undo";
    const run = await tsbox(who, ["run", "-d", "--name", name, "--cgroup-parent", `${cgroupParent}/narrow`, "-m", "64m", "busybox", "sleep", "600"]);
    try {
      assert.equal(run.code, 0, run.stderr);
      const r = await tsbox(who, ["update", "-m", "48m", "--cpus", "0.5", "--cpuset-cpus", "1", name]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /cpuset\.cpus/);
      const id = (await tsbox(who, ["inspect", "-f", "{{.Id}}", name])).stdout.trim();
      const file = (controller: string, f: string) => readFileSync(join(cgroupMounts().find((m) => m.controllers.includes(controller))!.mount, cgroupParent, "narrow", id, f), "utf8").trim();
      assert.deepEqual([file("memory", "memory.limit_in_bytes"), file("cpu", "cpu.cfs_quota_us")], [String(64 << 20), "-1"]);
      assert.equal((await tsbox(who, ["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", name])).stdout, `${64 << 20} 0\n`);
      // docker's HostConfig.CgroupParent (it had none: `<no value>`).
      assert.equal((await tsbox(who, ["inspect", "-f", "{{.HostConfig.CgroupParent}}", name])).stdout, `${cgroupParent}/narrow\n`);
    } finally {
      await tsbox(who, ["rm", "-f", name]);
      removeCgroupTree(narrow);
    }
  });

  it("update warns about a limit the host cannot apply when that limit is asked for, not again at each later update of another", { skip: process.getuid!() !== 0 || vm }, async (t) => {
    const name = "upd-warn";
    assert.equal((await tsbox(who, ["run", "-d", "--name", name, "busybox", "sleep", "600"])).code, 0);
    try {
      const first = await tsbox(who, ["update", "--blkio-weight", "200", name]);
      assert.equal(first.code, 0, first.stderr);
      if (first.stderr === "") return t.skip("this host applies a block-I/O weight: nothing is dropped to say");
      assert.match(first.stderr, /^tsbox: warning: container upd-warn: this host cannot apply block-I\/O weight \(/);
      // Before: each of these said the block-I/O weight again (the whole set is applied each time).
      for (const args of [["-m", "64m"], ["--cpus", "0.5"]]) assert.deepEqual(await tsbox(who, ["update", ...args, name]).then((r) => [r.code, r.stderr]), [0, ""], args.join(" "));
      assert.match((await tsbox(who, ["update", "--blkio-weight", "300", "-m", "32m", name])).stderr, /cannot apply block-I\/O weight/);
      assert.equal((await tsbox(who, ["inspect", "-f", "{{.HostConfig.BlkioWeight}} {{.HostConfig.Memory}}", name])).stdout, `300 ${32 << 20}\n`);
    } finally {
      await tsbox(who, ["rm", "-f", name]);
    }
  });

  it("a cgroup2 with controllers cannot be mounted beside this host's v1 hierarchies", { skip: process.getuid!() !== 0 || vm }, (t) => {
    // The native v2 code path runs in the vm guest (pure v2); here the v1 hierarchies hold the controllers.
    if (!cgroupMounts().some((m) => !m.v2)) return t.skip("this host is pure v2: the native tests above ran on v2");
    const dir = mkdtempSync(join(tmpdir(), "tsbox-cg2-"));
    try {
      execFileSync("mount", ["-t", "cgroup2", "none", dir]);
      const controllers = readFileSync(join(dir, "cgroup.controllers"), "utf8").trim().split(/\s+/);
      execFileSync("umount", [dir]);
      assert.ok(!controllers.includes("memory") && !controllers.includes("pids"), `cgroup2 offers ${controllers.join(" ")}`);
      t.diagnostic(`cgroup2 here offers only: ${controllers.join(" ") || "(nothing)"}`);
    } finally {
      rmdirSync(dir);
    }
  });
});
