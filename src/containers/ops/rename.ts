import { ContainerError } from "../../errors.js";
import { bundleOf, type LifecycleContext, shown } from "../context.js";
import { recordEvent } from "../events.js";
import { updateState } from "../state.js";
import { withContainerLock } from "../lock.js";
import { readSpec } from "../spec-file.js";
import { recordRename } from "../../network/connected.js";
import { renameInLeases } from "../../network/leases.js";

/** `rename`: the new name is reserved first (atomically), then recorded, then the old one freed. */
export async function renameContainer(ctx: LifecycleContext, id: string, newName: string): Promise<void> {
  let old: string | null = null;
  const bundle = bundleOf(ctx, id);
  let reserved = false;
  const renamed = await updateState(bundle, (state) => {
    if (state.name === newName) throw new ContainerError(`container ${shown(state)} is already named ${newName}`);
    ctx.names.reserve(newName, id);
    reserved = true;
    old = state.name;
    return { name: newName };
  }).catch((err: unknown) => {
    // Not recorded (a full disk): the container keeps its old name, and the new one is free again.
    if (reserved) ctx.names.release(newName, id);
    throw err;
  });
  if (old !== null) ctx.names.release(old, id);
  if (!renamed) return;
  recordEvent(bundle.dir, renamed, "rename", { oldName: old });
  // The networks' DNS answers to the new name (docker's): the record for later starts, the leases now.
  await withContainerLock(bundle.dir, () => recordRename(bundle.config, newName));
  if (old !== null && renamed.status === "running") await renameInLeases(bundle.dir, readSpec(bundle.config), id, old, newName);
}
