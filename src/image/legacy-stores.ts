import { existsSync, readdirSync, renameSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { removeTree } from "../remove-tree.js";
import { withLockFile } from "../lock-file.js";
import { OciLayout } from "./layout.js";
import { Annotation } from "./oci.js";
import type { ImageStore } from "./store.js";

/**
 * tsbox 0.1 kept the vm backend's images in a layout of their own,
 * `<data>/platforms/linux-386/` (unpacked layers were already shared). The
 * one store takes them over: blobs are moved into it (same file system,
 * content-addressed, so a rename), each name is merged in by platform
 * without replacing what the store already has for that platform, then the
 * old layout is deleted. Idempotent, so a crash midway is finished by the
 * next run; one stat once done. A name that cannot be taken over (a blob
 * missing) leaves its layout as `platforms-unmigrated-<os>-<arch>-<time>/`.
 */
export async function migrateLegacyStores(store: ImageStore): Promise<void> {
  const root = join(store.layout.dir, "platforms");
  if (!existsSync(root)) return;
  await withLockFile(join(store.layout.dir, ".migrate.lock"), { missing: `no image store at ${store.layout.dir}`, busy: "another tsbox process is taking over the old image stores", code: "image", directory: true }, async () => {
    let platforms: string[];
    try {
      platforms = readdirSync(root);
    } catch {
      return; // another process finished it
    }
    for (const platform of platforms) {
      const dir = join(root, platform);
      await store.layout.init();
      const blobs = join(dir, "blobs", "sha256");
      for (const hex of listDir(blobs)) {
        if (!/^[a-f0-9]{64}$/.test(hex)) continue;
        const target = store.layout.blobPath(`sha256:${hex}`);
        if (!existsSync(target)) renameSync(join(blobs, hex), target);
      }
      let failed = false;
      for (const d of (await new OciLayout(dir).readIndex()).manifests) {
        const name = d.annotations?.[Annotation.refName];
        if (name === undefined) continue;
        try {
          await store.importImage(store.layout, d, name, { keepExisting: true });
        } catch {
          failed = true;
        }
      }
      if (failed) renameSync(dir, join(store.layout.dir, `platforms-unmigrated-${platform}-${Date.now()}`));
      else await removeTree(dir);
    }
    try {
      rmdirSync(root);
    } catch {
      // not empty: something we do not know; left alone
    }
  });
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
