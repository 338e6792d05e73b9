/**
 * Root's network state (leases, locks, DNS pids) lives in tmpfs, keyed by
 * network namespace: `/run/tsbox-net/netns-<inode>/<bridge>/`. A namespace
 * that is gone (an `ip netns delete`d one tsbox ran in) leaves its dir:
 * `network prune` and `system prune` sweep those whose namespace nothing
 * holds any more — no process or thread is in it, no fd and no nsfs mount
 * (in any mount namespace) keeps it.
 */
import { readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

/** As root, the networks' shared state by network namespace and bridge (store.ts `stateDir`). */
export const HOST_STATE_ROOT = "/run/tsbox-net";

const DIR_RE = /^netns-(\d+)$/;

/** `HOST_STATE_ROOT`'s directory for a network namespace (a `/proc/PID/ns/net` or `/run/netns/NAME` path). */
export function netnsStateDir(netnsPath = "/proc/self/ns/net"): string {
  return join(HOST_STATE_ROOT, `netns-${statSync(netnsPath).ino}`);
}

/** Removes the state dirs of network namespaces that no longer exist; their paths. */
export function sweepDeadNetnsState(root = HOST_STATE_ROOT): string[] {
  const dirs = list(root).filter((name) => DIR_RE.test(name));
  if (dirs.length === 0) return [];
  const live = liveNetworkNamespaces();
  const removed: string[] = [];
  for (const name of dirs) {
    if (live.has(DIR_RE.exec(name)![1]!)) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    removed.push(join(root, name));
  }
  return removed;
}

/**
 * The inodes of every network namespace something holds: a task's
 * namespace, an open fd (`net:[N]`), a bind mount of an nsfs file
 * (`ip netns add`), looked for in each mount namespace's mountinfo.
 */
function liveNetworkNamespaces(): Set<string> {
  const live = new Set<string>();
  const mountNamespaces = new Set<string>();
  const netLink = /^net:\[(\d+)\]$/;
  for (const pid of list("/proc").filter((e) => /^\d+$/.test(e))) {
    for (const tid of list(`/proc/${pid}/task`)) {
      const ino = inode(`/proc/${pid}/task/${tid}/ns/net`);
      if (ino) live.add(ino);
    }
    for (const fd of list(`/proc/${pid}/fd`)) {
      const target = netLink.exec(link(`/proc/${pid}/fd/${fd}`));
      if (target) live.add(target[1]!);
    }
    const mnt = inode(`/proc/${pid}/ns/mnt`);
    if (!mnt || mountNamespaces.has(mnt)) continue;
    mountNamespaces.add(mnt);
    for (const line of read(`/proc/${pid}/mountinfo`).split("\n")) {
      // "ID PARENT MAJ:MIN ROOT MOUNTPOINT … - nsfs nsfs rw": an nsfs mount's root names the namespace.
      const fields = line.split(" ");
      const sep = fields.indexOf("-");
      const target = sep > 0 && fields[sep + 1] === "nsfs" ? netLink.exec(fields[3] ?? "") : null;
      if (target) live.add(target[1]!);
    }
  }
  return live;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return []; // gone meanwhile, or not ours to read
  }
}

function inode(path: string): string | undefined {
  try {
    return String(statSync(path).ino);
  } catch {
    return undefined;
  }
}

function link(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
