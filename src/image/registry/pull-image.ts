import { checkConfig, checkConfigSize, checkDiffIds, checkIndex, checkManifest } from "../shape.js";
import { ImageError } from "../../errors.js";
import type { LayerCache } from "../layers.js";
import { Annotation, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, isIndexMediaType, isManifestMediaType, MediaType, type Platform } from "../oci.js";
import { formatPlatform, hostPlatform } from "../platform.js";
import { canonicalName, type ImageReference, parseReference } from "../reference.js";
import type { ImageStore } from "../store.js";
import { RegistryClient } from "./client.js";
import { downloadBlob } from "./download.js";

export type PullStatus = "waiting" | "exists" | "resuming" | "downloading" | "retrying" | "extracting" | "done" | "mounted" | "uploading" | "pushed";

export interface PullEvent {
  /** Short digest of the blob (12 hex digits). */
  id: string;
  kind: "config" | "layer";
  status: PullStatus;
  current?: number;
  total?: number;
  /** "retrying": the seconds until the next attempt. */
  retryIn?: number;
}

export interface PullOptions {
  /** Platform to pick from a multi-platform index; default: the backend's (the host's). */
  platform?: Platform;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  onProgress?: (event: PullEvent) => void;
  /** Parallel blob downloads (default 3). */
  concurrency?: number;
  /** Unpacks layers into this cache as they arrive (what `pull` and `run` do). */
  layers?: LayerCache;
}

export interface PullResult {
  /** Canonical name, e.g. `127.0.0.1:5000/team/app:1.0`. */
  name: string;
  /** Digest of the platform's image manifest. */
  digest: string;
  /** Digest of the multi-platform index it was chosen from, if any. */
  indexDigest?: string;
  platform: string;
}

/** Annotation on a store entry: the index a platform's manifest came from. */
export const INDEX_ANNOTATION = Annotation.sourceIndex;

const LAYER_TYPES = new Set<string>([
  MediaType.ociLayerTar,
  MediaType.ociLayerGzip,
  "application/vnd.oci.image.layer.v1.tar+zstd",
  MediaType.dockerLayerGzip,
  "application/vnd.docker.image.rootfs.diff.tar",
]);

/**
 * Pulls an image from its registry into the store: manifest (through an
 * index when the image is multi-platform), config, then layers in parallel,
 * each verified and unpacked as it arrives. The name is published in
 * index.json last, under the index lock and only if every blob is present: a
 * crash or Ctrl-C at any point leaves no half-visible image (and keeps the
 * partial downloads for the next pull to resume).
 */
export async function pullImage(store: ImageStore, input: string, options: PullOptions = {}): Promise<PullResult> {
  // Under a lease: a prune meanwhile keeps the blobs this pull writes before its name is published.
  return store.layout.withLease(() => pullUnderLease(store, input, options));
}

