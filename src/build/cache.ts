/**
 * The build cache: each step's image is kept in the store's index, unnamed,
 * under the key of the chain of steps that made it (the base image's
 * manifest, then every instruction as expanded, and what a COPY read). A
 * later build with the same chain takes the image instead of running the
 * step. `tsbox builder prune` (these alone) and `tsbox image prune` (every
 * dangling image) delete these entries; a step whose blobs are gone is
 * simply run again.
 */
import { createHash } from "node:crypto";
import type { OciLayout } from "../image/layout.js";
import type { ImageManifest } from "../image/oci.js";

export const CACHE_KEY_ANNOTATION = "org.tsbox.build.cache-key";

/** The next key of a chain: the previous key and one step's canonical text. */
export function chainKey(previous: string, step: string): string {
  return createHash("sha256").update(previous).update("\n").update(step).digest("hex");
}

export interface CachedStep {
  manifestDigest: string;
  configDigest: string;
}

/** The image an earlier build made for `key`, when its manifest, config and layers are all still here. */
export async function findCached(layout: OciLayout, key: string): Promise<CachedStep | undefined> {
  const index = await layout.readIndex();
  for (const d of [...index.manifests].reverse()) {
    if (d.annotations?.[CACHE_KEY_ANNOTATION] !== key) continue;
    try {
      const manifest = await layout.readJsonBlob<ImageManifest>(d.digest);
      const present = await Promise.all([manifest.config, ...manifest.layers].map((b) => layout.hasBlob(b.digest)));
      if (present.every(Boolean)) return { manifestDigest: d.digest, configDigest: manifest.config.digest };
    } catch {
      // a blob went missing: run the step again
    }
  }
  return undefined;
}
