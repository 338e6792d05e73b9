import type { Readable } from "node:stream";
import { containerErrorCode, TsboxError } from "../../errors.js";

/** Events tsbox-runtime writes, one JSON object per line, to its status fd (docs/architecture.md). */
export type StatusEvent =
  | { event: "started"; pid: number }
  | { event: "warning"; message: string }
  | { event: "error"; kind: string; message: string; exitCode: number }
  | { event: "exited"; exitCode: number; signal: string | null; oomKilled: boolean }
  /** After `exited`: the end is recorded (state.json written, or the `--rm` container gone); the process exits next. */
  | { event: "recorded" }
  /** The monitor's socket is up (`tsbox-runtime monitor --attach-first`): attach now, then the container starts. */
  | { event: "listening"; monitorPid: number };

/** Calls `onEvent` for each complete, well-formed line; ignores unknown events (newer helpers). */
export function readStatusEvents(stream: Readable, onEvent: (event: StatusEvent) => void): void {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      const event = parseStatusLine(line);
      if (event) onEvent(event);
    }
  });
}

export function parseStatusLine(line: string): StatusEvent | undefined {
  if (line === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const e = value as Record<string, unknown>;
  switch (e.event) {
    case "started":
      return typeof e.pid === "number" ? { event: "started", pid: e.pid } : undefined;
    case "warning":
      return typeof e.message === "string" ? { event: "warning", message: e.message } : undefined;
    case "error":
      return {
        event: "error",
        kind: typeof e.kind === "string" ? e.kind : "setup",
        message: typeof e.message === "string" ? e.message : "container setup failed",
        exitCode: typeof e.exitCode === "number" ? e.exitCode : 125,
      };
    case "listening":
      return typeof e.monitorPid === "number" ? { event: "listening", monitorPid: e.monitorPid } : undefined;
    case "exited":
      return typeof e.exitCode === "number"
        ? { event: "exited", exitCode: e.exitCode, signal: typeof e.signal === "string" ? e.signal : null, oomKilled: e.oomKilled === true }
        : undefined;
    case "recorded":
      return { event: "recorded" };
    default:
      return undefined;
  }
}

/** An `error` event as the TsboxError users see (exit code 127/126/125 as docker). */
export function statusErrorToTsboxError(event: Extract<StatusEvent, { event: "error" }>): TsboxError {
  return new TsboxError(event.message, { exitCode: event.exitCode, code: containerErrorCode(event.kind) });
}
