/**
 * `tsbox cp` and `export` of a vm container: the agent's `copy` op runs the
 * native helper's copy operation in the guest (native-rs/agent/src/ops/
 * copy.rs), under a handle of its own as an exec'd process has — in the
 * container's namespaces while it runs, else in a view of its image's
 * layers and the layer its runs kept, exported as for a run. Records travel
 * on its stdio channels; a failure comes back as a status event line on its
 * stderr channel, which is what the native helper writes to its status fd.
 */
import { randomHex } from "../../../fs-util.js";
import { TsboxError } from "../../../errors.js";
import type { CopyHelper, CopyRequest, StdioTarget } from "../../backend.js";
import { readStatusEvents, statusErrorToTsboxError } from "../../native/status-events.js";
import { readSpec } from "../../../containers/spec-file.js";
import { bundlePaths } from "../../../paths.js";
import { acquireExports, deleteInGuest, toGuestSpec, waitForExit } from "../core/guest-spec.js";
import { closeGuestStdio, guestProcess, hostNaming, keptLayer, openGuestStdio, type RunContext } from "./container-run.js";
import type { ExecContext } from "./exec.js";

/** Starts `request` in the running guest container `cid`; resolves once it runs. */
export function copyInGuest(ctx: ExecContext, cid: string, request: CopyRequest): Promise<CopyHelper> {
  // Its namespaces, or with `upper` its writable layer read from the guest.
  const { view, ...rest } = request;
  return startCopy(ctx, `${cid.slice(0, 12)}-c${randomHex(6)}`, { cid, copy: view === "upper" ? { ...rest, view } : rest }, false);
}

/**
 * Starts `request` on the stopped container of `bundleDir`: its layers and
 * kept layer exported as for a run, mounted in the guest for this copy
 * alone. A write is kept once the handle's `delete` is answered (the agent
 * saves the layer then), so `done` waits for that.
 */
export async function copyInStoppedGuest(ctx: RunContext, bundleDir: string, request: CopyRequest): Promise<CopyHelper> {
  const { skip: _, view, ...copy } = request;
  // A handle of its own names the view's guest dir and exports (the container may start meanwhile).
  const eid = `cp${randomHex(14)}`;
  const { spec, exports, layer } = toGuestSpec(readSpec(bundlePaths(bundleDir).config), eid, hostNaming, keptLayer(bundleDir));
  const releaseExports = await acquireExports(ctx.p9, ctx.exportRefs, exports);
  const done = () => {
    releaseExports();
    ctx.done();
  };
  return startCopy({ link: ctx.link, done }, eid, { spec, ...(layer !== undefined ? { layer } : {}), copy: { ...copy, view: view ?? "merged" } }, true);
}

async function startCopy(ctx: ExecContext, eid: string, fields: Record<string, unknown>, view: boolean): Promise<CopyHelper> {
  const writes = (fields.copy as CopyRequest).op === "write";
  const targets: { stdin: StdioTarget; stdout: StdioTarget; stderr: StdioTarget } = { stdin: writes ? "pipe" : "ignore", stdout: writes ? "ignore" : "pipe", stderr: "pipe" };
  const io = openGuestStdio(ctx.link, targets, false);
  const starting = ctx.link.request("copy", { eid, ...fields, ...io.channels }, 120_000);
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
  // A view's delete saves what a write changed: as long as the layer takes through 9p.
  const exitAfterDelete = view ? { exitBeforeDelete: false, deleteTimeoutMs: 600_000 } : { exitBeforeDelete: true };
  const proc = guestProcess(ctx.link, { handle: eid, pid: -1, io, targets, terminal: false, release: ctx.done, exit, ...exitAfterDelete });
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
  return { stdin: proc.stdin, stdout: proc.stdout, done, kill: (signal = "SIGKILL") => void proc.kill(signal) };
}
