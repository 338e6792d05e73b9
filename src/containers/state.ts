import { recordTransition } from "./events.js";
import { existsSync, readFileSync } from "node:fs";
import { isDiskFull, isErrno, keepSpaceReserve, readdirOrEmpty, unlinkIfThere, writeFileAtomicSync } from "../fs-util.js";
import type { ContainerPaths, DataPaths } from "../paths.js";
import { withContainerLock } from "./lock.js";
import type { RestartPolicy } from "./restart-policy.js";
import { pidAlive } from "../process-alive.js";
import { compareText } from "../compare.js";
import { errorMessage } from "../errors.js";

/** docker's State.Status values (docker's "removing" and "dead" do not occur). */
export type ContainerStatus = "created" | "running" | "paused" | "restarting" | "exited";

/**
 * `<bundle>/state.json`: what `ps`, `inspect` and every lifecycle verb read.
 * Written temp-then-rename, so readers need no lock; changed only under the
 * container's lock (lock.ts). Who writes what:
 * - the front end that creates the container: everything, once;
 * - the monitor (native-rs/runtime/src/monitor, or the vm daemon) or the
 *   foreground `run` that supervises it: the run-time fields `status`,
 *   `pid`, `monitorPid`, `monitorStartTime`, `started`, `finished`,
 *   `exitCode`, `signal`, `error`, `oomKilled`, `restartCount`;
 * - `rename`: `name`; `pause`/`unpause`: `status`.
 *
 * docker's inspect `.State` maps as: Status = status; Running = status is
 * running or paused; Paused = paused; Restarting = restarting; OOMKilled =
 * oomKilled; Pid = pid ?? 0; ExitCode = exitCode ?? 0 (UNKNOWN_EXIT once exited); Error = error ?? "";
 * StartedAt = started; FinishedAt = finished; `.RestartCount` = restartCount;
 * `.HostConfig.RestartPolicy` = restartPolicy ({Name, MaximumRetryCount});
 * `.Config.StopSignal`/`.StopTimeout` = stopSignal/stopTimeout;
 * `.Config.Tty`/`.OpenStdin` = tty/openStdin; `.HostConfig.AutoRemove` = remove;
 * `.LogPath` = `<bundle>/container.log` when supervisor is "monitor".
 */
export interface ContainerState {
  /** 64 hex digits. */
  id: string;
  name: string | null;
  /** Image as the user typed it. */
  image: string;
  imageDigest: string;
  command: string[];
  backend: string;
  status: ContainerStatus;
  /** ISO 8601 times: created; last start; last exit (null until the first one). */
  created: string;
  started: string | null;
  finished: string | null;
  /** Host pid of the container's init while it runs (guest pid on the vm backend). */
  pid: number | null;
  /**
   * Host pid of the process supervising it: the monitor, or for a
   * foreground run the tsbox-runtime helper; signals reach the container
   * through it.
   */
  monitorPid: number | null;
  /** /proc/<pid>/stat starttime of monitorPid: tells a live supervisor from a recycled pid. */
  monitorStartTime: string | null;
  /**
   * A tsbox process that is starting the container right now (a "created"
   * container whose creator died never started); null once created for good.
   */
  creatorPid: number | null;
  creatorStartTime: string | null;
  /** Of the last run; null while running or never run (unknown after a crash). */
  exitCode: number | null;
  signal: string | null;
  /** Why the last start failed, when it did (the status stays as it was: failedStartFields). */
  error: string | null;
  oomKilled: boolean;
  /** Restarts by the restart policy since the last `start`. */
  restartCount: number;
  restartPolicy: RestartPolicy;
  /**
   * Who runs it: "monitor" (detached, `start`, `run -d`, restart policies:
   * logs and attach work) or "foreground" (the `run` that started it streams
   * its output, no log is kept); null before its first start.
   */
  supervisor: "monitor" | "foreground" | null;
  /** `stop` sends this (default SIGTERM), then SIGKILL after stopTimeout seconds. */
  stopSignal: string;
  stopTimeout: number;
  tty: boolean;
  /** `-i`: stdin stays open for attached clients. */
  openStdin: boolean;
  /** Deleted once it exits (`--rm`). */
  remove: boolean;
  log: LogSettings;
  /** Its labels (the image's and its own: inspect's `.Config.Labels`), which its events carry as docker's do; absent in older records. */
  labels?: Record<string, string>;
}

export const DEFAULT_LOG = { maxSize: 10 * 1024 * 1024, maxFiles: 3 };

/** json-file log rotation: bytes per file, files kept; `driver: "none"` (`--log-driver none`): no log is kept. */
export interface LogSettings {
  maxSize: number;
  maxFiles: number;
  /** Absent: docker's json-file (what every record before --log-driver none has). */
  driver?: "none";
}

