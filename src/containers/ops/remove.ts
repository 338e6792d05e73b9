import { existsSync } from "node:fs";
import { ContainerError, removeRunningRefusal } from "../../errors.js";
import { bundleOf, type LifecycleContext, shown } from "../context.js";
import { withContainerLock } from "../lock.js";
import { removeBundleDir } from "../remove.js";
import { type ContainerState, isActive, readCurrentState, unseenEnd, updateStateLocked } from "../state.js";
import { currentState, supervisorGone } from "./current.js";
import { recordEvent } from "../events.js";
import { signalContainer } from "./kill.js";
import { stopMonitored } from "./stop.js";

/** How often `rm -f` kills a container that a racing `start` brings back before it gives up. */
const FORCE_ROUNDS = 10;

/**
 * `rm [-f]`: a running container only with `force` (killed first, as docker does). The kill waits for the
 * monitor to record the end, which takes the container's lock: so it happens outside the lock, and what is
 * found under it is checked again. A `start` that landed meanwhile is killed too (docker's ForceRemove kills
 * whatever state it finds under the container's lock); before, `rm -f` failed and left it running.
 */
export async function removeContainer(ctx: LifecycleContext, id: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
  const bundle = bundleOf(ctx, id);
  let state = currentState(ctx, id);
  for (let round = 1; ; round++) {
    if (isActive(state)) {
      if (!options.force) throw removeRunningRefusal(shown(state));
      await killForRemoval(ctx, state);
    }
    let found: { name: string | null } | { startedAgain: ContainerState } | undefined;
    try {
      found = await withContainerLock(bundle.dir, () => {
        const fresh = readCurrentState(bundle);
        if (!fresh) return undefined;
        if (isActive(fresh)) return { startedAgain: fresh };
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
    if (found && "startedAgain" in found) {
      // Started between the look and the lock.
      state = found.startedAgain;
      if (!options.force) throw removeRunningRefusal(shown(state));
      if (round === FORCE_ROUNDS) throw new ContainerError(`cannot remove container ${shown(state)}: it was started again ${round} times while being removed`, "running");
      continue;
    }
    if (found) await removeBundleDir(ctx, id, found.name, { volumes: options.volumes ?? false });
    return;
  }
}

/** SIGKILL through its monitor (or to a foreground run's processes); resolves once its supervisor is gone. */
async function killForRemoval(ctx: LifecycleContext, state: ContainerState): Promise<void> {
  const bundle = bundleOf(ctx, state.id);
  // SIGKILL reaches a frozen container only once it thaws.
  if (state.status === "paused") await ctx.backend.resume?.(bundle.dir).catch(() => {});
  recordEvent(bundle.dir, state, "kill", { signal: 9 });
  const answered = state.supervisor === "monitor" && (await stopMonitored(ctx, state.id, 9, -1));
  if (!answered) {
    await signalContainer(ctx, state, 9, true);
    if (!(await supervisorGone(state, bundle))) throw new ContainerError(`container ${shown(state)} did not stop`);
  }
  // Its monitor answered with the end but could not record it (a full disk): that run, not a new one, still
  // says running until the monitor is gone.
  const now = readCurrentState(bundle);
  if (now && isActive(now) && now.monitorPid === state.monitorPid && now.monitorStartTime === state.monitorStartTime) await supervisorGone(state, bundle);
}
