import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TsboxError } from "../../../errors.js";
import { packageRoot } from "../../../package-root.js";
import { IMAGES_PACKAGE, installedPackageDir, isCheckout } from "../../../parts.js";

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

/** $TSBOX_VM_IMAGES, else the installed @tsbox/images package's guest/, else a checkout's vm-images/dist. */
export function vmImagesDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSBOX_VM_IMAGES) return env.TSBOX_VM_IMAGES;
  const installed = installedPackageDir(IMAGES_PACKAGE);
  return installed ? join(installed, "guest") : join(packageRoot(), "vm-images", "dist");
}

/** What to do about a missing or incomplete guest. */
function missingGuestHint(env: NodeJS.ProcessEnv): string {
  if (env.TSBOX_VM_IMAGES) return "check TSBOX_VM_IMAGES";
  return isCheckout() ? "run npm run build:vm" : `reinstall tsbox (its dependency ${IMAGES_PACKAGE} holds the guest)`;
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
    throw new TsboxError(`the vm guest image is missing (no ${manifestPath}): ${missingGuestHint(env)}`, { code: "runtime" });
  }
  const images: VmImages = { dir, bios: join(dir, "bios.bin"), kernel: join(dir, "bzImage"), initrd: join(dir, "initramfs.cpio"), manifest };
  for (const f of [images.bios, images.kernel, images.initrd]) {
    if (!existsSync(f)) throw new TsboxError(`the vm guest image is incomplete (missing ${f}): ${missingGuestHint(env)}`, { code: "runtime" });
  }
  return images;
}

/** The v86 package directory (its wasm must be given by path under Node): where `import("v86")` finds it. */
export function v86Dir(): string {
  return installedPackageDir("v86") ?? join(packageRoot(), "node_modules", "v86");
}

export function v86Version(): string {
  try {
    return (JSON.parse(readFileSync(join(v86Dir(), "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
