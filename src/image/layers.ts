import { existsSync, statSync } from "node:fs";
import { open, mkdir, mkdtemp, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ImageError, LayerError, writingAt } from "../errors.js";
import { ensurePrivateDir, isDiskFull, isErrno } from "../fs-util.js";
import { removeTree } from "../remove-tree.js";
import { DataPaths, type WhiteoutForm } from "../paths.js";
import type { LayerLimits } from "./compression.js";
import type { DigestCounter } from "./hash.js";
import type { OciLayout } from "./layout.js";
import type { Descriptor } from "./oci.js";
import type { StoredImage } from "./store.js";
import { ownerNotesPath, readOwnerNotes, removeOwnerNotes, writeOwnerNotes } from "./owner-notes.js";
import type { LayerCapability, LayerOwner } from "./unpack.js";
import { hostWhiteoutForm } from "./whiteout-form.js";
import { ownTempPrefix } from "../temp-names.js";
import { inInitialUserNamespace } from "../spec/nested-root.js";
import { familiarName, parseReference } from "./reference.js";

/** A layer being unpacked, in layersRoot until its publishing rename (temp-names.ts). */
export const UNPACK_PREFIX = ".unpack-";

export interface LayerCacheOptions {
  /** Real root: unpack with ownership, device nodes and whiteouts. Default: uid 0. */
  privileged?: boolean;
  /**
   * Root of a user namespace inside a container (spec/nested-root.ts): owners as root, but no device nodes and
   * user.* overlay marks. Default: root outside the initial user namespace.
   */
  nested?: boolean;
  /** Size and ratio caps (default: compression.ts DEFAULT_LAYER_LIMITS, with TSBOX_MAX_LAYER_SIZE/_RATIO). */
  limits?: Partial<LayerLimits>;
  /** How deletions are marked (default: whiteout-form.ts hostWhiteoutForm()). */
  whiteouts?: WhiteoutForm;
  /**
   * Rootless: gives the files of an unpacked layer the owners its tar says,
   * where this user can (containers/layer-owners.ts); false where it cannot.
   * Owners not applied are kept as the layer's notes (owner-notes.ts), which
   * a later use with this option applies. A fresh unpack's file
   * capabilities come along, to be set after the owners.
   */
  applyOwners?: (dir: string, owners: LayerOwner[], capabilities?: LayerCapability[]) => Promise<boolean>;
  /** Deletes a layer being unpacked that failed (its files may be other ids' then); default removeTree. */
  removeDir?: (dir: string) => Promise<void>;
}

/**
 * Unpacked layers, one directory per diff-id (the digest of the
 * uncompressed tar), shared by every image and container that uses them.
 * A layer is unpacked into a temp dir beside the cache, its diff-id
 * verified, then renamed into place: a present directory is always complete.
 */
/** overlayfs's OVL_MAX_STACK: the most lower layers one mount takes. */
const MAX_LAYERS = 500;

export class LayerCache {
  private readonly paths: DataPaths;
  private readonly privileged: boolean;
  private readonly nested: boolean;
  private readonly limits: Partial<LayerLimits>;
  readonly whiteouts: WhiteoutForm;
  private readonly applyOwners: LayerCacheOptions["applyOwners"];
  private readonly removeDir: (dir: string) => Promise<void>;
  private secured = false;

  constructor(
    dataDir: string,
    private readonly layout: OciLayout,
    options: LayerCacheOptions = {},
  ) {
    this.paths = new DataPaths(dataDir);
    this.privileged = options.privileged ?? process.getuid?.() === 0;
    this.nested = options.nested ?? (this.privileged && !inInitialUserNamespace());
    this.limits = options.limits ?? {};
    this.whiteouts = options.whiteouts ?? hostWhiteoutForm();
    this.applyOwners = options.applyOwners;
    this.removeDir = options.removeDir ?? removeTree;
  }

  /** Where the layer `diffId` is (or would be) unpacked. */
  layerDir(diffId: string): string {
    return this.paths.layerDir(diffId, this.whiteouts);
  }

