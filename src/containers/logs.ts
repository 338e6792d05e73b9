/**
 * Reading a container's log: docker's json-file lines in
 * `<bundle>/container.log`, rotated to `container.log.1`, `.2`, … by its
 * monitor (native-rs/runtime/src/monitor/logfile.rs). `follow` keeps
 * reading as it grows, across rotations, until the container stops.
 */
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { LineCursor } from "../line-cursor.js";

export const LOG_FILE = "container.log";
/**
 * Made by a rotation that drops the oldest file (src/containers/log-writer.ts, the native monitor's logfile.rs):
 * the log no longer holds the container's first output. Contract: test/fixtures/contract/data-layout.json.
 */
export const LOG_TRUNCATED = "container.log.truncated";

/** Whether rotation dropped part of the container's log (its `maxSize` × `maxFiles` kept the rest). */
export function logTruncated(bundleDir: string): boolean {
  return existsSync(join(bundleDir, LOG_TRUNCATED));
}

/**
 * Made by a write to the log that failed (a full disk: log-writer.ts, logfile.rs): output the container printed is
 * missing from its log. Contract: test/fixtures/contract/data-layout.json.
 */
export const LOG_INCOMPLETE = "container.log.incomplete";

export function logIncomplete(bundleDir: string): boolean {
  return existsSync(join(bundleDir, LOG_INCOMPLETE));
}

/**
 * One line of the container's output (its newline kept), joined from the writes that made it as docker's
 * json-file gives it: its time is that of the write that ended it. A part still without its newline when the
 * log is read to its end (a prompt, or a follow waiting for more) is an entry of its own.
 */
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

/** How far past twice `tail` the backlog grows before it is cut back to `tail` entries. */
const TAIL_SLACK = 1024;

/**
 * The entries, oldest first. `active()` says whether the container may
 * still write (following stops once it says no and the log is read to its end).
 */
export async function* readLogs(bundleDir: string, options: LogReadOptions, active: () => boolean): AsyncGenerator<LogEntry> {
  const since = options.since ? nanoTime(options.since) : undefined;
  const until = options.until ? nanoTime(options.until) : undefined;
  const wanted = (e: LogEntry) => (since === undefined || e.time >= since) && (until === undefined || e.time < until);

  // What the log holds now, as docker's json-file reader takes it: every file of it opened at this call, the rotated
  // ones read to their end and the current one up to its size then. A writer faster than this reader would otherwise
  // never let the backlog end (`logs --tail 10` of a `yes` printed nothing for minutes), and rotations while it is read
  // (renames, the oldest file deleted) do not touch files already open. What comes later is the follow's.
  const files = openChain(bundleDir);
  // The follow goes on from the last of them (none yet: the current log, read once it appears; none opened, every
  // look missed: the current log as it is now).
  const current = files.pop() ?? new LineCursor(join(bundleDir, LOG_FILE));
  if (current.inode === undefined) current.open();
  const end = current.inode !== undefined && !current.rotated() ? current.size() : Infinity;
  let waker: ChangeWaiter | undefined;
  // One finally for every yield: a consumer that stops in the backlog (a break, waitForLog's line found
  // there, logs() without follow) leaves no open file behind.
  try {
    const joiner = new LineJoiner();
    const lines = function* (entries: Iterable<LogEntry>) {
      for (const e of entries) yield* joiner.push(e);
    };
    const backlog: LogEntry[] = [];
    const take = function* (entries: Iterable<LogEntry>) {
      for (const e of entries) {
        if (!wanted(e)) continue;
        if (options.tail !== undefined) {
          backlog.push(e);
          // Trimmed in batches: a shift() per entry moved the whole backlog each time (`logs --tail 100000` of a
          // full 30 MB log took 14 s, the whole log 0.8 s).
          if (backlog.length >= 2 * options.tail + TAIL_SLACK) backlog.splice(0, backlog.length - options.tail);
        } else yield e;
      }
    };
    for (const rotated of files) {
      yield* take(lines(drain(rotated, Infinity)));
      rotated.close();
    }
    yield* take(lines(drain(current, end)));
    yield* take(joiner.flush());
    yield* backlog.splice(options.tail === undefined ? 0 : Math.max(0, backlog.length - options.tail));
    if (!options.follow) return;

    waker = new ChangeWaiter(bundleDir);
    for (;;) {
      const before = current.position;
      for (const e of lines(readEntries(current))) if (wanted(e)) yield e;
      if (current.position > before) continue;
      if (current.rotated()) {
        // The old file is read to its end: on to the next one.
        followRotation(bundleDir, current);
        continue;
      }
      if (!active()) {
        // One last look: output written just before the end.
        for (const e of lines(drain(current, Infinity))) if (wanted(e)) yield e;
        if (!current.rotated()) break;
        followRotation(bundleDir, current);
        continue;
      }
      if (until !== undefined && new Date().toISOString().replace("Z", "000000Z") >= until) break;
      if (options.signal?.aborted) break;
      // Nothing more for now: a part of a line is not held back while we wait (a prompt shows at once).
      for (const e of joiner.flush()) if (wanted(e)) yield e;
      await waker.next(250);
    }
    for (const e of joiner.flush()) if (wanted(e)) yield e;
  } finally {
    waker?.close();
    for (const f of files) f.close();
    current.close();
  }
}

