/**
 * Images into the browser's store (browser-store.ts): an OCI image layout
 * served over HTTP (the embedded busybox), and archives the visitor drops
 * (`docker save`, OCI archives; gzip or plain). Both end in one importer
 * of "files by relative path", so a layout over HTTP and a layout inside an
 * archive take the same road. Every blob named by a digest is checked
 * (WebCrypto SHA-256) before it is stored; only linux/386 images are taken
 * (the guest's platform), and the names follow the Node loader's rules
 * (src/image/archive.ts entryName, dockerArchiveImage).
 */
import { ImageError } from "../../../errors.js";
import { archiveDiffIds, archiveLayerName, checkArchiveLayer, type DockerArchiveEntry, dockerArchiveImage, entryName, undecompressable } from "../../../image/archive.js";
import { assertDigest } from "../../../image/digest.js";
import { type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, isIndexMediaType, isManifestMediaType } from "../../../image/oci.js";
import { formatPlatform, platformMatches } from "../../../image/platform.js";
import { readTar } from "../../../image/tar.js";
import { concat } from "../core/bytes.js";
import type { BrowserStore, StoredImage } from "./browser-store.js";
import { fetchBytes, sha256Hex } from "./fetch-files.js";
import { decompressed } from "./image-root.js";

/** The guest runs linux/386 images only. */
export const GUEST_PLATFORM = { os: "linux", architecture: "386" };

/** A file of a layout or archive by its relative path; undefined when it has none. */
type Files = (rel: string) => Promise<Uint8Array | undefined>;

/** An OCI image layout over HTTP, stored under `name` (its linux/386 manifest). */
export async function importLayoutUrl(store: BrowserStore, url: string, name: string): Promise<string> {
  await importManifest(store, layoutFiles(url), await layoutDescriptor(url), [name], url);
  return name;
}

/** The descriptor of a layout's linux/386 manifest (or of its only one), from its index.json alone. */
export async function layoutDescriptor(url: string): Promise<Descriptor> {
  const index = json<ImageIndex>(await need(layoutFiles(url), "index.json", url), `${url}index.json`);
  const descriptor = index.manifests?.find((d) => platformMatches(d.platform, GUEST_PLATFORM)) ?? (index.manifests?.length === 1 ? index.manifests[0] : undefined);
  if (!descriptor) throw new ImageError(`image layout ${url} has no ${formatPlatform(GUEST_PLATFORM)} manifest`);
  return descriptor;
}

function layoutFiles(url: string): Files {
  const base = url.endsWith("/") ? url : url + "/";
  return async (rel) => new Uint8Array(await fetchBytes(base + rel));
}

