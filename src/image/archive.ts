import { checkConfig } from "./shape.js";
import { createReadStream } from "node:fs";
import { lstat, mkdir, mkdtemp, open, readFile, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { PassThrough, type Writable } from "node:stream";
import { ImageError } from "../errors.js";
import { abortable } from "../abortable.js";
import { writeTo } from "../stream-write.js";
import { isDiskFull, systemErrorText, writeOutputFile } from "../fs-util.js";
import { removeTree } from "../remove-tree.js";
import { decompress, detectCompression, type LayerLimits, layerLimits, limitExpansion, sniffCompression } from "./compression.js";
import { OciLayout } from "./layout.js";
import { Annotation, type Descriptor, type ImageConfig, type ImageIndex, imageBlobDigests, type ImageManifest, isIndexMediaType, isManifestMediaType, MAX_CONFIG_BYTES, MediaType, type Platform } from "./oci.js";
import { canonicalName, familiarName, isNameOnly, parseReference } from "./reference.js";
import type { ImageStore, StoredImage } from "./store.js";
import type { LayerCache } from "./layers.js";
import { platformMatches } from "./platform.js";
import { readTar } from "./tar.js";
import { entryHeader, tarPadding } from "./tar-writer.js";
import { unpackLayer } from "./unpack.js";
import { ownTempPrefix } from "../temp-names.js";

/** An archive being loaded, unpacked in the data dir (temp-names.ts). */
export const LOAD_PREFIX = ".load-";

/**
 * `tsbox save` / `tsbox load`: images as tar archives, offline.
 *
 * Saved archives are OCI image layouts (oci-layout, index.json, blobs/) in a
 * tar. The `docker` format (the default) adds docker's `manifest.json`, as
 * `docker save` has written since Docker 25, so one archive loads with
 * `docker load`, `skopeo … docker-archive:` and `oci-archive:` alike.
 * Loading takes OCI archives and layout directories, docker archives old and
 * new, gzip-compressed or not; every blob is verified on its way into the store.
 */
export type ArchiveFormat = "docker" | "oci";

/** `signal` (Ctrl-C) aborts it: a file named `out` is then not left behind, half written. */
export async function saveImages(store: ImageStore, names: string[], out: string | Writable, format: ArchiveFormat = "docker", platform?: Platform, signal?: AbortSignal): Promise<void> {
  if (names.length === 0) throw new ImageError("nothing to save: name at least one image");
  if (typeof out === "string") return writeOutputFile(out, (file) => saveImages(store, names, file, format, platform, signal));
  const layout = store.layout;
  const blobs = new Map<string, number>();
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  const dockerManifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  for (const input of await savedNames(store, names)) {
    // One platform per name (docker's manifest.json has room for one): the one asked for, else the store's, else the name's only one.
    const image = await store.getImage(input, platform ?? (await store.defaultPlatformOf(input)));
    // Saved by its id, an image goes without a name (docker's RepoTags null), as `load` then keeps it: by id.
    const ref = (await store.isImageId(input)) ? undefined : parseReference(input);
    // Held (under the caller's lease) before a byte is written: a prune or rmi meanwhile leaves them to this save.
    const gone = await layout.holdBlobs(imageBlobDigests(image.manifestDigest, image.manifest));
    if (gone !== undefined) throw new ImageError(`image ${input} was removed while it was being saved (blob ${gone} is gone)`);
    const manifestSize = (await stat(layout.blobPath(image.manifestDigest))).size;
    for (const d of [image.manifest.config, ...image.manifest.layers]) blobs.set(d.digest, d.size);
    blobs.set(image.manifestDigest, manifestSize);
    index.manifests.push({
      mediaType: image.manifest.mediaType ?? MediaType.ociManifest,
      digest: image.manifestDigest,
      size: manifestSize,
      platform: { os: image.config.os, architecture: image.config.architecture, ...(image.config.variant ? { variant: image.config.variant } : {}) },
      ...(ref ? { annotations: { [Annotation.imageName]: canonicalName(ref), ...(ref.tag ? { [Annotation.refName]: ref.tag } : {}) } } : {}),
    });
    const entry = { Config: blobName(image.manifest.config.digest), RepoTags: !ref ? null : ref.tag ? [familiarName(ref)] : [], Layers: image.manifest.layers.map((l) => blobName(l.digest)) };
    // One entry per image, with all its names, as docker's (save.go groups refs by image id): skopeo's
    // docker-archive: reader refuses an archive of several entries unless one is named.
    const same = dockerManifest.find((e) => e.Config === entry.Config && e.Layers.join() === entry.Layers.join());
    if (same) same.RepoTags = [...new Set([...(same.RepoTags ?? []), ...(entry.RepoTags ?? [])])];
    else dockerManifest.push(entry);
  }

  // A write to a pipe nobody reads never ends: it is raced with the signal.
  const write = (chunk: Buffer) => abortable(writeTo(out, chunk), signal);
  const dir = (path: string) => write(entryHeader({ path, type: "directory", mode: 0o755, mtime: 0 }, 0));
  const file = async (path: string, data: Buffer) => {
    await write(entryHeader({ path, type: "file", mode: 0o644, mtime: 0 }, data.length));
    await write(data);
    await write(tarPadding(data.length));
  };
  await file("oci-layout", Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  await dir("blobs");
  await dir("blobs/sha256");
  for (const [digest] of blobs) {
    const path = layout.blobPath(digest);
    const size = (await stat(path)).size;
    await write(entryHeader({ path: blobName(digest), type: "file", mode: 0o644, mtime: 0 }, size));
    let written = 0;
    for await (const chunk of createReadStream(path)) {
      written += (chunk as Buffer).length;
      await write(chunk as Buffer);
    }
    if (written !== size) throw new ImageError(`blob ${digest} changed while it was saved`);
    await write(tarPadding(size));
  }
  await file("index.json", Buffer.from(JSON.stringify(index)));
  if (format === "docker") await file("manifest.json", Buffer.from(JSON.stringify(dockerManifest)));
  await write(Buffer.alloc(1024));
}

/**
 * The names `save` was given, each once, a repository (a name without tag or digest) as every tag of it, as
 * docker's save (a repository no tag names stays as typed: its :latest, or an error).
 */
async function savedNames(store: ImageStore, names: string[]): Promise<string[]> {
  const out = new Map<string, string>();
  for (const input of names) {
    const expanded = isNameOnly(input) && !(await store.isImageId(input)) ? await store.repositoryTags(input) : [];
    for (const name of expanded.length > 0 ? expanded : [input]) {
      const key = (await store.isImageId(name)) ? name : canonicalName(parseReference(name));
      if (!out.has(key)) out.set(key, name);
    }
  }
  return [...out.values()];
}

function blobName(digest: string): string {
  return `blobs/sha256/${digest.slice(7)}`;
}

export interface LoadOptions {
  /** Repository for images an archive names only by tag (`ref.name` = "latest"). */
  repository?: string;
  /** Aborts the load (Ctrl-C): nothing of the archive is named, its temp files go. */
  signal?: AbortSignal;
  /** Caps on a compressed archive's expansion (default: compression.ts layerLimits(), from the environment). */
  limits?: Partial<LayerLimits>;
  /**
   * Unpacks the layers of each image of the store's platform into this cache before the image is named, as `pull`
   * does (the Runtime's): a layer that cannot be unpacked fails the load, naming it, and the image is not named.
   */
  layers?: LayerCache;
}

/** What `importImage` and the docker-archive loader run on an image before naming it: its layers unpacked. */
function unpacker(options: LoadOptions): ((image: StoredImage) => Promise<void>) | undefined {
  const layers = options.layers;
  return layers && (async (image) => void (await layers.unpackImage(image, options.signal)));
}

/**
 * Loads every image of an archive (file, stdin stream) or OCI layout directory. Returns the names loaded,
 * and for an image the archive names none (docker's `save IMAGE-ID`) its id, `sha256:…`: it is kept as <none>.
 */
export async function loadImages(store: ImageStore, dataDir: string, input: string | NodeJS.ReadableStream, options: LoadOptions = {}): Promise<string[]> {
  const inputStat = typeof input === "string" ? await stat(input).catch((err: NodeJS.ErrnoException) => {
    throw new ImageError(`cannot read ${input}: ${systemErrorText(err)}`);
  }) : undefined;
  if (typeof input === "string" && inputStat?.isDirectory()) return loadDirectory(store, input, options);
  await mkdir(dataDir, { recursive: true });
  const tmp = await mkdtemp(join(dataDir, ownTempPrefix(LOAD_PREFIX)));
  try {
    const source = typeof input === "string" ? createReadStream(input) : input;
    await extract(source, tmp, typeof input === "string" ? input : "stdin", inputStat?.size, { ...layerLimits(), ...options.limits }, options.signal);
    options.signal?.throwIfAborted();
    if (await exists(join(tmp, "index.json"))) return await importLayout(store, new OciLayout(tmp, "the archive"), options);
    if (await exists(join(tmp, "manifest.json"))) return await importDockerArchive(store, tmp, options);
    throw new ImageError("not an image archive: it has neither index.json (OCI) nor manifest.json (docker)");
  } finally {
    await removeTree(tmp);
  }
}

/**
 * An OCI layout directory (as podman's oci-dir), or an unpacked docker archive (its manifest.json: what
 * `tar -xf` of a `docker save` gives; docker's load takes no directory at all, its read fails).
 */
async function loadDirectory(store: ImageStore, dir: string, options: LoadOptions): Promise<string[]> {
  if ((await lstat(join(dir, "index.json")).catch(() => undefined)) !== undefined) {
    await checkLayoutTree(dir);
    return importLayout(store, new OciLayout(dir), options);
  }
  const manifest = await lstat(join(dir, "manifest.json")).catch(() => undefined);
  if (manifest === undefined) throw new ImageError(`${dir} is neither an OCI image layout (no index.json) nor an unpacked docker archive (no manifest.json)`);
  // Its layers and config are reached through inside(): no link out of the directory, nothing but regular files.
  if (!manifest.isFile()) throw new ImageError(`manifest.json in ${dir} is not a regular file: an image directory is loaded without following links`);
  return importDockerArchive(store, dir, options);
}

/** `size`: of the (compressed) archive file, for the ratio cap; undefined for stdin (its bytes are counted as they come). */
async function extract(source: NodeJS.ReadableStream, dir: string, what: string, size: number | undefined, limits: LayerLimits, signal?: AbortSignal): Promise<void> {
  const it = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  // A stdin that sends nothing keeps a read waiting for good: each is raced with the signal.
  const next = () => abortable(it.next(), signal);
  const { kind, empty, data } = await sniffCompression((async function* () {
    for (let r = await next(); !r.done; r = await next()) yield r.value;
  })());
  if (empty) throw new ImageError(`${what} is empty`);
  // Compressed as docker's load takes it (gzip, bzip2, xz, zstd), it may not expand without bound (the layer caps
  // apply). A stream's ratio is taken against the compressed bytes read so far: without it a 100 KB zstd archive on
  // stdin wrote 3 GB into the data dir before it was refused.
  let read = 0;
  const counted = (async function* () {
    for await (const chunk of data) (read += chunk.length), yield chunk;
  })();
  const body = kind === "none" ? data : limitExpansion(decompress(kind, counted), `archive ${what}`, size ?? (() => read), limits);
  try {
    // The same safe unpacker as for layers (no path escapes the temp dir), in
    // archive mode: no symlink, FIFO or device node is made there.
    await unpackLayer(readTar(body), dir, { privileged: false, archive: true });
  } catch (err) {
    (source as { destroy?: () => void }).destroy?.();
    // The disk it is unpacked to is full: no fault of the archive's.
    if (isDiskFull(err)) throw new ImageError(`no space left on device while unpacking archive ${what} into ${dir}`, err);
    throw new ImageError(`cannot read archive ${what}: ${(err as Error).message}`, err);
  }
}

async function importLayout(store: ImageStore, layout: OciLayout, options: LoadOptions): Promise<string[]> {
  const index = await layout.readIndex();
  const loaded: string[] = [];
  for (const d of index.manifests) {
    if (!isManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) continue;
    const name = entryName(d, options);
    const unpack = unpacker(options);
    const ids = await store.importImage(layout, d, name, { ...(options.signal ? { signal: options.signal } : {}), ...(unpack ? { unpack } : {}) });
    loaded.push(...(name !== undefined ? [name] : ids));
  }
  if (loaded.length === 0) throw new ImageError(`${layout.label === layout.dir ? `${layout.dir}: ` : ""}the archive names no image`);
  return loaded;
}

/**
 * The full name of an index.json entry: containerd's image name, else a full ref.name, else REPOSITORY:ref.name;
 * undefined for an entry with no name at all (then it is loaded by id).
 */
export function entryName(d: Descriptor, options: LoadOptions): string | undefined {
  const full = d.annotations?.[Annotation.imageName];
  if (full) return canonicalName(parseReference(full));
  const refName = d.annotations?.[Annotation.refName];
  if (refName && /[/:@]/.test(refName)) return canonicalName(parseReference(refName));
  if (options.repository) return canonicalName(parseReference(`${options.repository}:${refName ?? "latest"}`));
  if (refName === undefined) return undefined;
  throw new ImageError(`the archive names an image only by the tag "${refName}": give a repository with --name REPOSITORY`);
}

export interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * The manifest of an image of docker's older archive format, from its
 * config and layer blobs (layers told apart by their first bytes), and the
 * names it goes by. Pure: the browser's loader uses it too.
 */
export function dockerArchiveImage(
  entry: DockerArchiveEntry,
  config: ImageConfig,
  configBlob: { digest: string; size: number },
  layerBlobs: { digest: string; size: number; head: Uint8Array }[],
): { manifest: ImageManifest; names: string[] } {
  const layers: Descriptor[] = layerBlobs.map(({ head, ...blob }) => {
    const kind = detectCompression(head);
    return { mediaType: kind === "gzip" ? MediaType.dockerLayerGzip : kind === "zstd" ? "application/vnd.oci.image.layer.v1.tar+zstd" : "application/vnd.docker.image.rootfs.diff.tar", ...blob };
  });
  archiveDiffIds(entry, config);
  const tags = entry.RepoTags ?? [];
  return {
    manifest: { schemaVersion: 2, mediaType: MediaType.dockerManifest, config: { mediaType: MediaType.dockerConfig, ...configBlob }, layers },
    names: tags.map((tag) => canonicalName(parseReference(tag))),
  };
}

/** The config's diff_ids, one per layer the entry lists. */
export function archiveDiffIds(entry: DockerArchiveEntry, config: ImageConfig): string[] {
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== entry.Layers.length) throw new ImageError(`archive image ${entry.Config}: ${entry.Layers.length} layers but ${diffIds.length} diff_ids`);
  return diffIds;
}

/** Layer `i` of a docker archive's image, as errors name it. */
export function archiveLayerName(entry: DockerArchiveEntry, i: number): string {
  return `layer ${i + 1} (${entry.Layers[i]}) of archive image ${entry.Config}`;
}

/**
 * A docker archive's layer against the diff_id its config promises (the uncompressed tar's digest, `got`): no
 * manifest digest protects these layers, and docker's load refuses a mismatch too ("invalid diffID for layer N").
 * Node's load and the browser's ask this before anything of the image is stored.
 */
export function checkArchiveLayer(what: string, diffId: string, got: string): void {
  if (got !== diffId) throw new ImageError(`${what} does not match its diff_id in the config: expected ${diffId}, got ${got}`);
}

/** A layer that cannot be decompressed, as both loaders say it. */
export function undecompressable(what: string, err: unknown): ImageError {
  return new ImageError(`${what} cannot be decompressed: ${(err as Error).message}`, err);
}

/** Docker's older `docker save` format: manifest.json, <config>.json, <id>/layer.tar. */
async function importDockerArchive(store: ImageStore, dir: string, options: LoadOptions): Promise<string[]> {
  const signal = options.signal;
  const unpack = unpacker(options);
  let entries: DockerArchiveEntry[];
  try {
    entries = JSON.parse((await readCapped(join(dir, "manifest.json"), MAX_MANIFEST_FILE, "manifest.json")).toString("utf8")) as DockerArchiveEntry[];
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError("manifest.json of the archive is not valid JSON", err);
  }
  const wellFormed = (e: DockerArchiveEntry) =>
    typeof e?.Config === "string" && Array.isArray(e.Layers) && e.Layers.every((l) => typeof l === "string") && (e.RepoTags == null || (Array.isArray(e.RepoTags) && e.RepoTags.every((t) => typeof t === "string")));
  if ((entries as { schemaVersion?: unknown } | null)?.schemaVersion !== undefined) {
    // An image manifest: a `dir:` directory (podman save --format docker-dir, skopeo copy … dir:), no archive.
    throw new ImageError("manifest.json is one image's manifest (a skopeo dir: / podman docker-dir directory), not a docker archive's list: make it an archive (skopeo copy dir:DIR docker-archive:FILE) or save it as oci-dir");
  }
  if (!Array.isArray(entries) || !entries.every(wellFormed)) throw new ImageError("manifest.json of the archive is malformed: expected a list of {Config, RepoTags, Layers}");
  // As an OCI archive's empty index: docker's load of `[]` loads nothing and says nothing (this one said nothing, exit 0).
  if (entries.length === 0) throw new ImageError("the archive names no image: its manifest.json lists none");
  const layout = store.layout;
  await layout.init();
  const loaded: string[] = [];
  for (const entry of entries) {
    const configData = await readCapped(await inside(dir, entry.Config), MAX_CONFIG_BYTES, `archive image ${entry.Config}`);
    let config: ImageConfig;
    try {
      config = JSON.parse(configData.toString("utf8")) as ImageConfig;
    } catch (err) {
      throw new ImageError(`archive image ${entry.Config}: its config is not valid JSON`, err);
    }
    checkConfig(config, `archive image ${entry.Config}`);
    const diffIds = archiveDiffIds(entry, config);
    const layers: { digest: string; size: number; head: Uint8Array }[] = [];
    for (const [i, path] of entry.Layers.entries()) {
      layers.push(await copyLayer(layout, await inside(dir, path), diffIds[i]!, archiveLayerName(entry, i), signal));
    }
    // Written once every layer proved to be the config's: a refused image leaves no config behind.
    const configBlob = await layout.writeBlob(configData, undefined, signal);
    const { manifest, names } = dockerArchiveImage(entry, config, configBlob, layers);
    const desc = await layout.writeJsonBlob(manifest, MediaType.dockerManifest);
    const stored = { ...desc, platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) } };
    if (unpack && platformMatches(stored.platform, store.platform)) {
      await unpack({ name: names[0] ?? configBlob.digest, manifestDigest: desc.digest, manifest, configDigest: configBlob.digest, config });
    }
    signal?.throwIfAborted(); // an interrupted load names nothing more
    for (const name of names) {
      await store.putManifests(name, [stored]);
      loaded.push(name);
    }
    if (names.length === 0) {
      await store.putUnnamed([stored]);
      loaded.push(configBlob.digest);
    }
  }
  return loaded;
}

