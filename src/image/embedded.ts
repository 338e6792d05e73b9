import { readdirSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";
import { IMAGES_PACKAGE, installedPackageDir } from "../parts.js";
import { OciLayout } from "./layout.js";

/**
 * Image layouts shipped with tsbox so `tsbox run busybox …` works offline,
 * one per image and platform (busybox for linux/amd64 and for the vm's
 * linux/386). Installed from npm they are `images/*` of @tsbox/images; in a
 * checkout, `images/*` (scripts/build-busybox-image.ts) and
 * `vm-images/dist/images/*` (vm-images/build.sh). Only consulted when the
 * user's store lacks an image for the platform asked for.
 */
export function embeddedLayoutRoots(): string[] {
  const installed = installedPackageDir(IMAGES_PACKAGE);
  if (installed) return [join(installed, "images")];
  const root = packageRoot();
  return [join(root, "images"), join(root, "vm-images", "dist", "images")];
}

export function embeddedLayouts(roots: string[] = embeddedLayoutRoots()): OciLayout[] {
  return roots.flatMap((root) => {
    try {
      return readdirSync(root)
        .sort()
        .map((name) => new OciLayout(join(root, name)));
    } catch {
      return [];
    }
  });
}
