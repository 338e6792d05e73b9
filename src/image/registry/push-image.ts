import { stat } from "node:fs/promises";
import { ImageError } from "../../errors.js";
import { Annotation, type Descriptor, type ImageManifest } from "../oci.js";
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

export interface PushResult {
  /** Canonical destination, e.g. `127.0.0.1:5000/team/app:1.0`. */
  name: string;
  digest: string;
  uploaded: number;
  /** Blobs the registry already had in this repository. */
  existing: number;
  /** Blobs mounted from another repository of the same registry (no upload). */
  mounted: number;
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
  const image = await store.getImage(source, await store.defaultPlatformOf(source));
  const ref = parseReference(destination ?? source);
  const repo = ref.path;
  const client = new RegistryClient(ref.domain, { ...(options.env ? { env: options.env } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  const layout = store.layout;
  const manifestData = await layout.readBlob(image.manifestDigest);
  const mediaType = image.manifest.mediaType ?? (JSON.parse(manifestData.toString("utf8")) as { mediaType?: string }).mediaType;
  if (!mediaType) throw new ImageError(`manifest ${image.manifestDigest} has no media type`);
  const sources = await mountSources(store, ref.domain, repo);
  const progress = options.onProgress ?? (() => {});
  const result: PushResult = { name: canonicalName(ref), digest: image.manifestDigest, uploaded: 0, existing: 0, mounted: 0 };
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

  const blobs: [Descriptor, PullEvent["kind"]][] = [...image.manifest.layers.map((l): [Descriptor, PullEvent["kind"]] => [l, "layer"]), [image.manifest.config, "config"]];
  let next = 0;
  const worker = async () => {
    while (next < blobs.length) {
      const [blob, kind] = blobs[next++]!;
      await pushBlob(blob, kind);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 3, blobs.length) }, worker));

  const res = await client.request("PUT", `/v2/${repo}/manifests/${ref.tag ?? ref.digest}`, {
    scopes,
    headers: { "content-type": mediaType },
    body: () => new Uint8Array(manifestData),
  });
  await res.body?.cancel().catch(() => {});
  if (res.status !== 201 && res.status !== 200) throw await registryError(res, `manifest upload to ${client.domain}/${repo}`);
  const digest = res.headers.get("docker-content-digest");
  if (digest && digest !== image.manifestDigest) throw new ImageError(`${client.domain} stored the manifest as ${digest}, expected ${image.manifestDigest}`);
  return result;
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
