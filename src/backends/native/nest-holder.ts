/**
 * The data dir's nest holder (native-rs/runtime/src/nest_holder.rs; its
 * idle time: nest-idle.ts), as `tsbox info` shows it: a process a rootless
 * user's one-shot runs leave behind on purpose, for up to a minute unused.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { processStartTime } from "../../containers/state.js";

/** `<data dir>/nest/holder`: one line, "PID START NSPID NSSTART UIDMAP GIDMAP" (native-rs/container/src/nest_record.rs `Record`). */
export const NEST_HOLDER_RECORD = ["nest", "holder"] as const;

/** The record's holder: its pid and /proc start time, if the line is one. */
export function parseNestHolderRecord(text: string): { pid: number; start: string } | undefined {
  const fields = text.trim().split(/\s+/);
  const pid = Number(fields[0]);
  return fields.length === 6 && Number.isInteger(pid) && pid > 0 && /^\d+$/.test(fields[1]!) ? { pid, start: fields[1]! } : undefined;
}

/**
 * The data dir's running nest holder (null: none runs). Reading its record is a use to the holder (it watches the
 * file's opens): it stays another idle period, as after a run.
 */
export function runningNestHolder(dataDir: string): { pid: number } | null {
  let record: { pid: number; start: string } | undefined;
  try {
    record = parseNestHolderRecord(readFileSync(join(dataDir, ...NEST_HOLDER_RECORD), "latin1"));
  } catch {
    return null;
  }
  return record && processStartTime(record.pid) === record.start ? { pid: record.pid } : null;
}
