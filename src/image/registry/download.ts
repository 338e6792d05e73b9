import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rmdir, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { abortError } from "../../abortable.js";
import { ImageError } from "../../errors.js";
import { isErrno, randomHex, syncHandle } from "../../fs-util.js";
import { DigestCounter } from "../hash.js";
import { blobWriteError, DOWNLOADS, downloadHolder, type OciLayout } from "../layout.js";
import type { Descriptor } from "../oci.js";
import { bodyChunks } from "./body.js";
import { pullScope, type RegistryClient, registryError } from "./client.js";
import { pidAlive } from "../../process-alive.js";
import { MAX_ATTEMPTS, retryDelay, waitToRetry } from "./retry.js";

export interface DownloadOptions {
  signal?: AbortSignal;
  /** Bytes of the blob on disk so far (including resumed ones), and its size. */
  onProgress?: (current: number, total: number) => void;
  /** Called once when an earlier partial download is picked up. */
  onResume?: (offset: number) => void;
  /** Called before a retry is waited for (a cut connection, a 429/503): the seconds to wait. */
  onRetry?: (seconds: number) => void;
}

/** A download cut off or ended short: the bytes so far are good, the rest may be asked for again. */
class Cut extends ImageError {}

/**
 * One download per blob at a time within this process: concurrent pulls of
 * the same image (`Promise.all(tests.map(() => rt.run(image)))` on a cold
 * cache) join the download under way instead of each fetching the blob again,
 * as moby's transfer manager shares a layer between pulls. Keyed by store and
 * registry: a pull from another registry fails or succeeds on its own. The
 * shared download has its own signal: a caller that aborts leaves (its call
 * rejects with its reason) and the download goes on for the others; only when
 * every caller has left is it aborted, keeping its bytes for a resume.
 */
export function downloadBlob(layout: OciLayout, client: RegistryClient, repo: string, blob: Descriptor, options: DownloadOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const key = `${layout.dir}\0${client.domain}\0${blob.digest}`;
  let shared = inFlight.get(key);
  if (!shared) {
    const started: SharedDownload = { controller: new AbortController(), callers: new Set(), done: Promise.resolve() };
    const fanOut = <A extends unknown[]>(pick: (o: DownloadOptions) => ((...args: A) => void) | undefined) => (...args: A) => {
      for (const caller of started.callers) pick(caller)?.(...args);
    };
    started.done = downloadOnce(layout, client, repo, blob, {
      signal: started.controller.signal,
      onProgress: (current, total) => ((started.progress = [current, total]), fanOut((o) => o.onProgress)(current, total)),
      onResume: fanOut((o) => o.onResume),
      onRetry: fanOut((o) => o.onRetry),
    }).finally(() => {
      if (inFlight.get(key) === started) inFlight.delete(key);
    });
    started.done.catch(() => {}); // each caller is given the outcome; none left must not make it unhandled
    inFlight.set(key, (shared = started));
  }
  return waitFor(shared, key, options);
}

interface SharedDownload {
  controller: AbortController;
  /** The callers waiting for it (their options: progress goes to each). */
  callers: Set<DownloadOptions>;
  done: Promise<void>;
  /** The last progress, for a caller that joins late. */
  progress?: [number, number];
}

/** Downloads under way in this process, by store, registry and digest. */
const inFlight = new Map<string, SharedDownload>();

