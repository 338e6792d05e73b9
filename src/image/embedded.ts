import { readdirSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";
import { OciLayout } from "./layout.js";

/**
 * Image layouts shipped inside the package (`images/<name>/`, built by
 * scripts/build-busybox-image.ts) so `tsbox run busybox …` works offline.
 * Only consulted when the user's store lacks an image.
 */
export function embeddedLayouts(root: string = join(packageRoot(), "images")): OciLayout[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.sort().map((name) => new OciLayout(join(root, name)));
}
