/**
 * Time to pull and unpack a local ~100 MB multi-layer image from a registry on
 * 127.0.0.1 (Debian's docker-registry): `tsbox pull` (download, verify, unpack
 * into the layer cache) against `skopeo copy` to an OCI layout followed by
 * `umoci unpack` (the same work done by the two peer tools), each into an
 * empty store, median of N runs.
 *
 *   scripts/setup.sh && node --import tsx bench/pull.ts [--runs N] [--mb 100]
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildLayeredLayout } from "../test/helpers/images.js";
import { cliPath } from "../test/helpers/cli.js";
import { skopeoCopy, startRegistry } from "../test/helpers/registry.js";
import { median } from "./lib/stats.js";

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const runs = opt("runs", 3);
const mb = opt("mb", 100);

function run(command: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, argv, { env, maxBuffer: 16 * 1024 * 1024 }, (err, _out, stderr) => (err ? reject(new Error(`${command} ${argv.join(" ")}: ${stderr || err.message}`)) : resolve()));
  });
}

async function time(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const work = mkdtempSync(join(tmpdir(), "bench-pull-"));
const registry = await startRegistry();
try {
  // busybox + 4 layers of random (incompressible) data: ~mb MB compressed and uncompressed.
  const layer = Math.floor((mb * 1024 * 1024) / 4);
  await buildLayeredLayout(join(work, "src"), [layer, layer, layer, layer]);
  const image = `${registry.host}/bench/big:latest`;
  await skopeoCopy(`oci:${join(work, "src")}:latest`, `docker://${image}`);
  const rootless = process.getuid!() !== 0;

  const tsboxTimes: number[] = [];
  const peerTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const store = join(work, `tsbox-${i}`);
    tsboxTimes.push(await time(() => run(process.execPath, [cliPath, "pull", "-q", image], { ...process.env, TSBOX_DATA_DIR: store })));
    rmSync(store, { recursive: true, force: true });

    const layout = join(work, `oci-${i}`);
    const bundle = join(work, `bundle-${i}`);
    peerTimes.push(
      await time(async () => {
        await run("skopeo", ["copy", "--quiet", "--src-tls-verify=false", `docker://${image}`, `oci:${layout}:latest`]);
        await run("umoci", ["unpack", ...(rootless ? ["--rootless"] : []), "--image", `${layout}:latest`, bundle]);
      }),
    );
    rmSync(layout, { recursive: true, force: true });
    rmSync(bundle, { recursive: true, force: true });
  }
  const t = median(tsboxTimes);
  const p = median(peerTimes);
  console.log(`pull + unpack of a ${mb} MB, 5-layer image from a local registry (${rootless ? "rootless" : "root"}, median of ${runs})`);
  console.log(`  tsbox pull                    ${(t / 1000).toFixed(2)} s   [${tsboxTimes.map((x) => (x / 1000).toFixed(2)).join(", ")}]`);
  console.log(`  skopeo copy + umoci unpack    ${(p / 1000).toFixed(2)} s   [${peerTimes.map((x) => (x / 1000).toFixed(2)).join(", ")}]`);
  console.log(`  ratio tsbox / peers           ${(t / p).toFixed(2)}x`);
} finally {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}
