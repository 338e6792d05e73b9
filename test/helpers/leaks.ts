/**
 * "Nothing leaks": a snapshot of what a container run could leave behind on
 * the host (mounts in the host's mount table, live processes of the test users
 * or of tsbox-runtime — container monitors included, their command line names
 * the bundle —, temp entries in the temp dir (a test lane's own TMPDIR, scripts/test.sh) and in the data dirs, container dirs with
 * their state, logs and sockets, names, containers' cgroups, published ports' DNAT rules), and a check that a later snapshot
 * has nothing new.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, existsSync, readlinkSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import type { Identity } from "./identities.js";
import { cgroupLeftovers } from "./cgroups.js";

export interface Snapshot {
  mounts: Set<string>;
  tmp: Set<string>;
  /** Network interfaces of this process's namespace (a leaked veth or bridge shows here). */
  links: Set<string>;
  /** As root, this namespace's published ports' DNAT rules (a keeper that died unseen left its rules for good). */
  dnat: Set<string>;
}

function mountPoints(): Set<string> {
  const lines = readFileSync("/proc/self/mountinfo", "utf8").trim().split("\n");
  return new Set(lines.map((l) => l.split(" ")[4]!));
}

/** `iptables -S TSBOX-DNAT`'s rules; none without root, iptables or the chain. */
function dnatRules(): Set<string> {
  if (process.getuid?.() !== 0) return new Set();
  try {
    const out = execFileSync("iptables", ["-w", "-t", "nat", "-S", "TSBOX-DNAT"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return new Set(out.split("\n").filter((l) => l.startsWith("-A ")));
  } catch {
    return new Set();
  }
}

export function snapshot(): Snapshot {
  return { mounts: mountPoints(), tmp: new Set(readdirSync(tmpdir())), links: new Set(readdirSync("/sys/class/net")), dnat: dnatRules() };
}

/**
 * Processes that belong to a container run of these identities, told apart
 * from other work on the machine (another test suite, say) by their data
 * dirs: a tsbox CLI or Node process has TSBOX_DATA_DIR in its environment, a
 * tsbox-runtime names its bundle on its command line, and a container process
 * (even one orphaned by a dead helper) has the bundle's overlay in its mount
 * table. Zombies are dead already and do not count.
 */
export function strayProcesses(who: Identity[]): string[] {
  const dirs = who.map((w) => w.dataDir);
  const mentions = (text: string) => dirs.some((d) => text.includes(d));
  const stray: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      const ours =
        mentions(cmdline) ||
        mentions(readFileSync(`/proc/${pid}/environ`, "utf8")) ||
        mentions(readFileSync(`/proc/${pid}/mountinfo`, "utf8"));
      if (ours) stray.push(`${pid} ${cmdline}`);
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return stray;
}

/**
 * Entries a crashed or sloppy run could leave in a data dir: container
 * bundles (with their state, log files and monitor socket) and bundles
 * being removed (`containers/.removing-*`), names whose container is gone,
 * temp files.
 */
/** `.index.lock`, `.migrate.lock`, `volumes/.lock`, `networks/.create.lock`. */
const LOCK_FILE_NAME = /^\.([a-z]+\.)?lock$/;

export function dataDirLeftovers(who: Identity): string[] {
  const left: string[] = [];
  const containers = join(who.dataDir, "containers");
  if (existsSync(containers)) left.push(...readdirSync(containers).map((c) => `containers/${c}`));
  const names = join(who.dataDir, "names");
  if (existsSync(names)) left.push(...readdirSync(names).map((n) => `names/${n}`));
  // The store's own structure (blobs/sha256, layers/sha256, …), not the unpacked layers' contents.
  const walk = (dir: string, depth: number) => {
    if (depth > 2 || !existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      // .space-reserve: kept by the image layout for index writes on a full disk (src/image/layout.ts), the helper
      // containers' own store's too (src/containers/helper-root.ts).
      if (e.name === ".space-reserve" && (dir === who.dataDir || dir === join(who.dataDir, "helper"))) continue;
      // Locks stay (src/lock-file.ts: one unlinked on release could be locked twice): a file, or the store's empty directory.
      if (LOCK_FILE_NAME.test(e.name) && (e.isFile() || (e.isDirectory() && readdirSync(join(dir, e.name)).length === 0))) continue;
      if (/(^\.|tmp|partial|incomplete)/i.test(e.name)) left.push(join(dir, e.name).slice(who.dataDir.length + 1));
      else if (e.isDirectory() && e.name !== "containers" && !/^[0-9a-f]{64}$/.test(e.name)) walk(join(dir, e.name), depth + 1);
    }
  };
  walk(who.dataDir, 0);
  // A network's leases (native-rs/container/src/net/ipam.rs) go with their containers; the
  // rootless network's holder (net/rootless.rs) with the last of them.
  const networks = join(who.dataDir, "networks");
  if (existsSync(networks)) {
    for (const net of readdirSync(networks)) {
      const leases = join(networks, net, "leases");
      if (existsSync(leases)) left.push(...readdirSync(leases).map((l) => `networks/${net}/leases/${l}`));
    }
  }
  if (existsSync(join(who.dataDir, "rootless-netns", "holder.json"))) left.push("rootless-netns/holder.json");
  return left;
}

/**
 * A mount another test process made at the same time (scripts/test.sh runs
 * two lanes at once): its network namespaces (helpers/netns.ts names them
 * with its pid, and iproute2's /run/netns itself), and what it mounts in its
 * lane's own temp dir.
 */
function anotherTestProcesses(mount: string): boolean {
  // iproute2 makes /run/netns a mount of its own the first time a namespace is added on a machine (a fresh CI
  // machine: while a test of the other lane runs) and keeps it for good.
  if (mount === "/run/netns") return true;
  if (mount.startsWith("/run/netns/tsbox-t-")) return !mount.startsWith(`/run/netns/tsbox-t-${process.pid}-`);
  return mount.startsWith("/tmp/tsbox-scratch-lane-") && !mount.startsWith(`${tmpdir()}/`);
}

/**
 * A foreground `run --rm` returns once its container is gone for every tsbox command (renamed
 * `containers/.removing-<id>-<pid>`, name freed), and that pid, forked by the run, deletes the tree after it
 * (native-rs/runtime/src/monitor/remove.rs `remove_locked_after_exit`): waits for those removers to end, so
 * what a test then finds in `containers/` is what was left for good.
 */
export async function removersDone(who: Identity): Promise<void> {
  const containers = join(who.dataDir, "containers");
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  };
  const live = () =>
    (existsSync(containers) ? readdirSync(containers) : [])
      .map((e) => Number(/^\.removing-[0-9a-f]{64}-(\d+)$/.exec(e)?.[1]))
      .filter((pid) => pid > 0 && alive(pid));
  // Bounded: a remover that never ends leaves its tree to the caller's assertion, not a hung test file.
  for (let waited = 0; waited < 60_000 && live().length > 0; waited += 5) await new Promise((r) => setTimeout(r, 5));
}

/** Waits briefly for exiting processes, then asserts nothing new is left. */
export async function assertNoLeaks(before: Snapshot, who: Identity[]): Promise<void> {
  let stray = strayProcesses(who);
  for (let i = 0; i < 50 && stray.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    stray = strayProcesses(who);
  }
  assert.deepEqual(stray, [], "no container processes may outlive a run");
  const after = snapshot();
  const newMounts = [...after.mounts].filter((m) => !before.mounts.has(m) && !anotherTestProcesses(m));
  assert.deepEqual(newMounts, [], "no mounts may leak into the host mount table");
  // Identity dirs of other suites running on the machine at the same time are theirs, not leaks.
  const newTmp = [...after.tmp].filter((t) => !before.tmp.has(t) && /tsbox/i.test(t) && !/^tsbox-(data|scratch|bench)-/.test(t));
  assert.deepEqual(newTmp, [], `no temp dirs may be left in ${tmpdir()}`);
  const newLinks = [...after.links].filter((l) => !before.links.has(l) && /^tsbox/.test(l));
  assert.deepEqual(newLinks, [], "no tsbox veth or bridge may be left in the host's network namespace");
  const newRules = [...after.dnat].filter((r) => !before.dnat.has(r));
  assert.deepEqual(newRules, [], "no published port's DNAT rule may be left in the host's network namespace");
  for (const w of who) {
    await removersDone(w);
    assert.deepEqual(dataDirLeftovers(w), [], `no leftovers in ${w.name}'s data dir`);
  }
  // The cgroups of this process's containers (test/helpers/cgroups.ts) go with them.
  assert.deepEqual(cgroupLeftovers(), [], "no cgroup may outlive its container");
}

/**
 * This process's descriptors on files under `dir` (deleted ones too): what a
 * leak check of a file server counts, where counting all of them would be at
 * the mercy of the test runner's own.
 */
export function fdsUnder(dir: string): number {
  // A deleted dir's files still show under its path, marked "(deleted)".
  const root = (existsSync(dir) ? realpathSync(dir) : dir) + "/";
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root);
    } catch {
      return false;
    }
  }).length;
}
