/**
 * `container prune`, `system prune` and `system df`: what the data dir
 * holds (images: blobs and unpacked layers; containers: writable layers;
 * volumes; the build cache's RUN --mount=type=cache dirs), what is in use,
 * and deleting what is not.
 */
import { readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { CACHE_KEY_ANNOTATION } from "../build/cache.js";
import { cacheMountsDir } from "../build/run-mounts.js";
import { removeOwnedTree } from "./remove.js";
import { treeBytes } from "../fs-util.js";
import { writableLayerBytes } from "./layer-bytes.js";
import { errorMessage } from "../errors.js";
import { leasedBlobs, strayBytes } from "../image/gc.js";
import { Annotation, type Descriptor, type ImageConfig, type ImageManifest } from "../image/oci.js";
import { prunable, type PruneFilter } from "./prune-filter.js";
import { familiarName, parseReference } from "../image/reference.js";
import type { Runtime } from "../runtime.js";
import { isActive, readCurrentState, type ContainerState } from "./state.js";
import { readContainerVolumes, type VolumeInfo } from "./volumes.js";

export interface ContainerPruneResult {
  removed: string[];
  bytes: number;
  /** What could not be removed and why ("<short id>: <message>"), e.g. `container prune`'s; the rest still went. */
  errors?: string[];
}

/**
 * Deletes every container that is not running (their anonymous volumes stay,
 * as with docker), but one a live process is still making and starting (a
 * `run` in another terminal: "created" with its creator alive).
 */
export async function pruneContainers(runtime: Runtime, keep: (c: ContainerState) => boolean | Promise<boolean> = () => false): Promise<ContainerPruneResult> {
  const result: ContainerPruneResult = { removed: [], bytes: 0, errors: [] };
  for (const c of await runtime.containers({ all: true })) {
    if (c.status === "running" || (c.status === "created" && c.creatorPid !== null) || (await keep(c))) continue;
    const bytes = await writableLayerBytes(runtime.containerPaths(c.id));
    try {
      await runtime.removeContainer(c.id);
    } catch (err) {
      // Started or removed meanwhile: not ours to prune. Anything else is said (it silently kept a full disk full).
      const now = readCurrentState(runtime.containerPaths(c.id));
      if (now && !isActive(now)) result.errors!.push(`${c.id.slice(0, 12)}: ${errorMessage(err)}`);
      continue;
    }
    result.removed.push(c.id);
    result.bytes += bytes;
  }
  return result;
}

export interface ImagePruneResult {
  untagged: string[];
  /** Image ids (config digests) no name refers to any more. */
  deleted: string[];
  bytes: number;
}

/**
 * Removes the images no container uses: only unnamed ones (docker's
 * dangling images), or with `all` every unused one; then the blobs and
 * unpacked layers nothing needs.
 */
export async function pruneImages(runtime: Runtime, options: { all?: boolean; buildSteps?: boolean; filter?: PruneFilter } = {}): Promise<ImagePruneResult> {
  const layout = runtime.imageStore.layout;
  // Entries the filter spares (their config's created time and labels), decided before the index is locked.
  const spared = new Set<string>();
  if (options.filter) {
    for (const d of (await layout.readIndex()).manifests) {
      const first = (await runtime.imageStore.presentManifests(d).catch(() => []))[0];
      const config = first && (await imageConfigOf(layout, first.digest));
      if (!prunable(options.filter, config?.created, config?.config?.Labels)) spared.add(d.digest);
    }
  }
  const result: ImagePruneResult = { untagged: [], deleted: [], bytes: 0 };
  const doomed = new Map<string, Descriptor>();
  let remaining: Descriptor[] = [];
  // A running build's steps (unnamed entries it made under its lease): the next step is made from them.
  const leased = await leasedBlobs(layout);
  await layout.updateIndex(async (index) => {
    // Who uses which manifest, read under the lock as rmi's guard is (Runtime imagesInUse: the states and the live
    // creators' claims): a run claims its image and checks it is still there under this lock, so it either sees the
    // prune or is seen by it. Before, the containers were listed before the lock, without creators.
    const used = await runtime.imagesInUse();
    const kept: Descriptor[] = [];
    for (const d of index.manifests) {
      const name = d.annotations?.[Annotation.refName];
      const keep =
        spared.has(d.digest) ||
        (name !== undefined && !options.all) ||
        (name === undefined && leased(d.digest)) ||
        // `builder prune`: only what builds kept as their cache.
        (options.buildSteps === true && d.annotations?.[CACHE_KEY_ANNOTATION] === undefined) ||
        // A name of several platforms is an index: a container uses one of its manifests (before, compared with the
        // index's own digest, so `prune -a` deleted a two-platform image a container ran from).
        (await runtime.imageStore.entryUses(d, used));
      if (keep) {
        kept.push(d);
        continue;
      }
      if (name !== undefined) result.untagged.push(familiarName(parseReference(name)));
      doomed.set(d.digest, d);
    }
    index.manifests = kept;
    // A manifest still named elsewhere in the index is not deleted.
    for (const d of index.manifests) doomed.delete(d.digest);
    remaining = index.manifests;
  });
  // Reported by image id, as docker does (an index entry: each of its images); an id another entry still has (a
  // build's last step and the image it named are one image) is not gone.
  const imageIds = async (entry: Descriptor) => {
    const ids = new Set<string>();
    for (const m of await runtime.imageStore.presentManifests(entry).catch(() => [])) {
      ids.add((await layout.readJsonBlob<ImageManifest>(m.digest).catch(() => undefined))?.config?.digest ?? m.digest);
    }
    return ids.size > 0 ? [...ids] : [entry.digest];
  };
  const kept = new Set<string>();
  if (doomed.size > 0) for (const d of remaining) for (const id of await imageIds(d)) kept.add(id);
  const gone = new Set<string>();
  for (const d of doomed.values()) for (const id of await imageIds(d)) gone.add(id);
  for (const id of gone) if (!kept.has(id)) result.deleted.push(id);
  const freed = await runtime.prune();
  result.bytes = freed.bytes;
  return result;
}

/**
 * The directories of RUN --mount=type=cache (`system prune`, docker's build
 * cache): each renamed aside first, so a build that starts meanwhile makes
 * a new one; removed as their owner (a rootless build's files belong to its
 * subordinate ids).
 */
export async function pruneBuildCache(runtime: Runtime): Promise<ContainerPruneResult> {
  const result: ContainerPruneResult = { removed: [], bytes: 0 };
  const dir = cacheMountsDir(runtime.dataDir);
  for (const name of cacheDirs(dir)) {
    const bytes = await treeBytes(join(dir, name));
    const doomed = join(dir, `.rm-${name}`);
    try {
      renameSync(join(dir, name), doomed);
    } catch {
      continue; // another prune took it
    }
    await removeOwnedTree(runtime.lifecycle(), doomed);
    result.removed.push(name);
    result.bytes += bytes;
  }
  return result;
}

function cacheDirs(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => !name.startsWith("."));
  } catch {
    return [];
  }
}

