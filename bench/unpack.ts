/**
 * Unpacking one real layer (Debian bookworm, mmdebstrap --variant=apt; see
 * lib/debian-image.ts), and a synthetic layer of deletions (whiteouts), into
 * an empty directory: GNU `tar -xzf` against
 * tsbox's layer cache (LayerCache.ensureLayer: the path the first `tsbox
 * run` of an image takes, digest check and publishing rename included), as
 * root and as the unprivileged `tsbox-test` user. Wall time (median of N)
 * and CPU time (user + system) of the work alone; the target is tsbox
 * within 1.5x of tar.
 *
 *   node --import tsx bench/unpack.ts [--runs N] [--only root|user] [--layer debian|deletions]
 */
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { sha256Digest } from "../src/image/hash.js";
import { TarWriter } from "../src/image/tar-writer.js";
import { debianImage } from "./lib/debian-image.js";
import { median } from "./lib/stats.js";
import { benchIdentities, run, type Timing, timeTar, timeTsboxUnpack } from "./lib/unpack-timing.js";

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(opt("runs") ?? 3);

const image = await debianImage();
const work = mkdtempSync(join(tmpdir(), "bench-unpack-"));
chmodSync(work, 0o755);
try {
  // The cached layout may sit in a private home: the blobs go where the test user can read them.
  const layout = join(work, "layout");
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  const layer = join(layout, "blobs", "sha256", image.layerDigest.slice(7));
  copyFileSync(image.layerGz, layer);
  chmodSync(layer, 0o644);
  if (opt("layer") !== "deletions") await compare(
    `one real layer: Debian bookworm (mmdebstrap --variant=apt), ${image.entries} entries, ${(image.tarBytes / 1e6).toFixed(0)} MB tar, ${(image.gzBytes / 1e6).toFixed(0)} MB gzip`,
    layout,
    { path: layer, digest: image.layerDigest, size: image.gzBytes, diffId: image.diffId },
  );
  const deletions = deletionLayer(layout, 3000);
  if (opt("layer") !== "debian") await compare(`a layer of deletions: ${deletions.count} whiteouts and an opaque dir (a RUN rm -rf's layer; as root each is a device node)`, layout, deletions);
} finally {
  rmSync(work, { recursive: true, force: true });
}

async function compare(title: string, layout: string, blob: { path: string; digest: string; size: number; diffId: string }): Promise<void> {
  console.log(`unpack of ${title}; median of ${runs}`);
  for (const id of benchIdentities(opt("only"))) {
    const tar: Timing[] = [];
    const ts: Timing[] = [];
    for (let i = 0; i < runs; i++) {
      const dest = join(work, `tar-${i}`);
      const data = join(work, `data-${i}`);
      for (const d of [dest, data]) {
        mkdirSync(d);
        chownSync(d, id.uid, id.gid);
      }
      await run("sync", []);
      tar.push(await timeTar(id.user, blob.path, dest));
      rmSync(dest, { recursive: true, force: true });
      await run("sync", []);
      ts.push(await timeTsboxUnpack(id.user, layout, data, blob));
      rmSync(data, { recursive: true, force: true });
    }
    const tw = median(tar.map((t) => t.wallMs));
    const tc = median(tar.map((t) => t.cpuMs));
    const sw = median(ts.map((t) => t.wallMs));
    const sc = median(ts.map((t) => t.cpuMs));
    const fmt = (xs: Timing[]) => xs.map((x) => (x.wallMs / 1000).toFixed(2)).join(", ");
    console.log(`  ${id.name}`);
    console.log(`    tar -xzf          wall ${(tw / 1000).toFixed(2)} s  cpu ${(tc / 1000).toFixed(2)} s   [${fmt(tar)}]`);
    console.log(`    tsbox unpack      wall ${(sw / 1000).toFixed(2)} s  cpu ${(sc / 1000).toFixed(2)} s   [${fmt(ts)}]`);
    console.log(`    ratio tsbox/tar   wall ${(sw / tw).toFixed(2)}x  cpu ${(sc / tc).toFixed(2)}x   (target ≤ 1.5x)`);
  }
}

/** A gzip layer of `count` whiteouts spread over directories, plus one opaque dir, written into the layout. */
function deletionLayer(layout: string, count: number): { path: string; digest: string; size: number; diffId: string; count: number } {
  const tar = new TarWriter();
  const mtime = 1700000000;
  for (let d = 0; d < count / 100; d++) {
    tar.add({ path: `usr/share/doc/pkg${d}/`, type: "directory", mode: 0o755, mtime });
    for (let f = 0; f < 100; f++) tar.add({ path: `usr/share/doc/pkg${d}/.wh.file${f}`, type: "file", mode: 0o644, mtime });
  }
  tar.add({ path: "var/lib/apt/lists/", type: "directory", mode: 0o755, mtime });
  tar.add({ path: "var/lib/apt/lists/.wh..wh..opq", type: "file", mode: 0o644, mtime });
  const raw = tar.finish();
  const gz = gzipSync(raw);
  const digest = sha256Digest(gz);
  const path = join(layout, "blobs", "sha256", digest.slice(7));
  writeFileSync(path, gz, { mode: 0o644 });
  return { path, digest, size: gz.length, diffId: sha256Digest(raw), count };
}
