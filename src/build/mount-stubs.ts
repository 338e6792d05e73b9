/**
 * RUN --mount's stubs: the runtime makes a mount's target (an empty file for
 * a file bind, else a directory) and its missing parents in the container's
 * upper dir. They are the mounts', not the step's: BuildKit's
 * MountStubsCleaner (and buildah) remove those still empty after the run, so
 * the layer has none of them. Here they are left out of the committed layer.
 */
import { posix } from "node:path";
import type { ImageConfig } from "../image/oci.js";
import { LayerView } from "../image/layer-view.js";
import type { CopyRecord } from "../containers/copy-records.js";
import type { Runtime } from "../runtime.js";
import type { Stage } from "./builder.js";

/** The stage image's unpacked layer directories, topmost first (none for FROM scratch). */
export async function stageLayerDirs(rt: Runtime, stage: Stage): Promise<string[]> {
  if (!stage.image) return [];
  return (await rt.imageStore.layout.readJsonBlob<ImageConfig>(stage.image.configDigest)).rootfs.diff_ids.map((d) => rt.layerPath(d)).reverse();
}

/**
 * The paths (relative, as the upper dir's records name them) the runtime
 * makes for mounts at `targets` in an image of `layers`: each target the
 * image lacks and its parents up to the first it has, where the image's
 * symlinks put them (`/var/run/x` with `/var/run -> /run` is `run/x`).
 */
export function mountStubs(layers: string[], targets: string[]): Set<string> {
  const image = new LayerView(layers);
  const stubs = new Set<string>();
  for (const target of targets) {
    const made: string[] = [];
    let at = posix.resolve("/", target);
    for (; at !== "/" && !image.lookup(at); at = posix.dirname(at)) made.push(posix.basename(at));
    // Where the first existing parent really is: its path with the image's links resolved.
    const base = at === "/" ? "" : image.realPath(at);
    if (base === undefined) continue;
    for (let i = made.length; i > 0; i--) stubs.add(posix.join(base, ...made.slice(i - 1).reverse()).replace(/^\/+/, ""));
  }
  return stubs;
}

/**
 * A filter of the upper dir's records (in the helper's order: a directory,
 * then everything below it) that drops the stubs still empty: a directory
 * with nothing below it, an empty regular file. A stub directory is held
 * until what follows shows whether anything is below it.
 */
export function withoutEmptyStubs(stubs: ReadonlySet<string>): (r: CopyRecord) => CopyRecord[] {
  let held: CopyRecord[] = [];
  const below = (dir: CopyRecord, path: string) => path.startsWith(`${dir.path}/`);
  return (r) => {
    // Held directories r is not below had nothing: dropped.
    while (held.length > 0 && !below(held[held.length - 1]!, r.path)) held.pop();
    if (stubs.has(r.path) && r.type === "dir") {
      held.push(r);
      return [];
    }
    if (stubs.has(r.path) && r.type === "file" && r.size === 0) return [];
    const out = [...held, r];
    held = [];
    return out;
  };
}
