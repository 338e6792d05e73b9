import { ContainerError } from "../../errors.js";
import { bundleOf, type LifecycleContext, shown } from "../context.js";
import { recordEvent } from "../events.js";
import { updateState } from "../state.js";

/** `rename`: the new name is reserved first (atomically), then recorded, then the old one freed. */
export async function renameContainer(ctx: LifecycleContext, id: string, newName: string): Promise<void> {
  let old: string | null = null;
  const bundle = bundleOf(ctx, id);
  const renamed = await updateState(bundle, (state) => {
    if (state.name === newName) throw new ContainerError(`container ${shown(state)} is already named ${newName}`);
    ctx.names.reserve(newName, id);
    old = state.name;
    return { name: newName };
  });
  if (old !== null) ctx.names.release(old, id);
  if (renamed) recordEvent(bundle.dir, renamed, "rename", { oldName: old });
}
