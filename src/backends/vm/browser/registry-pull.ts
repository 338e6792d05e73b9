/**
 * `pull` in the browser: an image from a registry that lets this page's
 * origin read it (CORS), anonymously — a page has no docker credentials.
 * The OCI distribution API over fetch: the manifest or index (its linux/386
 * manifest), the config and the layers, each checked against its digest,
 * stored as an imported layout is (image-import.ts `importManifest`). A
 * registry that answers 401 with a Bearer challenge gets a token from its
 * realm without credentials. Loopback registries are spoken to over http,
 * as docker does; all others over https. Progress as Node's pull reports it
 * (`PullEvent`s per blob: downloading with bytes so far, then done).
 */
import { ImageError } from "../../../errors.js";
import { assertDigest } from "../../../image/digest.js";
import { type Descriptor, type ImageIndex, MAX_CONFIG_BYTES } from "../../../image/oci.js";
import { canonicalName, parseReference } from "../../../image/reference.js";
import { isLoopbackRegistry, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, MAX_TOKEN_BYTES, parseChallenge, pullScope, registryError, registryHost } from "../../../image/registry/endpoint.js";
import { bodyLimited } from "../../../image/registry/body.js";
import type { PullEvent } from "../../../image/registry/pull-image.js";
import { concat } from "../core/bytes.js";
import type { BrowserStore } from "./browser-store.js";
import { sha256Hex } from "./fetch-files.js";
import { importManifest } from "./image-import.js";

/** How often a blob's download reports its bytes so far. */
const PROGRESS_EVERY_MS = 100;

/** Pulls `input` (e.g. `127.0.0.1:5000/busybox:latest`) into the store; returns its name and manifest digest. */
export async function pullImage(store: BrowserStore, input: string, onProgress: (event: PullEvent) => void = () => {}): Promise<{ name: string; digest: string }> {
  const ref = parseReference(input);
  const name = canonicalName(ref);
  const registry = new PageRegistry(ref.domain, ref.path);
  // By digest, `manifest` checks the bytes against it.
  const top = await registry.manifest(ref.digest ?? ref.tag ?? "latest");
  // An index's manifests come from the manifests endpoint, everything else from blobs.
  const listed = new Set((parse<ImageIndex>(top.bytes).manifests ?? []).map((d) => d.digest));
  const configs = new Set<string>();
  const manifest = (bytes: Uint8Array) => {
    const config = parse<{ config?: { digest?: string } }>(bytes).config?.digest;
    if (config) configs.add(config);
    return bytes;
  };
  const manifestDigest = await importManifest(
    store,
    async (rel) => {
      const digest = assertDigest(`sha256:${rel.replace(/^blobs\/sha256\//, "")}`, "blob");
      if (digest === top.descriptor.digest) return manifest(top.bytes);
      if (listed.has(digest)) return manifest((await registry.manifest(digest)).bytes);
      const id = digest.slice("sha256:".length, "sha256:".length + 12);
      const kind = configs.has(digest) ? "config" : "layer";
      const progress = (current: number, total: number | undefined) => onProgress({ id, kind, status: "downloading", current, ...(total !== undefined ? { total } : {}) });
      const bytes = await registry.blob(digest, progress, kind === "config" ? MAX_CONFIG_BYTES : Infinity);
      onProgress({ id, kind, status: "done", current: bytes.length, total: bytes.length });
      return bytes;
    },
    top.descriptor,
    [name],
    `registry ${ref.domain}`,
  );
  return { name, digest: manifestDigest };
}

class PageRegistry {
  private readonly base: string;
  private token: string | undefined;

  constructor(
    private readonly domain: string,
    private readonly repo: string,
  ) {
    this.base = `${isLoopbackRegistry(domain) ? "http" : "https"}://${registryHost(domain)}`;
  }