/** The rotation of the log a container keeps; undefined when it keeps none (`--log-driver none`). */
export function keptLog(log: LogSettings): { maxSize: number; maxFiles: number } | undefined {
  return log.driver === "none" ? undefined : { maxSize: log.maxSize, maxFiles: log.maxFiles };
}

/** state.json's text (the run cache's plans hold it too: native-rs/addon/src/replay fills their marks). */
export function stateFileText(state: ContainerState): string {
  return JSON.stringify(state, null, 2) + "\n";
}

// Sync I/O: state files are tiny and on the `tsbox run` path (see writeFileAtomicSync).
export function writeState(paths: ContainerPaths, state: ContainerState): void {
  const text = stateFileText(state);
  try {
    writeFileAtomicSync(paths.state, text);
  } catch (err) {
    // A full disk: the bundle's reserve (a monitor's, keepStateReserve) goes, and the record lands in its room.
    if (!isDiskFull(err) || !existsSync(paths.stateReserve)) throw err;
    unlinkIfThere(paths.stateReserve);
    writeFileAtomicSync(paths.state, text);
  }
}

/**
 * A monitor's room for its run's end on a full disk (the native monitor's `StateFile::keep_reserve` the same):
 * 64 KiB that `writeState` frees when a write meets ENOSPC. Best effort: a disk with no room for it has none for
 * the run either.
 */
export function keepStateReserve(paths: ContainerPaths): void {
  keepSpaceReserve(paths.stateReserve, 64 * 1024);
}

