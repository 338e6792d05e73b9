import type { ExitStatus } from "../../backends/backend.js";
import { abortError, pause } from "../../abortable.js";
import { bundleOf, type LifecycleContext } from "../context.js";
import { MonitorRefusal, monitorRequest } from "../monitor-client.js";
import { isActive, readCurrentState, UNKNOWN_EXIT } from "../state.js";
import { currentState } from "./current.js";
import { lastDieExitCode } from "../events.js";

export { UNKNOWN_EXIT } from "../state.js";

/**
 * `wait`: resolves when the container's current (or next) run ends, with its
 * exit; at once for a stopped container. A monitored container is waited for
 * by its monitor, anything else by watching its state. `signal` ends the wait
 * (its connection or timer too, so nothing keeps Node running after it).
 */
export async function waitContainer(ctx: LifecycleContext, id: string, signal?: AbortSignal): Promise<ExitStatus> {
  const bundle = bundleOf(ctx, id);
  let state = currentState(ctx, id);
  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    if (state.status === "exited") return { exitCode: state.exitCode ?? UNKNOWN_EXIT, signal: state.signal, oomKilled: state.oomKilled };
    if (state.supervisor === "monitor" && isActive(state)) {
      try {
        const end = await monitorRequest(bundle.dir, { op: "wait" }, signal);
        if (end && typeof end.exitCode === "number") return { exitCode: end.exitCode, signal: typeof end.signal === "string" ? end.signal : null, oomKilled: end.oomKilled === true };
      } catch (err) {
        if (!(err instanceof MonitorRefusal)) throw err;
      }
    } else {
      await pause(50, signal);
    }
    const next = readCurrentState(bundle);
    // Removed while we waited (`--rm`): it ended, with what we last knew, else its `die` event's code (the record of
    // a foreground `--rm` run whose owner died goes with the exit its helper recorded).
    if (!next) return { exitCode: state.exitCode ?? lastDieExitCode(bundle.dir) ?? UNKNOWN_EXIT, signal: state.signal, oomKilled: state.oomKilled };
    state = next;
  }
}
