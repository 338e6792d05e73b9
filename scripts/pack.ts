/**
 * `npm run pack`: every package tsbox publishes, as tarballs in
 * dist/packages/, versions in step with the root package.json, ready for
 * `npm publish` (napi-rs's layout, see docs/architecture.md "Packages"):
 *
 *   tsbox                  the library, CLI and browser bundles (dist/, bin/); depends on
 *                          @tsbox/images and v86, and optionally on each native package
 *   @tsbox/linux-x64-gnu   tsbox-native.node + tsbox-runtime; os/cpu/libc fields, so npm
 *   @tsbox/linux-arm64-gnu installs only the one for its host (one per NATIVE_TARGETS entry)
 *   @tsbox/images          platform-independent: the vm guest (kernel, initramfs, BIOS,
 *                          manifest.json with sha256 and versions) and the embedded
 *                          busybox images for linux/amd64 and linux/386
 *
 * Nothing is built here: it packs what `npm run build` and `npm run build:vm`
 * made (`npm run pack` runs those first) and refuses, naming the step, when
 * something is missing. No package has an install script.
 *
 *   node --import tsx scripts/pack.ts [--out DIR] [--with-snapshot]
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { IMAGES_PACKAGE, NATIVE_TARGETS, PARTS_SCOPE } from "../src/parts.js";
import { danglingMapComments, PACKED_INDEX, relativeLinks, type Packed } from "./packed.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const outArg = args.indexOf("--out");
const out = outArg >= 0 ? args[outArg + 1]! : join(root, "dist", "packages");
const withSnapshot = args.includes("--with-snapshot");

const rootPkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  description: string;
  license: string;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
  keywords?: string[];
};
const version = rootPkg.version;
// One version for everything shipped: the binaries report their crate's version.
for (const crate of ["addon", "runtime", "container", "agent"]) {
  const cargo = readFileSync(join(root, "native-rs", crate, "Cargo.toml"), "utf8");
  const v = /^version = "([^"]+)"/m.exec(cargo)?.[1];
  if (v !== version) throw new Error(`native-rs/${crate}/Cargo.toml has version ${v}, package.json ${version}: keep them in step`);
}

/** What is not tsbox's own MIT code in a package that carries the guest (@tsbox/images, and tsbox's dist/browser/guest). */
function guestLicenses(versions: Record<string, string>): string {
  const v = (k: string) => (versions[k] ? ` ${versions[k]}` : "");
  return (
    `Licenses: Linux${v("linux-source-6.1")} and BusyBox${v("busybox-static:i386")} are GPL-2.0-only, SeaBIOS${v("seabios")} is ` +
    "LGPL-3.0-only; their sources are Debian's source packages of these versions (https://snapshot.debian.org). " +
    "The tsbox agent, like the rest of tsbox, is MIT.\n"
  );
}

function need(path: string, step: string): string {
  if (!existsSync(path)) throw new Error(`${relative(root, path)} is missing: run ${step} first`);
  return path;
}

// Staged outside dist/ (whose contents tsbox ships) and outside /tmp.
const stage = join(root, ".cache", "pack-stage");
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (f.endsWith(".tgz")) rmSync(join(out, f));

/** Writes package.json into `dir` and runs `npm pack` there. */
function pack(dir: string, manifest: Record<string, unknown>): Packed {
  writeFileSync(join(dir, "package.json"), JSON.stringify({ version, license: rootPkg.license, engines: rootPkg.engines, ...manifest }, null, 2) + "\n");
  const json = execFileSync("npm", ["pack", "--json", "--pack-destination", out], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const [r] = JSON.parse(json) as { name: string; filename: string; size: number; unpackedSize: number; entryCount: number }[];
  return { name: r!.name, file: r!.filename, size: r!.size, unpackedSize: r!.unpackedSize, entryCount: r!.entryCount };
}

function copy(from: string, to: string, mode?: number): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  if (mode !== undefined) chmodSync(to, mode);
}

const packed: Packed[] = [];

