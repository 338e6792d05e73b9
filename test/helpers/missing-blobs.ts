import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The blobs index.json's entries reach (through nested indexes too) that are not in the store. */
export function missingBlobs(dataDir: string): string[] {
  const blob = (digest: string) => join(dataDir, "blobs", "sha256", digest.slice(7));
  const missing: string[] = [];
  const walk = (d: { digest: string; mediaType?: string }) => {
    if (!existsSync(blob(d.digest))) return void missing.push(d.digest);
    const doc = JSON.parse(readFileSync(blob(d.digest), "utf8")) as { manifests?: typeof d[]; config?: typeof d; layers?: typeof d[] };
    for (const m of doc.manifests ?? []) walk(m);
    for (const b of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) if (!existsSync(blob(b.digest))) missing.push(b.digest);
  };
  for (const m of (JSON.parse(readFileSync(join(dataDir, "index.json"), "utf8")) as { manifests: { digest: string }[] }).manifests) walk(m);
  return missing;
}
