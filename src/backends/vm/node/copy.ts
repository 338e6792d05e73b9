/**
 * `tsbox cp` and `export` of a running vm container: the agent's `copy` op
 * runs the native helper's copy operation in the container's namespaces in
 * the guest (native-rs/agent/src/ops/copy.rs), under a handle of its own as
 * an exec'd process has. Records travel on its stdio channels; a failure
 * comes back as a status event line on its stderr channel, which is what
 * the native helper writes to its status fd.
 */
import { randomHex } from "../../../fs-util.js";
import { TsboxError } from "../../../errors.js";
import type { CopyHelper, CopyRequest, StdioTarget } from "../../backend.js";
import { readStatusEvents, statusErrorToTsboxError } from "../../native/status-events.js";
import { deleteInGuest, waitForExit } from "../core/guest-spec.js";
import { closeGuestStdio, guestProcess, openGuestStdio } from "./container-run.js";
import type { ExecContext } from "./exec.js";

/** Starts `request` in the guest container `cid`; resolves once it runs. */
export async function copyInGuest(ctx: ExecContext, cid: string, request: CopyRequest): Promise<CopyHelper> {
  const eid = `${cid.slice(0, 12)}-c${randomHex(6)}`;
  const writes = request.op === "write";
  const targets: { stdin: StdioTarget; stdout: StdioTarget; stderr: StdioTarget } = { stdin: writes ? "pipe" : "ignore", stdout: writes ? "ignore" : "pipe", stderr: "pipe" };
  const io = openGuestStdio(ctx.link, targets, false);
  const starting = ctx.link.request("copy", { cid, eid, copy: request, ...io.channels }, 120_000);
  const exit = waitForExit(ctx.link, eid);
  exit.catch(() => {});
  try {
    await starting;
  } catch (err) {
    closeGuestStdio(io);
    await deleteInGuest(ctx.link, eid);
    ctx.done();
    throw err;
  }
  const proc = guestProcess(ctx.link, { handle: eid, pid: -1, io, targets, terminal: false, release: ctx.done, exit, exitBeforeDelete: true });
  let error: TsboxError | undefined;
  const errors = proc.stderr!;
  readStatusEvents(errors, (e) => {
    if (e.event === "error") error ??= statusErrorToTsboxError(e);
  });
  const errorsRead = new Promise<void>((resolve) => (errors.readableEnded ? resolve() : (errors.once("end", resolve), errors.once("close", resolve))));
  const done = Promise.all([proc.exited, errorsRead]).then(([status]) => {
    if (status.exitCode !== 0) throw error ?? new TsboxError(`the copy in the vm guest failed (${status.signal ?? `exit ${status.exitCode}`})`, { code: "runtime" });
  });
  done.catch(() => {});
  return { stdin: proc.stdin, stdout: proc.stdout, done, kill: () => void proc.kill("SIGKILL") };
}
