/**
 * The Worker's images by name (browser-store.ts; the embedded busybox is
 * imported from its served layout on first use) and their merged roots in
 * the memory fs, each built once per manifest and served over 9p.
 */
import { ImageError } from "../../../errors.js";
import { assertDigest } from "../../../image/digest.js";
import { canonicalName, familiarName, parseReference } from "../../../image/reference.js";
import type { MemoryFs } from "../core/p9/memory-fs.js";
import type { BrowserStore, StoredImage } from "./browser-store.js";
import { importLayoutUrl, layoutDescriptor } from "./image-import.js";
import { guestIdOf } from "./container-spec.js";
import { buildImageRoot } from "./image-root.js";

export const BUSYBOX = canonicalName(parseReference("busybox"));

export class ImageRoots {
  /** Image roots in the memory fs, by manifest digest. */
  private readonly roots = new Map<string, Promise<string>>();
  /** The embedded busybox's import under way: a second lookup meanwhile waits for it instead of importing again. */
  private importing: Promise<void> | undefined;

  constructor(
    private readonly fs: MemoryFs,
    private readonly store: BrowserStore,
    private readonly busyboxLayout: string,
  ) {}

  /** A stored image by name; the embedded busybox is taken from its layout on first use. */
  async image(input: string, fetchEmbedded = true): Promise<StoredImage> {
    const name = canonicalName(parseReference(input));
    let image = await this.store.getImage(name);
    if (!image && name === BUSYBOX && fetchEmbedded) {
      this.importing ??= importLayoutUrl(this.store, this.busyboxLayout, BUSYBOX).then(
        () => void (this.importing = undefined),
        (err: unknown) => {
          this.importing = undefined;
          throw err;
        },
      );
      await this.importing;
      image = await this.store.getImage(name);
    }
    if (!image) throw new ImageError(`unable to find image ${familiarName(parseReference(input))}: load it first (Runtime.load with a docker save archive)`, undefined, true);
    return image;
  }

  /**
   * The manifest digest `input` names: the stored image's, else (the embedded
   * busybox, not imported yet) its served layout's, from its index.json alone
   * — what a restored standby's take checks without waiting for the import.
   */
  async manifestDigest(input: string): Promise<string> {
    const name = canonicalName(parseReference(input));
    const served = async () => assertDigest((await layoutDescriptor(this.busyboxLayout)).digest, "manifest");
    // While it is being imported the store has no other busybox, and a lookup would
    // wait for the import's transaction to commit (IndexedDB orders them).
    if (name === BUSYBOX && this.importing) return served();
    const image = await this.store.getImage(name);
    if (image) return image.manifestDigest;
    if (name === BUSYBOX) return served();
    return (await this.image(input)).manifestDigest;
  }

  /** The image's merged root in the memory fs, built once per manifest. */
  root(image: StoredImage): Promise<string> {
    const key = image.manifestDigest.slice("sha256:".length, "sha256:".length + 24);
    let root = this.roots.get(key);
    if (!root) {
      const path = `/images/${key}`;
      root = (async () => {
        if (!this.fs.readdir("/").includes("images")) this.fs.mkdir("/images", 0o755);
        const blobs = await Promise.all(
          image.layers.map(async (l) => {
            const blob = await this.store.getBlob(l.digest);
            if (!blob) throw new ImageError(`image ${image.name} is incomplete: layer ${l.digest} is missing from the store`);
            return blob;
          }),
        );
        await buildImageRoot(this.fs, path, blobs, guestIdOf);
        return path;
      })();
      root.catch(() => {
        this.roots.delete(key);
        try {
          this.fs.removeTree(path);
        } catch {
          // never made
        }
      });
      this.roots.set(key, root);
    }
    return root;
  }
}
