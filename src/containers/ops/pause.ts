import { ContainerError, noSuchContainer, notRunning, pauseRefusal } from "../../errors.js";
import { bundleOf, type LifecycleContext, shown, withoutCgroupError } from "../context.js";
import { withContainerLock } from "../lock.js";
import { readCurrentState, updateStateLocked } from "../state.js";

/** `pause` (`freeze: true`) and `unpause`: the cgroup freezer, through the backend; status paused ↔ running. */
export async function setPaused(ctx: LifecycleContext, id: string, freeze: boolean): Promise<void> {
  const bundle = bundleOf(ctx, id);
  const act = freeze ? ctx.backend.pause?.bind(ctx.backend) : ctx.backend.resume?.bind(ctx.backend);
  if (!act) throw new ContainerError(`the ${ctx.backend.name} backend cannot ${freeze ? "pause" : "unpause"} containers: it needs the cgroup freezer, which this build does not support`);
  await withContainerLock(bundle.dir, async () => {
    const state = readCurrentState(bundle);
    if (!state) throw noSuchContainer(id.slice(0, 12));
    if (freeze && state.status === "paused") throw pauseRefusal.alreadyPaused(shown(state));
    if (state.status !== "running" && state.status !== "paused") throw notRunning(shown(state), state.status);
    if (!freeze && state.status !== "paused") throw pauseRefusal.notPaused(shown(state));
    await act(bundle.dir).catch((err: unknown) => {
      throw withoutCgroupError(err, state, `cannot be ${freeze ? "paused" : "unpaused"}`, bundle);
    });
    try {
      updateStateLocked(bundle, () => ({ status: freeze ? "paused" : "running" }));
    } catch (err) {
      // Unrecorded (a full disk), a frozen container would stay frozen while its record says running, and
      // stop, rm -f and exec would wait on it for ever: the pause fails whole.
      if (freeze) await ctx.backend.resume!(bundle.dir).catch(() => {});
      throw err;
    }
  });
}
