/**
 * Fetching an image in the Worker: an OCI image layout over HTTP (index →
 * manifest → config and layer blobs) or a plain list of layer URLs. Every
 * blob named by a digest is checked against it before it is used.
 */
import { ImageError } from "../../../errors.js";
import { assertDigest } from "../../../image/digest.js";
import { Annotation, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, isIndexMediaType } from "../../../image/oci.js";
import { formatPlatform, platformMatches } from "../../../image/platform.js";
import { fetchBytes, type LoadProgress, sha256Hex } from "./fetch-files.js";
import type { ImageSource } from "./protocol.js";

/** The guest runs linux/386 images only. */
const GUEST_PLATFORM = { os: "linux", architecture: "386" };

export interface FetchedImage {
  /** The image config (Env, Cmd, …), when the source names one. */
  config: ImageConfig | undefined;
  /** Layer blobs (compressed as stored), lowest first. */
  layers: Uint8Array[];
}

export async function fetchImage(source: ImageSource, onProgress: (p: LoadProgress) => void): Promise<FetchedImage> {
  if ("layout" in source) return fetchFromLayout(source.layout, source.ref, onProgress);
  const layers = source.layers.map((l) => (typeof l === "string" ? { url: l, digest: undefined } : l));
  const config = source.config ? (json(await fetchBytes(source.config)) as ImageConfig) : undefined;
  return { config, layers: await fetchLayers(layers, onProgress) };
}

async function fetchFromLayout(layout: string, ref: string | undefined, onProgress: (p: LoadProgress) => void): Promise<FetchedImage> {
  const base = layout.endsWith("/") ? layout : layout + "/";
  const blobUrl = (d: Descriptor) => `${base}blobs/sha256/${assertDigest(d.digest, "blob").slice("sha256:".length)}`;
  const blob = async (d: Descriptor) => verified(await fetchBytes(blobUrl(d)), d.digest);

  const index = json(await fetchBytes(`${base}index.json`)) as ImageIndex;
  let descriptor = pickManifest(index, ref, layout);
  let doc = json(await blob(descriptor));
  // A multi-platform image: its index lists one manifest per platform.
  if (isIndexMediaType(descriptor.mediaType) || Array.isArray((doc as ImageIndex).manifests)) {
    descriptor = pickManifest(doc as ImageIndex, undefined, layout);
    doc = json(await blob(descriptor));
  }
  const manifest = doc as ImageManifest;
  const config = json(await blob(manifest.config)) as ImageConfig;
  if (!platformMatches(config, GUEST_PLATFORM)) {
    throw new ImageError(`image ${layout} is ${formatPlatform(config)}: the vm guest runs ${formatPlatform(GUEST_PLATFORM)} images`);
  }
  const layers = await fetchLayers(
    manifest.layers.map((l) => ({ url: blobUrl(l), digest: l.digest })),
    onProgress,
  );
  return { config, layers };
}

/** By ref name when given, else the linux/386 one, else the only one. */
function pickManifest(index: ImageIndex, ref: string | undefined, layout: string): Descriptor {
  const manifests = index.manifests ?? [];
  const named = (d: Descriptor) => d.annotations?.[Annotation.refName] === ref || d.annotations?.[Annotation.imageName] === ref;
  const found = ref !== undefined ? manifests.find(named) : (manifests.find((d) => platformMatches(d.platform, GUEST_PLATFORM)) ?? (manifests.length === 1 ? manifests[0] : undefined));
  if (!found) throw new ImageError(ref !== undefined ? `image layout ${layout} has no manifest named ${ref}` : `image layout ${layout} has no ${formatPlatform(GUEST_PLATFORM)} manifest`);
  return found;
}

async function fetchLayers(layers: { url: string; digest: string | undefined }[], onProgress: (p: LoadProgress) => void): Promise<Uint8Array[]> {
  const progress = layers.map(() => ({ loaded: 0, total: 0 }));
  return Promise.all(
    layers.map(async (layer, i) => {
      const bytes = await fetchBytes(layer.url, (loaded, total) => {
        progress[i] = { loaded, total };
        onProgress({ file: layer.url, loaded: progress.reduce((n, p) => n + p.loaded, 0), total: progress.reduce((n, p) => n + p.total, 0) });
      });
      return new Uint8Array(layer.digest ? await verified(bytes, layer.digest) : bytes);
    }),
  );
}

async function verified(bytes: ArrayBuffer, digest: string): Promise<ArrayBuffer> {
  const wanted = assertDigest(digest, "blob");
  const got = `sha256:${await sha256Hex(bytes)}`;
  if (got !== wanted) throw new ImageError(`blob ${wanted} does not match its digest (got ${got})`);
  return bytes;
}

function json(bytes: ArrayBuffer): unknown {
  return JSON.parse(new TextDecoder().decode(bytes));
}
