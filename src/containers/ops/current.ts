import { noSuchContainer } from "../../errors.js";
import { bundleOf, type LifecycleContext } from "../context.js";
import type { ContainerPaths } from "../../paths.js";
import { type ContainerState, isActive, readCurrentState, supervisorAlive } from "../state.js";

/** The container's state as it is now (a dead supervisor taken into account). */
export function currentState(ctx: LifecycleContext, id: string): ContainerState {
  const state = readCurrentState(bundleOf(ctx, id));
  if (!state) throw noSuchContainer(id.slice(0, 12));
  return state;
}

/**
 * Whether the run `state` describes is still supervised: its monitor or foreground helper lives. Where that is
 * this very process (the vm backend's foreground run, its guest link in our event loop), until the run has
 * recorded its end.
 */
export function supervised(state: ContainerState, bundle: ContainerPaths): boolean {
  if (state.monitorPid !== process.pid) return supervisorAlive(state);
  const now = readCurrentState(bundle);
  return now !== undefined && isActive(now) && now.monitorPid === process.pid;
}

/** Resolves once the container's supervisor (monitor or foreground helper) is gone. */
export async function supervisorGone(state: ContainerState, bundle: ContainerPaths, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; supervised(state, bundle); delay = Math.min(delay * 2, 50)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return true;
}