/** docker's json-file cap on a line: a longer one is logged in parts of this size. */
const LINE_CAP = 16 * 1024;

/**
 * Lines out of the log's entries. The monitor logs each write as it comes, a
 * line or the part of one that was written (Python's unbuffered print writes
 * a line and its newline apart; `printf a; echo b` is two writes), and
 * `logs -t` printed a time in the middle of such lines, `--tail 1` gave
 * their last part. docker's log copier joins a stream's writes up to the
 * newline and stamps the line then: so does this, reading.
 */
class LineJoiner {
  private readonly held: Record<LogEntry["stream"], LogEntry | undefined> = { stdout: undefined, stderr: undefined };

  *push(e: LogEntry): Generator<LogEntry> {
    const before = this.held[e.stream];
    const line = before ? { stream: e.stream, time: e.time, data: before.data + e.data } : e;
    if (line.data.endsWith("\n") || line.data.length >= LINE_CAP) {
      this.held[e.stream] = undefined;
      yield line;
    } else this.held[e.stream] = line;
  }

  /** The parts still without a newline, oldest first. */
  *flush(): Generator<LogEntry> {
    const parts = [this.held.stdout, this.held.stderr].filter((e): e is LogEntry => e !== undefined).sort((a, b) => (a.time < b.time ? -1 : 1));
    this.held.stdout = this.held.stderr = undefined;
    yield* parts;
  }
}

/** The log's files, oldest first (`container.log.N` … `.1`, `container.log`), with their inodes. */
function logChain(bundleDir: string): { path: string; ino: number }[] {
  const names = listDir(bundleDir)
    .map((n) => /^container\.log\.(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map((m) => m[0]);
  return [...names, LOG_FILE].flatMap((name) => {
    const path = join(bundleDir, name);
    try {
      return [{ path, ino: statSync(path).ino }];
    } catch {
      return []; // rotated away meanwhile
    }
  });
}

/** A cursor on each file of the log, oldest first, opened now. */
function openChain(bundleDir: string): LineCursor[] {
  // A rotation between the listing and the opening renames every file of it: looked at again (a `yes` rotating a
  // 256 KiB log every few ms left none opened, and `logs` printed nothing), the last look's files as they open.
  // A look takes a fraction of a millisecond, but a busy machine can pause this process between its listing and its
  // opens for longer than a rotation takes: ten looks all missed in a full test run (`logs --tail 3` printed nothing).
  for (let attempt = 0; ; attempt++) {
    const chain = logChain(bundleDir);
    const opened = chain.flatMap(({ path, ino }) => {
      const cursor = new LineCursor(join(bundleDir, LOG_FILE));
      return cursor.switchTo(path, ino) ? [cursor] : [];
    });
    if (opened.length === chain.length || attempt === 199) return opened;
    for (const c of opened) c.close();
  }
}

/**
 * Moves a cursor whose file was rotated (and is read to its end) to the file
 * written after it. Found by inode: several rotations since the last look
 * (a small max-size, a fast writer) leave rotated files between it and the
 * current log, which are read in turn rather than skipped.
 */
function followRotation(bundleDir: string, cursor: LineCursor): void {
  // Renamed under each look: on to the current file.
  if (cursor.inode === undefined || switchAfter(bundleDir, cursor, cursor.inode) === "renamed") cursor.reopen();
}

/**
 * Switches the cursor to the file after inode `after` in the chain — the
 * oldest when `after` is none or gone (its file deleted by more rotations
 * than max-file: every file left is newer). "none": no such file (yet);
 * "renamed": each look's file was renamed again before it was opened.
 */
function switchAfter(bundleDir: string, cursor: LineCursor, after: number | undefined): "moved" | "none" | "renamed" {
  for (let attempt = 0; attempt < 10; attempt++) {
    const chain = logChain(bundleDir);
    const next = chain[chain.findIndex((f) => f.ino === after) + 1];
    if (!next) return "none";
    if (cursor.switchTo(next.path, next.ino)) return "moved";
  }
  return "renamed";
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

/** The log entries among a cursor's new lines (up to byte `end` of its file). */
function readEntries(cursor: LineCursor, end = Infinity): LogEntry[] {
  return cursor.readLines(end).flatMap((line) => parseLine(line) ?? []);
}

/** A cursor's entries up to byte `end` of its file, or to where the file ends as it is read. */
function* drain(cursor: LineCursor, end: number): Generator<LogEntry> {
  for (;;) {
    const before = cursor.position;
    yield* readEntries(cursor, end);
    if (cursor.position === before || cursor.position >= end) return;
  }
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
