/**
 * cgroup scenarios through the library, in a child process so they run as
 * any test identity (and inside a delegated cgroup): prints one JSON object.
 *   node --import tsx test/helpers/cgroups-script.ts SCENARIO...
 * Every figure comes from the container's cgroup (Container.stats, the files
 * cgroup.json names), never from wall time alone.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Container, type ContainerError, Runtime, type RunOptions } from "../../src/index.js";
import { VmBackend } from "../../src/backends/vm/node/vm-backend.js";

// On the vm backend one guest serves every scenario (restoring one per container is slow on a loaded machine).
const vmBackend = process.env.TSBOX_BACKEND === "vm" ? new VmBackend({ idleMs: 600_000 }) : undefined;
const rt = new Runtime(vmBackend ? { backend: vmBackend } : {});
const native = rt.backend.name === "native";
const warnings: string[] = [];
const run = (options: Omit<RunOptions, "image">) => rt.run({ image: "busybox", remove: true, ...options }, { onWarning: (m) => warnings.push(m) });

/** The container's cgroup dirs (native: from its bundle's cgroup.json), or null without one. */
function cgroupDirs(c: Container): Record<string, string> | null {
  if (!native) return null;
  try {
    return (JSON.parse(readFileSync(join(process.env.TSBOX_DATA_DIR!, "containers", c.id, "cgroup.json"), "utf8")) as { dirs: Record<string, string> }).dirs;
  } catch {
    return null;
  }
}

/** A control file of the hierarchy holding `controller` (v1) or the one v2 dir. */
function readControl(dirs: Record<string, string> | null, controller: string, v1: string, v2: string): string | null {
  if (!dirs) return null;
  const v1dir = Object.entries(dirs).find(([k]) => k.split(",").includes(controller))?.[1];
  try {
    return v1dir ? readFileSync(join(v1dir, v1), "utf8").trim() : dirs.unified ? readFileSync(join(dirs.unified, v2), "utf8").trim() : null;
  } catch {
    return null;
  }
}

async function lines(c: Container, seen: string[]): Promise<void> {
  c.stdout!.setEncoding("utf8");
  for await (const chunk of c.stdout!) seen.push(...(chunk as string).split("\n").filter((l) => l !== ""));
}

