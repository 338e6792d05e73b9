import { readdirSync } from "node:fs";
import { join } from "node:path";
import { isTsboxError, ImageError } from "../../errors.js";
import { OciLayout } from "../../image/layout.js";
import { formatPlatform } from "../../image/platform.js";
import { ImageStore, type StoredImage } from "../../image/store.js";
import { vmImagesDir } from "./images.js";

export const VM_PLATFORM = { os: "linux", architecture: "386" };

/**
 * The vm backend's images: linux/386, in their own OCI layout inside the
 * data dir (`platforms/linux-386/`; unpacked layers are shared), so the same
 * name can mean amd64 for the native backend and 386 here. Missing images
 * are imported from vm-images/dist/images/ (the guest's busybox).
 */
export class VmImageStore extends ImageStore {
  constructor(dataDir: string) {
    super(join(dataDir, "platforms", "linux-386"), { platform: VM_PLATFORM, fallbackLayouts: vmEmbeddedLayouts });
  }

  override async getImage(input: string): Promise<StoredImage> {
    let image: StoredImage;
    try {
      image = await super.getImage(input);
    } catch (err) {
      if (isTsboxError(err) && err.code === "image" && /not found|no manifest for platform/.test(err.message)) {
        throw new ImageError(`${err.message}: the vm backend runs linux/386 images and has no linux/386 variant of ${input}`);
      }
      throw err;
    }
    const p = { os: image.config.os ?? "?", architecture: image.config.architecture ?? "?" };
    if (p.os !== VM_PLATFORM.os || p.architecture !== VM_PLATFORM.architecture) {
      throw new ImageError(`image ${input} is ${formatPlatform(p)}: the vm backend runs linux/386 images only, and this image has no linux/386 variant`);
    }
    return image;
  }
}

function vmEmbeddedLayouts(): OciLayout[] {
  const root = join(vmImagesDir(), "images");
  try {
    return readdirSync(root).sort().map((name) => new OciLayout(join(root, name)));
  } catch {
    return [];
  }
}
