/**
 * The nest holder's record (native-rs/container/src/nest_record.rs: `<data dir>/nest/holder`, "PID START NSPID
 * NSSTART UIDMAP GIDMAP") as tests read it, and its end as a removed data dir ends it.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { NEST_HOLDER_RECORD } from "../../src/backends/native/nest-holder.js";

export function nestHolder(dataDir: string): { pid: number; nsPid: number } | undefined {
  const file = join(dataDir, ...NEST_HOLDER_RECORD);
  if (!existsSync(file)) return undefined;
  const [pid, , nsPid] = readFileSync(file, "utf8").split(" ").map(Number);
  return { pid: pid!, nsPid: nsPid! };
}

export const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

/** Waits (up to 10 s) for `pid` to end; whether it did. */
export async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

/** Ends the data dir's holder at once, as removing the data dir does (it leaves when its record goes); whether it is gone. */
export async function endNestHolder(dataDir: string): Promise<boolean> {
  const h = nestHolder(dataDir);
  if (!h) return true;
  rmSync(join(dataDir, ...NEST_HOLDER_RECORD), { force: true });
  return (await gone(h.pid)) && (await gone(h.nsPid));
}