// --- the native packages ---------------------------------------------------
const natives: string[] = [];
for (const [key, target] of Object.entries(NATIVE_TARGETS)) {
  const [os, cpu] = key.split("-") as [string, string];
  const name = `${PARTS_SCOPE}/${target.suffix}`;
  const dir = join(stage, target.suffix);
  // The host's build lands in native-rs/dist and target/release; a cross build under target/<triple>/release.
  const host = target.rustTarget === "x86_64-unknown-linux-gnu" && process.arch === "x64";
  const runtime = host ? join(root, "native-rs", "target", "release", "tsbox-runtime") : join(root, "native-rs", "target", target.rustTarget, "release", "tsbox-runtime");
  const addon = join(root, "native-rs", "dist", `tsbox-native.${target.suffix}.node`);
  // tsbox-init is static (it runs on the image's root), so always under target/<triple>.
  const init = join(root, "native-rs", "target", target.rustTarget, "release", "tsbox-init");
  const step = host ? "npm run build:native" : "npm run build:native:cross";
  copy(need(addon, step), join(dir, "tsbox-native.node"), 0o755);
  copy(need(runtime, step), join(dir, "tsbox-runtime"), 0o755);
  copy(need(init, step), join(dir, "tsbox-init"), 0o755);
  writeFileSync(
    join(dir, "README.md"),
    `# ${name}\n\nThe ${os}/${cpu} (${target.libc}) native part of [tsbox](https://www.npmjs.com/package/tsbox): the N-API addon ` +
      "`tsbox-native.node`, the `tsbox-runtime` helper that sets up containers and `tsbox-init` (`run --init`). Installed by npm as an optional " +
      "dependency of `tsbox` on matching hosts only; not meant to be used on its own.\n",
  );
  packed.push(
    pack(dir, {
      name,
      description: `tsbox's native addon and container helper for ${os}-${cpu} (${target.libc})`,
      os: [os],
      cpu: [cpu],
      libc: [target.libc],
      main: "tsbox-native.node",
      files: ["tsbox-native.node", "tsbox-runtime", "tsbox-init"],
    }),
  );
  natives.push(name);
}

// --- the guest and the embedded images -------------------------------------
{
  const dir = join(stage, "images");
  const guestSrc = join(root, "vm-images", "dist");
  const manifest = JSON.parse(readFileSync(need(join(guestSrc, "manifest.json"), "npm run build:vm"), "utf8")) as {
    packages: Record<string, string>;
    files: Record<string, { size: number; sha256: string }>;
  };
  const guestFiles = ["bzImage", "initramfs.cpio", "bios.bin", ...(withSnapshot ? ["snapshot.state", "snapshot.state.json"] : [])];
  for (const f of guestFiles) copy(need(join(guestSrc, f), "npm run build:vm"), join(dir, "guest", f));
  // The manifest lists what ships (the agent binary and kernel config stay in the build).
  const files = Object.fromEntries(Object.entries(manifest.files).filter(([f]) => guestFiles.includes(f)));
  writeFileSync(join(dir, "guest", "manifest.json"), JSON.stringify({ ...manifest, files }, null, 2) + "\n");
  const layouts: [string, string][] = [
    [join(root, "images", "busybox"), "busybox-amd64"],
    [join(guestSrc, "images", "busybox"), "busybox-386"],
  ];
  for (const [from, name] of layouts) {
    need(join(from, "index.json"), "npm run build:image and npm run build:vm");
    cpSync(from, join(dir, "images", name), { recursive: true });
  }
  const v = manifest.packages;
  writeFileSync(
    join(dir, "README.md"),
    `# ${IMAGES_PACKAGE}\n\nPlatform-independent files of [tsbox](https://www.npmjs.com/package/tsbox), a dependency of it:\n\n` +
      "- `guest/`: the vm backend's 32-bit Linux guest for the v86 emulator: `bzImage` (Linux " +
      `${v["linux-source-6.1"] ?? "6.1"}, built from Debian's linux-source-6.1), \`initramfs.cpio\` (tsbox-agent as /init), ` +
      `\`bios.bin\` (SeaBIOS ${v.seabios ?? ""} from Debian's seabios)${withSnapshot ? ", `snapshot.state` (a booted guest's saved state)" : ""} ` +
      "and `manifest.json` (sizes, sha256, the Debian package versions).\n" +
      "- `images/`: OCI image layouts of busybox (Debian's busybox-static " +
      `${v["busybox-static:i386"] ?? ""}) for linux/amd64 and linux/386, so \`tsbox run busybox\` works offline.\n\n` +
      guestLicenses(v),
  );
  packed.push(
    pack(dir, {
      name: IMAGES_PACKAGE,
      description: "tsbox's vm guest (Linux kernel, initramfs, BIOS) and embedded busybox images",
      license: "SEE LICENSE IN README.md",
      files: ["guest", "images"],
    }),
  );
}

