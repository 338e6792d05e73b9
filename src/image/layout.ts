import { createReadStream, existsSync, mkdirSync, type ReadStream, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir, open, readdir, rename, rmdir, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage, ImageError, writingAt } from "../errors.js";
import { isDiskFull, isErrno, keepSpaceReserve, randomHex, syncHandle, writeFileAtomic } from "../fs-util.js";
import { type LockWords, withLockFile } from "../lock-file.js";
import { assertDigest } from "./digest.js";
import { Annotation, type Descriptor, type ImageIndex, MediaType } from "./oci.js";
import { ownTempPrefix } from "../temp-names.js";
import { pidAlive } from "../process-alive.js";

/** A blob being written, in the layout's root until its rename (temp-names.ts). */
export const BLOB_PREFIX = ".blob-";
/** Partial downloads (registry/download.ts: `<hex>.<pid>.<rand>.part`, `<hex>.partial`) and leases. */
export const DOWNLOADS = ".downloads";
/** A live writer's lease in DOWNLOADS: `lease.<pid>.<rand>` (withLease). */
export const LEASE_PREFIX = "lease.";

/** The pid a `.part` download or a lease in DOWNLOADS names after its first dot (NaN for a `.partial`). */
export function downloadHolder(name: string): number {
  return Number(name.split(".")[1]);
}

const OCI_LAYOUT = JSON.stringify({ imageLayoutVersion: "1.0.0" });

export type BlobSource = Buffer | AsyncIterable<Buffer>;

/** Runs `fn` holding the image index's lock (`.index.lock`): updates, and prune's sweep, which must not race a pull. */
export function withIndexLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  return withLockFile(join(dir, ".index.lock"), indexLockWords(dir), fn);
}

function indexLockWords(dir: string): LockWords {
  return { missing: `no image store at ${dir}`, busy: "the image store is busy", code: "image", waitMs: 60_000, directory: true };
}

/**
 * A blob's write that failed (a full disk: a load, a pull) said as ours, not the source's or the network's; the
 * cause keeps its code and gets the path, for the data dir's hint (cli/error-hints.ts).
 */
export function blobWriteError(digest: string, err: unknown, path: string): ImageError {
  return new ImageError(`writing blob ${digest} to the store: ${errorMessage(err)}`, writingAt(err, path));
}

/**
 * An OCI image layout directory (blobs/sha256/…, index.json, oci-layout):
 * the user's store and also any layout read or written elsewhere (the
 * embedded busybox image, later `save`/`load` archives and registry pulls).
 *
 * Integrity rules: a blob only appears under its digest after its content
 * was hashed and matched; index.json is replaced atomically under a lock.
 */
export class OciLayout {
  /** `label`: how errors name it ("the archive" for a load's temp dir, which is gone when the error is read). */
  constructor(
    readonly dir: string,
    readonly label: string = dir,
  ) {}

  /**
   * Runs `fn` holding a lease (`.downloads/lease.<pid>.<rand>`): prune keeps the blobs no name reaches yet that
   * were written since a live process took its lease — a pull's config and layers before its name is
   * published (containerd's leases). Before stop 42 a prune beside a pull deleted them, and the pull's own
   * partial download, and the pull failed with a raw ENOENT.
   */
  async withLease<T>(fn: () => Promise<T>): Promise<T> {
    const dir = join(this.dir, DOWNLOADS);
    await mkdir(dir, { recursive: true });
    const lease = join(dir, `${LEASE_PREFIX}${process.pid}.${randomHex(4)}`);
    await writeFile(lease, "");
    try {
      return await fn();
    } finally {
      await unlink(lease).catch(() => {});
      // A lease whose holder was killed (a SIGKILLed build or pull) protects nothing: it goes with the next one.
      for (const name of await readdir(dir).catch(() => [])) {
        if (name.startsWith(LEASE_PREFIX) && !pidAlive(downloadHolder(name))) await unlink(join(dir, name)).catch(() => {});
      }
      await rmdir(dir).catch(() => {}); // only when empty: another pull's files stay
    }
  }

