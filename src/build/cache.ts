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
import { type OciLayout, withIndexLock } from "../image/layout.js";
import { imageBlobDigests, type ImageManifest } from "../image/oci.js";

export const CACHE_KEY_ANNOTATION = "org.tsbox.build.cache-key";

/** The next key of a chain: the previous key and one step's canonical text. */
export function chainKey(previous: string, step: string): string {
  return createHash("sha256").update(previous).update("\n").update(step).digest("hex");
}

export interface CachedStep {
  manifestDigest: string;
  configDigest: string;
}

/**
 * The image an earlier build made for `key`, when its manifest, config and layers are all still here. Taken
 * under the index lock, its blobs marked as reused (`reuseBlobs`): a prune, which deletes under that lock, then
 * spares them for the build's lease as it spares the blobs the build writes (before, a prune while a build went on
 * from a cached step could delete that step's blobs, and the build named an image whose layers were gone).
 */
export async function findCached(layout: OciLayout, key: string): Promise<CachedStep | undefined> {
  return withIndexLock(layout.dir, async () => {
    const index = await layout.readIndex();
    for (const d of [...index.manifests].reverse()) {
      if (d.annotations?.[CACHE_KEY_ANNOTATION] !== key) continue;
      try {
        const manifest = await layout.readJsonBlob<ImageManifest>(d.digest);
        if (await layout.reuseBlobs(imageBlobDigests(d.digest, manifest))) return { manifestDigest: d.digest, configDigest: manifest.config.digest };
      } catch {
        // a blob went missing: run the step again
      }
    }
    return undefined;
  });
}