  /**
   * Directories of the image's layers, topmost first (overlay lowerdir
   * order), unpacking missing ones. A layer the image has twice (two `RUN`
   * steps that changed nothing both make the empty layer) is listed once, at
   * its topmost place: overlayfs refuses a directory twice (ELOOP), and the
   * same diff applied again on top makes the lower copy change nothing.
   */
  async ensureLayers(image: StoredImage): Promise<string[]> {
    const dirs: string[] = [];
    const diffIds = image.config.rootfs.diff_ids;
    // overlayfs stacks at most 500 lower layers (OVL_MAX_STACK): said before any is unpacked (the mount failed
    // with "No such file or directory").
    const distinct = new Set(diffIds).size;
    if (distinct > MAX_LAYERS) throw new ImageError(`${image.name} has ${distinct} layers: overlayfs stacks at most ${MAX_LAYERS} (docker refuses more than 125); squash it into fewer`);
    return [...new Set((await this.unpackImage(image)).reverse())];
  }

  /**
   * Every layer of the image unpacked (each unpacked at most once), bottom first; a failure names the layer and
   * the image. `load` calls this before it names an image, as `pull` unpacks as it downloads: a layer that can
   * never be unpacked fails there, not at a later `run` (docker's load unpacks too). `signal` is checked between layers.
   */
  async unpackImage(image: StoredImage, signal?: AbortSignal): Promise<string[]> {
    const dirs: string[] = [];
    const diffIds = image.config.rootfs.diff_ids;
    for (let i = 0; i < image.manifest.layers.length; i++) {
      signal?.throwIfAborted();
      dirs.push(await this.ensureLayer(image.manifest.layers[i]!, diffIds[i]!, image.name));
    }
    return dirs;
  }

  /** The layer's directory if it is unpacked, without unpacking it. */
  async findLayer(diffId: string): Promise<string | undefined> {
    const dir = this.layerDir(diffId);
    try {
      statSync(dir); // sync: on every `run`, and cheaper than a thread-pool round trip
      return dir;
    } catch (err) {
      if (isErrno(err, "ENOENT")) return undefined;
      throw err;
    }
  }

  /** `image`: the name (canonical, or `sha256:…`) of the image being unpacked, which a failure names with the layer. */
  async ensureLayer(blob: Descriptor, diffId: string, image?: string): Promise<string> {
    // Once per process: layers/ is private (a store made before this rule is tightened here).
    if (!this.secured) {
      ensurePrivateDir(this.paths.layersRoot);
      this.secured = true;
    }
    const existing = await this.findLayer(diffId);
    if (existing) {
      if (this.applyOwners && !this.privileged) await this.applyNotedOwners(existing);
      return existing;
    }
    const dest = this.layerDir(diffId);
    const tmp = await mkdtemp(join(this.paths.layersRoot, `${ownTempPrefix(UNPACK_PREFIX)}${diffId.slice(7, 19)}-`));
    let published = false;
    try {
      const unapplied = await this.unpackInto(blob, diffId, tmp).catch((err: unknown) => {
        if (isDiskFull(err)) {
          throw new LayerError(`no space left on device while unpacking layer ${blob.digest}${ofImage(image)} into ${this.paths.layersRoot}`, writingAt(err, tmp));
        }
        throw namingLayer(err, blob.digest, image);
      });
      await mkdir(dirname(dest), { recursive: true });
      // Before the layer is published: a layer that is there always has its notes.
      if (unapplied.length > 0) writeOwnerNotes(dest, unapplied);
      // On disk before it is published: a present layer is trusted for ever.
      await (await import("./unpack.js")).syncFileSystem(tmp);
      try {
        await rename(tmp, dest);
        published = true;
      } catch (err) {
        // Another process published the same layer first: theirs is as good as ours.
        if (!isErrno(err, "ENOTEMPTY") && !isErrno(err, "EEXIST")) throw err;
      }
      return dest;
    } finally {
      if (!published) await this.removeDir(tmp);
    }
  }

  /**
   * Gives a published layer the owners its notes keep (another backend or a
   * host without subordinate ids unpacked it), where this user now can.
   * Sync stat: on every rootless `run`, for each of its layers.
   */
  private async applyNotedOwners(dir: string): Promise<void> {
    if (!existsSync(ownerNotesPath(dir))) return;
    const owners = readOwnerNotes(dir);
    if (owners && (await this.applyOwners!(dir, owners))) removeOwnerNotes(dir);
  }