/**
 * A layer file of a docker archive into the store, checked on the way against the diff_id its config
 * promises (`checkArchiveLayer`). One read: the bytes go to the blob and, decompressed if need be, to the
 * hash; a layer that does not match fails before its blob is published.
 */
async function copyLayer(layout: OciLayout, file: string, diffId: string, what: string, signal?: AbortSignal): Promise<{ digest: string; size: number; head: Uint8Array }> {
  const fh = await open(file);
  const { buffer, bytesRead } = await fh.read(Buffer.alloc(6), 0, 6, 0).finally(() => fh.close());
  const head = buffer.subarray(0, bytesRead);
  const kind = detectCompression(head);
  const { DigestCounter } = await import("./hash.js");
  const counter = new DigestCounter();
  // Compressed: the blob's bytes also go through the decompressor, whose output is hashed alongside.
  const compressed = kind === "none" ? undefined : new PassThrough({ highWaterMark: 256 * 1024 });
  const hashing = compressed
    ? (async () => {
        for await (const chunk of limitExpansion(decompress(kind, compressed), what, (await stat(file)).size, layerLimits())) counter.update(chunk);
      })()
    : undefined;
  hashing?.catch(() => compressed!.destroy()); // awaited below; a failed decompressor stops taking bytes
  const stream = createReadStream(file);
  const checked = async function* (): AsyncGenerator<Buffer> {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (compressed) await writeTo(compressed, chunk).catch(() => undefined);
      else counter.update(chunk);
      yield chunk;
    }
    compressed?.end();
    try {
      await hashing;
    } catch (err) {
      throw undecompressable(what, err);
    }
    checkArchiveLayer(what, diffId, counter.digest());
  };
  try {
    return { ...(await layout.writeBlob(checked(), undefined, signal)), head };
  } finally {
    stream.destroy();
    compressed?.destroy();
  }
}

