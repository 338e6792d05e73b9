import { treeBytes } from "../fs-util.js";
import type { ContainerPaths } from "../paths.js";

/**
 * What a container's writable layer holds (docker's SizeRw: `ps -s`, `inspect -s`, `system df`, a prune's
 * reclaimed space): its upper dir on the host (native), plus the layer a vm container's runs keep on the host
 * (`guest-layer/`: a record stream, the files' bytes and a little of their metadata). A vm container's upper dir
 * here is empty, and they were shown as 0 B; while one runs its changes are in guest memory, and the size of
 * what its last run left is shown.
 */
export async function writableLayerBytes(paths: Pick<ContainerPaths, "upper" | "guestLayer">): Promise<number> {
  return (await treeBytes(paths.upper)) + (await treeBytes(paths.guestLayer));
}
