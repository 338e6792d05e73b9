import type { Readable } from "node:stream";
import type { ContainerProcess, ExitStatus, StartOptions } from "../backends/backend.js";
import { bundleOf, type LifecycleContext } from "./context.js";
import type { Attachment } from "./monitor-client.js";
import { monitorRequest } from "./monitor-client.js";
import { parseSignal } from "./signals.js";
import { readState } from "./state.js";
import { UNKNOWN_EXIT } from "./ops/wait.js";
import { relayToOwn } from "../stream-write.js";

/**
 * A monitored container seen through an attachment as the ContainerProcess
 * a foreground run gives: its streams (or this process's own, "inherit"),
 * its end, signals and resizes through the monitor.
 */
export function attachedProcess(ctx: LifecycleContext, id: string, attachment: Attachment, targets: Pick<StartOptions, "stdin" | "stdout" | "stderr">): ContainerProcess {
  const bundle = bundleOf(ctx, id);
  const state = readState(bundle);
  if (targets.stdout === "inherit" && attachment.stdout) relayToOwn(attachment.stdout, process.stdout);
  if (targets.stderr === "inherit" && attachment.stderr) relayToOwn(attachment.stderr, process.stderr);
  if (targets.stdin === "inherit" && attachment.stdin) process.stdin.pipe(attachment.stdin);
  let ended: ExitStatus | undefined;
  const exited = attachment.ended.then(async (end): Promise<ExitStatus> => {
    if (targets.stdin === "inherit" && attachment.stdin) {
      process.stdin.unpipe(attachment.stdin);
      process.stdin.pause();
    }
    // Inherited output reaches our stdout before the end is reported.
    const drained = (r: Readable | null) =>
      r && !r.readableEnded && !r.destroyed ? new Promise<void>((done) => (r.once("end", done), r.once("close", done))) : Promise.resolve();
    if (targets.stdout === "inherit") await drained(attachment.stdout);
    if (targets.stderr === "inherit") await drained(attachment.stderr);
    // The connection ended without an exit: the monitor died; what the state says is all we know.
    const known = end ?? readState(bundle);
    ended = { exitCode: known?.exitCode ?? UNKNOWN_EXIT, signal: known?.signal ?? null, oomKilled: known?.oomKilled ?? false };
    return ended;
  });
  return {
    pid: state?.pid ?? -1,
    monitorPid: state?.monitorPid ?? -1,
    stdin: targets.stdin === "pipe" ? attachment.stdin : null,
    stdout: targets.stdout === "pipe" ? attachment.stdout : null,
    stderr: targets.stderr === "pipe" ? attachment.stderr : null,
    exited,
    kill(signal) {
      if (ended) return false;
      const sig = parseSignal(signal);
      monitorRequest(bundle.dir, { op: "kill", signal: sig.number, stop: sig.number === 9 }).catch(() => {});
      return true;
    },
    resize(cols, rows) {
      attachment.resize(cols, rows);
    },
    hold: attachment.hold,
  };
}
