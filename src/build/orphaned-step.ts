/**
 * Which containers are a build's step containers (step-containers.ts), and which of them nobody will remove:
 * apart from the rest of the build so that listing containers (runtime.ts) can tell without loading the builder.
 */
import { pidAlive } from "../process-alive.js";

/** The label holding the pid of the building process. */
export const PID_LABEL = "org.tsbox.build.pid";
export const NAME_PREFIX = "tsbox-build-";

/**
 * A step container whose building process is gone (SIGKILLed, a crash): each step removes its own whatever
 * happens, so one left is nobody's. `labels` is read only for a step container's name.
 */
export function orphanedStep(name: string | null, labels: () => Record<string, string>): boolean {
  if (!name?.startsWith(NAME_PREFIX)) return false;
  const pid = labels()[PID_LABEL];
  return pid !== undefined && /^\d+$/.test(pid) && !pidAlive(Number(pid));
}
