/**
 * `exec` on the vm backend: a process joins a running container in the
 * guest (the agent's `exec` op, which runs `container::join` in the
 * container's cgroup), under a handle of its own that `wait`, `signal`,
 * `resize` and `delete` take as they take a container's id.
 */
import { randomHex } from "../../../fs-util.js";
import type { ContainerProcess, ExecStartOptions } from "../../backend.js";
import type { AgentLink } from "./agent-link.js";
import { closeGuestStdio, guestProcess, openGuestStdio } from "./container-run.js";
import { deleteInGuest, waitForExit } from "../core/guest-spec.js";

export interface ExecContext {
  link: AgentLink;
  /** Called once the process is gone from the guest. */
  done: () => void;
}

/** Starts `options.process` in the guest container `cid`; resolves once it runs. */
export async function execInGuest(ctx: ExecContext, cid: string, options: ExecStartOptions): Promise<ContainerProcess> {
  const eid = `${cid.slice(0, 12)}-x${randomHex(6)}`;
  const terminal = options.process.terminal;
  const io = openGuestStdio(ctx.link, options, terminal);
  let pid: number;
  // `wait` goes right behind `exec` (one link round trip less per exec: the
  // agent takes requests in order, so the handle exists when `wait` arrives;
  // if the exec fails, the wait fails with it and is dropped).
  const starting = ctx.link.request("exec", { cid, eid, process: options.process, ...io.channels }, 120_000);
  const exit = waitForExit(ctx.link, eid);
  exit.catch(() => {});
  try {
    const started = await starting;
    pid = typeof started.pid === "number" ? started.pid : -1;
  } catch (err) {
    closeGuestStdio(io);
    // A process that failed at execve is known to the agent until deleted.
    await deleteInGuest(ctx.link, eid);
    ctx.done();
    throw err;
  }
  return guestProcess(ctx.link, { handle: eid, pid, io, targets: options, terminal, release: ctx.done, exit, exitBeforeDelete: true });
}
