/**
 * Pull + unpack from a registry on 127.0.0.1 (Debian's docker-registry), for
 * two images: a synthetic one (busybox + 4 layers of random data, ~mb MB:
 * few large files) and a real one (Debian bookworm by mmdebstrap, one layer
 * of thousands of small files: lib/debian-image.ts, cached between runs).
 * Peers in the same run: `skopeo copy` to an OCI layout followed by
 * `umoci unpack` (the same work by the two peer tools), and for the real
 * image's layer also GNU `tar -xzf` against tsbox's unpack alone. Each into
 * an empty store, median of N, as root and as the rootless `tsbox-test`.
 * Targets: pull + unpack ≤ 1.0x skopeo + umoci; unpack ≤ 1.5x tar.
 *
 *   scripts/setup.sh && node --import tsx bench/pull.ts [--runs N] [--mb 100] [--only root|user] [--skip-synthetic]
 */
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildLayeredLayout } from "../test/helpers/images.js";
import { cliPath } from "../test/helpers/cli.js";
import { skopeoCopy, startRegistry } from "../test/helpers/registry.js";
import { debianImage } from "./lib/debian-image.js";
import { median } from "./lib/stats.js";
import { asUser, type BenchIdentity, benchIdentities, run, timeTar, timeTsboxUnpack } from "./lib/unpack-timing.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string | undefined = undefined) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const runs = Number(opt("runs", "3"));
const mb = Number(opt("mb", "100"));

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const list = (xs: number[]) => `[${xs.map((x) => (x / 1000).toFixed(2)).join(", ")}]`;
const row = (label: string, xs: number[], extra = "") => console.log(`    ${label.padEnd(30)}${secs(median(xs)).padStart(8)}   ${list(xs)}${extra}`);
const ratio = (label: string, a: number[], b: number[], target: number) => {
  const r = median(a) / median(b);
  console.log(`    ${label.padEnd(30)}${`${r.toFixed(2)}x`.padStart(8)}   (target ≤ ${target.toFixed(1)}x${r <= target ? ", met" : ", NOT met"})`);
};

/** A directory `id` owns inside the bench's work dir. */
function owned(path: string, id: BenchIdentity): string {
  mkdirSync(path, { recursive: true });
  chownSync(path, id.uid, id.gid);
  return path;
}

const work = mkdtempSync(join(tmpdir(), "bench-pull-"));
chmodSync(work, 0o755);
const registry = await startRegistry();
try {
  const images: { title: string; ref: string; layer?: { layout: string; digest: string; size: number; diffId: string } }[] = [];
  if (!args.includes("--skip-synthetic")) {
    // busybox + 4 layers of random (incompressible) data: ~mb MB compressed and uncompressed.
    const layer = Math.floor((mb * 1024 * 1024) / 4);
    await buildLayeredLayout(join(work, "src"), [layer, layer, layer, layer]);
    const ref = `${registry.host}/bench/big:latest`;
    await skopeoCopy(`oci:${join(work, "src")}:latest`, `docker://${ref}`);
    images.push({ title: `synthetic: ${mb} MB in 5 layers of few large files`, ref });
  }
  const debian = await debianImage();
  const debRef = `${registry.host}/bench/debian:bookworm`;
  await skopeoCopy(`oci:${debian.layout}:latest`, `docker://${debRef}`);
  // The layer where every identity can read it (the cache may sit in a private home).
  const debLayout = join(work, "debian-layout");
  mkdirSync(join(debLayout, "blobs", "sha256"), { recursive: true });
  const debLayer = join(debLayout, "blobs", "sha256", debian.layerDigest.slice(7));
  copyFileSync(debian.layerGz, debLayer);
  chmodSync(debLayer, 0o644);
  images.push({
    title: `real: Debian bookworm (mmdebstrap --variant=apt), 1 layer, ${debian.entries} entries, ${(debian.tarBytes / 1e6).toFixed(0)} MB tar / ${(debian.gzBytes / 1e6).toFixed(0)} MB gzip`,
    ref: debRef,
    layer: { layout: debLayout, digest: debian.layerDigest, size: debian.gzBytes, diffId: debian.diffId },
  });

  for (const id of benchIdentities(opt("only"))) {
    const rootless = id.uid !== 0;
    const home = owned(join(work, `home-${id.uid}`), id);
    for (const image of images) {
      const tsbox: number[] = [];
      const peers: number[] = [];
      const tar: number[] = [];
      const unpack: number[] = [];
      for (let i = 0; i < runs; i++) {
        const store = owned(join(work, `tsbox-${i}`), id);
        const [cmd, argv] = asUser(id.user, ["env", `TSBOX_DATA_DIR=${store}`, process.execPath, cliPath, "pull", "-q", image.ref], home);
        tsbox.push(await time(() => run(cmd, argv)));
        rmSync(store, { recursive: true, force: true });

        const scratch = owned(join(work, `peer-${i}`), id);
        const skopeo = asUser(id.user, ["skopeo", "copy", "--quiet", "--src-tls-verify=false", `docker://${image.ref}`, `oci:${join(scratch, "oci")}:latest`], home);
        const umoci = asUser(id.user, ["umoci", "unpack", ...(rootless ? ["--rootless"] : []), "--image", `${join(scratch, "oci")}:latest`, join(scratch, "bundle")], home);
        peers.push(
          await time(async () => {
            await run(...skopeo);
            await run(...umoci);
          }),
        );
        rmSync(scratch, { recursive: true, force: true });

        if (image.layer) {
          const dest = owned(join(work, `tar-${i}`), id);
          tar.push((await timeTar(id.user, debLayer, dest)).wallMs);
          rmSync(dest, { recursive: true, force: true });
          const data = owned(join(work, `data-${i}`), id);
          unpack.push((await timeTsboxUnpack(id.user, image.layer.layout, data, image.layer)).wallMs);
          rmSync(data, { recursive: true, force: true });
        }
      }
      console.log(`${image.title} (${id.name}, median of ${runs})`);
      row("tsbox pull", tsbox);
      row("skopeo copy + umoci unpack", peers);
      ratio("ratio tsbox / skopeo+umoci", tsbox, peers, 1.0);
      if (image.layer) {
        row("tsbox unpack (layer cache)", unpack);
        row("tar -xzf", tar);
        ratio("ratio tsbox unpack / tar", unpack, tar, 1.5);
      }
    }
  }
} finally {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}