/** A path named by the archive, resolved without leaving the extracted dir (symlinks included). */
async function inside(dir: string, path: string): Promise<string> {
  const root = await realpath(dir);
  let resolved: string;
  try {
    resolved = await realpath(join(dir, path));
  } catch {
    throw new ImageError(`the archive's manifest names ${path}, which it does not contain`);
  }
  if (!resolved.startsWith(root + sep)) throw new ImageError(`the archive's manifest names ${path}, outside the archive`);
  if (!(await lstat(resolved)).isFile()) throw new ImageError(`${path} in the archive is not a file`);
  return resolved;
}

/**
 * A layout directory is read like an archive: what `load` reads of it
 * (oci-layout, index.json, blobs/) must be regular files and directories,
 * so no link in it is followed and no FIFO opened.
 */
async function checkLayoutTree(dir: string): Promise<void> {
  const { readdir } = await import("node:fs/promises");
  const check = async (rel: string, depth: number): Promise<void> => {
    const st = await lstat(join(dir, rel)).catch(() => undefined);
    if (!st) return;
    if (st.isSymbolicLink()) throw new ImageError(`${rel} in ${dir} is a symlink: an image layout is loaded without following links`);
    if (st.isDirectory()) {
      if (depth < 3) for (const name of await readdir(join(dir, rel))) await check(join(rel, name), depth + 1);
      return;
    }
    if (!st.isFile()) throw new ImageError(`${rel} in ${dir} is not a regular file`);
  };
  for (const top of ["oci-layout", "index.json", "blobs"]) await check(top, 0);
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

/** A docker-archive's manifest.json lists its images: a few KB each. */
const MAX_MANIFEST_FILE = 16 * 1024 * 1024;

/** A small file of the archive, refused past `max` bytes before it is read (a hostile one may be any size). */
async function readCapped(path: string, max: number, what: string): Promise<Buffer> {
  const size = (await stat(path)).size;
  if (size > max) throw new ImageError(`${what} is ${size} bytes, more than ${max}`);
  return readFile(path);
}
