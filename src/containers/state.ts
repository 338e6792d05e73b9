import { readdirSync, readFileSync } from "node:fs";
import { isErrno, writeFileAtomicSync } from "../fs-util.js";
import type { ContainerPaths, DataPaths } from "../paths.js";
import { pidAlive } from "../process-alive.js";

export type ContainerStatus = "created" | "running" | "exited";

/** `<bundle>/state.json`: what `ps` shows and `rm` checks, kept by the process that runs the container. */
export interface ContainerState {
  id: string;
  name: string | null;
  /** Image as the user typed it. */
  image: string;
  imageDigest: string;
  command: string[];
  backend: string;
  status: ContainerStatus;
  created: string;
  /** Host pid of the container's init, while running. */
  pid: number | null;
  /** Host pid of the supervising helper (tsbox-runtime), which signals are sent to. */
  monitorPid: number | null;
  /** /proc/<pid>/stat starttime of monitorPid: tells a live container from a recycled pid. */
  monitorStartTime: string | null;
  /** The tsbox process that created it, and its starttime: a "created" container whose creator died is dead too. */
  creatorPid: number;
  creatorStartTime: string | null;
  exitCode: number | null;
  signal: string | null;
  finished: string | null;
  /** Why it never started, when it did not. */
  error: string | null;
  remove: boolean;
}

// Sync I/O: state files are tiny and on the `tsbox run` path (see writeFileAtomicSync).
export function writeState(paths: ContainerPaths, state: ContainerState): void {
  writeFileAtomicSync(paths.state, JSON.stringify(state, null, 2) + "\n");
}

export function readState(paths: ContainerPaths): ContainerState | undefined {
  try {
    return JSON.parse(readFileSync(paths.state, "utf8")) as ContainerState;
  } catch (err) {
    if (isErrno(err, "ENOENT") || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** Every container with a readable state.json; status corrected for processes that died unseen. */
export async function listStates(data: DataPaths): Promise<ContainerState[]> {
  let ids: string[];
  try {
    ids = readdirSync(data.containers);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
  const states: ContainerState[] = [];
  for (const id of ids) {
    const state = readState(data.container(id));
    if (state) states.push(refreshStatus(state));
  }
  return states.sort((a, b) => b.created.localeCompare(a.created));
}

/**
 * A "running" container whose supervisor is gone (the tsbox process that ran
 * it was killed), or a "created" one whose creator is gone, is reported as
 * exited with an unknown code.
 */
export function refreshStatus(state: ContainerState): ContainerState {
  if (state.status === "exited") return state;
  if (state.monitorPid !== null && processStartTime(state.monitorPid) === state.monitorStartTime && state.monitorStartTime !== null) return state;
  if (state.status === "created" && state.monitorPid === null && processStartTime(state.creatorPid) === state.creatorStartTime) return state;
  return { ...state, status: "exited" };
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or null when the process is gone or a zombie. */
export function processStartTime(pid: number): string | null {
  // No /proc (macOS, Windows: the vm backend): only whether the pid is alive; a reused pid goes unnoticed there.
  if (process.platform !== "linux") return pidAlive(pid) ? "alive" : null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parens: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // A zombie (state Z) is dead for our purposes: its parent just has not reaped it.
    if (fields[0] === "Z") return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
