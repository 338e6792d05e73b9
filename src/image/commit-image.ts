/**
 * New images from a container's writable layer (`tsbox commit`) or a tar
 * archive (`tsbox import`): the layer is gzip-compressed into a blob (its
 * diff-id hashed on the way), the config is the parent's (or a fresh one)
 * with the run config, changes and history of this step, and the manifest
 * lists the parent's layers plus the new one. Blobs are verified on write
 * like every other; the name is added to index.json last, so a failure
 * leaves no half image (prune removes the orphan blobs).
 */
import { PassThrough, Transform, type Writable } from "node:stream";
import { createGzip } from "node:zlib";
import { ImageError, LayerError } from "../errors.js";
import { DigestCounter } from "./hash.js";
import type { OciLayout } from "./layout.js";
import type { ImageStore } from "./store.js";
import { type Descriptor, type ImageConfig, type ImageManifest, MediaType, type Platform } from "./oci.js";
import { hostPlatform } from "./platform.js";
import { canonicalName, checkImageName, parseReference } from "./reference.js";
import { applyChanges, type CommitConfig } from "./commit-changes.js";
import { decompress, MissingToolError, sniffCompression } from "./compression.js";
import { readTar } from "./tar.js";
import { StandaloneLayerCheck } from "./layer-paths.js";
import { writeTo } from "../stream-write.js";
import { isDiskFull } from "../fs-util.js";

export interface NewLayer {
  /** The compressed blob. */
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar. */
  diffId: string;
}

/**
 * A layer blob from a tar that `produce` writes (with backpressure) to the
 * stream it gets; resolves once the blob is in the store. `signal` (Ctrl-C
 * of commit/import) fails the blob write, whose temp file then goes.
 */
export async function writeLayer(layout: OciLayout, produce: (tar: Writable) => Promise<void>, signal?: AbortSignal): Promise<NewLayer> {
  signal?.throwIfAborted();
  const diff = new DigestCounter();
  const tar = new PassThrough({ highWaterMark: 256 * 1024 });
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) {
      diff.update(chunk);
      done(null, chunk);
    },
  });
  const gzip = createGzip();
  // A failure is reported once, through `produce` or the blob write; not as an unhandled stream error.
  for (const s of [tar, hashing, gzip]) s.on("error", () => {});
  tar.pipe(hashing).pipe(gzip);
  await layout.init();
  // A blob write that fails (ENOSPC) while `produce` runs: reported here, not an unhandled rejection that ended
  // the CLI with a stack trace. It fails the layer at once: a producer reading a container's files (upperAsLayer)
  // need not notice that the tar it writes was closed.
  let writeFailed: { err: unknown } | undefined;
  const stored = layout.writeBlob(gzip).catch((err: unknown) => {
    // A full disk's bare "ENOSPC: …, write" names no file: say it was the store's (and get the CLI's hint).
    const full = isDiskFull(err);
    const failure = full ? new ImageError(`no space left on device while writing a layer into ${layout.dir}`, Object.assign(err as Error, { path: layout.dir })) : err;
    writeFailed = { err: failure };
    tar.destroy(err as Error);
    throw failure;
  });
  const blobFailed = stored.then(() => new Promise<never>(() => {}));
  // The blob write reads gzip: destroying it ends that read, and writeBlob unlinks its temp.
  const abort = () => gzip.destroy(signal!.reason as Error);
  signal?.addEventListener("abort", abort, { once: true });
  const producing = produce(tar);
  for (const p of [stored, blobFailed, producing]) p.catch(() => {});
  try {
    await Promise.race([producing, blobFailed]);
    tar.end();
  } catch (err) {
    gzip.destroy(err as Error);
    await stored.catch(() => {});
    // The blob's error is the cause; `produce`'s is only "the stream was closed".
    throw writeFailed ? writeFailed.err : err;
  } finally {
    signal?.removeEventListener("abort", abort);
  }
  const { digest, size } = await stored;
  signal?.throwIfAborted(); // aborted as the blob was published: no image names it (prune takes it)
  layout.markMadeHere(digest);
  return { descriptor: { mediaType: MediaType.ociLayerGzip, digest, size }, diffId: diff.digest() };
}

export interface ImageRequest {
  /** The image built on (its manifest's digest in the store), or none for `import`. */
  parentManifest?: string;
  /** The new image's run config (Cmd, Env, …) before `changes`. */
  config: CommitConfig;
  changes: string[];
  layer: NewLayer;
  /** The history entry: what made the layer, and a message. */
  createdBy: string;
  comment?: string;
  author?: string;
  /** REPOSITORY[:TAG]; none: an image known by its id only. */
  name?: string;
}

/** Stores the config, manifest and name of a new image; returns its id (the config digest). */
export async function storeImage(store: ImageStore, req: ImageRequest): Promise<string> {
  const { createdBy, name, ...rest } = req;
  return (await storeImageEntry(store, { ...rest, history: [createdBy], names: name !== undefined ? [canonicalName(parseReference(name))] : [] })).id;
}

/** A new image as `storeImageEntry` takes it: `tsbox build`'s steps have more than commit's. */
export interface ImageEntryRequest {
  parentManifest?: string;
  config: CommitConfig;
  changes?: string[];
  /** The new layer; none: a config-only image on the parent's layers. */
  layer?: NewLayer;
  /** What this image adds to the history: metadata steps (empty layers), then, with a layer, the step that made it. */
  history: string[];
  /** Of the last history entry. */
  comment?: string;
  author?: string;
  /** The platform of an image without a parent (default the host's). */
  platform?: Platform;
  /** Canonical names; none: an image known by its id only. */
  names?: string[];
  /** Annotations of its unnamed index entry (the build cache's key). */
  annotations?: Record<string, string>;
}