export interface UsageRow {
  Type: "Images" | "Containers" | "Local Volumes" | "Build Cache";
  TotalCount: number;
  Active: number;
  Size: number;
  Reclaimable: number;
}

export interface DiskUsage {
  rows: UsageRow[];
  images: { name: string; platform: string; id: string; created: string | null; size: number; containers: number }[];
  containers: { id: string; name: string; image: string; command: string[]; created: string; status: string; size: number; volumes: number }[];
  volumes: { name: string; links: number; size: number }[];
}

/** `docker system df`: sizes on disk (blobs, unpacked layers, writable layers, volume files). */
export async function diskUsage(runtime: Runtime): Promise<DiskUsage> {
  const layout = runtime.imageStore.layout;
  const containers = await runtime.containers({ all: true });
  const byManifest = new Map<string, number>();
  for (const c of containers) byManifest.set(c.imageDigest, (byManifest.get(c.imageDigest) ?? 0) + 1);

  const images: DiskUsage["images"] = [];
  // What each image is made of on disk: its blobs and unpacked layers, which images share.
  const parts = new Map<string, number>();
  const imageParts: { parts: string[]; active: boolean }[] = [];
  // An image's blobs and unpacked layers (their keys), each counted once in `into`.
  const partsOf = async (manifestDigest: string, into: Map<string, number>) => {
    const own: string[] = [];
    const add = async (key: string, bytes: () => Promise<number> | number) => {
      if (!into.has(key)) into.set(key, parts.get(key) ?? (await bytes()));
      own.push(key);
    };
    try {
      const manifest = JSON.parse(readFileSync(layout.blobPath(manifestDigest), "utf8")) as ImageManifest;
      for (const blob of [manifest.config, ...manifest.layers]) await add(blob.digest, () => blob.size);
      const config = JSON.parse(readFileSync(layout.blobPath(manifest.config.digest), "utf8")) as { rootfs?: { diff_ids?: string[] } };
      for (const diffId of config.rootfs?.diff_ids ?? []) await add(`layer:${diffId}`, () => treeBytes(runtime.layerPath(diffId)));
    } catch {
      // an image whose blobs went missing counts as nothing
    }
    return own;
  };
  const listed = new Set<string>();
  for (const summary of await runtime.images()) {
    listed.add(summary.manifestDigest);
    const own = await partsOf(summary.manifestDigest, parts);
    const count = byManifest.get(summary.manifestDigest) ?? 0;
    // Its SIZE as `images` shows it (docker's: what its layers hold); the totals above are what the disk holds.
    images.push({ name: summary.name, platform: summary.platform, id: summary.id, created: summary.created, size: summary.size, containers: count });
    imageParts.push({ parts: own, active: count > 0 });
  }
  // <none> entries `images` folds into the named row of the same image id (another manifest form of it): on disk all the same.
  for (const d of (await layout.readIndex()).manifests) {
    if (listed.has(d.digest) || d.annotations !== undefined) continue;
    listed.add(d.digest);
    imageParts.push({ parts: await partsOf(d.digest, parts), active: (byManifest.get(d.digest) ?? 0) > 0 });
  }
  const activeParts = new Set(imageParts.filter((i) => i.active).flatMap((i) => i.parts));
  const imagesSize = [...parts.values()].reduce((a, b) => a + b, 0);
  const imagesReclaimable = [...parts].filter(([k]) => !activeParts.has(k)).reduce((a, [, v]) => a + v, 0);
  const sized: DiskUsage["containers"] = [];
  for (const c of containers) {
    sized.push({ id: c.id, name: c.name ?? c.id.slice(0, 12), image: c.image, command: c.command, created: c.created, status: c.status, size: await writableLayerBytes(runtime.containerPaths(c.id)), volumes: readContainerVolumes(runtime.containerPaths(c.id)).names.length });
  }
  const volumes: DiskUsage["volumes"] = [];
  await runtime.volumes.settle();
  for (const v of runtime.volumes.list() as VolumeInfo[]) volumes.push({ name: v.Name, links: runtime.volumes.users(v.Name).length, size: await treeBytes(v.Mountpoint) });

  // The build cache: the step images builds keep (what `builder prune` removes), by the parts no listed
  // image has, and RUN --mount=type=cache directories.
  const stepParts = new Map<string, number>();
  let steps = 0;
  for (const d of (await layout.readIndex()).manifests) {
    if (listed.has(d.digest) || d.annotations?.[CACHE_KEY_ANNOTATION] === undefined || d.annotations?.[Annotation.refName] !== undefined) continue;
    listed.add(d.digest);
    steps++;
    await partsOf(d.digest, stepParts);
  }
  const cacheDir = cacheMountsDir(runtime.dataDir);
  const cache: number[] = [...stepParts].filter(([k]) => !parts.has(k)).map(([, v]) => v);
  const mounts = cacheDirs(cacheDir);
  for (const name of mounts) cache.push(await treeBytes(join(cacheDir, name)));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  // What a prune frees besides the images it untags (interrupted pulls and loads, half-unpacked layers, blobs and
  // layers nothing names): the Images' space, all of it reclaimable; a volume a killed `volume rm` left, the volumes'.
  const stray = await strayBytes(runtime.dataDir, layout);
  let strayVolumes = 0;
  for (const dir of runtime.volumes.abandoned()) strayVolumes += await treeBytes(dir);
  return {
    rows: [
      // Images, not their names (docker counts image summaries, one per id: three tags of one image are one).
      { Type: "Images", TotalCount: new Set(images.map((i) => i.id)).size, Active: new Set(images.filter((i) => i.containers > 0).map((i) => i.id)).size, Size: imagesSize + stray, Reclaimable: imagesReclaimable + stray },
      { Type: "Containers", TotalCount: sized.length, Active: sized.filter((c) => c.status === "running").length, Size: sum(sized.map((c) => c.size)), Reclaimable: sum(sized.filter((c) => c.status !== "running").map((c) => c.size)) },
      { Type: "Local Volumes", TotalCount: volumes.length, Active: volumes.filter((v) => v.links > 0).length, Size: sum(volumes.map((v) => v.size)) + strayVolumes, Reclaimable: sum(volumes.filter((v) => v.links === 0).map((v) => v.size)) + strayVolumes },
      { Type: "Build Cache", TotalCount: steps + mounts.length, Active: 0, Size: sum(cache), Reclaimable: sum(cache) },
    ],
    images,
    containers: sized,
    volumes,
  };
}

async function imageConfigOf(layout: Runtime["imageStore"]["layout"], manifest: string): Promise<ImageConfig | undefined> {
  try {
    const m = await layout.readJsonBlob<{ config: { digest: string } }>(manifest);
    return await layout.readJsonBlob<ImageConfig>(m.config.digest);
  } catch {
    return undefined;
  }
}
