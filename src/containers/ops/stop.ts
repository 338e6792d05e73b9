import { ContainerError } from "../../errors.js";
import { bundleOf, type LifecycleContext } from "../context.js";
import { MonitorRefusal, monitorRequest, MonitorUnresponsive } from "../monitor-client.js";
import { parseSignal } from "../signals.js";
import { recordEvent } from "../events.js";
import { type ContainerState, isActive } from "../state.js";
import { currentState, supervised, supervisorGone } from "./current.js";
import { killWedgedMonitor, signalForeground } from "./kill.js";

export interface StopOptions {
  /** Seconds before SIGKILL; default the container's stop timeout (10). Negative: wait for ever. */
  timeout?: number;
  /** Default the container's stop signal (SIGTERM). */
  signal?: string | number;
}

/**
 * `stop`: the stop signal, then SIGKILL after the timeout; resolves once the
 * container has stopped and its exit is recorded. A stopped container is
 * left as it is. A monitored container's monitor does the escalation itself
 * (it goes on if this process dies) and keeps its restart policy from
 * bringing it back; one waiting to restart simply stays down.
 */
export async function stopContainer(ctx: LifecycleContext, id: string, options: StopOptions = {}): Promise<void> {
  const state = currentState(ctx, id);
  if (!isActive(state)) return;
  const sig = parseSignal(options.signal ?? state.stopSignal).number;
  const timeout = options.timeout ?? state.stopTimeout;
  const bundle = bundleOf(ctx, id).dir;
  // docker's events of a stop: `kill` with the stop signal, the container's `die`, then `stop`.
  recordEvent(bundle, state, "kill", { signal: sig });
  await stopping(ctx, state, sig, timeout);
  recordEvent(bundle, state, "stop");
}

async function stopping(ctx: LifecycleContext, state: ContainerState, sig: number, timeout: number): Promise<void> {
  const bundle = bundleOf(ctx, state.id);
  if (state.status === "paused") await ctx.backend.resume?.(bundle.dir).catch(() => {});
  if (state.supervisor === "monitor") {
    // Answered once the exit is recorded; the monitor's last steps need no waiting for.
    if (await stopMonitored(ctx, state.id, sig, timeout)) return;
    // No monitor answered: it is gone or going.
    await supervisorGone(state, bundle);
    return;
  }
  // A foreground run: its own tsbox process records the exit.
  await signalForeground(ctx, state, sig);
  const deadline = timeout < 0 ? Infinity : Date.now() + timeout * 1000;
  while (supervised(state, bundle) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (supervised(state, bundle)) await signalForeground(ctx, state, 9);
  await supervisorGone(state, bundle);
}

/** How long a monitor may take to answer a stop of `timeout` seconds: the timeout, then 10 s for the escalation and the exit's record. */
export function stopReplyWithin(timeout: number): number | undefined {
  return timeout < 0 ? undefined : timeout * 1000 + 10_000;
}

/**
 * `stop` through the container's monitor; false when no monitor answered. A monitor that does not answer
 * within the timeout and a grace (stopped, stuck: the stop's SIGKILL never came) is killed, and its container
 * with it: false, so the caller waits for the supervisor's end as for a gone one.
 */
export async function stopMonitored(ctx: LifecycleContext, id: string, sig: number, timeout: number): Promise<boolean> {
  try {
    return (await monitorRequest(bundleOf(ctx, id).dir, { op: "stop", signal: sig, timeout }, undefined, stopReplyWithin(timeout))) !== undefined;
  } catch (err) {
    // Refused: it ended meanwhile.
    if (err instanceof MonitorRefusal) return true;
    if (err instanceof MonitorUnresponsive) {
      if (killWedgedMonitor(ctx, id)) return false;
      throw new ContainerError(`cannot stop container ${id.slice(0, 12)}: ${err.message}`);
    }
    throw err;
  }
}
