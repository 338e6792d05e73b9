import type { Backend } from "../backends/backend.js";
import type { ContainerPaths, DataPaths } from "../paths.js";
import type { HostIdentity } from "../spec/id-mappings.js";
import type { ContainerNames } from "./names.js";
import type { VolumeStore } from "./volumes.js";

/** What the lifecycle operations (ops/*.ts) work with: a Runtime hands them this. */
export interface LifecycleContext {
  paths: DataPaths;
  backend: Backend;
  names: ContainerNames;
  host(): HostIdentity;
  /** A read-only rootfs with /bin/rm and an empty /mnt (the embedded busybox layer), for rootless removal. */
  helperRoot(): Promise<string>;
  /** Where a removed container's anonymous volumes go (`rm -v`, `--rm`); absent: they stay. */
  volumes?: VolumeStore;
}

export function bundleOf(ctx: LifecycleContext, id: string): ContainerPaths {
  return ctx.paths.container(id);
}

/** How a container is named in messages: its name, else the short id. */
export function shown(state: { id: string; name: string | null }): string {
  return state.name ?? state.id.slice(0, 12);
}