// --- tsbox itself ----------------------------------------------------------
{
  const dir = join(stage, "tsbox");
  need(join(root, "dist", "cli.cjs"), "npm run build:ts");
  need(join(root, "dist", "browser"), "npm run build:ts");
  // dist/ without source maps (they point at src/, which does not ship), these packages, the
  // playground (`npm run build:web`: a site of the repo's, 24 MB, not the library's browser bundle),
  // or tsc's output of src/cli (the CLI ships as the cli.cjs and cli-lazy/ bundles; the library imports none of it).
  const left = [out, join(root, "dist", "packages"), join(root, "dist", "web"), join(root, "dist", "cli")];
  cpSync(join(root, "dist"), join(dir, "dist"), {
    recursive: true,
    filter: (src) => !src.endsWith(".map") && !left.some((d) => src === d || src.startsWith(d + "/")),
  });
  for (const { path, stripped } of danglingMapComments(join(dir, "dist"))) writeFileSync(path, stripped);
  copy(join(root, "bin", "tsbox.js"), join(dir, "bin", "tsbox.js"), 0o755);
  copy(join(root, "bin", "package.json"), join(dir, "bin", "package.json"));
  copy(join(root, "README.md"), join(dir, "README.md"));
  // What the README links to (docs/architecture.md, docs/security.md: ~145 KB gzip'd) ships too, so its links work
  // on npm's page and in node_modules; the repository has no public URL to point them at instead.
  const linked = relativeLinks(readFileSync(join(root, "README.md"), "utf8"));
  for (const f of linked) copy(need(join(root, f), "a README link's target to exist"), join(dir, f));
  // The browser bundle's guest (dist/browser/guest) is the kernel, BusyBox and SeaBIOS, under their own licenses.
  const guestManifest = join(dir, "dist", "browser", "guest", "manifest.json");
  const shipsGuest = existsSync(guestManifest);
  if (shipsGuest) {
    const versions = (JSON.parse(readFileSync(guestManifest, "utf8")) as { packages?: Record<string, string> }).packages ?? {};
    writeFileSync(join(dir, "NOTICE.md"), `# tsbox: licenses\n\ntsbox is MIT. \`dist/browser/guest/\` (the browser's vm guest) is not only tsbox's: ${guestLicenses(versions)}`);
  }
  const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, unknown>;
  packed.push(
    pack(dir, {
      name: "tsbox",
      description: rootPkg.description,
      keywords: ["container", "sandbox", "rootless", "namespaces", "oci", "v86", "vm"],
      type: "module",
      bin: rootManifest.bin,
      main: rootManifest.main,
      types: rootManifest.types,
      exports: rootManifest.exports,
      files: ["bin", "dist", ...linked, ...(shipsGuest ? ["NOTICE.md"] : [])],
      ...(shipsGuest ? { license: "MIT AND GPL-2.0-only AND LGPL-3.0-only" } : {}),
      dependencies: { ...rootPkg.dependencies, [IMAGES_PACKAGE]: version },
      optionalDependencies: Object.fromEntries(natives.map((n) => [n, version])),
    }),
  );
}

rmSync(stage, { recursive: true, force: true });
const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
for (const p of packed) {
  console.log(`${relative(process.cwd(), join(out, p.file)).padEnd(44)} ${mb(p.size).padStart(9)} packed, ${mb(p.unpackedSize).padStart(9)} unpacked, ${String(p.entryCount).padStart(4)} files  (${p.name})`);
}
writeFileSync(join(out, PACKED_INDEX), JSON.stringify(packed, null, 2) + "\n");