  /** A manifest or index by tag or digest, with its descriptor (digest computed here). */
  async manifest(reference: string): Promise<{ descriptor: Descriptor; bytes: Uint8Array }> {
    const what = `${this.domain}/${this.repo}:${reference}`;
    const res = await this.get(`/v2/${this.repo}/manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    if (!res.ok) throw await registryError(res, what);
    const bytes = await bodyLimited(res, undefined, MAX_MANIFEST_BYTES, () => new ImageError(`manifest ${what} is too large (over ${MAX_MANIFEST_BYTES} bytes)`));
    const digest = `sha256:${await sha256Hex(bytes)}`;
    if (reference.startsWith("sha256:") && digest !== reference) throw new ImageError(`manifest ${what} does not match its digest (got ${digest})`);
    // The header is readable only where the registry exposes it; where it is, it must agree.
    const declared = res.headers.get("docker-content-digest");
    if (declared && declared !== digest) throw new ImageError(`manifest ${what}: the registry says ${declared}, its bytes are ${digest}`);
    const mediaType = res.headers.get("content-type")?.split(";")[0]?.trim() || parse<{ mediaType?: string }>(bytes).mediaType || "";
    return { descriptor: { mediaType, digest, size: bytes.length }, bytes };
  }

  /** A blob's bytes (checked against the digest by the importer), `progress` told as they arrive. */
  async blob(digest: string, progress: (current: number, total: number | undefined) => void, limit = Infinity): Promise<Uint8Array> {
    const res = await this.get(`/v2/${this.repo}/blobs/${digest}`);
    if (!res.ok || !res.body) throw await registryError(res, `${this.domain}/${this.repo}@${digest}`);
    const length = Number(res.headers.get("content-length"));
    const total = Number.isSafeInteger(length) && length > 0 ? length : undefined;
    const chunks: Uint8Array[] = [];
    let current = 0;
    let told = 0;
    progress(0, total);
    for (const reader = res.body.getReader(); ; ) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      current += value.length;
      if (current > limit) {
        await reader.cancel().catch(() => {});
        throw new ImageError(`blob ${digest} from ${this.domain} is larger than ${limit} bytes`);
      }
      // A few events a second: each one crosses to the page.
      if (performance.now() - told >= PROGRESS_EVERY_MS) (told = performance.now()), progress(current, total);
    }
    return concat(chunks);
  }

  /** GET, answering a Bearer challenge once with an anonymous token. */
  private async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.fetch(this.base + path, headers);
    if (res.status !== 401 || this.token !== undefined) return res;
    const challenge = parseChallenge(res.headers.get("www-authenticate"));
    await res.body?.cancel().catch(() => {});
    if (challenge?.scheme !== "bearer" || !challenge.params.realm) {
      throw new ImageError(`${this.domain} asks for credentials: a page pulls anonymously only (pull with tsbox on Node and load the archive instead)`);
    }
    const realm = new URL(challenge.params.realm);
    if (challenge.params.service) realm.searchParams.set("service", challenge.params.service);
    realm.searchParams.append("scope", pullScope(this.repo));
    const tokenRes = await this.fetch(realm.toString(), {});
    if (!tokenRes.ok) throw await registryError(tokenRes, `${this.domain}: an anonymous token`);
    const body = parse<{ token?: string; access_token?: string }>(await bodyLimited(tokenRes, undefined, MAX_TOKEN_BYTES, () => new ImageError(`${this.domain}: its token server sent more than ${MAX_TOKEN_BYTES} bytes`)));
    this.token = body.token ?? body.access_token;
    if (!this.token) throw new ImageError(`${this.domain}: its token server sent no token`);
    return this.fetch(this.base + path, headers);
  }

  private async fetch(url: string, headers: Record<string, string>): Promise<Response> {
    const sameOrigin = new URL(url).origin === new URL(this.base).origin;
    try {
      return await fetch(url, { headers: { ...headers, ...(this.token && sameOrigin ? { authorization: `Bearer ${this.token}` } : {}) } });
    } catch (err) {
      // A page sees a refused CORS request and an unreachable host alike.
      throw new ImageError(`cannot reach ${new URL(url).host} from this page: ${(err as Error).message} (is it up, and does it allow this page's origin (CORS)?)`, err);
    }
  }
}

function parse<T>(bytes: Uint8Array): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (err) {
    throw new ImageError("the registry sent a manifest that is not valid JSON", err);
  }
}
