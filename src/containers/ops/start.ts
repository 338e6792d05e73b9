import type { HandOffOptions } from "../../backends/backend.js";
import { ContainerError, leftContainer, noSuchContainer, pauseRefusal } from "../../errors.js";
import { bundleOf, type LifecycleContext, shown } from "../context.js";
import { withContainerLock } from "../lock.js";
import { removeBundleDir } from "../remove.js";
import { formatRestartPolicy } from "../restart-policy.js";
import { failedStartFields, isActive, readCurrentState, readState, unseenEnd, updateStateLocked } from "../state.js";
import { readSpec } from "../spec-file.js";
import { removedNetworks, startServers } from "../../network/connected.js";
import { refreshHostLoopback } from "../../network/rootless.js";

export interface StartOptions {
  /** Called once the monitor listens, before the container runs: attach here (`start -a`). */
  beforeStart?: () => Promise<void>;
  /**
   * The CLI's `run -d`: where the backend can, this process becomes the
   * monitor's starter (`Backend.handOffLaunch`), which prints `print` once the
   * container runs (or reports, records and cleans up a failed start) and exits.
   */
  handOff?: Pick<HandOffOptions, "beforeExec"> & { print: string };
  /** What the start warns about (limits the host cannot apply); a hand-off prints it itself. */
  onWarning?: (message: string) => void;
}

/**
 * `start`: a created or exited container runs again under a monitor
 * (docker keeps its writable layer). Under the container's lock, which the
 * monitor inherits until it has recorded the start, so two racing starts
 * run it once. Resolves false when it was running already (a no-op, as in
 * docker).
 */
export async function startContainer(ctx: LifecycleContext, id: string, options: StartOptions = {}): Promise<boolean> {
  const bundle = bundleOf(ctx, id);
  const launch = ctx.backend.launch?.bind(ctx.backend);
  if (!launch) throw new ContainerError(`the ${ctx.backend.name} backend cannot run containers in the background`);
  let removeAfter = false;
  try {
    return await withContainerLock(bundle.dir, async (lockFd) => {
      const state = readCurrentState(bundle);
      if (!state) throw noSuchContainer(id.slice(0, 12));
      if (state.status === "paused") throw pauseRefusal.start(shown(state));
      if (isActive(state)) return false;
      if (state.backend !== ctx.backend.name) {
        throw new ContainerError(`container ${shown(state)} belongs to the ${state.backend} backend (this is ${ctx.backend.name})`);
      }
      const spec = readSpec(bundle.config);
      const gone = ctx.networks ? removedNetworks(spec, ctx.networks()) : [];
      if (gone.length > 0) throw new ContainerError(`network ${gone[0]} not found: it was removed after container ${shown(state)} was connected to it (tsbox network disconnect ${gone[0]} ${shown(state)})`, "no_such_network");
      refreshHostLoopback(bundle.config, spec);
      startServers(bundle);
      updateStateLocked(bundle, (raw) => ({ ...unseenEnd(raw), supervisor: "monitor", restartCount: 0, creatorPid: null, creatorStartTime: null }));
      const launchOptions = {
        bundleDir: bundle.dir,
        lockFd,
        restart: formatRestartPolicy(state.restartPolicy),
        log: state.log,
        openStdin: state.openStdin,
        remove: state.remove,
        ...(options.beforeStart ? { beforeStart: options.beforeStart } : {}),
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      };
      const handOff = options.handOff && !options.beforeStart ? ctx.backend.handOffLaunch?.bind(ctx.backend) : undefined;
      try {
        if (handOff) await handOff({ ...launchOptions, ...options.handOff!, stdin: "ignore" });
        await launch(launchOptions);
      } catch (err) {
        // The monitor records what it saw; a monitor that never ran could not.
        const failed = failedStartFields(err);
        updateStateLocked(bundle, (s) => (s.error === failed.error && s.exitCode === failed.exitCode ? undefined : failed));
        removeAfter = state.remove;
        // What stays is said on the error too (a restart-policy run() never handed out its Container).
        if (!state.remove) leftContainer(err, id, state.name);
        throw err;
      }
      return true;
    });
  } finally {
    if (removeAfter) await removeBundleDir(ctx, id, readState(bundle)?.name ?? null).catch(() => {});
  }
}
