import { existsSync } from "node:fs";
import { ContainerError, removeRunningRefusal } from "../../errors.js";
import { bundleOf, type LifecycleContext, shown } from "../context.js";
import { withContainerLock } from "../lock.js";
import { removeBundleDir } from "../remove.js";
import { isActive, readCurrentState, unseenEnd, updateStateLocked } from "../state.js";
import { currentState, supervisorGone } from "./current.js";
import { recordEvent } from "../events.js";
import { signalContainer } from "./kill.js";
import { stopMonitored } from "./stop.js";

/** `rm [-f]`: a running container only with `force` (killed first, as docker does). */
export async function removeContainer(ctx: LifecycleContext, id: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
  const bundle = bundleOf(ctx, id);
  const state = currentState(ctx, id);
  if (isActive(state)) {
    if (!options.force) throw removeRunningRefusal(shown(state));
    // SIGKILL reaches a frozen container only once it thaws.
    if (state.status === "paused") await ctx.backend.resume?.(bundle.dir).catch(() => {});
    recordEvent(bundle.dir, state, "kill", { signal: 9 });
    const answered = state.supervisor === "monitor" && (await stopMonitored(ctx, id, 9, -1));
    if (!answered) {
      await signalContainer(ctx, state, 9, true);
      if (!(await supervisorGone(state, bundle))) throw new ContainerError(`container ${shown(state)} did not stop`);
    }
    // Its monitor answered with the end but could not record it (a full disk): that run, not a new one, still
    // says running until the monitor is gone.
    const now = readCurrentState(bundle);
    if (now && isActive(now) && now.monitorPid === state.monitorPid && now.monitorStartTime === state.monitorStartTime) await supervisorGone(state, bundle);
  }
  let name: { name: string | null } | undefined;
  try {
    name = await withContainerLock(bundle.dir, () => {
      const fresh = readCurrentState(bundle);
      if (!fresh) return undefined;
      if (isActive(fresh)) throw new ContainerError(`cannot remove container ${shown(fresh)}: it was started again meanwhile`, "running");
      // A run whose end went unseen (a reboot, a killed monitor) still says running on disk: its `die` first, as start writes it.
      try {
        updateStateLocked(bundle, (raw) => {
          const end = unseenEnd(raw);
          return Object.keys(end).length > 0 ? end : undefined;
        });
      } catch {
        // The record goes with the bundle: a full disk (which the removal frees) must not keep the container.
      }
      return { name: fresh.name };
    });
  } catch (err) {
    // A `--rm` container removes itself once killed: then it is gone, as asked.
    if (isActive(state) && state.remove && !existsSync(bundle.dir)) return;
    throw err;
  }
  if (name) await removeBundleDir(ctx, id, name.name, { volumes: options.volumes ?? false });
}
