import { stat } from "node:fs/promises";
import { ImageError } from "../../errors.js";
import { checkOptions, type OptionKinds } from "../../spec/run-options-check.js";
import { Annotation, type Descriptor, imageBlobDigests, type ImageManifest, isIndexMediaType, MediaType } from "../oci.js";
import { formatPlatform } from "../platform.js";
import { sha256Digest } from "../hash.js";
import { canonicalName, parseReference } from "../reference.js";
import type { ImageStore } from "../store.js";
import { pullScope, pushScope, RegistryClient, registryError } from "./client.js";
import type { PullEvent } from "./pull-image.js";

export interface PushOptions {
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  onProgress?: (event: PullEvent) => void;
  concurrency?: number;
}

/** `Runtime.push`'s, with its `destination`. */
export const PUSH_KINDS: OptionKinds<PushOptions & { destination?: string }> = { signal: "abortSignal", env: "object", onProgress: "function", concurrency: "number", destination: "string" };

export interface PushResult {
  /** Canonical destination, e.g. `127.0.0.1:5000/team/app:1.0`. */
  name: string;
  digest: string;
  uploaded: number;
  /** Blobs the registry already had in this repository. */
  existing: number;
  /** Blobs mounted from another repository of the same registry (no upload). */
  mounted: number;
  /** The platforms pushed (`linux/amd64`); with more than one, `digest` is the index listing them. */
  platforms: string[];
  /** Why a new index was made for a name pulled from one (its original could not be pushed as it is). */
  newIndex?: string;
}

/**
 * Pushes a stored image (config, layers, then the manifest, byte for byte so
 * its digest is kept) to `destination` (default: its own name). A blob the
 * repository already has is skipped (HEAD); one that another repository of
 * the same registry has, as far as the local store knows, is mounted
 * cross-repository (`POST …/uploads/?mount=…&from=…`) instead of uploaded.
 * Uploads are one monolithic PUT per blob, streamed from the store.
 */
export async function pushImage(store: ImageStore, source: string, destination: string | undefined, options: PushOptions = {}): Promise<PushResult> {
  const ref = parseReference(destination ?? source);
  const repo = ref.path;
  const client = new RegistryClient(ref.domain, { ...(options.env ? { env: options.env } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  const layout = store.layout;
  const sources = await mountSources(store, ref.domain, repo);
  const progress = options.onProgress ?? (() => {});
  const result: PushResult = { name: canonicalName(ref), digest: "", uploaded: 0, existing: 0, mounted: 0, platforms: [] };
  const scopes = [pushScope(repo)];

  const pushBlob = async (blob: Descriptor, kind: PullEvent["kind"]) => {
    const id = blob.digest.slice(7, 19);
    const head = await client.request("HEAD", `/v2/${repo}/blobs/${blob.digest}`, { scopes });
    await head.body?.cancel().catch(() => {});
    if (head.ok) {
      result.existing++;
      return progress({ id, kind, status: "exists", total: blob.size });
    }
    if (head.status !== 404) throw await registryError(head, `blob ${blob.digest} in ${client.domain}/${repo}`);
    let location: string | undefined;
    for (const from of sources.get(blob.digest) ?? []) {
      const res = await client.request("POST", `/v2/${repo}/blobs/uploads/?mount=${blob.digest}&from=${encodeURIComponent(from)}`, { scopes: [pushScope(repo), pullScope(from)] });
      await res.body?.cancel().catch(() => {});
      if (res.status === 201) {
        result.mounted++;
        return progress({ id, kind, status: "mounted", total: blob.size });
      }
      if (res.status === 202) {
        location = res.headers.get("location") ?? undefined;
        break;
      }
    }
    if (!location) {
      const res = await client.request("POST", `/v2/${repo}/blobs/uploads/`, { scopes });
      await res.body?.cancel().catch(() => {});
      if (res.status !== 202) throw await registryError(res, `upload to ${client.domain}/${repo}`);
      location = res.headers.get("location") ?? undefined;
    }
    if (!location) throw new ImageError(`${client.domain} started an upload without a Location`);
    const url = new URL(location, client.baseUrl);
    url.searchParams.set("digest", blob.digest);
    const path = layout.blobPath(blob.digest);
    const size = (await stat(path)).size;
    let sent = 0;
    progress({ id, kind, status: "uploading", current: 0, total: size });
    const res = await client.request("PUT", url.toString(), {
      scopes,
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
      body: () =>
        (async function* () {
          for await (const chunk of layout.openBlob(blob.digest)) {
            sent += (chunk as Buffer).length;
            progress({ id, kind, status: "uploading", current: sent, total: size });
            yield chunk as Uint8Array;
          }
        })(),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status !== 201 && res.status !== 204) throw await registryError(res, `upload of blob ${blob.digest} to ${client.domain}/${repo}`);
    result.uploaded++;
    progress({ id, kind, status: "pushed", total: size });
  };

  const putManifest = async (reference: string, data: Buffer, mediaType: string, digest: string) => {
    const res = await client.request("PUT", `/v2/${repo}/manifests/${reference}`, {
      scopes,
      headers: { "content-type": mediaType },
      body: () => new Uint8Array(data),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status !== 201 && res.status !== 200) throw await registryError(res, `manifest upload to ${client.domain}/${repo}`);
    const stored = res.headers.get("docker-content-digest");
    if (stored && stored !== digest) throw new ImageError(`${client.domain} stored the manifest as ${stored}, expected ${digest}`);
  };

  /** One platform's image: its blobs, then its manifest (byte for byte) under `reference`. */
  const pushPlatform = async (manifestDigest: string, reference: string) => {
    // Held (under the caller's lease) before anything is sent: a prune or rmi meanwhile leaves them to this push.
    const removed = (gone: string) => new ImageError(`image ${source} was removed while it was being pushed (blob ${gone} is gone)`);
    if (!(await layout.hasBlob(manifestDigest))) throw removed(manifestDigest);
    const manifestData = await layout.readBlob(manifestDigest);
    const manifest = JSON.parse(manifestData.toString("utf8")) as ImageManifest;
    if (!manifest.mediaType) throw new ImageError(`manifest ${manifestDigest} has no media type`);
    const gone = await layout.holdBlobs(imageBlobDigests(manifestDigest, manifest));
    if (gone !== undefined) throw removed(gone);
    const blobs: [Descriptor, PullEvent["kind"]][] = [...manifest.layers.map((l): [Descriptor, PullEvent["kind"]] => [l, "layer"]), [manifest.config, "config"]];
    let next = 0;
    const worker = async () => {
      while (next < blobs.length) {
        const [blob, kind] = blobs[next++]!;
        await pushBlob(blob, kind);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 3, blobs.length) }, worker));
    await putManifest(reference, manifestData, manifest.mediaType, manifestDigest);
    return { mediaType: manifest.mediaType, size: manifestData.length };
  };

  const tag = ref.tag ?? ref.digest!;
  // What the registry now has for the name: the local name of that name records it (store.recordPushed).
  const record = (manifests: string[], index?: Buffer) => (ref.tag ? store.recordPushed(result.name, result.digest, manifests, index) : Promise.resolve());
  const entry = await store.findDescriptor(source);
  const platforms = entry && isIndexMediaType(entry.mediaType) ? await store.presentManifests(entry) : [];
  if (platforms.length <= 1) {
    // One platform (or an image id): its manifest under the tag.
    const image = await store.getImage(source, await store.defaultPlatformOf(source));
    await pushPlatform(image.manifestDigest, tag);
    result.digest = image.manifestDigest;
    const { os, architecture, variant } = image.config;
    result.platforms = [formatPlatform({ os, architecture, ...(variant ? { variant } : {}) })];
    await record([image.manifestDigest]);
    return result;
  }
  // Every platform the name has (a native and a vm build of one name), then an index of them under the tag, as
  // docker's containerd store pushes: pushing one of them only, unsaid, gave a team the other platform's image.
  const listed: Descriptor[] = [];
  for (const p of platforms) {
    const { mediaType, size } = await pushPlatform(p.digest, p.digest);
    listed.push({ mediaType, digest: p.digest, size, ...(p.platform ? { platform: p.platform } : {}) });
    if (p.platform) result.platforms.push(formatPlatform(p.platform));
  }
  // The index they were pulled from, byte for byte (its digest, media type and annotations kept: what was pinned
  // or signed still matches), as skopeo copy --all and docker's containerd store push it; else a new one.
  const original = await originalIndex(store, platforms);
  if (original && "data" in original) {
    await putManifest(tag, original.data, original.mediaType, original.digest);
    result.digest = original.digest;
    await record(platforms.map((p) => p.digest));
    return result;
  }
  if (original) result.newIndex = original.why;
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: listed }));
  result.digest = sha256Digest(index);
  await putManifest(tag, index, MediaType.ociIndex, result.digest);
  await record(platforms.map((p) => p.digest), index);
  return result;
}