const scenarios: Record<string, () => Promise<unknown>> = {
  // -m 32m: a 64 MiB allocation (tail holds everything it reads) is OOM-killed.
  async oom() {
    // In the emulated guest tail's small steps past the limit thrash reclaim (~30 s before the kill): there a
    // string that doubles (vm.test.ts's) goes past it at once.
    const cmd = native ? ["sh", "-c", "head -c 64m /dev/zero | tail"] : ["awk", 'BEGIN { s = "xxxxxxxxxxxxxxxx"; while (1) s = s s }'];
    const c = await run({ cmd, resources: { memory: "32m" } });
    const dirs = cgroupDirs(c);
    const limit = readControl(dirs, "memory", "memory.limit_in_bytes", "memory.max");
    const status = await c.wait();
    return { ...status, limit, hadCgroup: dirs !== null };
  },
  // --cpus 0.2: a busy loop gets about a fifth of a core (cgroup CPU time over a few seconds).
  async cpu() {
    await using c = await run({ cmd: ["sh", "-c", "while :; do :; done"], resources: { cpus: 0.2 } });
    const quota = readControl(cgroupDirs(c), "cpu", "cpu.cfs_quota_us", "cpu.max");
    await sleep(300);
    const s0 = await c.stats();
    const t0 = process.hrtime.bigint();
    await sleep(3000);
    const s1 = await c.stats();
    const elapsedUsec = Number((process.hrtime.bigint() - t0) / 1000n);
    return { quota, share: (s1.cpu.usageUsec - s0.cpu.usageUsec) / elapsedUsec, throttledPeriods: s1.cpu.throttledPeriods };
  },
  // --pids-limit 10: a fork bomb never has more than 10 processes, and the kernel says it refused forks.
  // The bomb runs in a subshell: a shell whose fork is refused exits ("can't fork"), and init must outlive it.
  async pids() {
    await using c = await run({ cmd: ["sh", "-c", "(f() { f | f & }; f) & exec cat"], resources: { pidsLimit: 10 }, stdin: true });
    let most = 0;
    let limit: number | null = null;
    for (let i = 0; i < 20; i++) {
      const s = await c.stats();
      most = Math.max(most, s.pids.current);
      limit = s.pids.limit;
      await sleep(50);
    }
    const refused = readControl(cgroupDirs(c), "pids", "pids.events", "pids.events");
    c.stdin!.end();
    const status = await c.wait();
    return { most, limit, refused, exitCode: status.exitCode };
  },
  // pause stops the output, unpause resumes it; the freezer says frozen meanwhile.
  async pause() {
    await using c = await run({ cmd: ["sh", "-c", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.05; done"] });
    const seen: string[] = [];
    const reading = lines(c, seen);
    while (seen.length < 3) await sleep(20);
    // The library's refusals say which they are (unpause of a running one had no reason).
    const reason = (e: unknown) => (e as { reason?: string }).reason ?? String(e);
    const refusals = [await c.unpause().then(() => "unpaused", reason)];
    await c.pause();
    refusals.push(await c.pause().then(() => "paused twice", reason));
    const state = readControl(cgroupDirs(c), "freezer", "freezer.state", "cgroup.events");
    await sleep(100); // what was written before the freeze arrives
    const before = seen.length;
    await sleep(700);
    const during = seen.length;
    await c.unpause();
    for (let i = 0; i < 100 && seen.length <= during; i++) await sleep(20);
    const after = seen.length;
    // Paused again, then killed: the SIGKILL thaws it (the v1 freezer held it before stop 40).
    await c.pause();
    await c.kill("SIGKILL");
    const killed = await Promise.race([c.wait().then((s) => s.exitCode), sleep(10_000).then(() => "still paused")]);
    await reading;
    return { state, before, during, after, killed, refusals };
  },
  // stats of a small idle container: plausible figures, the limits as set.
  async stats() {
    // A file written and left: page cache in its usage, which docker's stats leaves out (inactiveFile).
    await using c = await run({ cmd: ["sh", "-c", "dd if=/dev/zero of=/f bs=1M count=4 2>/dev/null; sleep 30"], resources: { memory: "64m", pidsLimit: 20 } });
    await sleep(200);
    return await c.stats(); // before `await using` kills it
  },
  // The container's own cgroup at /sys/fs/cgroup, read-only (docker's mount): the limits as the kernel
  // holds them, found where programs look (v2 names, else v1's per-hierarchy ones); a write is refused.
  async view() {
    const files = ["memory.max", "memory/memory.limit_in_bytes", "pids.max", "pids/pids.max", "cpu.max", "cpu/cpu.cfs_quota_us"];
    const script = [
      `for f in ${files.join(" ")}; do [ -f /sys/fs/cgroup/$f ] && echo "$f=$(cat /sys/fs/cgroup/$f)"; done`,
      "(echo 5 > /sys/fs/cgroup/pids.max || echo 5 > /sys/fs/cgroup/pids/pids.max) 2>/dev/null && echo write=done || echo write=refused",
    ].join("; ");
    const c = await run({ cmd: ["sh", "-c", script], resources: { memory: "32m", pidsLimit: 10, cpus: 0.5 } });
    const { stdout, exitCode } = await c.output();
    return { exitCode, ...Object.fromEntries(stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])) };
  },
  // update: new limits reach the running container's cgroup and its record; natively, one the kernel refuses
  // (below what the container uses: 12 MiB in its /dev/shm, on a host without swap) changes nothing. Not in
  // the guest: cgroup v2 does not refuse such a limit, it OOM-kills the container.
  async update() {
    await using c = await run({ cmd: ["sh", "-c", "head -c 12m /dev/zero > /dev/shm/fill; echo filled; exec sleep 30"], resources: { memory: "32m", pidsLimit: 10 } });
    const seen: string[] = [];
    void lines(c, seen);
    while (seen.length === 0) await sleep(20);
    const warning = await c.update({ memory: "48m", pidsLimit: 20, cpus: 0.5 });
    const s = await c.stats();
    // The guest's cgroup is not the host's: read as the container sees it (v2, read-only at /sys/fs/cgroup).
    const quota = native ? readControl(cgroupDirs(c), "cpu", "cpu.cfs_quota_us", "cpu.max") : (await c.exec(["cat", "/sys/fs/cgroup/cpu.max"])).stdout.trim();
    let refused: string | null = null;
    if (native) {
      try {
        await c.update({ memory: "6m" });
      } catch (e) {
        refused = (e as Error).message;
      }
    }
    const after = await c.stats();
    const host = (await c.inspect()).HostConfig;
    return { warning: warning ?? null, memory: s.memory.limit, pids: s.pids.limit, quota, refused, memoryAfter: after.memory.limit, hostMemory: host.Memory, hostPids: host.PidsLimit };
  },
  // update without a cgroup: recorded for the next start, with one warning.
  async noupdate() {
    await using c = await run({ cmd: ["sleep", "30"] });
    return { warning: (await c.update({ memory: "48m" })) ?? null, memory: (await c.inspect()).HostConfig.Memory };
  },
  // Without a cgroup: nothing at /sys/fs/cgroup (none of the host's tree either).
  async noview() {
    const c = await run({ cmd: ["sh", "-c", "ls -A /sys/fs/cgroup | wc -l"] });
    const { stdout, exitCode } = await c.output();
    return { exitCode, entries: Number(stdout.trim()) };
  },
  // Limits a rootless user without a delegated cgroup cannot have: one warning, the container still runs.
  async unlimited() {
    const c = await run({ cmd: ["true"], resources: { memory: "32m", pidsLimit: 10 } });
    const status = await c.wait();
    return { exitCode: status.exitCode, warnings: [...warnings] };
  },
  // The same through create and start: the monitor passes the supervisor's warning on.
  async unlimitedStarted() {
    const c = await rt.create({ image: "busybox", cmd: ["true"], resources: { memory: "32m", pidsLimit: 10 } });
    const said: string[] = [];
    await c.start({ onWarning: (m) => said.push(m) });
    const status = await c.wait();
    await c.remove();
    return { exitCode: status.exitCode, warnings: said };
  },
  // --cgroups=required without a cgroup: an error, no container.
  async required() {
    try {
      await (await run({ cmd: ["true"], cgroups: "required" })).wait();
      return "started";
    } catch (e) {
      const err = e as { message: string; exitCode: number };
      return { message: err.message, exitCode: err.exitCode };
    }
  },
  // stats without a cgroup: a clear refusal.
  async nostats() {
    await using c = await run({ cmd: ["sleep", "30"] });
    try {
      return await c.stats();
    } catch (e) {
      return { message: (e as Error).message, reason: (e as ContainerError).reason };
    }
  },
};

const results: Record<string, unknown> = {};
for (const name of process.argv.slice(2)) {
  try {
    results[name] = await scenarios[name]!();
  } catch (e) {
    results[name] = { error: (e as Error).stack ?? String(e) };
  }
}
await vmBackend?.shutdown();
console.log(JSON.stringify(results));