/** Every image of an archive; returns their names. */
export async function importArchive(store: BrowserStore, archive: Uint8Array, options: { repository?: string }): Promise<string[]> {
  const entries = await readArchive(archive);
  const files: Files = async (rel) => entries.get(rel.replace(/^\.?\//, ""));
  if (entries.has("index.json")) {
    const index = json<ImageIndex>(entries.get("index.json")!, "index.json");
    const loaded: string[] = [];
    for (const d of index.manifests ?? []) {
      if (!isManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) continue;
      const name = entryName(d, options);
      if (name === undefined) throw new ImageError("the archive names an image only by its digest: give a repository (repository option)");
      await importManifest(store, files, d, [name], "the archive");
      loaded.push(name);
    }
    if (loaded.length === 0) throw new ImageError("the archive names no image");
    return loaded;
  }
  if (entries.has("manifest.json")) return importDockerArchive(store, files, json<DockerArchiveEntry[]>(entries.get("manifest.json")!, "manifest.json"));
  throw new ImageError("not an image archive: it has neither index.json (OCI) nor manifest.json (docker)");
}

/**
 * A manifest (or a multi-platform index: its linux/386 manifest), its config
 * and layers, all checked, stored under `names`; returns the stored manifest's digest.
 */
export async function importManifest(store: BrowserStore, files: Files, descriptor: Descriptor, names: string[], what: string): Promise<string> {
  const blobs = new Map<string, Uint8Array>();
  const blob = async (d: Descriptor) => {
    const digest = assertDigest(d.digest, "blob");
    const bytes = await need(files, `blobs/sha256/${digest.slice("sha256:".length)}`, what);
    await verify(bytes, digest);
    blobs.set(digest, bytes);
    return bytes;
  };
  let doc = json<ImageManifest & ImageIndex>(await blob(descriptor), descriptor.digest);
  if (isIndexMediaType(descriptor.mediaType) || Array.isArray(doc.manifests)) {
    const inner = doc.manifests.find((d) => platformMatches(d.platform, GUEST_PLATFORM));
    if (!inner) throw new ImageError(`${names[0]} has no ${formatPlatform(GUEST_PLATFORM)} image (the vm guest runs only those)`);
    blobs.clear();
    descriptor = inner;
    doc = json<ImageManifest & ImageIndex>(await blob(inner), inner.digest);
  }
  const manifest: ImageManifest = doc;
  const config = json<ImageConfig>(await blob(manifest.config), manifest.config.digest);
  checkPlatform(config, names[0]!);
  for (const layer of manifest.layers) await blob(layer);
  for (const name of names) await store.putImage(record(name, descriptor.digest, manifest, config), blobs);
  return descriptor.digest;
}

async function importDockerArchive(store: BrowserStore, files: Files, entries: DockerArchiveEntry[]): Promise<string[]> {
  const loaded: string[] = [];
  for (const entry of entries) {
    const blobs = new Map<string, Uint8Array>();
    const put = async (bytes: Uint8Array) => {
      const digest = `sha256:${await sha256Hex(bytes)}`;
      blobs.set(digest, bytes);
      return { digest, size: bytes.length };
    };
    const configBytes = await need(files, entry.Config, "the archive");
    const config = json<ImageConfig>(configBytes, entry.Config);
    const configBlob = await put(configBytes);
    const diffIds = archiveDiffIds(entry, config);
    const layers = [];
    for (const [i, path] of entry.Layers.entries()) {
      const bytes = await need(files, path, "the archive");
      // Node's load's rule: each layer is its config's diff_id before anything of the image is stored.
      const what = archiveLayerName(entry, i);
      checkArchiveLayer(what, diffIds[i]!, await tarDigest(bytes, what));
      layers.push({ ...(await put(bytes)), head: bytes.subarray(0, 4) });
    }
    const { manifest, names } = dockerArchiveImage(entry, config, configBlob, layers);
    if (names.length === 0) throw new ImageError(`archive image ${entry.Config} has no RepoTags: nothing to name it by`);
    checkPlatform(config, names[0]!);
    const manifestBlob = await put(new TextEncoder().encode(JSON.stringify(manifest)));
    for (const name of names) {
      await store.putImage(record(name, manifestBlob.digest, manifest, config), blobs);
      loaded.push(name);
    }
  }
  return loaded;
}

/** The digest of a layer's tar (its diff_id), through gzip if it is compressed. */
async function tarDigest(layer: Uint8Array, what: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  try {
    for await (const chunk of decompressed(layer)) chunks.push(chunk);
  } catch (err) {
    throw undecompressable(what, err);
  }
  return `sha256:${await sha256Hex(chunks.length === 1 ? chunks[0]! : concat(chunks))}`;
}

function record(name: string, manifestDigest: string, manifest: ImageManifest, config: ImageConfig): StoredImage {
  return { name, manifestDigest, config, configDigest: manifest.config.digest, layers: manifest.layers, created: config.created ?? null };
}

function checkPlatform(config: ImageConfig, name: string): void {
  if (!platformMatches(config, GUEST_PLATFORM)) {
    throw new ImageError(`image ${name} is ${formatPlatform(config)}: the vm guest runs ${formatPlatform(GUEST_PLATFORM)} images`);
  }
}

/** The archive's regular files by path (gzip-compressed archives too); links and directories are not needed to read one. */
async function readArchive(archive: Uint8Array): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  try {
    for await (const entry of readTar(decompressed(archive) as AsyncIterable<Buffer>)) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of entry.body) chunks.push(chunk);
      const path = entry.path.replace(/^\.?\/+/, "");
      if (entry.type === "file") files.set(path, concat(chunks));
    }
  } catch (err) {
    throw new ImageError(`cannot read the archive: ${(err as Error).message}`, err);
  }
  if (files.size === 0) throw new ImageError("the archive is empty");
  return files;
}

async function need(files: Files, rel: string, what: string): Promise<Uint8Array> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await files(rel);
  } catch (err) {
    throw new ImageError(`${what}: ${rel} cannot be read (${(err as Error).message})`, err);
  }
  if (!bytes) throw new ImageError(`${what} names ${rel}, which it does not contain`);
  return bytes;
}

async function verify(bytes: Uint8Array, digest: string): Promise<void> {
  const got = `sha256:${await sha256Hex(bytes)}`;
  if (got !== digest) throw new ImageError(`blob ${digest} does not match its digest (got ${got})`);
}

function json<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (err) {
    throw new ImageError(`${what} is not valid JSON`, err);
  }
}
