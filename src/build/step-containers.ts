/**
 * The containers a build's RUN and COPY steps run in. Each is named
 * `tsbox-build-<pid>-<hex>` and labelled with the pid of the building
 * process, and removed by that step whatever happens; a build that is
 * killed (SIGKILL, a crash) cannot: listing containers (`ps -a`, the
 * library's `list`, the next build's start) removes the steps of builders
 * that are gone (`orphanedStep`), instead of showing them until the next build.
 * BuildKit's never show at all; those of a build still running do here, as
 * docker's classic builder's did.
 */
import { randomBytes } from "node:crypto";
import type { Runtime } from "../runtime.js";
import { NAME_PREFIX, PID_LABEL } from "./orphaned-step.js";

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

/** Removes the step containers whose builder process no longer runs: a listing does (`Runtime.containers`). */
export async function removeOrphanedSteps(rt: Runtime): Promise<void> {
  await rt.containers({ all: true });
}
