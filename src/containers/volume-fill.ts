/**
 * Rootless with subordinate ids: a new volume filled from the image in the
 * user's own user namespace, as its root (docker's and podman's rootless
 * copy-up), so files and directories only the image's user (a subordinate
 * id) may read are copied with their owners and modes. The copy is made in a
 * private directory beside the volume's `_data` and its top-level entries
 * moved in by that root (the user may not rename a directory of another id):
 * `mv -n -T` never follows or replaces a name a running container that has
 * the volume mounted made meanwhile, and the namespace's root is read-only.
 */
import { basename, dirname, join } from "node:path";
import { mkdtempSync } from "node:fs";
import { ownTempPrefix } from "../temp-names.js";
import type { LifecycleContext } from "./context.js";
import { removeOwnedTree } from "./remove.js";
import { copyImageTreeInUserNamespace, inUserNamespace, shQuote } from "./user-namespace.js";
import { FILLING_PREFIX } from "./volumes.js";

/** What the image (`layers`) has below `imagePath` (a directory), moved into `dest` (the volume's `_data`). */
export async function fillInUserNamespace(ctx: LifecycleContext, layers: string[], imagePath: string, dest: string): Promise<void> {
  // Named by our pid: a run killed mid-copy leaves it for the next prune (`VolumeStore.abandoned`).
  const staging = mkdtempSync(join(dirname(dest), ownTempPrefix(FILLING_PREFIX)));
  try {
    await copyImageTreeInUserNamespace(ctx, layers, imagePath, staging, `filling volume ${dest} from the image's ${imagePath}`);
    await inUserNamespace(ctx, dirname(dest), moveInScript(basename(staging), basename(dest)), `moving the image's files into volume ${dest}`);
  } finally {
    // What was not moved in (names the container made meanwhile), or a failed copy's part. Left, it is a dead
    // pid's `.fill-*` for the next prune: the copy's own error is the one to report.
    await removeOwnedTree(ctx, staging).catch(() => {});
  }
}

function moveInScript(from: string, to: string): string {
  return [
    `cd /mnt/${shQuote(from)} || exit 1`,
    `for e in * .[!.]* ..?*; do [ -e "$e" ] || [ -L "$e" ] || continue; mv -n -T "$e" /mnt/${shQuote(to)}/"$e" || exit 1; done`,
  ].join("\n");
}
