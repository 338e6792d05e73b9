import { bundleOf, type LifecycleContext } from "../context.js";
import { MonitorRefusal, monitorRequest, MonitorUnresponsive } from "../monitor-client.js";
import { parseSignal } from "../signals.js";
import { type ContainerState, isActive, readCurrentState, supervisorAlive } from "../state.js";
import { recordEvent } from "../events.js";
import { withContainerLock } from "../lock.js";
import { currentState, supervisorGone } from "./current.js";
import { killWedgedMonitor } from "./kill.js";
import { startContainer } from "./start.js";
import { stopContainer, type StopOptions, stopReplyWithin } from "./stop.js";

/**
 * `restart`: a running monitored container is stopped and started again by
 * its monitor, in place — its `--rm` does not remove it in between, as
 * docker's restart keeps an auto-removed container, and a policy's restart
 * count stays; any other (stopped, paused, a foreground run, a monitor that
 * does not restart in place) is stopped, then started under a monitor.
 */
export async function restartContainer(ctx: LifecycleContext, id: string, options: StopOptions = {}, onWarning?: (message: string) => void): Promise<void> {
  const state = currentState(ctx, id);
  await restarting(ctx, state, options, onWarning);
  // After the new run's `start`, as docker orders them. The monitor records that under the container's lock, after
  // the state.json startedAgain may already have seen: taking the lock once waits for it (a container removed
  // meanwhile has no lock to wait for).
  const dir = bundleOf(ctx, id).dir;
  await withContainerLock(dir, () => undefined).catch(() => undefined);
  recordEvent(dir, state, "restart");
}

async function restarting(ctx: LifecycleContext, state: ContainerState, options: StopOptions, onWarning?: (message: string) => void): Promise<void> {
  const id = state.id;
  if (state.supervisor === "monitor" && isActive(state) && state.status !== "paused") {
    const signal = parseSignal(options.signal ?? state.stopSignal).number;
    const timeout = options.timeout ?? state.stopTimeout;
    recordEvent(bundleOf(ctx, id).dir, state, "kill", { signal });
    try {
      const answered = await monitorRequest(bundleOf(ctx, id).dir, { op: "stop", signal, timeout, restart: true }, undefined, stopReplyWithin(timeout));
      if (answered !== undefined && (await startedAgain(ctx, id, state))) return;
    } catch (err) {
      // A wedged monitor is killed with its container (stop.ts), which then starts under a new one.
      if (err instanceof MonitorUnresponsive && killWedgedMonitor(ctx, id)) await supervisorGone(state, bundleOf(ctx, id));
      else if (!(err instanceof MonitorRefusal)) throw err;
    }
  }
  await stopContainer(ctx, id, options);
  await startContainer(ctx, id, onWarning ? { onWarning } : {});
}

/**
 * Whether the monitor began a new run after the one `before` saw. One that
 * restarts in place says "restarting" from the stop until the new run is
 * recorded; "exited" (a monitor that only stopped it, as the vm's does) or
 * a monitor gone means no new run is coming.
 */
async function startedAgain(ctx: LifecycleContext, id: string, before: ContainerState): Promise<boolean> {
  for (let waited = 0; waited < 60_000; waited += 20) {
    const now = readCurrentState(bundleOf(ctx, id));
    if (!now) return false;
    if (now.started !== before.started) return true;
    if (now.status === "exited" || !supervisorAlive(now)) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
