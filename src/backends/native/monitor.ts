/**
 * Starting a container under its monitor (`tsbox-runtime monitor`, see
 * native-rs/runtime/src/monitor): the monitor detaches from us at once, so
 * all we keep is its status pipe, on which it says `listening` (when asked
 * to wait for an attach), any `warning` the start gives, then `started` or
 * `error`, and closes it.
 */
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { TsboxError } from "../../errors.js";
import type { LaunchOptions } from "../backend.js";
import { nestIdleArgs } from "./nest-idle.js";
import { readStatusEvents, type StatusEvent, statusErrorToTsboxError } from "./status-events.js";

const STATUS_FD = 3;
const LOCK_FD = 4;

/** `tsbox-runtime monitor`'s arguments but the status fd and the lock's fd number (both ways of starting it). */
export function monitorArgs(options: LaunchOptions): string[] {
  return [
    "monitor",
    "--bundle", options.bundleDir,
    "--restart", options.restart,
    ...(options.log.driver === "none" ? ["--no-log"] : ["--log-max-size", String(options.log.maxSize), "--log-max-files", String(options.log.maxFiles)]),
    ...(options.openStdin ? ["--open-stdin"] : []),
    ...(options.beforeStart ? ["--attach-first"] : []),
    ...(options.remove ? ["--remove"] : []),
    ...nestIdleArgs(),
  ];
}

export async function launchMonitor(binary: string, options: LaunchOptions): Promise<void> {
  const args = [...monitorArgs(options), "--status-fd", String(STATUS_FD), "--lock-fd", String(LOCK_FD)];
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe", "pipe", options.lockFd] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => reject(new TsboxError(`cannot start tsbox-runtime (${binary}): ${err.message}`, { code: "runtime", cause: err })));
  });
  await spawned;
  const status = child.stdio[STATUS_FD] as Readable;
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    readStatusEvents(status, (event: StatusEvent) => {
      if (event.event === "listening") {
        options.beforeStart!().catch((err: unknown) => settle(() => reject(err)));
      } else if (event.event === "warning") options.onWarning?.(event.message);
      else if (event.event === "started") settle(resolve);
      else if (event.event === "error") settle(() => reject(statusErrorToTsboxError(event)));
    });
    const ended = () =>
      settle(() => {
        // The monitor died (or could not detach) without a word; a usage error shows on stderr.
        const detail = stderr.trim().split("\n").pop();
        reject(new TsboxError(`the container's monitor exited before starting it${detail ? `: ${detail}` : ""}`, { code: "runtime" }));
      });
    status.once("end", () => setTimeout(ended, 0));
    status.once("error", ended);
  });
  status.destroy();
}
