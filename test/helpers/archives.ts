/**
 * Image archives made from vm-images' linux/386 busybox (no registry, no
 * docker): an OCI archive and docker save's older format, for loading into
 * the browser's store.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadVmImages } from "../../src/backends/vm/node/images.js";
import { TarWriter } from "../../src/image/tar-writer.js";

/** vm-images' linux/386 busybox layout: its manifest's config and layer blobs. */
function busyboxBlobs(): { dir: string; index: any; config: Buffer; layer: Buffer } {
  const dir = join(loadVmImages().dir, "images", "busybox");
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const blob = (digest: string) => readFileSync(join(dir, "blobs", "sha256", digest.slice("sha256:".length)));
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  return { dir, index, config: blob(manifest.config.digest), layer: blob(manifest.layers[0].digest) };
}

/** An OCI archive (a tar of the image layout), its index naming the image `name`. */
export function ociArchive(name: string): Buffer {
  const { dir, index } = busyboxBlobs();
  index.manifests[0].annotations = { "io.containerd.image.name": name };
  const t = new TarWriter();
  const file = (path: string, data: Buffer) => t.add({ path, type: "file", mode: 0o644, mtime: 0, data });
  file("oci-layout", Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  for (const blob of readdirSync(join(dir, "blobs", "sha256"))) file(`blobs/sha256/${blob}`, readFileSync(join(dir, "blobs", "sha256", blob)));
  file("index.json", Buffer.from(JSON.stringify(index)));
  return t.finish();
}

/**
 * docker save's older format (manifest.json, config, layer), of busybox claiming `architecture`, with `env` added;
 * `layer` in place of busybox's (its config's diff_id kept: a tampered archive).
 */
export function dockerArchive(tag: string, architecture = "386", env: string[] = [], tampered?: Buffer): Buffer {
  const { config: original, layer: own } = busyboxBlobs();
  const layer = tampered ?? own;
  const config = JSON.parse(original.toString());
  config.architecture = architecture;
  config.config.Env = [...(config.config.Env ?? []), ...env];
  const t = new TarWriter();
  const file = (path: string, data: Buffer) => t.add({ path, type: "file", mode: 0o644, mtime: 0, data });
  file("config.json", Buffer.from(JSON.stringify(config)));
  file("abc/layer.tar", layer);
  file("manifest.json", Buffer.from(JSON.stringify([{ Config: "config.json", RepoTags: [tag], Layers: ["abc/layer.tar"] }])));
  return t.finish();
}