  /** Unpacks and verifies the layer; the owners it could not apply (an unprivileged unpack). */
  private async unpackInto(blob: Descriptor, diffId: string, dir: string): Promise<LayerOwner[]> {
    // Loaded lazily: only a cold start (first run of an image) unpacks.
    const [{ readTar }, { unpackLayer }, { DigestCounter }, { decompressedStream, layerLimits, limitEntries, limitExpansion }] = await Promise.all([
      import("./tar.js"),
      import("./unpack.js"),
      import("./hash.js"),
      import("./compression.js"),
    ]);
    const path = this.layout.blobPath(blob.digest);
    const file = await open(path).catch((err: unknown) => {
      // Its image was removed (rmi, prune -a) after this run resolved it, as docker's "No such image"; not a damaged store.
      if (isErrno(err, "ENOENT")) throw new ImageError(`the image was removed while its layers were being unpacked (layer blob ${blob.digest} is gone): pull or load it again`);
      throw err;
    });
    const limits = { ...layerLimits(), ...this.limits, ...(this.layout.madeHere(blob.digest) ? { maxRatio: Infinity } : {}) };
    const source = await decompressedStream(file, path, blob.digest);
    const diff = new DigestCounter();
    const tapped = tap(limitExpansion(source.stream, `layer ${blob.digest}`, blob.size, limits), diff);
    let owners: LayerOwner[] = [];
    let capabilities: LayerCapability[] = [];
    try {
      ({ owners, capabilities } = await unpackLayer(limitEntries(readTar(tapped), `layer ${blob.digest}`, limits.maxEntries), dir, { privileged: this.privileged, nested: this.nested, whiteouts: this.whiteouts, owners: !this.privileged, durable: true }));
      for await (const _ of tapped); // the end-of-archive padding is part of the diff-id
      await source.done();
    } catch (err) {
      throw source.translate(err);
    } finally {
      source.destroy();
      await file.close().catch(() => {});
    }
    const actual = diff.digest();
    if (actual !== diffId) throw new LayerError(`layer ${blob.digest} does not match its diff_id: expected ${diffId}, got ${actual}`);
    this.layout.recordTarSize(blob.digest, diff.size); // the image's SIZE (store.ts layerTarSize)
    if ((owners.length > 0 || capabilities.length > 0) && this.applyOwners && (await this.applyOwners(dir, owners, capabilities))) return [];
    return owners;
  }
}

/** Passes chunks through while hashing them; iterable more than once (continues where it stopped). */
function tap(source: AsyncIterable<Buffer>, counter: DigestCounter): AsyncIterable<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const iterator: AsyncIterator<Buffer> = {
    async next() {
      const r = await it.next();
      if (!r.done) counter.update(r.value);
      return r;
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

/** " of NAME" for a layer's messages: the image's familiar name, or its short id when it has no name. */
function ofImage(image: string | undefined): string {
  if (image === undefined) return "";
  if (image.startsWith("sha256:")) return ` of image ${image.slice(7, 19)}`;
  try {
    return ` of ${familiarName(parseReference(image))}`;
  } catch {
    return ` of ${image}`;
  }
}

/**
 * An unpack failure said as the layer's (and its image's): "layer sha256:… of app:1: truncated tar archive" — the
 * unpacker's own messages name an entry, not which layer of which image it was in. A message that names the layer
 * already ("layer sha256:… is not valid gzip") gets the image after it. Errors that are not tsbox's pass unchanged.
 */
function namingLayer(err: unknown, digest: string, image: string | undefined): unknown {
  if (!(err instanceof LayerError) && !(err instanceof ImageError)) return err;
  const layer = `layer ${digest}`;
  let message: string;
  if (err.message.includes(layer)) message = err.message.replace(layer, `${layer}${ofImage(image)}`);
  else if (err.message.includes(digest)) return err; // "the image was removed … (layer blob sha256:… is gone)"
  else message = `${layer}${ofImage(image)}: ${err.message}`;
  if (message === err.message) return err;
  return err instanceof ImageError ? new ImageError(message, err, err.notFound) : new LayerError(message, err);
}