export function readState(paths: ContainerPaths): ContainerState | undefined {
  try {
    return withDefaults(JSON.parse(readFileSync(paths.state, "utf8")) as Partial<ContainerState> & { id: string });
  } catch (err) {
    if (isErrno(err, "ENOENT") || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** Fields a state.json from before they existed lacks. */
function withDefaults(s: Partial<ContainerState> & { id: string }): ContainerState {
  const out: Record<string, unknown> = { ...s };
  for (const [k, v] of Object.entries(DEFAULTS)) if (out[k] === undefined) out[k] = v;
  return out as unknown as ContainerState;
}

const DEFAULTS: Partial<ContainerState> = {
    started: null,
    finished: null,
    oomKilled: false,
    restartCount: 0,
    restartPolicy: { name: "no", maximumRetryCount: 0 },
    supervisor: null,
    stopSignal: "SIGTERM",
    stopTimeout: 10,
    tty: false,
    openStdin: false,
    remove: false,
    log: DEFAULT_LOG,
};

/**
 * Read-modify-write under the container's lock; `change` returns the fields
 * to set (or undefined to leave it). Resolves with the state as written.
 */
export async function updateState(paths: ContainerPaths, change: (state: ContainerState) => Partial<ContainerState> | undefined): Promise<ContainerState | undefined> {
  return withContainerLock(paths.dir, () => updateStateLocked(paths, change));
}

/** updateState for a caller that holds the lock already. */
export function updateStateLocked(paths: ContainerPaths, change: (state: ContainerState) => Partial<ContainerState> | undefined): ContainerState | undefined {
  const state = readState(paths);
  if (!state) return undefined;
  const fields = change(state);
  if (!fields) return state;
  const next = { ...state, ...fields };
  writeState(paths, next);
  recordTransition(paths.dir, state, next);
  return next;
}

/**
 * state.json with its status true now (refreshStatus). A supervisor found
 * dead is read again: it records the run's end before it exits, so a first
 * read that raced that last write would report an exit code lost.
 */
export function readCurrentState(paths: ContainerPaths): ContainerState | undefined {
  const state = readState(paths);
  if (!state) return undefined;
  const fresh = refreshStatus(state);
  if (fresh === state) return fresh;
  const again = readState(paths);
  return again && refreshStatus(again);
}

/** Every container with a readable state.json; status corrected for processes that died unseen. */
export async function listStates(data: DataPaths): Promise<ContainerState[]> {
  const ids = readdirOrEmpty(data.containers).filter((id) => !id.startsWith("."));
  const states: ContainerState[] = [];
  for (const id of ids) {
    const state = readCurrentState(data.container(id));
    if (state) states.push(state);
  }
  return states.sort((a, b) => compareText(b.created, a.created));
}

/** Defined beside the events, whose `die` reports it too. */
export { UNKNOWN_EXIT } from "./events.js";

/**
 * The error a vm container's record keeps when its guest was stopped under it (`vm stop --force`, the vm
 * daemon's SIGTERM): the vm monitor's KILLED_WITH_GUEST; here because `endRecorded` reads it.
 */
export const VM_STOPPED_ERROR = "the vm was stopped";

/**
 * Whether its last run's end was recorded ("exited" on disk) — a `stop`/`kill` by the user, for a policy that
 * restarts every other end — rather than left "running"/"restarting" by a supervisor that died with it (a
 * reboot, the OOM killer). docker's HasBeenManuallyStopped, which its daemon honours for `unless-stopped`
 * at its start; `raw` is state.json as read, before `refreshStatus`. A vm container killed with its guest
 * was not stopped by the user, though its end is recorded: docker's daemon stopping its containers as it
 * shuts down (Docker Desktop quitting) leaves them to come back at its next start too.
 */
export function endRecorded(raw: ContainerState): boolean {
  return raw.status === "exited" && raw.error !== VM_STOPPED_ERROR;
}

/**
 * What every failed start records (the native monitor's and front ends' `failed_start_fields` in Rust too):
 * docker's exit code (126/127, else 125) and the reason. The status and the times stay those of before the
 * start, so a new container stays "created" with StartedAt zero, as docker's, and can be started again.
 */
export function failedStartFields(err: unknown): Pick<ContainerState, "pid" | "exitCode" | "signal" | "error"> {
  const exitCode = typeof (err as { exitCode?: unknown } | null)?.exitCode === "number" ? (err as { exitCode: number }).exitCode : 125;
  return { pid: null, exitCode, signal: null, error: errorMessage(err) };
}

/**
 * A `--rm` container whose supervisor died unseen (its tsbox process or monitor SIGKILLed, a reboot): its
 * processes died with it (PR_SET_PDEATHSIG), its end was never recorded (`finished` null) and nobody is left to
 * remove it. docker's daemon removes an --rm container when it ends; here whoever comes across one does.
 */
export function orphanedRemoval(state: ContainerState): boolean {
  return state.remove && state.status === "exited" && state.finished === null;
}

/** Running, paused or waiting to restart: a supervisor is there. */
export function isActive(state: ContainerState): boolean {
  return state.status === "running" || state.status === "paused" || state.status === "restarting";
}

/**
 * What is true now: a container whose supervisor is gone (a SIGKILLed
 * monitor, or the tsbox process of a foreground run) has exited with an
 * unknown code; so has a "created" one whose creator died while starting it.
 */
export function refreshStatus(state: ContainerState): ContainerState {
  if (state.status === "exited") return state;
  if (state.status === "created") {
    if (state.creatorPid === null || processStartTime(state.creatorPid) === state.creatorStartTime) return state;
    return { ...state, status: "exited" };
  }
  if (supervisorAlive(state)) return state;
  return { ...state, status: "exited", pid: null };
}

/**
 * The fields that write down what refreshStatus reads of state.json as it is on disk (`raw`): a run whose
 * supervisor died with it (a reboot, a killed monitor) still says "running" there. Written before the next
 * start, they record that end as a `die` (docker's daemon does so at its restart), and the start a `start`.
 */
export function unseenEnd(raw: ContainerState): Partial<ContainerState> {
  const fresh = refreshStatus(raw);
  return fresh === raw ? {} : { status: fresh.status, pid: fresh.pid };
}

/**
 * Whether a running native container's recorded pid is still its init: the child of its supervisor (a monitor's
 * per-run supervisor, or a foreground run's helper), which a recycled pid cannot be. What `exec` and `network
 * connect` check before they act on the pid (a vm container's is the guest's: its backend acts there).
 */
export function isNativeInit(state: ContainerState): state is ContainerState & { pid: number } {
  if (state.pid === null) return false;
  const parent = processParent(state.pid);
  const supervisor = state.supervisor === "monitor" && parent !== null ? processParent(parent) : parent;
  return supervisor === state.monitorPid;
}

export function supervisorAlive(state: ContainerState): boolean {
  return state.monitorPid !== null && state.monitorStartTime !== null && processStartTime(state.monitorPid) === state.monitorStartTime;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or null when the process is gone or a zombie. */
export function processStartTime(pid: number): string | null {
  // No /proc (macOS, Windows: the vm backend): only whether the pid is alive; a reused pid goes unnoticed there.
  if (process.platform !== "linux") return pidAlive(pid) ? "alive" : null;
  return statFields(pid)?.[19] ?? null;
}

/**
 * Whether the process is in its exit and not yet a zombie (PF_EXITING, 0x4, in field 9 of /proc/<pid>/stat): the
 * kernel sets it first thing in do_exit, before the namespaces are released. A pid-namespace init stays so until the
 * namespace's last process is reaped, while its pid and start time still read as alive.
 */
export function processExiting(pid: number): boolean {
  const flags = statFields(pid)?.[6];
  return flags !== undefined && (Number(flags) & 0x4) !== 0;
}

/** Field 4 of /proc/<pid>/stat, the parent's pid; null when the process is gone or a zombie. */
export function processParent(pid: number): number | null {
  const ppid = statFields(pid)?.[1];
  return ppid === undefined ? null : Number(ppid);
}

/** /proc/<pid>/stat from field 3 (state) on, unless the process is gone or a zombie. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parens: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // A zombie (state Z) is dead for our purposes: its parent just has not reaped it.
    return fields[0] === "Z" ? undefined : fields;
  } catch {
    return undefined;
  }
}
