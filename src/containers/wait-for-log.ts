/**
 * `Container.waitForLog`: testcontainers' `Wait.forLogMessage` — the first
 * line of a container's log (from its start, so a line written before the
 * call counts) that matches, or a clear error once it has stopped without
 * one, or after a timeout.
 */
import { ContainerError, UsageError } from "../errors.js";
import type { LogEntry, LogReadOptions } from "./logs.js";

export interface WaitForLogOptions {
  /** Only this stream's lines; default both. */
  stream?: "stdout" | "stderr";
  /** The Nth matching line (default 1): a server that logs "ready" once per worker. */
  times?: number;
  /** Default 60 000. */
  timeoutMs?: number;
}

/** `follow` reads the log (with `follow: true` and the signal); `stopped` says why it ended, for the error. */
export async function waitForLogLine(
  follow: (options: LogReadOptions) => AsyncIterable<LogEntry>,
  pattern: string | RegExp,
  options: WaitForLogOptions,
  words: { name: string; stopped: () => Promise<string> },
): Promise<string> {
  const matches = lineMatcher(pattern);
  const times = options.times ?? 1;
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!Number.isInteger(times) || times < 1) throw new UsageError(`waitForLog: times must be a whole number of at least 1, got ${String(options.times)}`);
  if (!(timeoutMs >= 0)) throw new UsageError(`waitForLog: timeoutMs must be a number of milliseconds, got ${String(options.timeoutMs)}`);
  const shownPattern = typeof pattern === "string" ? JSON.stringify(pattern) : String(pattern);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let seen = 0;
  const partial = { stdout: "", stderr: "" };
  const found = (line: string) => matches(line) && ++seen === times;
  try {
    for await (const e of follow({ follow: true, signal: abort.signal })) {
      if (options.stream !== undefined && e.stream !== options.stream) continue;
      const lines = (partial[e.stream] + e.data).split("\n");
      partial[e.stream] = lines.pop()!;
      for (const line of lines) if (found(line)) return line;
      if (abort.signal.aborted) break;
    }
    // A last line without its newline counts once the container has stopped.
    for (const rest of [partial.stdout, partial.stderr]) if (rest !== "" && !abort.signal.aborted && found(rest)) return rest;
  } finally {
    clearTimeout(timer);
  }
  if (abort.signal.aborted) throw new ContainerError(`no log line of container ${words.name} matched ${shownPattern}${times > 1 ? ` ${times} times` : ""} within ${timeoutMs / 1000} s`, "timeout");
  throw new ContainerError(`container ${words.name} ${await words.stopped()} before a log line matched ${shownPattern}${times > 1 ? ` ${times} times` : ""}`, "not_running");
}

function lineMatcher(pattern: string | RegExp): (line: string) => boolean {
  if (typeof pattern === "string") return (line) => line.includes(pattern);
  if (!(pattern instanceof RegExp)) throw new UsageError("waitForLog: the pattern must be a string or a RegExp");
  // A global or sticky RegExp's test() moves its lastIndex: one without those flags never skips a line.
  const plain = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""));
  return (line) => plain.test(line);
}
