import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processStartTime } from "../containers/state.js";
import { isErrno } from "../fs-util.js";
import { withLockFile } from "../lock-file.js";

/**
 * SIGTERM to a process of ours (a network keeper, the rootless holder, the vm daemon) if it still is the one
 * recorded, then waits until it is gone, at most `waitMs`.
 */
export async function stopProcess(pid: number, startTime: string, waitMs = 5000): Promise<void> {
  if (processStartTime(pid) !== startTime) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch (err) {
    if (isErrno(err, "ESRCH")) return;
    throw err;
  }
  for (let waited = 0; waited < waitMs && processStartTime(pid) === startTime; waited += 10) await new Promise((r) => setTimeout(r, 10));
}

/**
 * The rootless network namespace (native-rs/container/src/net/rootless.rs)
 * stops with its last container; if keepers were killed it may stay: stop
 * it when no registered keeper runs any more.
 */
export async function stopIdleRootlessNetwork(dir: string): Promise<void> {
  const holder = readHolder(dir);
  if (holder && liveKeepers(dir).length === 0) await stopProcess(holder.pid, String(holder.start));
}

/**
 * Runs `work` registered with the running rootless holder as its keepers are (`users/<pid>` holding the start time,
 * under `<dir>/lock`: rootless.rs `enter`/`leave`), so that a container between two attachments of its own (its
 * gateway endpoint moved: network/gateway.ts) does not stop a holder that stays 0 seconds idle — with it the
 * container's namespaces could not be reached again. Then leaves as a keeper does: the last one out stops such a holder.
 */
export async function holdingRootlessNetwork<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const says = { missing: `no rootless network directory ${dir}`, busy: "the rootless network is busy" };
  const me = join(dir, "users", String(process.pid));
  const holder = await withLockFile(join(dir, "lock"), says, () => {
    const h = readHolder(dir);
    if (!h || !runs(h)) return undefined;
    writeFileSync(me, processStartTime(process.pid) ?? "0");
    return h;
  });
  if (!holder) return work();
  try {
    return await work();
  } finally {
    await withLockFile(join(dir, "lock"), says, async () => {
      rmSync(me, { force: true });
      if ((holder.idleSeconds ?? 0) === 0 && liveKeepers(dir).length === 0) await stopProcess(holder.pid, String(holder.start));
    });
  }
}

/**
 * The keepers still registered with a rootless holder that died (killed, the OOM killer, its login's cgroup torn
 * down): their containers run on with no network, and rootless.rs `enter` refuses to start a second holder (a
 * split network) until they are gone. None while the holder runs.
 */
export function cutOffKeepers(dir: string): number[] {
  const holder = readHolder(dir);
  return holder && !runs(holder) ? liveKeepers(dir) : [];
}

/**
 * The helper (pasta, slirp4netns) of the rootless namespace running now, if one is. It can differ from today's choice:
 * one started by an earlier tsbox, or with another TSBOX_ROOTLESS_NETWORK, serves every container until it is idle
 * (rootless.rs `enter`: a second would split the networks).
 */
export function runningRootlessHelper(dir: string): string | undefined {
  const holder = readHolder(dir);
  return holder && runs(holder) ? holder.helper : undefined;
}

/** Whether the rootless namespace running now has this host's loopback open (it keeps its setting until idle), if one runs. */
export function runningRootlessLoopback(dir: string): boolean | undefined {
  const holder = readHolder(dir);
  // Without the field: a holder older than the setting, which had it open (rootless.rs Holder::read).
  return holder && runs(holder) ? (holder.hostLoopback ?? true) : undefined;
}

/** Whether holder.json's process still runs (its pid not reused: the same start time). */
function runs(holder: { pid: number; start: number }): boolean {
  return processStartTime(holder.pid) === String(holder.start);
}

/** holder.json: the holder's pid and start time, its helper, how long it stays idle. */
function readHolder(dir: string): { pid: number; start: number; helper?: string; idleSeconds?: number; hostLoopback?: boolean } | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "holder.json"), "utf8")) as { pid: number; start: number; helper?: string; idleSeconds?: number; hostLoopback?: boolean };
  } catch {
    return undefined;
  }
}

/** The registered keepers (`users/<pid>`, holding the start time) that still run. */
function liveKeepers(dir: string): number[] {
  let users: string[] = [];
  try {
    users = readdirSync(join(dir, "users"));
  } catch {
    // none registered
  }
  return users.map(Number).filter((pid) => {
    try {
      return processStartTime(pid) === readFileSync(join(dir, "users", String(pid)), "utf8").trim();
    } catch {
      return false;
    }
  });
}
