/**
 * Test images made here, offline: the embedded busybox (amd64), a linux/386
 * variant from Debian's busybox-static:i386 (fetched once with apt-get
 * download into .cache/), a multi-platform OCI layout holding both, and
 * larger multi-layer images. Written as OCI layouts with tsbox's own
 * writer; peer tools (skopeo) move them into registries.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, copyFileSync, writeFileSync, chmodSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { sha256Digest } from "../../src/image/hash.js";
import { OciLayout } from "../../src/image/layout.js";
import { Annotation, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, MediaType } from "../../src/image/oci.js";
import { TarWriter, type TarWriteEntry } from "../../src/image/tar-writer.js";
import { repoRoot } from "./cli.js";

export const EMBEDDED_BUSYBOX = join(repoRoot, "images", "busybox");

function run(command: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(" ")}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Debian's static i386 busybox, unpacked (not installed: it would replace the amd64 one). */
export async function i386Busybox(): Promise<string> {
  const dest = join(repoRoot, ".cache", "busybox-i386");
  const binary = join(dest, "bin", "busybox");
  if (existsSync(binary)) return binary;
  const tmp = mkdtempSync(join(repoRoot, ".cache", "busybox-i386-dl-"));
  try {
    await run("apt-get", ["download", "-qq", "busybox-static:i386"], tmp);
    const deb = readdirSync(tmp).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error("apt-get download busybox-static:i386 produced no .deb");
    await run("dpkg", ["-x", join(tmp, deb), join(tmp, "root")]);
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(join(dest, "bin"), { recursive: true });
    copyFileSync(join(tmp, "root", "bin", "busybox"), binary);
    chmodSync(binary, 0o755);
    return binary;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The 386 busybox image as an OCI layout, via scripts/build-busybox-image.ts. */
export async function buildI386Layout(out: string): Promise<void> {
  const busybox = await i386Busybox();
  await run(process.execPath, ["--import", "tsx", join(repoRoot, "scripts", "build-busybox-image.ts"), "--arch", "386", "--busybox", busybox, "--out", out]);
}

async function copyLayout(from: string, to: OciLayout): Promise<Descriptor> {
  const src = new OciLayout(from);
  const entry = (await src.readIndex()).manifests[0]!;
  const manifest = await src.readJsonBlob<ImageManifest>(entry.digest);
  for (const d of [entry, manifest.config, ...manifest.layers]) {
    if (!(await to.hasBlob(d.digest))) await to.writeBlob(await src.readBlob(d.digest), { digest: d.digest });
  }
  return { mediaType: entry.mediaType, digest: entry.digest, size: entry.size, ...(entry.platform ? { platform: entry.platform } : {}) };
}

/** An OCI layout whose `latest` is an index of the amd64 and 386 busybox images. Returns the manifest digests. */
export async function buildMultiPlatformLayout(out: string, i386Layout: string): Promise<{ index: string; amd64: string; i386: string }> {
  const layout = new OciLayout(out);
  await layout.init();
  const amd64 = await copyLayout(EMBEDDED_BUSYBOX, layout);
  const i386 = await copyLayout(i386Layout, layout);
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      { ...amd64, platform: { os: "linux", architecture: "amd64" } },
      { ...i386, platform: { os: "linux", architecture: "386" } },
    ],
  };
  const desc = await layout.writeJsonBlob(index, MediaType.ociIndex);
  writeFileSync(join(out, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ ...desc, annotations: { [Annotation.refName]: "latest" } }] }));
  return { index: desc.digest, amd64: amd64.digest, i386: i386.digest };
}

/**
 * busybox (`base`: another single-image layout, default the embedded amd64 one) plus `extra` layers, each holding one file of random (incompressible)
 * data of the given size in bytes, gzip-compressed. Returns the manifest digest.
 */
export async function buildLayeredLayout(
  out: string,
  sizes: number[],
  options: { tag?: string; name?: string; layerEntries?: TarWriteEntry[][]; rawLayers?: { data: Buffer; diffId: string; mediaType?: string }[]; base?: string } = {},
): Promise<string> {
  const layout = new OciLayout(out);
  await layout.init();
  const base = await copyLayout(options.base ?? EMBEDDED_BUSYBOX, layout);
  const baseManifest = await layout.readJsonBlob<ImageManifest>(base.digest);
  const baseConfig = await layout.readJsonBlob<ImageConfig>(baseManifest.config.digest);
  const layers: Descriptor[] = [...baseManifest.layers];
  const diffIds = [...baseConfig.rootfs.diff_ids];
  const extra: TarWriteEntry[][] = [
    ...sizes.map((size, i): TarWriteEntry[] => [
      { path: "data", type: "directory", mode: 0o755, mtime: 0 },
      { path: `data/blob${i}`, type: "file", mode: 0o644, mtime: 0, data: randomBytes(size) },
    ]),
    ...(options.layerEntries ?? []),
  ];
  for (const entries of extra) {
    const tar = new TarWriter();
    for (const e of entries) tar.add(e);
    const raw = tar.finish();
    const gz = gzipSync(raw, { level: 1 });
    const blob = await layout.writeBlob(gz);
    layers.push({ mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: blob.size });
    diffIds.push(sha256Digest(raw));
  }
  for (const raw of options.rawLayers ?? []) {
    const blob = await layout.writeBlob(raw.data);
    layers.push({ mediaType: raw.mediaType ?? MediaType.ociLayerGzip, digest: blob.digest, size: blob.size });
    diffIds.push(raw.diffId);
  }
  const config: ImageConfig = { ...baseConfig, rootfs: { type: "layers", diff_ids: diffIds } };
  const configDesc = await layout.writeJsonBlob(config, MediaType.ociConfig);
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers };
  const desc = await layout.writeJsonBlob(manifest, MediaType.ociManifest);
  writeFileSync(join(out, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ ...desc, annotations: { [Annotation.refName]: options.tag ?? "latest", ...(options.name ? { [Annotation.imageName]: options.name } : {}) } }] }));
  return desc.digest;
}

/**
 * A linux/386 image for the vm suites: the guest's busybox plus `layerEntries`, as an
 * OCI layout named `name` in a fresh temp dir every test user can read (remove `dir` after).
 */
export async function vmLayeredFixture(name: string, layerEntries: TarWriteEntry[][]): Promise<{ dir: string; layout: string }> {
  const { tmpdir } = await import("node:os");
  const { vmImagesDir } = await import("../../src/backends/vm/node/images.js");
  const dir = mkdtempSync(join(tmpdir(), "vm-fixtures-"));
  chmodSync(dir, 0o755);
  const layout = join(dir, "layout");
  await buildLayeredLayout(layout, [], { base: join(vmImagesDir(), "images", "busybox"), name, layerEntries });
  await run("chmod", ["-R", "a+rX", layout]);
  return { dir, layout };
}
