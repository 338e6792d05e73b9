import { ContainerError, notRunning } from "../errors.js";
import { readSpec } from "./spec-file.js";
import { pidAlive } from "../process-alive.js";
import type { ContainerState } from "./state.js";
import type { Backend } from "../backends/backend.js";
import type { ContainerPaths, DataPaths } from "../paths.js";
import { type HostIdentity, isHostRoot, probeHostIdentity } from "../spec/id-mappings.js";
import type { ContainerNames } from "./names.js";
import type { VolumeStore } from "./volumes.js";
import type { NetworkStore } from "../network/store.js";

/** What the lifecycle operations (ops/*.ts) work with: a Runtime hands them this. */
export interface LifecycleContext {
  paths: DataPaths;
  backend: Backend;
  names: ContainerNames;
  host(): HostIdentity;
  /** A read-only rootfs with /bin/rm and an empty /mnt (the embedded busybox layer), for rootless removal. */
  helperRoot(): Promise<string>;
  /**
   * The backend that works on this host's files in the user's namespace
   * (user-namespace.ts): the native one, whichever runs the containers — a
   * vm backend's guest cannot reach files of the user's subordinate ids.
   */
  hostBackend(): Backend;
  /** Where a removed container's anonymous volumes go (`rm -v`, `--rm`); absent: they stay. */
  volumes?: VolumeStore;
  /** The data dir's networks, which a start checks its recorded ones against; absent: not checked. */
  networks?: () => NetworkStore;
}

export function bundleOf(ctx: LifecycleContext, id: string): ContainerPaths {
  return ctx.paths.container(id);
}

/** How a container is named in messages: its name, else the short id. */
export function shown(state: { id: string; name: string | null }): string {
  return state.name ?? state.id.slice(0, 12);
}

/**
 * The backends' "has no cgroup" about a container known to run: it runs
 * without one (rootless without a delegated cgroup), said as such, with
 * what it cannot do; other errors pass.
 */
export function withoutCgroupError(err: unknown, state: Pick<ContainerState, "id" | "name" | "pid" | "backend">, cannot: string, bundle: ContainerPaths): unknown {
  if (!(err instanceof Error) || !/has no cgroup/.test(err.message)) return err;
  // docker's words for a container that ended meanwhile: its cgroup goes before its end is recorded.
  if (endedMeanwhile(state)) return notRunning(shown(state));
  const why = cgroupsDisabled(bundle)
    ? "--cgroups=disabled"
    : `${isHostRoot(probeHostIdentity()) ? "this host gives containers none" : "this host delegates no cgroup to this user"}; see tsbox info`;
  return new ContainerError(`container ${shown(state)} runs without a cgroup (${why}), so it ${cannot}`, "no_cgroup");
}

/**
 * A native container recorded as running whose init is gone: it has ended and its end is not recorded yet
 * (the runtime removes its cgroup first: run.rs). The vm's pids are the guest's.
 */
export function endedMeanwhile(state: Pick<ContainerState, "pid" | "backend">): boolean {
  return state.backend === "native" && state.pid !== null && !pidAlive(state.pid);
}

/** Whether the user asked for no cgroup (the host is not to blame then). */
function cgroupsDisabled(bundle: ContainerPaths): boolean {
  try {
    return readSpec(bundle.config).linux.cgroupsMode === "disabled";
  } catch {
    return false;
  }
}
