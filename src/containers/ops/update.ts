/**
 * `update`: new cgroup limits for a container (docker's `update`), merged into
 * its config.json (what each later start applies) and its inspect record,
 * then written into its live cgroup when it runs (the backend's `update`);
 * and a new restart policy (`--restart`), recorded, then told to its monitor.
 * Under the container's lock, so a start racing it runs with the old limits
 * or the new ones, never half of each.
 */
import { readFileSync } from "node:fs";
import { ContainerError, noSuchContainer } from "../../errors.js";
import { writeFileAtomicSync } from "../../fs-util.js";
import type { ContainerSpec } from "../../spec/container-spec.js";
import { hostKernel } from "../../spec/from-options.js";
import { mergeResources, type ResourceOptions, undoResources } from "../../spec/resources.js";
import { checkResourceTypes } from "../../spec/run-options-check.js";
import { bundleOf, endedMeanwhile, type LifecycleContext, shown, withoutCgroupError } from "../context.js";
import { hostConfigResources, readInspectRecord, restartPolicyRecord, writeInspectRecord } from "../inspect-record.js";
import { withContainerLock } from "../lock.js";
import { MonitorRefusal, monitorRequest } from "../monitor-client.js";
import { formatRestartPolicy, parseRestartPolicy, type RestartPolicy } from "../restart-policy.js";
import type { ContainerPaths } from "../../paths.js";
import { type ContainerState, isActive, readCurrentState, updateStateLocked } from "../state.js";

/** What `Container.update` changes: cgroup limits, and docker's `restart` policy (`"on-failure:3"`). */
export interface ContainerUpdate extends ResourceOptions {
  restart?: string;
}

/**
 * Resolves with a warning when a change could not all reach the running
 * container (none: it did, or it is not running). Nothing changes when the
 * new policy is refused.
 */
export async function updateContainer(ctx: LifecycleContext, id: string, change: ContainerUpdate): Promise<string | undefined> {
  checkResourceTypes("update", change, { restart: "string" });
  const { restart, ...resources } = change;
  const policy = restart === undefined ? undefined : parseRestartPolicy(restart);
  const bundle = bundleOf(ctx, id);
  const warnings: string[] = [];
  const state = await withContainerLock(bundle.dir, async () => {
    const state = readCurrentState(bundle);
    if (!state) throw noSuchContainer(id.slice(0, 12));
    // docker's rule: a container removed when it exits is never restarted.
    if (policy && policy.name !== "no" && state.remove) throw new ContainerError(`cannot update container ${shown(state)}: its restart policy cannot change, it is removed when it exits (--rm)`);
    if (Object.values(resources).some((v) => v !== undefined)) {
      const warning = await updateResourcesLocked(ctx, bundle, state, resources);
      if (warning) warnings.push(warning);
    }
    if (policy) recordPolicyLocked(bundle, policy);
    return state;
  });
  // The monitor, outside the lock: it takes the lock itself to record a run's end.
  if (policy && isActive(state)) {
    const told = await monitorRequest(bundle.dir, { op: "policy", restart: formatRestartPolicy(policy) }).catch((err: unknown) => {
      if (err instanceof MonitorRefusal) throw new ContainerError(`container ${shown(state)}: ${err.message}`);
      throw err;
    });
    // A foreground run has no monitor to restart it: the policy is the next start's.
    if (told === undefined && state.supervisor === "foreground") warnings.push(`container ${shown(state)} runs in the foreground: its restart policy applies from its next start`);
  }
  return warnings.length > 0 ? warnings.join("; ") : undefined;
}

/** state.json (what `start` gives the next monitor) and the inspect record's `.HostConfig.RestartPolicy`. */
function recordPolicyLocked(bundle: ContainerPaths, policy: RestartPolicy): void {
  updateStateLocked(bundle, () => ({ restartPolicy: policy }));
  const record = readInspectRecord(bundle);
  if (record) writeInspectRecord(bundle, { ...record, HostConfig: { ...record.HostConfig, RestartPolicy: restartPolicyRecord(policy) } });
}

/** The limits, with the container's lock held: a warning when they could not all reach the running container. */
async function updateResourcesLocked(ctx: LifecycleContext, bundle: ContainerPaths, state: ContainerState, change: ResourceOptions): Promise<string | undefined> {
  const specText = readFileSync(bundle.config, "utf8");
  const spec = JSON.parse(specText) as ContainerSpec;
  const before = { spec: specText, record: readInspectRecord(bundle) };
  const nanoCpus = Number(before.record?.HostConfig.NanoCpus ?? 0);
  const { resources, nanoCpus: nanoCpusNext, changed } = mergeResources(spec.linux.resources, nanoCpus, change, ctx.backend.containerKernel?.() ?? hostKernel());
  if (spec.linux.cgroupsMode === "disabled") throw new ContainerError(`container ${shown(state)} runs without cgroups (--cgroups=disabled): it takes no limits`);
  const running = isActive(state) && state.status !== "restarting";
  if (running && !ctx.backend.update) throw new ContainerError(`the ${ctx.backend.name} backend cannot update a running container's limits`);
  const previous = spec.linux.resources;
  spec.linux.resources = resources;
  writeFileAtomicSync(bundle.config, JSON.stringify(spec));
  if (before.record) writeInspectRecord(bundle, { ...before.record, HostConfig: { ...before.record.HostConfig, ...hostConfigResources(resources, nanoCpusNext) } });
  if (!running) return undefined;
  let dropped: string;
  try {
    dropped = await ctx.backend.update!(bundle.dir, changed);
  } catch (err) {
    // Ended meanwhile: the limits are recorded for its next start, as a stopped container's.
    if (endedMeanwhile(state)) return undefined;
    // Not "at its next start": without a delegated cgroup (or, as root, a host that gives none) that start has
    // none either. --cgroups=disabled was refused above.
    const without = withoutCgroupError(err, state, "runs on without the new limits, recorded (inspect shows them) for a start that gets one", bundle);
    if (without !== err) return (without as Error).message;
    // The kernel refused one (a memory limit below what it uses): the container keeps the limits it has. The
    // runtime wrote those before the refused one already: they are written back, so the cgroup says what
    // inspect does (best effort: a failure here leaves the first error the one to tell).
    writeFileAtomicSync(bundle.config, JSON.stringify({ ...spec, linux: { ...spec.linux, resources: undoResources(previous, resources) } }));
    await ctx.backend.update!(bundle.dir).catch(() => undefined);
    writeFileAtomicSync(bundle.config, before.spec);
    if (before.record) writeInspectRecord(bundle, before.record);
    throw err;
  }
  return dropped ? `container ${shown(state)}: this host cannot apply ${dropped}` : undefined;
}
