import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TsboxError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";

/** vm-images/dist/manifest.json, written by vm-images/build.sh. */
export interface VmManifest {
  inputHash: string;
  imageId: string;
  arch: string;
  packages: Record<string, string>;
  files: Record<string, { size: number; sha256: string }>;
}

export interface VmImages {
  dir: string;
  bios: string;
  kernel: string;
  initrd: string;
  manifest: VmManifest;
}

export function vmImagesDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TSBOX_VM_IMAGES || join(packageRoot(), "vm-images", "dist");
}

/** True when the guest image is built (tests skip the vm suites otherwise). */
export function vmImagesPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  return existsSync(join(vmImagesDir(env), "manifest.json"));
}

export function loadVmImages(env: NodeJS.ProcessEnv = process.env): VmImages {
  const dir = vmImagesDir(env);
  const manifestPath = join(dir, "manifest.json");
  let manifest: VmManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as VmManifest;
  } catch {
    throw new TsboxError(`the vm guest image is not built (no ${manifestPath}): run npm run build:vm`, { code: "runtime" });
  }
  const images: VmImages = { dir, bios: join(dir, "bios.bin"), kernel: join(dir, "bzImage"), initrd: join(dir, "initramfs.cpio"), manifest };
  for (const f of [images.bios, images.kernel, images.initrd]) {
    if (!existsSync(f)) throw new TsboxError(`the vm guest image is incomplete (missing ${f}): run npm run build:vm`, { code: "runtime" });
  }
  return images;
}

/** The v86 package directory (its wasm must be given by path under Node). */
export function v86Dir(): string {
  return join(packageRoot(), "node_modules", "v86");
}

export function v86Version(): string {
  try {
    return (JSON.parse(readFileSync(join(v86Dir(), "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
