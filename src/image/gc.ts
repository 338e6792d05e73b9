import { existsSync, lstatSync, readdirSync, readFileSync, type Stats } from "node:fs";
import { readSpec } from "../containers/spec-file.js";
import { creatingLayers } from "../containers/bundle-dir.js";
import { lstat, readdir, rename, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { isErrno, randomHex, readdirOrEmpty, tempSiblingPid, treeBytes } from "../fs-util.js";
import { removeTree } from "../remove-tree.js";
import { DataPaths, OCI_FORM_DIR } from "../paths.js";
import { BLOB_PREFIX, DOWNLOADS, downloadHolder, LEASE_PREFIX, type OciLayout, withIndexLock } from "./layout.js";
import { UNPACK_PREFIX } from "./layers.js";
import { LOAD_PREFIX } from "./archive.js";
import { BIND_PREFIX } from "../build/bind-snapshot.js";
import { ADD_PREFIX } from "../build/copy-step.js";
import { STDIN_PREFIX } from "../build/stdin-context.js";
import { abandonedTemps, ownTempPrefix } from "../temp-names.js";
import { OWNER_NOTES_SUFFIX, removeOwnerNotes } from "./owner-notes.js";
import { Annotation, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, isIndexMediaType } from "./oci.js";
import { pidAlive } from "../process-alive.js";

/** A doomed layer renamed aside by a prune or rmi, in layers/ (putLayerAside). */
export const TRASH_PREFIX = ".trash-";

export interface PruneResult {
  blobs: number;
  layers: number;
  /** Partial downloads, and what killed processes left half-made (layers, loads, blobs). */
  partials: number;
  /** Bytes freed (blobs, partial downloads, half-made ones; unpacked layers counted by their files' sizes). */
  bytes: number;
}

/**
 * Deletes what no image name and no container needs: blobs no named image
 * reaches, unpacked layers that are neither in a named image nor a lowerdir
 * of an existing container, abandoned partial downloads and what killed
 * processes left half-made. Decides under the
 * index lock: a pull publishes its name under the same lock after checking
 * its blobs are all still there, so a pull racing a prune fails cleanly
 * instead of naming a half-deleted image. Doomed layers are only renamed
 * aside under it (TRASH_PREFIX) and deleted after: rootless, a layer with
 * other ids' files is deleted by a helper container whose root is busybox's
 * layer, which may have to be imported again — under the lock that import
 * waited 60 s on this very process and failed.
 */
/** `removeDir` deletes an unpacked layer (rootless, other ids may own files in it: removeOwnedTree); never under the index lock. */
export async function pruneStore(dataDir: string, layout: OciLayout, removeDir: (dir: string) => Promise<void> = removeTree): Promise<PruneResult> {
  const result: PruneResult = { blobs: 0, layers: 0, partials: 0, bytes: 0 };
  const paths = new DataPaths(dataDir);
  const trash: string[] = [];
  await withIndexLock(layout.dir, async () => {
    const stray = await strays(paths, layout);
    for (const hex of stray.blobs) {
      const freed = await removeBlob(layout, hex);
      if (freed === undefined) continue;
      result.blobs++;
      result.bytes += freed;
    }
    for (const dir of stray.notesOnly) removeOwnerNotes(dir);
    for (const dir of stray.layers) {
      result.bytes += await putLayerAside(paths, dir, trash);
      result.layers++;
    }
    const downloads = join(layout.dir, DOWNLOADS);
    for (const name of stray.downloads) {
      const st = await lstat(join(downloads, name)).catch(() => undefined);
      await unlink(join(downloads, name)).catch(() => {});
      if (name.startsWith(LEASE_PREFIX)) continue; // a dead process's lease: nothing to count
      result.partials++;
      result.bytes += st?.size ?? 0;
    }
    await rmdir(downloads).catch(() => {}); // only when empty: a live pull's files stay
  });

  // What killed processes left mid-way (temp-names.ts): layers being unpacked, archives being loaded, blobs being
  // written, build steps' context snapshots, a prune's layers put aside. Named by a dead pid: no lock needed.
  for (const path of abandonedLeftovers(dataDir, layout)) {
    const st = await lstat(path).catch(() => undefined);
    if (!st) continue;
    const bytes = st.isDirectory() ? await treeBytes(path) : st.size;
    const removed = await (st.isDirectory() ? removeDir(path) : unlink(path)).then(() => true, () => false);
    if (!removed) continue; // taken by another prune, or not ours to delete: left as it is
    result.partials++;
    result.bytes += bytes;
  }
  await emptyTrash(trash, removeDir);
  return result;
}

/**
 * What prune deletes besides what it untags: blobs no index entry reaches (but those written since a live pull
 * took its lease: layout.ts withLease), unpacked layers no entry names and no container mounts, owner notes
 * whose layer is gone, and in `.downloads` what no live process holds. A look: prune's under the index lock.
 */
async function strays(paths: DataPaths, layout: OciLayout): Promise<{ blobs: string[]; layers: string[]; notesOnly: string[]; downloads: string[] }> {
  const out = { blobs: [] as string[], layers: [] as string[], notesOnly: [] as string[], downloads: [] as string[] };
  const { blobs, diffIds } = reachable(layout, (await layout.readIndex()).manifests);
  const downloads = join(layout.dir, DOWNLOADS);
  const live = await liveWriters(downloads);
  const blobDir = join(layout.dir, "blobs", "sha256");
  for (const hex of await list(blobDir)) {
    if (blobs.has(`sha256:${hex}`)) continue;
    if (live.since !== undefined && ((await lstat(join(blobDir, hex)).catch(() => undefined))?.mtimeMs ?? 0) >= live.since) continue;
    out.blobs.push(hex);
  }
  const inUse = containerLowerDirs(paths);
  // Both whiteout forms (paths.ts): a host that gained or lost the native addon may hold layers of each.
  for (const layerDir of layerDirs(paths)) {
    for (const name of await list(layerDir)) {
      // A layer's owner notes (owner-notes.ts) go with it; a note whose layer is gone goes too.
      const hex = name.endsWith(OWNER_NOTES_SUFFIX) ? name.slice(0, -OWNER_NOTES_SUFFIX.length) : name;
      const dir = join(layerDir, hex);
      // (a notes file being written: its temp name)
      if (!/^[0-9a-f]{64}$/.test(hex) || diffIds.has(`sha256:${hex}`) || inUse.has(dir)) continue;
      if (hex === name) out.layers.push(dir);
      else if (!existsSync(dir)) out.notesOnly.push(dir);
    }
  }
  for (const name of await list(downloads)) if (!live.names.has(name)) out.downloads.push(name);
  return out;
}

/**
 * The bytes a prune would free besides the images it untags (`strays` and `abandonedLeftovers`): interrupted
 * pulls and loads, half-unpacked layers, blobs and layers nothing names. `system df` counts them as the Images'
 * reclaimable space (before, it said 0 B while they held megabytes).
 */
export async function strayBytes(dataDir: string, layout: OciLayout): Promise<number> {
  const stray = await strays(new DataPaths(dataDir), layout);
  const sizeOf = async (path: string) => {
    const st = await lstat(path).catch(() => undefined);
    return st === undefined ? 0 : st.isDirectory() ? await treeBytes(path) : st.size;
  };
  let bytes = 0;
  for (const hex of stray.blobs) bytes += await sizeOf(join(layout.dir, "blobs", "sha256", hex));
  for (const path of [...stray.layers, ...stray.downloads.filter((n) => !n.startsWith(LEASE_PREFIX)).map((n) => join(layout.dir, DOWNLOADS, n)), ...abandonedLeftovers(dataDir, layout)]) bytes += await sizeOf(path);
  return bytes;
}

/** What processes that no longer run left half-made or half-removed in the store (temp-names.ts). */
export function abandonedLeftovers(dataDir: string, layout: OciLayout): string[] {
  const { layersRoot } = new DataPaths(dataDir);
  return [
    ...abandonedTemps(layersRoot, UNPACK_PREFIX),
    ...abandonedTemps(layersRoot, TRASH_PREFIX),
    ...abandonedTemps(dataDir, LOAD_PREFIX),
    ...abandonedTemps(dataDir, BIND_PREFIX),
    ...abandonedTemps(dataDir, ADD_PREFIX),
    ...abandonedTemps(dataDir, STDIN_PREFIX),
    ...abandonedTemps(layout.dir, BLOB_PREFIX),
    ...abandonedSiblings(layout.dir),
  ];
}

/** A write-then-rename's temp in the layout's root (fs-util.ts tempSibling: index.json's, the space reserve's) of a dead process. */
function abandonedSiblings(dir: string): string[] {
  return readdirOrEmpty(dir).flatMap((name) => {
    const pid = tempSiblingPid(name);
    return pid !== undefined && !pidAlive(pid) ? [join(dir, name)] : [];
  });
}

/**
 * A doomed layer renamed aside (`layers/.trash-<pid>-<hex>`), one atomic step under the index lock after which
 * no image or run finds it; deleted once the lock is released (emptyTrash). A prune killed in between leaves it
 * named by its dead pid, and the next prune deletes it. Returns the bytes its files held.
 */
async function putLayerAside(paths: DataPaths, dir: string, trash: string[]): Promise<number> {
  const bytes = await treeBytes(dir);
  const aside = join(paths.layersRoot, `${ownTempPrefix(TRASH_PREFIX)}${randomHex(6)}`);
  try {
    await rename(dir, aside);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return 0; // gone already (another prune)
    throw err;
  }
  trash.push(aside);
  removeOwnerNotes(dir);
  return bytes;
}

/** Deletes the layers put aside; the first failure is thrown after the others were tried (the next prune retries). */
async function emptyTrash(trash: string[], removeDir: (dir: string) => Promise<void>): Promise<void> {
  let failure: unknown;
  for (const dir of trash) await removeDir(dir).catch((err: unknown) => (failure ??= err));
  if (failure !== undefined) throw failure;
}

/**
 * The live processes' files in `.downloads` (`.part` downloads and leases, named with their pid after the
 * first dot), and when the oldest live lease was taken: blobs written since may be a pull's, not yet named.
 */
/**
 * Whether a live writer's lease covers this blob (written since the oldest live lease was taken): prune spares it,
 * and `image prune`/`builder prune` the unnamed entry (a running build's step) whose manifest it is.
 */
export async function leasedBlobs(layout: OciLayout): Promise<(digest: string) => boolean> {
  const { since } = await liveWriters(join(layout.dir, DOWNLOADS));
  return (digest) => since !== undefined && ((lstatSyncOrUndefined(layout.blobPath(digest))?.mtimeMs ?? 0) >= since);
}

function lstatSyncOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

async function liveWriters(downloads: string): Promise<{ names: Set<string>; since: number | undefined }> {
  const names = new Set<string>();
  let since: number | undefined;
  for (const name of await list(downloads)) {
    if (!(name.endsWith(".part") || name.startsWith(LEASE_PREFIX)) || !pidAlive(downloadHolder(name))) continue;
    names.add(name);
    if (!name.startsWith(LEASE_PREFIX)) continue;
    const st = await lstat(join(downloads, name)).catch(() => undefined);
    // (a second of slack: file times are the file system's, coarser than a pull's first write)
    if (st) since = Math.min(since ?? Infinity, st.mtimeMs - 1000);
  }
  return { names, since };
}

/**
 * `rmi`'s sweep (docker's; `--no-prune` skips it): of what the index entries
 * `removed` reached, the blobs and unpacked layers that nothing named
 * reaches now and no container uses — and nothing else (prune's other
 * work: unnamed blobs of others, partial downloads, leftovers, blobs a
 * live lease holds: a save or push reading the image). Under the
 * index lock, as prune. Returns the blobs deleted, those nothing named
 * reaches any more (`released`: deleted, or left to a lease; rmi's
 * `Deleted:` is the image's config among them), and the bytes freed.
 */
export async function sweepRemoved(dataDir: string, layout: OciLayout, removed: Descriptor[], removeDir: (dir: string) => Promise<void> = removeTree): Promise<{ blobs: string[]; released: string[]; layers: number; bytes: number }> {
  const result = { blobs: [] as string[], released: [] as string[], layers: 0, bytes: 0 };
  if (removed.length === 0) return result;
  const paths = new DataPaths(dataDir);
  const trash: string[] = [];
  await withIndexLock(layout.dir, async () => {
    const kept = reachable(layout, (await layout.readIndex()).manifests);
    const gone = reachable(layout, removed);
    // What a live lease holds (a save or push reading the image, a pull reusing its blobs) stays for prune.
    const leased = await leasedBlobs(layout);
    for (const digest of gone.blobs) {
      const hex = digest.replace(/^sha256:/, "");
      if (kept.blobs.has(digest) || !/^[0-9a-f]{64}$/.test(hex)) continue;
      result.released.push(digest);
      if (leased(digest)) continue;
      const freed = await removeBlob(layout, hex);
      if (freed === undefined) continue;
      result.blobs.push(digest);
      result.bytes += freed;
    }
    const inUse = containerLowerDirs(paths);
    for (const diffId of gone.diffIds) {
      const hex = diffId.replace(/^sha256:/, "");
      if (kept.diffIds.has(diffId) || !/^[0-9a-f]{64}$/.test(hex)) continue;
      for (const layerDir of layerDirs(paths)) {
        const dir = join(layerDir, hex);
        if (inUse.has(dir) || !existsSync(dir)) continue;
        result.bytes += await putLayerAside(paths, dir, trash);
        result.layers++;
      }
    }
  });
  await emptyTrash(trash, removeDir);
  return result;
}

/**
 * What `roots` (index entries) reach: index, manifest, config and layer
 * blobs (and the registry index a platform's manifest came from), and the
 * diff-ids of the layers, whose unpacked dirs they keep.
 */
function reachable(layout: OciLayout, roots: Descriptor[]): { blobs: Set<string>; diffIds: Set<string> } {
  const blobs = new Set<string>();
  const diffIds = new Set<string>();
  // The registry index a platform's manifest was pulled from (store.ts) tells which platforms it offers.
  const keepSourceIndex = (d: Descriptor) => {
    const indexDigest = d.annotations?.[Annotation.sourceIndex];
    if (indexDigest) blobs.add(indexDigest);
  };
  const visit = (digest: string, mediaType: string | undefined) => {
    if (blobs.has(digest)) return;
    let doc: ImageIndex & ImageManifest;
    try {
      doc = JSON.parse(readFileSync(layout.blobPath(digest), "utf8")) as ImageIndex & ImageManifest;
    } catch {
      return; // missing (e.g. other platforms of an index): nothing below it to keep
    }
    blobs.add(digest);
    if (isIndexMediaType(mediaType ?? doc.mediaType) || Array.isArray(doc.manifests)) {
      for (const d of doc.manifests ?? []) {
        visit(d.digest, d.mediaType);
        keepSourceIndex(d);
      }
      return;
    }
    if (doc.config?.digest) {
      blobs.add(doc.config.digest);
      try {
        const config = JSON.parse(readFileSync(layout.blobPath(doc.config.digest), "utf8")) as ImageConfig;
        for (const id of config.rootfs?.diff_ids ?? []) diffIds.add(id);
      } catch {
        // an unreadable config keeps its layers' blobs below, not their unpacked dirs
      }
    }
    for (const l of doc.layers ?? []) blobs.add(l.digest);
  };
  for (const d of roots) {
    visit(d.digest, d.mediaType);
    keepSourceIndex(d);
  }
  return { blobs, diffIds };
}

/** Deletes `blobs/sha256/<name>` (and a blob's made-here mark and tar size); its size, or undefined when it was not there. */
async function removeBlob(layout: OciLayout, name: string): Promise<number | undefined> {
  const path = join(layout.dir, "blobs", "sha256", name);
  const st = await lstat(path).catch(() => undefined);
  if (!st) return undefined;
  await unlink(path).catch(() => {});
  // (anything else found there is deleted too, but has no mark)
  if (/^[0-9a-f]{64}$/.test(name)) {
    await unlink(layout.madeHerePath(`sha256:${name}`)).catch(() => {});
    await unlink(layout.tarSizePath(`sha256:${name}`)).catch(() => {});
  }
  return st.size;
}

/** Both whiteout forms' layer dirs (paths.ts): a host that gained or lost the native addon may hold layers of each. */
function layerDirs(paths: DataPaths): string[] {
  return [join(paths.layersRoot, "sha256"), join(paths.layersRoot, OCI_FORM_DIR, "sha256")];
}

function containerLowerDirs(paths: DataPaths): Set<string> {
  const out = new Set<string>();
  let ids: string[] = [];
  try {
    ids = readdirSync(paths.containers);
  } catch {
    return out;
  }
  for (const id of ids) {
    const bundle = paths.container(id);
    let lower: string[];
    try {
      lower = readSpec(bundle.config).root?.overlay?.lower ?? [];
    } catch {
      // A bundle being made (also under its temp name) lists its layers before any lookup of them: bundle-dir.ts.
      lower = creatingLayers(bundle.dir);
    }
    for (const dir of lower) out.add(dir);
  }
  return out;
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
}
