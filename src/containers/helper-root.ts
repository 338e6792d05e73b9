import { join } from "node:path";
import { LayerCache } from "../image/layers.js";
import type { Platform } from "../image/oci.js";
import { ImageStore } from "../image/store.js";

/** `<data dir>/helper`: the helper containers' own image store and layers, apart from the user's. */
export const HELPER_DIR = "helper";

/**
 * The root of the helper containers that work in the user's user namespace
 * (user-namespace.ts): the embedded busybox, imported into a store of its
 * own. Not the user's store: a prune deletes through these helpers, and
 * resolving busybox there re-imported the image `prune -a` had just removed,
 * under the index lock that prune held (it waited 60 s on itself and failed).
 * Its files are the user's own, so deleting the data dir needs no helper.
 */
export async function helperRoot(dataDir: string, platform: Platform | undefined): Promise<string> {
  const dir = join(dataDir, HELPER_DIR);
  const store = new ImageStore(dir, platform ? { platform } : {});
  const image = await store.getImage("busybox", platform);
  return (await new LayerCache(dir, store.layout).ensureLayers(image))[0]!;
}
