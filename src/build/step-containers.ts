/**
 * The containers a build's RUN and COPY steps run in. Each is named
 * `tsbox-build-<pid>-<hex>` and labelled with the pid of the building
 * process, and removed by that step whatever happens; a build that is
 * killed (SIGKILL, a crash) cannot, so the next build in the same data dir
 * removes the steps of builders that are gone, instead of leaving them in
 * `ps -a` for ever.
 */
import { randomBytes } from "node:crypto";
import { pidAlive } from "../process-alive.js";
import type { Runtime } from "../runtime.js";

const PID_LABEL = "org.tsbox.build.pid";
const NAME_PREFIX = "tsbox-build-";

/**
 * The options every step container has: its name and labels, no volumes
 * for the image's VOLUMEs — a step writes into the image, also under a
 * VOLUME path (BuildKit keeps such changes; the classic builder lost them) —
 * and no no_new_privs: BuildKit and buildah do not set it for RUN steps, so
 * `USER app` then `RUN sudo …` (setuid programs, file capabilities) works.
 * Everything else is `run`'s default (capabilities, seccomp, masked paths).
 */
export function stepContainer(): { name: string; labels: Record<string, string>; imageVolume: "ignore"; noNewPrivileges: false } {
  return { name: `${NAME_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}`, labels: { [PID_LABEL]: String(process.pid) }, imageVolume: "ignore", noNewPrivileges: false };
}

/** Removes the step containers whose builder process no longer runs. */
export async function removeOrphanedSteps(rt: Runtime): Promise<void> {
  for (const c of await rt.list({ all: true })) {
    if (!c.name?.startsWith(NAME_PREFIX)) continue;
    const label = (await c.inspect().catch(() => undefined))?.Config.Labels?.[PID_LABEL];
    if (label === undefined || !/^\d+$/.test(label) || pidAlive(Number(label))) continue;
    await rt.removeContainer(c.id, { force: true, volumes: true }).catch(() => {});
  }
}
