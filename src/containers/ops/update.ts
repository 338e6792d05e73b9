/**
 * `update`: new cgroup limits for a container (docker's `update`), merged into
 * its config.json (what each later start applies) and its inspect record,
 * then written into its live cgroup when it runs (the backend's `update`).
 * Under the container's lock, so a start racing it runs with the old limits
 * or the new ones, never half of each.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ContainerError } from "../../errors.js";
import { writeFileAtomicSync } from "../../fs-util.js";
import type { ContainerSpec } from "../../spec/container-spec.js";
import { mergeResources, type ResourceOptions } from "../../spec/resources.js";
import { bundleOf, type LifecycleContext, shown, withoutCgroupError } from "../context.js";
import { hostConfigResources, readInspectRecord, writeInspectRecord } from "../inspect-record.js";
import { withContainerLock } from "../lock.js";
import { isActive, readCurrentState } from "../state.js";

/** Resolves with a warning when the limits could not all reach the running container (none: they did, or it is not running). */
export async function updateResources(ctx: LifecycleContext, id: string, change: ResourceOptions): Promise<string | undefined> {
  const bundle = bundleOf(ctx, id);
  return withContainerLock(bundle.dir, async () => {
    const state = readCurrentState(bundle);
    if (!state) throw new ContainerError(`no such container: ${id.slice(0, 12)}`);
    const specText = readFileSync(bundle.config, "utf8");
    const spec = JSON.parse(specText) as ContainerSpec;
    const resources = mergeResources(spec.linux.resources, change, availableParallelism());
    if (spec.linux.cgroupsMode === "disabled") throw new ContainerError(`container ${shown(state)} runs without cgroups (--cgroups=disabled): it takes no limits`);
    const running = isActive(state) && state.status !== "restarting";
    if (running && !ctx.backend.update) throw new ContainerError(`the ${ctx.backend.name} backend cannot update a running container's limits`);
    const before = { spec: specText, record: readInspectRecord(bundle) };
    spec.linux.resources = resources;
    writeFileAtomicSync(bundle.config, JSON.stringify(spec));
    if (before.record) writeInspectRecord(bundle, { ...before.record, HostConfig: { ...before.record.HostConfig, ...hostConfigResources(resources) } });
    if (!running) return undefined;
    let dropped: string;
    try {
      dropped = await ctx.backend.update!(bundle.dir);
    } catch (err) {
      const without = withoutCgroupError(err, state, "takes the new limits at its next start");
      if (without !== err) return (without as Error).message;
      // The kernel refused one (a memory limit below what it uses): the container keeps the limits it has.
      writeFileAtomicSync(bundle.config, before.spec);
      if (before.record) writeInspectRecord(bundle, before.record);
      throw err;
    }
    return dropped ? `container ${shown(state)}: this host cannot apply ${dropped}` : undefined;
  });
}
