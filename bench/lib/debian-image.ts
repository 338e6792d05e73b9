/**
 * A real image for the pull/unpack benches: Debian bookworm made with
 * `mmdebstrap --variant=apt` (thousands of small files, symlinks, hard
 * links, device nodes), one gzip layer, as an OCI layout. Built once and
 * cached under `$XDG_CACHE_HOME/tsbox-bench` (or ~/.cache), keyed by its
 * inputs (suite, variant, mmdebstrap version, the apt sources), so reruns
 * reuse it. mmdebstrap takes 30 s to a few minutes here.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { sha256Digest } from "../../src/image/hash.js";
import { OciLayout } from "../../src/image/layout.js";
import { Annotation, type ImageConfig, type ImageManifest, MediaType } from "../../src/image/oci.js";

export interface DebianImage {
  /** OCI layout with the image tagged `latest`. */
  layout: string;
  /** The gzip layer blob (also in the layout). */
  layerGz: string;
  layerDigest: string;
  diffId: string;
  /** Uncompressed and compressed sizes in bytes, and the tar's entry count. */
  tarBytes: number;
  gzBytes: number;
  entries: number;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${command} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

function aptSources(): string {
  const files = ["/etc/apt/sources.list", ...(existsSync("/etc/apt/sources.list.d") ? readdirSync("/etc/apt/sources.list.d").sort().map((f) => join("/etc/apt/sources.list.d", f)) : [])];
  return files.filter(existsSync).map((f) => readFileSync(f, "utf8")).join("\n");
}

export async function debianImage(suite = "bookworm"): Promise<DebianImage> {
  const version = (await run("mmdebstrap", ["--version"]).catch(() => {
    throw new Error("the real-image bench needs mmdebstrap (apt-get install mmdebstrap)");
  })).trim();
  const key = createHash("sha256").update(JSON.stringify({ suite, variant: "apt", version, sources: aptSources(), format: 1 })).digest("hex").slice(0, 16);
  const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tsbox-bench");
  const dir = join(cacheRoot, `debian-${suite}-apt-${key}`);
  const metaPath = join(dir, "image.json");
  if (existsSync(metaPath)) return JSON.parse(readFileSync(metaPath, "utf8")) as DebianImage;

  mkdirSync(cacheRoot, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    process.stderr.write(`# building ${suite} with mmdebstrap (cached in ${dir})\n`);
    const tarPath = join(tmp, "rootfs.tar");
    // SOURCE_DATE_EPOCH: mtimes and the tar stay the same for the same packages.
    await run("env", ["SOURCE_DATE_EPOCH=1700000000", "mmdebstrap", "--quiet", "--variant=apt", suite, tarPath]);
    await run("gzip", ["-6", "-n", "-k", tarPath]);
    const tar = readFileSync(tarPath);
    const gz = readFileSync(`${tarPath}.gz`);
    const entries = (await run("tar", ["-tf", tarPath])).split("\n").filter(Boolean).length;
    const layoutDir = join(tmp, "layout");
    const layout = new OciLayout(layoutDir);
    await layout.init();
    const blob = await layout.writeBlob(gz);
    const diffId = sha256Digest(tar);
    const config: ImageConfig = {
      architecture: "amd64",
      os: "linux",
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/bash"] },
      rootfs: { type: "layers", diff_ids: [diffId] },
    } as ImageConfig;
    const configDesc = await layout.writeJsonBlob(config, MediaType.ociConfig);
    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers: [{ mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: blob.size }] };
    const desc = await layout.writeJsonBlob(manifest, MediaType.ociManifest);
    writeFileSync(join(layoutDir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ ...desc, annotations: { [Annotation.refName]: "latest" } }] }));
    rmSync(tarPath);
    rmSync(`${tarPath}.gz`);
    const image: DebianImage = {
      layout: join(dir, "layout"),
      layerGz: join(dir, "layout", "blobs", "sha256", blob.digest.slice(7)),
      layerDigest: blob.digest,
      diffId,
      tarBytes: tar.length,
      gzBytes: gz.length,
      entries,
    };
    writeFileSync(join(tmp, "image.json"), JSON.stringify(image, null, 2));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return image;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