async function pullUnderLease(store: ImageStore, input: string, options: PullOptions): Promise<PullResult> {
  const ref = parseReference(input);
  const name = canonicalName(ref);
  const platform = options.platform ?? hostPlatform();
  const client = new RegistryClient(ref.domain, { ...(options.env ? { env: options.env } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  const layout = store.layout;
  await layout.init();

  let top = await client.getManifest(ref.path, ref.digest ?? ref.tag ?? "latest");
  let indexDigest: string | undefined;
  let indexData: Buffer | undefined;
  // Its platform is said only by its config (a single image, or an index entry without one).
  let checkConfigPlatform = true;
  if (isIndexMediaType(top.mediaType)) {
    indexDigest = top.digest;
    indexData = top.data;
    const index = checkIndex(parseJson(top.data, `index ${top.digest}`), `${displayName(ref)}: index ${top.digest}`);
    const chosen = selectPlatform(index, platform);
    if (!chosen) {
      const offered = index.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : "an entry without a platform")).join(", ");
      throw new ImageError(`${displayName(ref)} has no image for platform ${formatPlatform(platform)} (it has ${offered || "none"})`);
    }
    checkConfigPlatform = !chosen.platform;
    top = await client.getManifest(ref.path, chosen.digest);
    if (top.digest !== chosen.digest) throw new ImageError(`manifest ${chosen.digest} does not match its digest`);
  }
  if (!isManifestMediaType(top.mediaType)) {
    throw new ImageError(`${displayName(ref)}: unsupported manifest type ${top.mediaType || "(none)"}${/v1\+prettyjws|v1\+json/.test(top.mediaType) ? " (docker schema 1 images are not supported)" : ""}`);
  }
  const manifest = checkManifest(parseJson(top.data, `manifest ${top.digest}`), `${displayName(ref)}: manifest ${top.digest}`);
  for (const layer of manifest.layers) {
    if (!LAYER_TYPES.has(layer.mediaType)) throw new ImageError(`${displayName(ref)}: unsupported layer type ${layer.mediaType}`);
  }

  const progress = options.onProgress ?? (() => {});
  const fetchBlob = async (blob: Descriptor, kind: PullEvent["kind"]) => {
    const id = blob.digest.slice(7, 19);
    // Marked as written now (not only seen): a prune before this pull names its image spares it under the lease.
    // One of another size is downloaded again (layout.ts reuseBlob): a damaged copy is replaced.
    if (await layout.reuseBlob(blob.digest, blob.size)) return progress({ id, kind, status: "exists", total: blob.size });
    await downloadBlob(layout, client, ref.path, blob, {
      ...(options.signal ? { signal: options.signal } : {}),
      onResume: (offset) => progress({ id, kind, status: "resuming", current: offset, total: blob.size }),
      onProgress: (current, total) => progress({ id, kind, status: "downloading", current, total }),
      onRetry: (seconds) => progress({ id, kind, status: "retrying", retryIn: seconds, total: blob.size }),
    });
  };

  // Refused before a byte of it is fetched (the store would refuse it afterwards).
  checkConfigSize(manifest.config, displayName(ref));
  await fetchBlob(manifest.config, "config");
  const config = checkConfig(await layout.readJsonBlob<unknown>(manifest.config.digest).catch((err: unknown) => {
    throw new ImageError(`${displayName(ref)}: its config ${manifest.config.digest} is not valid JSON`, err);
  }), `${displayName(ref)}`);
  // Refuse a wrong platform before any layer.
  if (checkConfigPlatform && (config.os !== platform.os || config.architecture !== platform.architecture)) {
    const has = formatPlatform({ os: config.os ?? "?", architecture: config.architecture ?? "?", ...(config.variant ? { variant: config.variant } : {}) });
    throw new ImageError(`${displayName(ref)} has no image for platform ${formatPlatform(platform)} (it has ${has})`);
  }
  checkDiffIds(manifest, config, `image config ${manifest.config.digest}`);
  const diffIds = config.rootfs.diff_ids;
  for (const layer of manifest.layers) progress({ id: layer.digest.slice(7, 19), kind: "layer", status: "waiting", total: layer.size });
  await pool(manifest.layers.map((layer, i) => async () => {
    const id = layer.digest.slice(7, 19);
    await fetchBlob(layer, "layer");
    if (options.layers) {
      if (!(await options.layers.findLayer(diffIds[i]!))) progress({ id, kind: "layer", status: "extracting", total: layer.size });
      await options.layers.ensureLayer(layer, diffIds[i]!, name);
    }
    progress({ id, kind: "layer", status: "done", total: layer.size });
  }), options.concurrency ?? 3);

  await layout.writeBlob(top.data, { digest: top.digest, size: top.data.length });
  if (indexData) await layout.writeBlob(indexData, { digest: indexDigest!, size: indexData.length });
  const chosenPlatform: Platform = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
  const entry: Descriptor = {
    mediaType: top.mediaType,
    digest: top.digest,
    size: top.data.length,
    platform: chosenPlatform,
    annotations: { [Annotation.refName]: name, [Annotation.imageName]: name, ...(indexDigest ? { [INDEX_ANNOTATION]: indexDigest } : {}) },
  };
  // Replaces this platform of the name, keeps its others; checks the blobs are all there under the index lock.
  await store.putManifests(name, [entry]);
  return { name, digest: top.digest, ...(indexDigest ? { indexDigest } : {}), platform: formatPlatform(chosenPlatform) };
}

/**
 * The index entry for `wanted`: os and architecture must match, and the
 * variant when one is asked for. Failing that, the first image entry that
 * names no platform, which the pull checks against its config (containerd's
 * `images.Manifest` keeps such entries after the matching ones, and checks
 * their config).
 */
export function selectPlatform(index: ImageIndex, wanted: Platform): Descriptor | undefined {
  const images = (index.manifests ?? []).filter((d) => isManifestMediaType(d.mediaType ?? MediaType.ociManifest));
  const candidates = images.filter((d) => d.platform && d.platform.os === wanted.os && d.platform.architecture === wanted.architecture);
  const matching = wanted.variant ? candidates.find((d) => d.platform!.variant === wanted.variant) : (candidates.find((d) => !d.platform!.variant) ?? candidates[0]);
  return matching ?? images.find((d) => !d.platform);
}

function displayName(ref: ImageReference): string {
  return canonicalName(ref);
}

/** Runs tasks with at most `limit` at a time; the first failure aborts the rest's scheduling and is thrown. */
async function pool(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < tasks.length) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failed !== undefined) throw failed;
}

function parseJson(data: Buffer, what: string): unknown {
  try {
    return JSON.parse(data.toString("utf8"));
  } catch (err) {
    throw new ImageError(`${what} is not valid JSON`, err);
  }
}