/** Waits for a shared download as one of its callers; the caller's abort ends only its own wait (and the download once all have left). */
function waitFor(shared: SharedDownload, key: string, options: DownloadOptions): Promise<void> {
  // A Set of distinct objects: the same options object given twice still counts twice.
  const caller: DownloadOptions = { ...options };
  shared.callers.add(caller);
  if (shared.progress) caller.onProgress?.(...shared.progress);
  const { signal } = options;
  return new Promise<void>((resolve, reject) => {
    const leave = () => {
      shared.callers.delete(caller);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      leave();
      reject(abortError(signal!));
      if (shared.callers.size === 0) {
        // Nobody waits for it: stopped (its bytes kept for a resume), and a new caller starts afresh.
        if (inFlight.get(key) === shared) inFlight.delete(key);
        shared.controller.abort(signal!.reason);
      }
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    shared.done.then(
      () => (leave(), resolve()),
      (err: unknown) => (leave(), reject(err)),
    );
  });
}

/**
 * Downloads one blob into a layout, verified, resumable:
 *
 * * The content goes to `.downloads/<hex>.<pid>.<rand>.part`, private to this
 *   process; only after its size and sha256 match the descriptor is it fsynced
 *   and renamed to `blobs/sha256/<hex>`. Two processes pulling the same blob
 *   each write their own file and both renames publish identical content: no
 *   clash (within one process they share the download, above).
 * * When a download fails or is interrupted, the bytes so far are kept as
 *   `.downloads/<hex>.partial`. The next download of that blob claims it by
 *   renaming it to its own name (atomic: only one process wins), re-hashes it
 *   and asks for the rest with `Range: bytes=N-`. A registry that ignores the
 *   range (200) restarts the blob from scratch. The `.part` file of a process
 *   that died (SIGKILL) is claimed the same way once its pid is gone.
 * * Content that does not match its digest is deleted, never kept for resume.
 */
async function downloadOnce(layout: OciLayout, client: RegistryClient, repo: string, blob: Descriptor, options: DownloadOptions): Promise<void> {
  if (layout.hasBlobOfSize(blob.digest, blob.size)) return; // (another size: a damaged copy, replaced below)
  const hex = blob.digest.slice(7);
  const dir = join(layout.dir, DOWNLOADS);
  await mkdir(dir, { recursive: true });
  await mkdir(join(layout.dir, "blobs", "sha256"), { recursive: true });
  const mine = join(dir, `${hex}.${process.pid}.${randomHex(4)}.part`);
  let keep = true;
  let fh: FileHandle | undefined;
  try {
    const claimed = await claimPartial(dir, hex, mine);
    let counter = new DigestCounter();
    if (claimed) {
      for await (const chunk of createReadStream(mine)) counter.update(chunk as Buffer);
      if (counter.size > blob.size) counter = new DigestCounter();
    }
    fh = await open(mine, claimed ? "r+" : "wx", 0o644);
    if (counter.size === 0) await fh.truncate(0);
    else options.onResume?.(counter.size);

    const url = `/v2/${repo}/blobs/${blob.digest}`;
    const get = (from: number) =>
      client.request("GET", url, {
        headers: from > 0 ? { range: `bytes=${from}-` } : {},
        scopes: [pullScope(repo)],
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      });
    // The rest of the blob from counter.size; a cut connection or a short body throws a Cut.
    const file = fh;
    const receive = async (): Promise<void> => {
      let res = await get(counter.size);
      if (res.status === 416) {
        await res.body?.cancel().catch(() => {});
        counter = new DigestCounter();
        res = await get(0);
      }
      if (res.status !== 200 && res.status !== 206) throw await registryError(res, `blob ${blob.digest} of ${client.domain}/${repo}`);
      const start = res.status === 206 ? Number(/^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1] ?? NaN) : 0;
      if (start !== counter.size) {
        // A full body (200: the registry ignored the range) is read from its start; a range we did not ask for is
        // dropped and the whole blob asked for. (The full body was dropped too, and the pull failed with 0 bytes.)
        counter = new DigestCounter();
        if (start !== 0) {
          await res.body?.cancel().catch(() => {});
          res = await get(0);
          if (!res.ok) throw await registryError(res, `blob ${blob.digest} of ${client.domain}/${repo}`);
        }
      }
      if (counter.size === 0) await file.truncate(0);
      options.onProgress?.(counter.size, blob.size);
      const length = Number(res.headers.get("content-length") ?? NaN);
      let received = 0;
      try {
        for await (const chunk of bodyChunks(res, options.signal)) {
          const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          received += buf.length;
          if (counter.size + buf.length > blob.size) {
            keep = false;
            throw new ImageError(`blob ${blob.digest} from ${client.domain} is larger than its descriptor says (${blob.size} bytes)`);
          }
          await file.write(buf, 0, buf.length, counter.size).catch((err: unknown) => {
            // Ours, not the network's (a full disk): kept whole for the resume, said as what it is, the cause kept for the hint.
            throw blobWriteError(blob.digest, err, mine);
          });
          counter.update(buf);
          options.onProgress?.(counter.size, blob.size);
        }
      } catch (err) {
        if (err instanceof ImageError || (err as Error).name === "AbortError") throw err;
        throw new Cut(`download of blob ${blob.digest} from ${client.domain} was interrupted after ${counter.size} of ${blob.size} bytes: ${describe(err)}`);
      }
      if (counter.size !== blob.size) {
        // The whole answer came (its Content-Length) and is short: the registry's blob is of another size, which
        // no retry changes (they took 15 s to say so).
        if (received === length) {
          keep = false;
          throw new ImageError(`blob ${blob.digest} from ${client.domain} is ${counter.size} bytes, not the ${blob.size} its descriptor says (the registry's answer was complete)`);
        }
        throw new Cut(`download of blob ${blob.digest} from ${client.domain} ended early: ${counter.size} of ${blob.size} bytes`);
      }
    };
    // A cut download resumes at once, with a backoff, as docker's does (it failed the pull, and only the next resumed).
    for (let attempt = 1; counter.size < blob.size; attempt++) {
      try {
        await receive();
      } catch (err) {
        if (!(err instanceof Cut) || attempt >= MAX_ATTEMPTS) throw err;
        const seconds = retryDelay(attempt);
        options.onRetry?.(seconds);
        await waitToRetry(seconds, options.signal);
      }
    }
    const digest = counter.digest();
    if (digest !== blob.digest) {
      keep = false;
      throw new ImageError(`blob from ${client.domain}/${repo} does not match its digest: expected ${blob.digest}, got ${digest}`);
    }
    await syncHandle(fh);
    await fh.close();
    fh = undefined;
    await rename(mine, layout.blobPath(blob.digest));
    keep = false;
  } catch (err) {
    await fh?.close().catch(() => {});
    fh = undefined;
    if (keep) await rename(mine, join(dir, `${hex}.partial`)).catch(() => unlink(mine).catch(() => {}));
    else await unlink(mine).catch(() => {});
    throw err;
  } finally {
    await fh?.close().catch(() => {});
    await rmdir(dir).catch(() => {}); // only when empty: other downloads may be under way
  }
}

/** Takes over an interrupted download of `hex` by renaming it to `mine`; false when there is none. */
async function claimPartial(dir: string, hex: string, mine: string): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
  const candidates = names.filter((n) => n === `${hex}.partial` || (n.startsWith(`${hex}.`) && n.endsWith(".part") && !pidAlive(downloadHolder(n))));
  candidates.sort((a, b) => (a.endsWith(".partial") ? -1 : b.endsWith(".partial") ? 1 : 0));
  for (const name of candidates) {
    try {
      await rename(join(dir, name), mine);
      return true;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err; // someone else claimed it first
    }
  }
  return false;
}


function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
