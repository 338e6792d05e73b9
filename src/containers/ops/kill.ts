import { ContainerError, notRunning } from "../../errors.js";
import { isErrno } from "../../fs-util.js";
import { bundleOf, type LifecycleContext, shown } from "../context.js";
import { MonitorRefusal, monitorRequest, MonitorUnresponsive } from "../monitor-client.js";
import { parseSignal } from "../signals.js";
import { type ContainerState, isActive, processParent, supervisorAlive } from "../state.js";
import { recordEvent } from "../events.js";
import { currentState } from "./current.js";
import { setPaused } from "./pause.js";

/**
 * `kill [-s SIG]`: the signal goes to the container's init. A monitored
 * container is signalled by its monitor (through a pidfd: never a recycled
 * pid); SIGKILL and the container's stop signal count as stopping it, so
 * its restart policy does not bring it back.
 */
export async function killContainer(ctx: LifecycleContext, id: string, signal: string | number = "SIGKILL"): Promise<void> {
  const state = currentState(ctx, id);
  const sig = parseSignal(signal);
  if (!isActive(state)) throw notRunning(shown(state));
  const stop = sig.number === 9 || sig.name === parseSignal(state.stopSignal).name;
  recordEvent(bundleOf(ctx, id).dir, state, "kill", { signal: sig.number });
  if (!(await signalContainer(ctx, state, sig.number, stop))) throw notRunning(shown(state));
  // A frozen process acts on no signal until thawed: a SIGKILL thaws it, as docker's does (before stop 40 it stayed
  // "paused" for good); other signals wait for `unpause`, as there.
  if (state.status === "paused" && sig.number === 9) await setPaused(ctx, id, false).catch(() => {});
}

/** Sends `sig`; false when there was nothing left to signal. */
export async function signalContainer(ctx: LifecycleContext, state: ContainerState, sig: number, stop: boolean): Promise<boolean> {
  if (state.supervisor === "monitor") {
    try {
      return (await monitorRequest(bundleOf(ctx, state.id).dir, { op: "kill", signal: sig, stop }, undefined, KILL_REPLY_MS)) !== undefined;
    } catch (err) {
      if (err instanceof MonitorRefusal) return false;
      // A SIGKILL (or the stop signal) still ends the container, through its monitor's end; another signal cannot go.
      if (err instanceof MonitorUnresponsive && stop && killWedgedMonitor(ctx, state.id)) return true;
      if (err instanceof MonitorUnresponsive) throw new ContainerError(`cannot signal container ${shown(state)}: ${err.message} (pid ${state.monitorPid})`);
      throw err;
    }
  }
  return signalForeground(ctx, state, sig);
}

/** How long a monitor may take to answer a kill (it signals through a pidfd and answers at once). */
const KILL_REPLY_MS = 10_000;

/**
 * A native container's monitor that accepted a request and never answered (stopped, stuck), SIGKILLed when it is
 * still the recorded one (its start time): its per-run supervisor and the container die with it (their parent-death
 * signal), as a stop must end them. True when it was killed. The vm backend's daemon holds every container of its
 * guest: never killed here.
 */
export function killWedgedMonitor(ctx: LifecycleContext, id: string): boolean {
  const state = currentState(ctx, id);
  if (ctx.backend.name !== "native" || !isActive(state) || state.supervisor !== "monitor" || !supervisorAlive(state)) return false;
  try {
    process.kill(state.monitorPid!, "SIGKILL");
  } catch {
    return false;
  }
  recordEvent(bundleOf(ctx, id).dir, state, "kill", { signal: 9 });
  return true;
}

/**
 * A foreground run's init, signalled directly: it is ours only while its
 * supervisor (the tsbox-runtime helper, checked by start time) is alive and
 * is still its parent, which no recycled pid can be. A vm container's pid is
 * the guest's: its backend signals it there (the shared guest's agent), or,
 * in a guest of its run's own, the run's tsbox process passes the signal on.
 */
export async function signalForeground(ctx: LifecycleContext, state: ContainerState, sig: number): Promise<boolean> {
  if (state.pid === null || !supervisorAlive(state)) return false;
  if (state.backend !== "native") {
    try {
      if (ctx.backend.signal) return await ctx.backend.signal(bundleOf(ctx, state.id).dir, sig);
    } catch {
      // Not in a guest reachable from here.
    }
    return signalProcess(state.monitorPid, sig);
  }
  if (processParent(state.pid) !== state.monitorPid) return false;
  return signalProcess(state.pid, sig);
}

function signalProcess(pid: number | null, sig: number): boolean {
  if (pid === null) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    if (isErrno(err, "ESRCH")) return false;
    throw err;
  }
}
