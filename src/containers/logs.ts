/**
 * Reading a container's log: docker's json-file lines in
 * `<bundle>/container.log`, rotated to `container.log.1`, `.2`, … by its
 * monitor (native-rs/runtime/src/monitor/logfile.rs). `follow` keeps
 * reading as it grows, across rotations, until the container stops.
 */
import { readdirSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { LineCursor } from "../line-cursor.js";

export const LOG_FILE = "container.log";

/** One write of the container, as logged (a line, or the part of one that was written). */
export interface LogEntry {
  stream: "stdout" | "stderr";
  /** RFC 3339 with nanoseconds, UTC. */
  time: string;
  data: string;
}

export interface LogReadOptions {
  /** Keep reading new output until the container stops. */
  follow?: boolean;
  /** Only entries at or after / before this time. */
  since?: Date;
  until?: Date;
  /** Only the last N entries (before following). */
  tail?: number;
  /** Stops following (within its 250 ms poll) once aborted. */
  signal?: AbortSignal;
}

/**
 * The entries, oldest first. `active()` says whether the container may
 * still write (following stops once it says no and the log is read to its end).
 */
export async function* readLogs(bundleDir: string, options: LogReadOptions, active: () => boolean): AsyncGenerator<LogEntry> {
  const since = options.since ? nanoTime(options.since) : undefined;
  const until = options.until ? nanoTime(options.until) : undefined;
  const wanted = (e: LogEntry) => (since === undefined || e.time >= since) && (until === undefined || e.time < until);

  // Rotated files first, oldest (highest number) first.
  const rotated = listDir(bundleDir)
    .map((n) => /^container\.log\.(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map((m) => join(bundleDir, m[0]));
  const current = new LineCursor(join(bundleDir, LOG_FILE));
  current.open();

  const backlog: LogEntry[] = [];
  const take = function* (entries: LogEntry[]) {
    for (const e of entries) {
      if (!wanted(e)) continue;
      if (options.tail !== undefined) {
        backlog.push(e);
        if (backlog.length > options.tail) backlog.shift();
      } else yield e;
    }
  };
  for (const file of rotated) {
    const c = new LineCursor(file);
    c.open();
    yield* take(readEntries(c));
    c.close();
  }
  yield* take(readEntries(current));
  yield* backlog.splice(0);
  if (!options.follow) {
    current.close();
    return;
  }

  const waker = new ChangeWaiter(bundleDir);
  try {
    for (;;) {
      const fresh = readEntries(current).filter(wanted);
      yield* fresh;
      if (fresh.length > 0) continue;
      if (current.rotated()) {
        // The old file is read to its end: on to the new one.
        current.reopen();
        continue;
      }
      if (!active()) {
        // One last look: output written just before the end.
        yield* readEntries(current).filter(wanted);
        if (!current.rotated()) break;
        current.reopen();
        continue;
      }
      if (until !== undefined && new Date().toISOString().replace("Z", "000000Z") >= until) break;
      if (options.signal?.aborted) break;
      await waker.next(250);
    }
  } finally {
    waker.close();
    current.close();
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A Date as the log writes times: nanoseconds, so strings compare in time order. */
function nanoTime(d: Date): string {
  return d.toISOString().replace("Z", "000000Z");
}

/** The log entries among a cursor's new lines. */
function readEntries(cursor: LineCursor): LogEntry[] {
  return cursor.readLines().flatMap((line) => parseLine(line) ?? []);
}

function parseLine(line: string): LogEntry | undefined {
  if (line === "") return undefined;
  try {
    const v = JSON.parse(line) as { log?: unknown; stream?: unknown; time?: unknown };
    if (typeof v.log !== "string" || typeof v.time !== "string") return undefined;
    return { stream: v.stream === "stderr" ? "stderr" : "stdout", time: v.time, data: v.log };
  } catch {
    return undefined;
  }
}

/** Resolves on a change in the bundle dir (inotify), or after a timeout (whatever fs.watch misses). */
class ChangeWaiter {
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;

  constructor(dir: string) {
    try {
      this.watcher = watch(dir, () => this.wake?.());
      this.watcher.on("error", () => {});
    } catch {
      this.watcher = undefined;
    }
  }

  next(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  close(): void {
    this.watcher?.close();
  }
}
