import { recordEvent } from "./events.js";
import { accessSync, constants, type Dirent, lstatSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { isErrno } from "../fs-util.js";
import { removeTree } from "../remove-tree.js";
import type { LifecycleContext } from "./context.js";
import { inUserNamespace } from "./user-namespace.js";
import { readState } from "./state.js";
import { readContainerVolumes } from "./volumes.js";
import { ContainerError, errorMessage } from "../errors.js";
import { idMapsChange, madeWithRange } from "./id-record.js";
import { ID_HELPERS_PACKAGE, missingIdHelpers } from "../spec/id-helpers.js";
import { listedRanges } from "../spec/id-mappings.js";

/**
 * Deletes a container that no longer runs: its bundle is first renamed
 * aside (`containers/.removing-<id>-<pid>`), one atomic step after which the
 * container is gone for every other process (and nobody can create its lock
 * file in a directory being deleted), then deleted; its name is freed.
 * The monitor does the same for `--rm` containers (native-rs/runtime/src/monitor/remove.rs).
 */
export async function removeBundleDir(ctx: LifecycleContext, id: string, name: string | null, options: { volumes?: boolean } = {}): Promise<void> {
  const bundle = ctx.paths.container(id);
  const dir = bundle.dir;
  // Read before the bundle goes; deleted after, when no container holds them any more.
  const state = readState(bundle);
  const anonymous = (options.volumes ?? state?.remove) ? readContainerVolumes(bundle).anonymous : [];
  // What lives outside the bundle first (a cgroup its dead runtime left), while the bundle still says where.
  await ctx.backend.cleanup?.(dir);
  refuseUnmappable(ctx, dir, name ?? id.slice(0, 12));
  const aside = join(ctx.paths.containers, `.removing-${id}-${process.pid}`);
  let moved = true;
  try {
    renameSync(dir, aside);
  } catch (err) {
    if (!isErrno(err, "ENOENT")) throw err;
    moved = false;
  }
  if (moved && state) recordEvent(dir, state, "destroy");
  if (moved) await removeOwnedTree(ctx, aside);
  rmSync(ctx.paths.removalMarker(id), { force: true });
  if (name !== null) ctx.names.release(name, id);
  await ctx.volumes?.removeAnonymous(anonymous);
}

/**
 * Rootless without a usable range (none now, or another than the data dir was made with: id-record.ts), a bundle
 * made while the user had one can hold directories of subordinate ids
 * that neither the user nor any user namespace now available can delete: refused before anything is moved or
 * deleted, naming what is missing, instead of a raw EACCES halfway (the container gone from ps, its volumes held).
 */
function refuseUnmappable(ctx: LifecycleContext, dir: string, shown: string): void {
  const host = ctx.host();
  // A data dir never used with a range holds only the user's own ids (and has no range to have changed): no walk
  // of every bundle's tree then.
  if (host.uid === 0 || !madeWithRange(ctx.paths.root)) return;
  // A changed range: the ids stored shifted by the old start, which the current range's namespace does not map.
  const changed = idMapsChange(ctx.paths.root, host);
  if (host.subuid && !changed) return;
  let blocker: string | undefined;
  try {
    blocker = foreignDir(dir, host.uid);
  } catch {
    return; // (a tree deeper than a path names, a directory gone meanwhile: the removal itself says what it meets)
  }
  if (blocker === undefined) return;
  const missing = missingIdHelpers();
  const listed = listedRanges(host.uid);
  const why =
    listed.subuid && listed.subgid && missing.length > 0
      ? `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not installed: install ${missing.length > 1 ? "them" : "it"} (${ID_HELPERS_PACKAGE}); or have root delete ${dir}`
      : (changed ?? `this user has no /etc/subuid and /etc/subgid range now: restore the one the container ran with; or have root delete ${dir}`);
  throw new ContainerError(`cannot remove ${shown}: ${blocker} belongs to uid ${lstatSync(blocker).uid}, one of your subordinate ids, which only a user namespace with your range can delete, and ${why}`);
}

/** The first non-empty directory under `dir` owned by another uid that `uid` cannot empty, if any. */
function foreignDir(dir: string, uid: number): string | undefined {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    return lstatSync(dir).uid !== uid ? dir : undefined;
  }
  if (entries.length > 0 && lstatSync(dir).uid !== uid) {
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch {
      return dir;
    }
  }
  for (const e of entries) {
    const found = e.isDirectory() ? foreignDir(join(dir, e.name), uid) : undefined;
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Deletes a tree containers wrote to (a bundle, a volume). Rootless with subordinate ids, the upper dir can hold directories owned
 * by ids other than the user's (a container process ran as uid 1000): the
 * user cannot delete inside them, but root of the container's user
 * namespace can. Then, like `podman unshare rm`, the deletion runs in a
 * helper container with the same id mappings.
 */
export async function removeOwnedTree(ctx: LifecycleContext, dir: string): Promise<void> {
  try {
    await removeTree(dir);
    return;
  } catch (err) {
    const denied = isErrno(err, "EACCES") || isErrno(err, "EPERM");
    const host = ctx.host();
    if (!denied || host.uid === 0 || !host.subuid) throw err;
  }
  try {
    await inUserNamespace(ctx, dir, REMOVE_ALL_IN_MNT, `cannot remove ${dir}: cleanup in the user namespace`);
  } catch (err) {
    const changed = idMapsChange(ctx.paths.root, ctx.host());
    throw changed ? new ContainerError(`${errorMessage(err)}: ${changed}`) : err;
  }
  await removeTree(dir);
}

/**
 * `rm -rf` of /mnt's entries in busybox's sh, which names each entry by its
 * whole path: directories more than 8 levels down are first moved up to
 * /mnt (each step a relative `cd -P`), pass after pass until none is left,
 * so no path passes PATH_MAX however deep a container nested them
 * (fs-util.ts `removeTree` does the same for the user's own files).
 */
const REMOVE_ALL_IN_MNT = [
  "n=0",
  'flat() { for e in * .[!.]* ..?*; do [ -d "$e" ] && [ ! -L "$e" ] || continue; if [ "$1" -ge 8 ]; then n=$((n+1)); mv "$e" "/mnt/.tsbox-deep-$n" || exit 1; else cd -P "$e" || exit 1; flat $(($1+1)); cd .. || exit 1; fi; done; }',
  "while m=$n; cd /mnt && flat 0; [ $n != $m ]; do :; done",
  "rm -rf /mnt/* /mnt/.[!.]* /mnt/..?*",
].join("\n");
