/**
 * docker's container events, daemonless: every tsbox process, and
 * tsbox-runtime (native-rs/container/src/events.rs), appends what it did to one
 * JSON-lines file of the data dir — where a container's status changes
 * (state.ts `updateStateLocked`, the runtime's `StateFile`), and where it is
 * created, renamed and destroyed. A line is docker's event message, as
 * `docker events --format '{{json .}}'` prints it. The rules both sides
 * follow are checked by test/fixtures/contract/events.json.
 */
import { compareText } from "../compare.js";
import { closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ContainerStatus } from "./state.js";

export const EVENTS_FILE = "events.log";
/** The file is moved here once it passes EVENTS_MAX_BYTES (one older file kept). */
export const EVENTS_ROTATED = "events.log.1";
export const EVENTS_MAX_BYTES = 1024 * 1024;

/**
 * The exit code `wait`, `inspect`, `ps --filter exited=` and a `die` event report when the supervisor died unseen
 * and nobody knows the real one (docker's for a container whose daemon or shim died); `ps` says "Exited (unknown)".
 * events.rs has the same (test/fixtures/contract/events.json).
 */
export const UNKNOWN_EXIT = 255;

/**
 * The actions whose event filter matches by prefix (moby's events/filter.go, #25798): the monitor writes
 * `health_status: healthy` (health.rs, a probe's result that changed the status), and `--filter
 * event=health_status` must find it as docker's does.
 */
export const PREFIX_FILTERED_ACTIONS = ["health_status", "exec_create", "exec_start"];

/** Whether `event=wanted` matches an event whose Action is `action`. */
export function eventActionMatches(action: string, wanted: string): boolean {
  return action === wanted || (PREFIX_FILTERED_ACTIONS.includes(wanted) && action.startsWith(`${wanted}: `));
}

export interface ContainerEvent {
  action: string;
  id: string;
  image: string;
  name: string | null;
  /** `die`: the exit code. */
  exitCode?: number | null;
  /** `rename`: the name before. */
  oldName?: string | null;
  /** `kill`: the signal's number. */
  signal?: number;
  /** The container's labels: attributes too, under the built-in ones (docker's). */
  labels?: Record<string, string>;
  /** Nanoseconds since the epoch. */
  timeNano: bigint;
}

type StatusOf = { status: ContainerStatus; oomKilled?: boolean };

/** The events a change of state.json means: `oom` when it was OOM-killed, then the status change's own. */
export function statusActions(before: StatusOf, after: StatusOf): string[] {
  const out: string[] = [];
  if (!before.oomKilled && after.oomKilled) out.push("oom");
  const was = before.status;
  const now = after.status;
  const live = (s: ContainerStatus) => s === "running" || s === "paused";
  if (now === "running" && (was === "created" || was === "exited" || was === "restarting")) out.push("start");
  else if (now === "running" && was === "paused") out.push("unpause");
  else if (now === "paused" && was === "running") out.push("pause");
  else if ((now === "exited" || now === "restarting") && live(was)) out.push("die");
  return out;
}

/** One line of the file (without its newline). */
export function eventLine(e: ContainerEvent): string {
  const given: Record<string, string> = { ...e.labels };
  if (e.action === "die") given.exitCode = String(e.exitCode ?? UNKNOWN_EXIT);
  given.image = e.image;
  given.name = e.name ?? "";
  if (e.oldName !== undefined && e.oldName !== null) given.oldName = e.oldName;
  if (e.signal !== undefined) given.signal = String(e.signal);
  // In key order, as Go writes a map (and the Rust writer: the same for ASCII keys).
  const attributes: Record<string, string> = {};
  for (const key of Object.keys(given).sort(compareText)) attributes[key] = given[key]!;
  const head = JSON.stringify({ status: e.action, id: e.id, from: e.image, Type: "container", Action: e.action, Actor: { ID: e.id, Attributes: attributes }, scope: "local" });
  // timeNano does not fit a double: written from the bigint's digits.
  return `${head.slice(0, -1)},"time":${e.timeNano / 1_000_000_000n},"timeNano":${e.timeNano}}`;
}

