import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { TsboxError } from "../../errors.js";
import { requireRuntimeBinary } from "./runtime-binary.js";
import { readStatusEvents, statusErrorToTsboxError, type StatusEvent } from "./status-events.js";

/** Where `tsbox-runtime copy` works: a running container, a stopped one's view of its layers, or the host. */
export type CopyTarget = { pid: number } | { bundle: string; view: "merged" | "layers" | "upper" } | { host: true };

export interface CopyHelper {
  /** Its stdin (a record stream for `write`), or null. */
  stdin: Writable | null;
  /** Its stdout (records for `read`, JSON for `stat`), or null. */
  stdout: Readable | null;
  /** Settles when it exited: rejects with its error (docker's exit codes) unless it succeeded. */
  done: Promise<void>;
  kill(): void;
}

/**
 * Spawns `tsbox-runtime copy` (docs/architecture.md): it reads or writes a
 * container's files inside the container's root, as the container's root.
 */
export function spawnCopyHelper(target: CopyTarget, op: "stat" | "read" | "write", path: string, flags: Record<string, string> = {}, io: { stdin?: boolean; stdout?: boolean } = {}): CopyHelper {
  const args = ["copy", "--op", op, "--path", path, "--status-fd", "3"];
  if ("pid" in target) args.push("--pid", String(target.pid));
  else if ("bundle" in target) args.push("--bundle", target.bundle, "--view", target.view);
  for (const [k, v] of Object.entries(flags)) args.push(`--${k}`, v);
  const child = spawn(requireRuntimeBinary(), args, { stdio: [io.stdin ? "pipe" : "ignore", io.stdout ? "pipe" : "ignore", "pipe", "pipe"] });
  let error: TsboxError | undefined;
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  readStatusEvents(child.stdio[3] as Readable, (e: StatusEvent) => {
    if (e.event === "error") error ??= statusErrorToTsboxError(e);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", (err) => reject(new TsboxError(`cannot run tsbox-runtime: ${err.message}`, { code: "runtime" })));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve();
      reject(error ?? new TsboxError(`tsbox-runtime copy failed (${signal ?? `exit ${code}`})${stderr.trim() ? `: ${stderr.trim()}` : ""}`, { code: "runtime" }));
    });
  });
  done.catch(() => {});
  // A reader that stops early (or a failed writer) must not crash us with EPIPE.
  child.stdin?.on("error", () => {});
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    done,
    kill: () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}
