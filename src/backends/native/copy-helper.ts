import { spawn } from "node:child_process";
import { PassThrough, type Readable } from "node:stream";
import type { CopyHelper, CopyOptionsOfOp, CopyRequest } from "../backend.js";
import { nameErrors, TsboxError } from "../../errors.js";
import { hostCopy } from "../../containers/host-copy.js";
import { findRuntimeBinary, requireRuntimeBinary } from "./runtime-binary.js";
import { readStatusEvents, statusErrorToTsboxError, type StatusEvent } from "./status-events.js";

export type { CopyHelper };

/**
 * Where a copy works: through `tsbox-runtime copy`, a running container, a
 * stopped one's view of its layers, or the host; or a running container
 * of the vm guest, through its backend (`Backend.copy`).
 */
export type CopyTarget = { pid: number } | { bundle: string; view: "merged" | "layers" | "upper" } | { host: true } | { guest: (request: CopyRequest) => Promise<CopyHelper> };

/**
 * Spawns `tsbox-runtime copy` (docs/architecture.md): it reads or writes a
 * container's files inside the container's root, as the container's root;
 * for a guest target the backend runs the same operation in its guest.
 */
export function spawnCopyHelper(target: CopyTarget, op: "stat" | "read" | "write" | "xattrs", path: string, options: CopyOptionsOfOp = {}, io: { stdin?: boolean; stdout?: boolean } = {}): CopyHelper {
  if ("guest" in target) {
    // `xattrs` (the records' xattrs onto files already there) is a rootless unpack's, never a guest's.
    if (op === "xattrs") throw new TsboxError("a guest's files take no xattrs op", { code: "runtime" });
    const { markers, ...rest } = options;
    if (markers) throw new TsboxError("overlay markers are read from a stopped container's layer only", { code: "runtime" });
    return whenStarted(target.guest({ op, path, ...rest }), io);
  }
  // Without the helper (the vm backend alone: macOS, Windows), the host's side in JS.
  if ("host" in target && !findRuntimeBinary() && op !== "xattrs") return hostCopy(op, path, options);
  const args = ["copy", "--op", op, "--path", path, "--status-fd", "3"];
  if ("pid" in target) args.push("--pid", String(target.pid));
  else if ("bundle" in target) args.push("--bundle", target.bundle, "--view", target.view);
  if (options.follow) args.push("--follow", "1");
  if (options.name !== undefined) args.push("--name", options.name);
  if (options.content === false) args.push("--content", "0");
  if (options.markers) args.push("--markers", "1");
  if (options.archive) args.push("--archive", "1");
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
      const interrupted = signal === "SIGINT" || signal === "SIGTERM" || code === 130 || code === 143;
      reject(error ?? new CopyHelperError(`tsbox-runtime copy failed (${signal ?? `exit ${code}`})${stderr.trim() ? `: ${stderr.trim()}` : ""}`, interrupted));
    });
  });
  done.catch(() => {});
  // A reader that stops early (or a failed writer) must not crash us with EPIPE.
  child.stdin?.on("error", () => {});
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    done,
    kill: (signal = "SIGKILL") => {
      if (child.exitCode === null) child.kill(signal);
    },
  };
}

/** A helper that failed; `interrupted`: it ended by SIGINT or SIGTERM (a terminal's Ctrl-C reaches it too). */
export class CopyHelperError extends TsboxError {
  constructor(
    message: string,
    readonly interrupted: boolean,
  ) {
    super(message, { code: "runtime" });
  }
}
nameErrors({ CopyHelperError });

/**
 * A copy that starts later (the guest's: a request over the agent link) as
 * one whose streams exist now, like a spawned helper's. If it cannot start,
 * its output ends and `done` rejects with the reason.
 */
function whenStarted(pending: Promise<CopyHelper>, io: { stdin?: boolean; stdout?: boolean }): CopyHelper {
  const stdin = io.stdin ? new PassThrough() : null;
  const stdout = io.stdout ? new PassThrough() : null;
  let started: CopyHelper | undefined;
  let killed: "SIGTERM" | "SIGKILL" | undefined;
  const done = pending.then(
    (helper) => {
      started = helper;
      if (killed) helper.kill(killed);
      if (stdin && helper.stdin) stdin.pipe(helper.stdin);
      if (stdout && helper.stdout) helper.stdout.pipe(stdout);
      else stdout?.end();
      return helper.done;
    },
    (err: unknown) => {
      stdout?.end();
      stdin?.destroy();
      throw err;
    },
  );
  done.catch(() => {});
  return {
    stdin,
    stdout,
    done,
    kill: (signal) => {
      killed ??= signal ?? "SIGKILL";
      started?.kill(signal);
    },
  };
}
