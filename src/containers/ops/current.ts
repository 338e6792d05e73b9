import { ContainerError } from "../../errors.js";
import { bundleOf, type LifecycleContext } from "../context.js";
import { type ContainerState, readCurrentState, supervisorAlive } from "../state.js";

/** The container's state as it is now (a dead supervisor taken into account). */
export function currentState(ctx: LifecycleContext, id: string): ContainerState {
  const state = readCurrentState(bundleOf(ctx, id));
  if (!state) throw new ContainerError(`no such container: ${id.slice(0, 12)}`);
  return state;
}

/** Resolves once the container's supervisor (monitor or foreground helper) is gone. */
export async function supervisorGone(state: ContainerState, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; supervisorAlive(state); delay = Math.min(delay * 2, 50)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return true;
}