/** Now, in nanoseconds since the epoch. */
export function nowNano(): bigint {
  const ms = BigInt(Date.now());
  return ms * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

/** The events file of a container's bundle (`<data>/containers/<id>`); none for a bundle kept anywhere else. */
export function eventsFileOf(bundleDir: string): string | undefined {
  const containers = dirname(bundleDir);
  return basename(containers) === "containers" ? join(dirname(containers), EVENTS_FILE) : undefined;
}

/**
 * The exit code of the container's last `die` event, newest file first: what `wait` reports once an `--rm`
 * container's record went with it (docker's wait gives the real code then too), undefined when none is logged.
 */
export function lastDieExitCode(bundleDir: string): number | undefined {
  const file = eventsFileOf(bundleDir);
  if (file === undefined) return undefined;
  const id = basename(bundleDir);
  for (const path of [file, join(dirname(file), EVENTS_ROTATED)]) {
    let lines: string[];
    try {
      lines = readFileSync(path, "utf8").split("\n");
    } catch {
      continue;
    }
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!;
      if (!line.includes(id) || !line.includes('"Action":"die"')) continue;
      try {
        const e = JSON.parse(line) as { id?: string; Action?: string; Actor?: { Attributes?: { exitCode?: string } } };
        const code = Number(e.Actor?.Attributes?.exitCode);
        if (e.id === id && e.Action === "die" && Number.isInteger(code)) return code;
      } catch {
        // a line cut by a full disk: older ones may still say
      }
    }
  }
  return undefined;
}

/**
 * Appends lines (one write, O_APPEND: concurrent writers do not interleave
 * within a line), then rotates a file grown past its size. Events are
 * bookkeeping: a failure to write one never fails what the container did.
 */
export function appendEvents(file: string | undefined, lines: string[]): void {
  if (file === undefined || lines.length === 0) return;
  let fd: number | undefined;
  try {
    fd = openSync(file, "a+");
    const text = lines.map((l) => l + "\n").join("");
    writeSync(fd, freshLine(fd) ? text : "\n" + text);
    if (fstatSync(fd).size > EVENTS_MAX_BYTES) renameSync(file, join(dirname(file), EVENTS_ROTATED));
  } catch {
    // The data dir is going away (a test's, a prune), or full: nothing to record in.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Whether the file ends a line (or is empty). An append the full disk cut short left half a line, which the next
 * entry (any writer's: the monitor's too, native-rs/container/src/events.rs) must not continue: readers skip the
 * broken line, and only it is lost.
 */
function freshLine(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  return readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a;
}

type StateOf = { id: string; image: string; name: string | null; exitCode: number | null; labels?: Record<string, string> } & StatusOf;

/** Records what a state.json change means (state.ts calls it for every write). */
export function recordTransition(bundleDir: string, before: StateOf, after: StateOf): void {
  const actions = statusActions(before, after);
  if (actions.length === 0) return;
  const timeNano = nowNano();
  appendEvents(
    eventsFileOf(bundleDir),
    actions.map((action) => eventLine({ action, id: after.id, image: after.image, name: after.name, exitCode: after.exitCode, labels: after.labels, timeNano })),
  );
}

/**
 * Records what was done to a container rather than what its state became:
 * `create`, `destroy`, `rename` (with the old name), and the front end's
 * verbs as docker reports them — `kill` (with the signal; `stop` sends one
 * too), `stop` once it has stopped, `restart`, `attach`.
 */
export function recordEvent(
  bundleDir: string,
  state: Omit<StateOf, "status" | "exitCode">,
  action: "create" | "destroy" | "rename" | "kill" | "stop" | "restart" | "attach",
  extra: { oldName?: string | null; signal?: number } = {},
): void {
  appendEvents(eventsFileOf(bundleDir), [eventLine({ action, id: state.id, image: state.image, name: state.name, labels: state.labels, timeNano: nowNano(), ...extra })]);
}
