/**
 * Builds the embedded busybox image: an OCI image layout (default
 * images/busybox/) with one deterministic layer made from the host's
 * static busybox (Debian's busybox-static), so `tsbox run busybox …` works
 * offline. Same input, same digests. Prints the manifest digest.
 *
 *   node --import tsx scripts/build-busybox-image.ts [--arch amd64|386] [--busybox PATH] [--out DIR] [--name NAME]
 *
 * `--arch 386 --busybox <i386 busybox> --out …` makes the vm guest's image.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { sha256Digest } from "../src/image/hash.js";
import { OciLayout } from "../src/image/layout.js";
import { Annotation, type ImageConfig, type ImageManifest, MediaType } from "../src/image/oci.js";
import { TarWriter, type TarWriteEntry } from "../src/image/tar-writer.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

interface Options {
  arch: string;
  busybox: string;
  out: string;
  name: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { arch: "amd64", busybox: "/bin/busybox", out: join(root, "images", "busybox"), name: "busybox" };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined || !["--arch", "--busybox", "--out", "--name"].includes(flag)) {
      throw new Error(`usage: build-busybox-image.ts [--arch amd64|386] [--busybox PATH] [--out DIR] [--name NAME] (bad argument ${flag})`);
    }
    if (flag === "--arch") opts.arch = value;
    else if (flag === "--busybox") opts.busybox = value;
    else if (flag === "--out") opts.out = resolve(value);
    else opts.name = value;
    i++;
  }
  if (!["amd64", "386"].includes(opts.arch)) throw new Error(`unsupported --arch ${opts.arch} (amd64 or 386)`);
  return opts;
}

/** Fixed timestamp: the layer must not depend on when or where it was built. */
const MTIME = 0;
const CREATED = "1970-01-01T00:00:00Z";

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
const GROUP = "root:x:0:\ntty:x:5:\nnobody:x:65534:\n";

function layerEntries(busybox: Buffer, applets: string[]): TarWriteEntry[] {
  const dir = (path: string, mode = 0o755): TarWriteEntry => ({ path, type: "directory", mode, mtime: MTIME });
  const file = (path: string, data: Buffer | string, mode = 0o644): TarWriteEntry => ({ path, type: "file", mode, mtime: MTIME, data: Buffer.from(data) });
  const entries: TarWriteEntry[] = [
    dir("bin"),
    file("bin/busybox", busybox, 0o755),
    ...applets.map((a): TarWriteEntry => ({ path: `bin/${a}`, type: "symlink", mode: 0o777, mtime: MTIME, linkname: "busybox" })),
    dir("dev"),
    dir("etc"),
    file("etc/group", GROUP),
    file("etc/passwd", PASSWD),
    dir("home"),
    dir("mnt"),
    dir("proc", 0o555),
    dir("root", 0o700),
    dir("sys", 0o555),
    dir("tmp", 0o1777),
    dir("var"),
  ];
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The applet names, read from the binary's own table (NUL-separated and
 * sorted, starting "[", "[["), not from `busybox --list`: the i386 build must
 * be readable on hosts that cannot run i386 code (no IA32 emulation).
 */
function listApplets(busybox: Buffer, path: string): string[] {
  const start = busybox.indexOf(Buffer.from("[\0[[\0", "latin1"));
  if (start < 0) throw new Error(`no applet table found in ${path}: is it busybox?`);
  const applets: string[] = [];
  for (let at = start; ; ) {
    const end = busybox.indexOf(0, at);
    const name = busybox.toString("latin1", at, end);
    if (!/^[a-zA-Z0-9_.[-]+$/.test(name)) break;
    applets.push(name);
    at = end + 1;
  }
  if (applets.length < 50) throw new Error(`unexpected applet table in ${path}: ${applets.length} names`);
  return [...new Set(applets.filter((a) => a !== "busybox"))].sort();
}

async function build(opts: Options): Promise<string> {
  if (!existsSync(opts.busybox)) throw new Error(`${opts.busybox} not found: install busybox-static (apt-get install busybox-static${opts.arch === "386" ? ":i386" : ""})`);
  const busybox = readFileSync(opts.busybox);
  const tar = new TarWriter();
  for (const e of layerEntries(busybox, listApplets(busybox, opts.busybox))) tar.add(e);
  const layerTar = tar.finish();
  const layerGz = gzipSync(layerTar, { level: 9 });

  mkdirSync(dirname(opts.out), { recursive: true });
  const tmp = mkdtempSync(`${opts.out}.build-`);
  try {
    chmodSync(tmp, 0o755); // mkdtemp makes it 0700; every user imports from it
    const layout = new OciLayout(tmp);
    await layout.init({ spaceReserve: false }); // shipped read-only: the reserve is a writable store's
    const layer = await layout.writeBlob(layerGz);
    const config: ImageConfig = {
      created: CREATED,
      architecture: opts.arch,
      os: "linux",
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] },
      rootfs: { type: "layers", diff_ids: [sha256Digest(layerTar)] },
      history: [{ created: CREATED, created_by: `tsbox scripts/build-busybox-image.ts from ${opts.busybox}` }],
    };
    const configDesc = await layout.writeJsonBlob(config, MediaType.ociConfig);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: configDesc,
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: layer.digest, size: layer.size }],
    };
    const manifestDesc = await layout.writeJsonBlob(manifest, MediaType.ociManifest);
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          ...manifestDesc,
          platform: { architecture: opts.arch, os: "linux" },
          annotations: { [Annotation.refName]: "latest", [Annotation.imageName]: `docker.io/library/${opts.name}:latest` },
        },
      ],
    };
    writeFileSync(join(tmp, "index.json"), JSON.stringify(index, null, 2) + "\n");
    // Swap the finished layout in: a reader sees the old image or the new one.
    const old = `${opts.out}.old-${process.pid}`;
    if (existsSync(opts.out)) renameSync(opts.out, old);
    renameSync(tmp, opts.out);
    rmSync(old, { recursive: true, force: true });
    return manifestDesc.digest;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

try {
  const opts = parseArgs(process.argv.slice(2));
  const digest = await build(opts);
  console.log(digest);
} catch (err) {
  console.error(`build-busybox-image: ${(err as Error).message}`);
  process.exit(1);
}
