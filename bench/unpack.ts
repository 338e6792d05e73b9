/**
 * Unpacking one real layer (Debian bookworm, mmdebstrap --variant=apt; see
 * lib/debian-image.ts) into an empty directory: GNU `tar -xzf` against
 * tsbox's layer cache (LayerCache.ensureLayer: the path the first `tsbox
 * run` of an image takes, digest check and publishing rename included), as
 * root and as the unprivileged `tsbox-test` user. Wall time (median of N)
 * and CPU time (user + system) of the work alone; the target is tsbox
 * within 1.5x of tar.
 *
 *   node --import tsx bench/unpack.ts [--runs N] [--only root|user]
 */
import { execFile } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median } from "./lib/stats.js";

const args = process.argv.slice(2);

interface Timing {
  wallMs: number;
  cpuMs: number;
}

if (args[0] === "--child") {
  // Runs as the identity being measured: unpack the layer into a fresh store, print the timing.
  const [, layoutDir, dataDir, digest, size, diffId] = args;
  const { LayerCache } = await import("../src/image/layers.js");
  const { OciLayout } = await import("../src/image/layout.js");
  const cache = new LayerCache(dataDir!, new OciLayout(layoutDir!));
  await import("../src/image/unpack.js"); // loaded before the clock starts, as in a warm CLI
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await cache.ensureLayer({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: digest!, size: Number(size) }, diffId!);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }) + "\n");
  process.exit(0);
}

const { debianImage } = await import("./lib/debian-image.js");
const { ensureUser } = await import("../test/helpers/identities.js");
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(opt("runs") ?? 3);
const only = opt("only");

function run(command: string, argv: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, argv, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${command} ${argv.join(" ")}: ${stderr || err.message}`)) : resolve({ stdout, stderr })));
  });
}

function as(user: string | undefined, argv: string[]): [string, string[]] {
  return user ? ["runuser", ["-u", user, "--", ...argv]] : [argv[0]!, argv.slice(1)];
}

/** `tar -xzf` under /usr/bin/time: wall and CPU of tar and its gzip child. */
async function timeTar(user: string | undefined, layer: string, dest: string): Promise<Timing> {
  const [cmd, argv] = as(user, ["/usr/bin/time", "-f", "TIME %e %U %S", "tar", "-xzf", layer, "-C", dest]);
  // Rootless, tar cannot make the layer's device nodes (tsbox skips them too): that failure is expected.
  const stderr = await new Promise<string>((resolve, reject) => {
    execFile(cmd, argv, (err, _out, errText) => {
      const unexpected = errText.split("\n").filter((l) => l.startsWith("tar: ") && !/Cannot mknod|Exiting with failure/.test(l));
      if (unexpected.length > 0 || (err && !user)) reject(new Error(`tar: ${errText || err?.message}`));
      else resolve(errText);
    });
  });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr);
  if (!m) throw new Error(`no timing from tar: ${stderr}`);
  return { wallMs: Number(m[1]) * 1000, cpuMs: (Number(m[2]) + Number(m[3])) * 1000 };
}

async function timeTsbox(user: string | undefined, layout: string, dataDir: string, image: { layerDigest: string; gzBytes: number; diffId: string }): Promise<Timing> {
  const script = new URL(import.meta.url).pathname;
  const [cmd, argv] = as(user, [process.execPath, "--import", "tsx", script, "--child", layout, dataDir, image.layerDigest, String(image.gzBytes), image.diffId]);
  const { stdout } = await run(cmd, argv);
  return JSON.parse(stdout.trim().split("\n").pop()!) as Timing;
}

const image = await debianImage();
const work = mkdtempSync(join(tmpdir(), "bench-unpack-"));
chmodSync(work, 0o755);
try {
  // The cached layout may sit in a private home: copy the blob where the test user can read it.
  const layout = join(work, "layout");
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  const layer = join(layout, "blobs", "sha256", image.layerDigest.slice(7));
  copyFileSync(image.layerGz, layer);
  chmodSync(layer, 0o644);
  console.log(`unpack of one real layer: Debian bookworm (mmdebstrap --variant=apt), ${image.entries} entries, ${(image.tarBytes / 1e6).toFixed(0)} MB tar, ${(image.gzBytes / 1e6).toFixed(0)} MB gzip; median of ${runs}`);
  const identities: { name: string; user?: string; uid: number; gid: number }[] = [];
  if (only !== "user") identities.push({ name: "root", uid: 0, gid: 0 });
  if (only !== "root" && process.getuid!() === 0) identities.push({ name: "rootless (tsbox-test)", user: "tsbox-test", ...ensureUser("tsbox-test", false) });
  for (const id of identities) {
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
      tar.push(await timeTar(id.user, layer, dest));
      rmSync(dest, { recursive: true, force: true });
      await run("sync", []);
      ts.push(await timeTsbox(id.user, layout, data, image));
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
} finally {
  rmSync(work, { recursive: true, force: true });
}