  blobPath(digest: string): string {
    assertDigest(digest, "blob");
    return join(this.dir, "blobs", "sha256", digest.slice(7));
  }

  /**
   * Layer blobs this store compressed itself (commit, build) are marked
   * (`made-here/<hex>`, outside blobs/: tools expect only digests there):
   * unpacking them skips the expansion ratio, which a file of zeros a
   * Dockerfile made would otherwise trip (TSBOX_MAX_LAYER_RATIO guards
   * against blobs we are sent). Prune drops a mark with its blob.
   */
  markMadeHere(digest: string): void {
    mkdirSync(join(this.dir, MADE_HERE), { recursive: true });
    writeFileSync(this.madeHerePath(digest), "");
  }

  madeHere(digest: string): boolean {
    return existsSync(this.madeHerePath(digest));
  }

  madeHerePath(digest: string): string {
    assertDigest(digest, "blob");
    return join(this.dir, MADE_HERE, digest.slice(7));
  }

  /**
   * The size of a layer blob's tar, measured when it was unpacked here (`tar-sizes/<hex>`, outside blobs/ as
   * made-here's marks; prune drops it with its blob): what `images` and `history` count, rather than the size the
   * blob's gzip trailer or zstd header claims, which the image controls. Best effort: an unwritable store records nothing.
   */
  recordTarSize(digest: string, size: number): void {
    try {
      mkdirSync(join(this.dir, TAR_SIZES), { recursive: true });
      writeFileSync(this.tarSizePath(digest), `${size}\n`); // the newline last: a torn write reads as no record
    } catch {
      // the estimate from the blob stands
    }
  }

  /** The tar size recorded for a layer blob by its unpack here, if any. */
  tarSize(digest: string): number | undefined {
    try {
      const text = readFileSync(this.tarSizePath(digest), "utf8");
      return /^\d+\n$/.test(text) ? Number(text.trim()) : undefined;
    } catch {
      return undefined;
    }
  }

