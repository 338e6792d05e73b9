import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { processStartTime } from "../containers/state.js";
import { isErrno } from "../fs-util.js";

/** SIGTERM to a network process (a keeper, the rootless holder) if it still is the one recorded, then waits until it is gone. */
export async function stopProcess(pid: number, startTime: string): Promise<void> {
  if (processStartTime(pid) !== startTime) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch (err) {
    if (isErrno(err, "ESRCH")) return;
    throw err;
  }
  for (let i = 0; i < 500 && processStartTime(pid) === startTime; i++) await new Promise((r) => setTimeout(r, 10));
}

/**
 * The rootless network namespace (native-rs/container/src/net/rootless.rs)
 * stops with its last container; if keepers were killed it may stay: stop
 * it when no registered keeper runs any more.
 */
export async function stopIdleRootlessNetwork(dir: string): Promise<void> {
  let holder: { pid: number; start: number };
  try {
    holder = JSON.parse(readFileSync(join(dir, "holder.json"), "utf8")) as typeof holder;
  } catch {
    return;
  }
  let users: string[] = [];
  try {
    users = readdirSync(join(dir, "users"));
  } catch {
    // none registered
  }
  const live = users.some((u) => {
    try {
      return processStartTime(Number(u)) === readFileSync(join(dir, "users", u), "utf8").trim();
    } catch {
      return false;
    }
  });
  if (!live) await stopProcess(holder.pid, String(holder.start));
}