type OriginalIndex = { data: Buffer; digest: string; mediaType: string } | { why: string };

/**
 * The index a name's platforms were pulled from (`dev.tsbox.image.index.digest`), when it can be pushed as it
 * is: the store has its blob and it lists exactly the platforms the name has. Else why not; undefined when they
 * came from no index (a local build).
 */
async function originalIndex(store: ImageStore, platforms: Descriptor[]): Promise<OriginalIndex | undefined> {
  const sources = new Set(platforms.map((p) => p.annotations?.[Annotation.sourceIndex]));
  if (sources.size === 1 && sources.has(undefined)) return undefined;
  const digest = [...sources][0];
  if (sources.size > 1 || digest === undefined) return { why: "its platforms do not all come from one index" };
  let data: Buffer;
  try {
    data = await store.layout.readBlob(digest);
  } catch {
    return { why: `the index it was pulled from (${digest}) is not in the store` };
  }
  const index = JSON.parse(data.toString("utf8")) as { mediaType?: string; manifests?: Descriptor[] };
  const listed = (index.manifests ?? []).map((d) => d.digest);
  const have = new Set(platforms.map((p) => p.digest));
  const missing = (index.manifests ?? []).filter((d) => !have.has(d.digest)).map((d) => (d.platform ? formatPlatform(d.platform) : d.digest));
  if (missing.length > 0 || listed.length !== have.size) {
    return { why: `the index it was pulled from (${digest}) also lists ${missing.join(", ") || "other manifests"}, which this store does not have` };
  }
  return { data, digest, mediaType: index.mediaType ?? MediaType.ociIndex };
}

/** blob digest → other repositories on `domain` that have it, as far as the local store knows. */
async function mountSources(store: ImageStore, domain: string, repo: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const d of (await store.layout.readIndex()).manifests) {
    const name = d.annotations?.[Annotation.refName];
    if (!name) continue;
    let other;
    try {
      other = parseReference(name);
    } catch {
      continue;
    }
    if (other.domain !== domain || other.path === repo) continue;
    for (const platform of await store.presentManifests(d)) {
      let manifest: ImageManifest;
      try {
        manifest = await store.layout.readJsonBlob<ImageManifest>(platform.digest);
      } catch {
        continue;
      }
      for (const blob of [manifest.config, ...(manifest.layers ?? [])]) {
        if (!blob?.digest) continue;
        const list = out.get(blob.digest) ?? [];
        if (!list.includes(other.path)) list.push(other.path);
        out.set(blob.digest, list);
      }
    }
  }
  return out;
}