  tarSizePath(digest: string): string {
    assertDigest(digest, "blob");
    return join(this.dir, TAR_SIZES, digest.slice(7));
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      statSync(this.blobPath(digest));
      return true;
    } catch (err) {
      if (isErrno(err, "ENOENT")) return false;
      throw err;
    }
  }

  /**
   * `reuseBlobs` for one blob a descriptor names: false also when the store's copy is not `size` bytes. Either that
   * copy is damaged (a disk fault, a partial restore), and the caller's write from a source it verifies replaces it
   * (write, then rename), or the descriptor's size is wrong, and that verification refuses it (the bytes are the
   * digest's). Before, a load failed "size mismatch" either way, as if the archive were damaged, and a store blob
   * gone bad could not be mended by loading a good archive again. (A copy damaged at its size is not noticed:
   * hashing every reused blob would read the whole image again.)
   */
  async reuseBlob(digest: string, size: number | undefined): Promise<boolean> {
    return (await this.reuseBlobs([digest])) && (size === undefined || this.hasBlobOfSize(digest, size));
  }

  /** Whether the store's copy of `digest` is here, of `size` bytes. */
  hasBlobOfSize(digest: string, size: number): boolean {
    return statSync(this.blobPath(digest), { throwIfNoEntry: false })?.size === size;
  }

  /**
   * Blobs a writer reuses instead of writing (a build's cached step, a pull's layer already here) marked as
   * written now (their mtime): a prune during its lease spares them as it spares what it wrote (gc.ts
   * `leasedBlobs`). False when one is gone, to be written again. A blob whose time is not ours to set (a
   * read-only layout) is there all the same.
   */
  async reuseBlobs(digests: string[]): Promise<boolean> {
    const now = new Date();
    const there = await Promise.all(
      digests.map((d) =>
        utimes(this.blobPath(d), now, now).then(
          () => true,
          (err: unknown) => {
            if (isErrno(err, "ENOENT")) return false;
            if (["EPERM", "EACCES", "EROFS"].some((code) => isErrno(err, code))) return this.hasBlob(d);
            throw err;
          },
        ),
      ),
    );
    return there.every(Boolean);
  }

  /**
   * Keeps an image's blobs for a reader under a lease (`save`, `push`): marked as reused (`reuseBlobs`) under the
   * index lock, which prune and rmi's sweep delete under, so either they went before — the digest of one that is
   * gone is returned, the image was removed meanwhile — or they stay until the lease ends, even if the image's name
   * goes (gc.ts `leasedBlobs`; containerd's export holds a lease the same way). Before session 54 a save or push
   * racing `image prune -a` or `rmi` failed mid-archive with a raw ENOENT (exit 1).
   */
  async holdBlobs(digests: string[]): Promise<string | undefined> {
    return withIndexLock(this.dir, async () => {
      for (const digest of digests) if (!(await this.reuseBlobs([digest]))) return digest;
      return undefined;
    });
  }

  /** Whole blob in memory: for manifests and configs (small, read on every run: sync). */
  async readBlob(digest: string): Promise<Buffer> {
    try {
      return readFileSync(this.blobPath(digest));
    } catch (err) {
      if (isErrno(err, "ENOENT")) throw new ImageError(`blob ${digest} is missing from ${this.label}`);
      throw err;
    }
  }

  async readJsonBlob<T>(digest: string): Promise<T> {
    const data = await this.readBlob(digest);
    try {
      return JSON.parse(data.toString("utf8")) as T;
    } catch (err) {
      throw new ImageError(`blob ${digest} is not valid JSON`, err);
    }
  }

  openBlob(digest: string): ReadStream {
    return createReadStream(this.blobPath(digest));
  }

  /**
   * Creates blobs/, oci-layout and the space reserve if missing; cheap when they exist. The reserve is
   * made here, before the first blob, not only after the first index write: a first pull that fills the
   * disk (its partial downloads kept for resume) left a store with neither, and prune could not write it.
   * `spaceReserve: false`: a layout made to be shipped and only read (the embedded busybox), where 64 KiB of
   * zeros would go into every package and site that carries it.
   */
  async init(options: { spaceReserve?: boolean } = {}): Promise<void> {
    await mkdir(join(this.dir, "blobs", "sha256"), { recursive: true });
    const marker = join(this.dir, "oci-layout");
    try {
      await stat(marker);
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
      await writeFileAtomic(marker, OCI_LAYOUT);
    }
    if (options.spaceReserve !== false) keepSpaceReserve(join(this.dir, SPACE_RESERVE), indexReserve(0));
  }

  /**
   * Stores a blob: content goes to a temp file, is hashed on the way,
   * fsynced, checked against `expected`, and only then renamed into place.
   * Returns the digest and size actually written. `signal` (Ctrl-C of a load) stops it between chunks, its temp removed.
   */
  async writeBlob(source: BlobSource, expected?: { digest: string; size?: number }, signal?: AbortSignal): Promise<{ digest: string; size: number }> {
    if (expected) {
      assertDigest(expected.digest, "expected");
      if (await this.reuseBlob(expected.digest, expected.size)) {
        if (!Buffer.isBuffer(source)) await drain(source);
        return { digest: expected.digest, size: statSync(this.blobPath(expected.digest)).size };
      }
    }
    // In the layout root (same fs as blobs/, so the rename is atomic), not in
    // blobs/: tools expect only digests there. Never a leftover dir to manage.
    await mkdir(join(this.dir, "blobs", "sha256"), { recursive: true });
    const tmp = join(this.dir, `${ownTempPrefix(BLOB_PREFIX)}${randomHex(8)}.tmp`);
    const { DigestCounter } = await import("./hash.js");
    const counter = new DigestCounter();
    const fh = await open(tmp, "wx", 0o644);
    let published = false;
    try {
      try {
        for await (const chunk of Buffer.isBuffer(source) ? [source] : source) {
          signal?.throwIfAborted();
          counter.update(chunk);
          await fh.write(chunk);
        }
        await syncHandle(fh);
      } finally {
        await fh.close();
      }
      const digest = counter.digest();
      if (expected && digest !== expected.digest) throw new ImageError(`blob digest mismatch: expected ${expected.digest}, got ${digest}`);
      if (expected?.size !== undefined && counter.size !== expected.size) {
        throw new ImageError(`blob ${digest} size mismatch: expected ${expected.size}, got ${counter.size}`);
      }
      signal?.throwIfAborted();
      await rename(tmp, this.blobPath(digest));
      published = true;
      return { digest, size: counter.size };
    } finally {
      if (!published) await unlink(tmp).catch(() => {});
    }
  }

  async writeJsonBlob(value: unknown, mediaType: string): Promise<Descriptor> {
    const data = Buffer.from(JSON.stringify(value));
    const { digest, size } = await this.writeBlob(data);
    return { mediaType, digest, size };
  }

  async readIndex(): Promise<ImageIndex> {
    let text: string;
    try {
      text = readFileSync(join(this.dir, "index.json"), "utf8");
    } catch (err) {
      if (isErrno(err, "ENOENT")) return emptyIndex();
      throw err;
    }
    let index: ImageIndex | undefined;
    try {
      index = JSON.parse(text) as ImageIndex;
    } catch (err) {
      throw new ImageError(`${join(this.dir, "index.json")} is not valid JSON${this.indexRemedy()}`, err);
    }
    if (!Array.isArray(index?.manifests)) throw new ImageError(`${join(this.dir, "index.json")} has no manifests list${this.indexRemedy()}`);
    return index;
  }

  /**
   * What to do about a damaged index.json (it names the images; every command reads it): the blobs and layers are
   * intact, only the names are lost. Said with the error, which gave no way out before. Prune must wait: with no
   * names it deletes every blob.
   */
  private indexRemedy(): string {
    const index = join(this.dir, "index.json");
    return `: the store's list of image names is damaged. Move it aside (mv ${index} ${index}.damaged), then pull or load your images again (their blobs and layers are kept and reused); run no prune before that, which would delete every blob no name reaches`;
  }

  /**
   * Read-modify-write of index.json under the layout's lock. `change` may
   * be async (it may write a blob the new index names, and check blobs are
   * still there: `prune` sweeps under the same lock).
   */
  async updateIndex(change: (index: ImageIndex) => ImageIndex | void | Promise<ImageIndex | void>): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await withIndexLock(this.dir, async () => {
      const before = JSON.stringify(await this.readIndex(), null, 2) + "\n";
      const index = JSON.parse(before) as ImageIndex;
      const text = JSON.stringify((await change(index)) ?? index, null, 2) + "\n";
      // Unchanged (a prune with nothing to untag): no write, which a full disk would refuse. An absent
      // index reads as empty and stays absent: a store whose first pull filled the disk has none, and its
      // prune must reach the sweep that frees the space (still write-then-rename when it does change).
      if (text === before) return;
      await this.writeIndexText(text, text.length <= before.length);
    });
  }

  /**
   * index.json replaced whole (write, then rename). On a full disk an index
   * that `shrinks` may use the space reserve: untagging and pruning, the way
   * out of a full disk, write the index before they can delete anything.
   */
  private async writeIndexText(text: string, shrinks: boolean): Promise<void> {
    const path = join(this.dir, "index.json");
    const reserve = join(this.dir, SPACE_RESERVE);
    for (let attempt = 0; ; attempt++) {
      try {
        await writeFileAtomic(path, text, { durable: true });
        break;
      } catch (err) {
        if (!isDiskFull(err)) throw err;
        if (attempt > 0 || !shrinks || !existsSync(reserve)) throw new ImageError(`no space left on device to write ${path}`, err);
        await unlink(reserve).catch(() => {});
      }
    }
    keepSpaceReserve(reserve, indexReserve(text.length));
  }
}

const MADE_HERE = "made-here";
const TAR_SIZES = "tar-sizes";

/** Space kept for the next index writes (fs-util.ts `keepSpaceReserve`). */
const SPACE_RESERVE = ".space-reserve";

/** The reserve's size: twice the index's, at least 64 KiB. */
function indexReserve(indexBytes: number): number {
  return Math.max(64 * 1024, 2 * indexBytes);
}

function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

async function drain(source: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of source);
}