/** Stores the config, manifest and names of a new image; its id (the config digest) and manifest. */
export async function storeImageEntry(store: ImageStore, req: ImageEntryRequest): Promise<{ id: string; manifest: Descriptor }> {
  const layout = store.layout;
  const created = new Date().toISOString();
  let parent: { manifest: ImageManifest; config: ImageConfig } | undefined;
  if (req.parentManifest) {
    const manifest = await layout.readJsonBlob<ImageManifest>(req.parentManifest);
    parent = { manifest, config: await layout.readJsonBlob<ImageConfig>(manifest.config.digest) };
  }
  const platform = parent ? { os: parent.config.os, architecture: parent.config.architecture, ...(parent.config.variant ? { variant: parent.config.variant } : {}) } : (req.platform ?? hostPlatform());
  const last = req.history.length - 1;
  const config: ImageConfig & { author?: string } = {
    ...platform,
    created,
    ...(req.author ? { author: req.author } : {}),
    config: applyChanges(req.config, req.changes ?? []),
    rootfs: { type: "layers", diff_ids: [...(parent?.config.rootfs.diff_ids ?? []), ...(req.layer ? [req.layer.diffId] : [])] },
    history: [
      ...(parent?.config.history ?? []),
      ...req.history.map((createdBy, i) => ({
        created,
        created_by: createdBy,
        ...(i === last && req.comment ? { comment: req.comment } : {}),
        ...(i === last && req.author ? { author: req.author } : {}),
        ...(i < last || !req.layer ? { empty_layer: true } : {}),
      })),
    ],
  };
  const configDescriptor = await layout.writeJsonBlob(config, MediaType.ociConfig);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDescriptor,
    layers: [...(parent?.manifest.layers ?? []), ...(req.layer ? [req.layer.descriptor] : [])],
  };
  const manifestDescriptor = await layout.writeJsonBlob(manifest, MediaType.ociManifest);
  await nameEntry(store, manifestDescriptor, platform, req.names ?? [], req.annotations);
  return { id: configDescriptor.digest, manifest: manifestDescriptor };
}

/** Gives a stored image (by its manifest) `names`, or none: then it is listed as docker's <none>; returns its id and manifest. */
export async function nameManifest(store: ImageStore, manifestDigest: string, platform: Platform, names: string[]): Promise<{ id: string; manifest: Descriptor }> {
  const manifest = await store.layout.readJsonBlob<ImageManifest>(manifestDigest);
  const descriptor: Descriptor = { mediaType: manifest.mediaType ?? MediaType.ociManifest, digest: manifestDigest, size: (await store.layout.readBlob(manifestDigest)).length };
  await nameEntry(store, descriptor, platform, names);
  return { id: manifest.config.digest, manifest: descriptor };
}

/**
 * The index entries of a new manifest: one per name, or one unnamed (docker's
 * <none>: a dangling image, listed, kept until `image prune`, found by id).
 * An annotated one (a build step's image, where the build cache finds it) is
 * kept unnamed beside its names: an intermediate image, listed by `images -a`.
 */
async function nameEntry(store: ImageStore, descriptor: Descriptor, platform: Platform, names: string[], annotations?: Record<string, string>): Promise<void> {
  for (const name of names) await store.putManifests(name, [{ ...descriptor, platform }]);
  if (names.length > 0 && !annotations) return;
  await store.putEntry({ ...descriptor, platform }, annotations);
}

/**
 * `tsbox import`: a tar archive (plain or compressed) as the one layer of a new
 * image. The archive is checked entry by entry as it streams into the blob
 * (a file that is not a tar, or whose names leave its root or pass through
 * its own symlinks, fails here, not at every run); what it holds is checked
 * again, like every layer, when a container unpacks it.
 */
export async function importTarball(store: ImageStore, input: AsyncIterable<Buffer>, req: { changes: string[]; message?: string; name?: string; source: string; platform?: Platform; signal?: AbortSignal }): Promise<string> {
  checkImageName(req.name);
  const layer = await writeLayer(store.layout, async (tar) => {
    const tapped = (async function* () {
      for await (const chunk of await uncompressed(input)) {
        await writeTo(tar, chunk);
        yield chunk;
      }
    })();
    let entries = 0;
    const paths = new StandaloneLayerCheck();
    try {
      for await (const entry of readTar(tapped)) {
        entries++;
        try {
          paths.add(entry);
        } catch (err) {
          // docker's import refuses these too (`..`: a breakout; a symlinked parent: no such file).
          throw new ImageError(`${req.source === "-" ? "the input" : req.source} cannot be imported: ${(err as Error).message}`);
        }
        for await (const _ of entry.body);
      }
    } catch (err) {
      if (entries === 0 && err instanceof LayerError && !(err instanceof MissingToolError)) throw new ImageError(`${req.source === "-" ? "the input" : req.source} is not a tar archive (${err.message})`);
      throw err;
    }
    for await (const _ of tapped); // the end-of-archive blocks belong to the layer too
    if (entries === 0) throw new ImageError(`${req.source} is an empty tar archive`);
  }, req.signal);
  return storeImage(store, { config: {}, changes: req.changes, layer, createdBy: `tsbox import ${req.source}`, ...(req.message ? { comment: req.message } : {}), ...(req.name ? { name: req.name } : {}), ...(req.platform ? { platform: req.platform } : {}) });
}

/** The bytes of a tar archive that may be compressed (recognised by its magic bytes) as docker's import takes it: gzip, bzip2, xz, zstd. */
async function uncompressed(input: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer>> {
  const { kind, data } = await sniffCompression(input);
  return decompress(kind, data);
}
