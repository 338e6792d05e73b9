/**
 * cgroups in the tests. Every tsbox this test process starts (CLI, library,
 * as any identity) puts its containers' cgroups under a parent of its own,
 * `tsbox-test-<pid>` ($TSBOX_CGROUP_PARENT), so the leak check can tell them
 * from a neighbour's on the same machine; `removeTestCgroups` deletes the
 * (then empty) parents. `delegate` hands a user cgroups of its own, as
 * systemd's Delegate=yes would on this v1 host: chown'd controller dirs.
 */
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const cgroupParent = `tsbox-test-${process.pid}`;
// In-process Runtimes (tests that use the library as root) see it too.
process.env.TSBOX_CGROUP_PARENT ??= cgroupParent;

const OURS = ["memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer"];

/** Mount points of the cgroup hierarchies tsbox uses: v1 ones with our controllers, and cgroup2 ones. */
export function cgroupMounts(): { mount: string; controllers: string[]; v2: boolean }[] {
  const out: { mount: string; controllers: string[]; v2: boolean }[] = [];
  for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
    const [, mount, type, options] = line.split(" ");
    if (type === "cgroup2") out.push({ mount: mount!, controllers: [], v2: true });
    if (type === "cgroup") {
      const controllers = options!.split(",").filter((o) => OURS.includes(o));
      if (controllers.length > 0) out.push({ mount: mount!, controllers, v2: false });
    }
  }
  return out;
}

/** Directories named `name` anywhere in the cgroup hierarchies (a few levels deep). */
function findDirs(name: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const path = join(dir, e.name);
      if (e.name === name) found.push(path);
      else if (depth < 4) walk(path, depth + 1);
    }
  };
  for (const m of cgroupMounts()) walk(m.mount, 0);
  return found;
}

/** Container cgroups still there under this process's parents. */
export function cgroupLeftovers(): string[] {
  return findDirs(cgroupParent).flatMap((parent) =>
    readdirSync(parent, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(parent, e.name)),
  );
}

/** Removes a cgroup tree, deepest first (cgroup dirs go with rmdir only; a process that just exited may hold one a moment). */
export function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  for (let i = 0; i < 200; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EBUSY") throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  throw new Error(`cgroup ${dir} is still in use`);
}

export function removeTestCgroups(): void {
  for (const dir of findDirs(cgroupParent)) removeCgroupTree(dir);
}

// Every file that runs containers as root gets a parent; one without cleanupIdentities (the vm and package
// suites, which also run the CLI) left it behind, one per test run. The last word at exit; a cgroup still in
// use stays (the leak checks report what is in it).
if (process.getuid?.() === 0) {
  process.once("exit", () => {
    for (const dir of findDirs(cgroupParent)) {
      try {
        rmdirSync(dir); // only an empty one goes
      } catch {
        // in use, or gone
      }
    }
  });
}

export interface Delegation {
  /** The delegated cgroup in each v1 hierarchy. */
  dirs: string[];
  /** Runs `argv` with the process moved into the delegated cgroups first (as a user session would be). */
  wrap(argv: string[]): string[];
  remove(): void;
}

/**
 * Gives `uid` a cgroup in every v1 hierarchy we use: a directory it owns
 * (with its cgroup.procs and tasks), cpuset values copied from the parent.
 * Only on v1/hybrid hosts; undefined elsewhere.
 */
export function delegate(uid: number, gid: number, tag: string): Delegation | undefined {
  const mounts = cgroupMounts().filter((m) => !m.v2);
  if (mounts.length === 0) return undefined;
  const dirs: string[] = [];
  for (const m of mounts) {
    const dir = join(m.mount, `tsbox-deleg-${process.pid}-${tag}`);
    mkdirSync(dir);
    dirs.push(dir);
    if (m.controllers.includes("cpuset")) {
      for (const f of ["cpuset.cpus", "cpuset.mems"]) writeFileSync(join(dir, f), readFileSync(join(m.mount, f), "utf8").trim());
    }
    for (const f of [dir, join(dir, "cgroup.procs"), join(dir, "tasks")]) chownSync(f, uid, gid);
  }
  return {
    dirs,
    wrap: (argv) => ["/bin/sh", "-c", 'for d in $0; do echo $$ > "$d/cgroup.procs" || exit 125; done; exec "$@"', dirs.join(" "), ...argv],
    remove: () => dirs.forEach(removeCgroupTree),
  };
}
