/**
 * The record streams tsbox-runtime's `copy` reads and writes
 * (native-rs/container/src/copy): one JSON header line per entry, then a
 * file's bytes — of a sparse file (`data`), only its data extents' bytes,
 * so two helpers piped together pass holes as nothing. Here they become, and come from, the tar entries of
 * src/image/tar.ts, so `cp … -`, `export`, `commit` and `import` share one
 * tar reader and writer.
 */
import type { Writable } from "node:stream";
import { LayerError } from "../errors.js";
import { ChunkReader } from "../image/chunk-reader.js";
import type { TarEntry, TarEntryType } from "../image/tar.js";
import { entryHeader, tarPadding } from "../image/tar-writer.js";
import { XATTR_PREFIX, xattrBytes } from "../image/layer-paths.js";
import { hasRawBytes, nameBytes, nameFromBytes } from "../name-bytes.js";
import { writeTo } from "../stream-write.js";

/** A record's type: tar's, plus an overlay whiteout (upper layers only). */
export type RecordType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo" | "whiteout";

export interface CopyRecord {
  path: string;
  type: RecordType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /** The file's length. */
  size: number;
  /** A sparse file's data extents ([offset, length], increasing, apart, within size): only their bytes follow, the rest are holes. */
  data?: [number, number][];
  link?: string;
  /** A directory that hides the layers below it. */
  opaque?: boolean;
  major?: number;
  minor?: number;
  /** A file's or directory's extended attributes: name → value in hex (only those {@link carriedXattr} allows). */
  xattrs?: Record<string, string>;
}

/**
 * Whether an extended attribute travels in a copy, and so in a committed
 * layer or an export (`SCHILY.xattr.*`): `user.*`, `trusted.*`, a file
 * capability and POSIX ACLs, never overlay's own markers (an upper dir's
 * whiteouts and opaque dirs are records of their own) nor a host's labels.
 * The Rust side has the same rule (copy/record.rs `carried`; the contract
 * fixture copy-records.json holds both to it).
 */
export function carriedXattr(name: string): boolean {
  if (/^(trusted|user)\.overlay\./.test(name) || name.includes("\0")) return false;
  return /^(user|trusted)\./.test(name) || ["security.capability", "system.posix_acl_access", "system.posix_acl_default"].includes(name);
}

/**
 * On the wire a name that is not UTF-8 travels as `pathHex` / `linkHex`
 * (its bytes in hex: JSON text cannot hold them; see record.rs); here it is
 * a string as src/name-bytes.ts escapes it.
 */
type WireRecord = CopyRecord & { pathHex?: string; linkHex?: string };

const HEX = /^(?:[0-9a-f]{2})*$/;

function fromWire(w: WireRecord): CopyRecord {
  const { pathHex, linkHex, ...record } = w;
  const bytes = (hex: string): string => {
    if (!HEX.test(hex)) throw new LayerError("malformed hex name");
    return nameFromBytes(Buffer.from(hex, "hex"));
  };
  if (pathHex !== undefined) record.path = bytes(pathHex);
  if (linkHex !== undefined) record.link = bytes(linkHex);
  if (typeof record.path !== "string") throw new LayerError("copy record without a path");
  const xattrs = record.xattrs === undefined ? undefined : wireXattrs(record.xattrs);
  if (xattrs) record.xattrs = xattrs;
  else delete record.xattrs;
  return record;
}

/** A record's `xattrs` as the Rust parser takes them: an object of hex values, the carried names kept. */
function wireXattrs(x: unknown): Record<string, string> | undefined {
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw new LayerError("malformed copy record (xattrs)");
  const kept = Object.entries(x as Record<string, unknown>).filter(([name, value]) => {
    if (typeof value !== "string" || !HEX.test(value)) throw new LayerError("malformed copy record (xattrs)");
    return carriedXattr(name);
  });
  return kept.length > 0 ? (Object.fromEntries(kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as Record<string, string>) : undefined;
}

function toWire(r: CopyRecord): WireRecord {
  const w: WireRecord = { ...r };
  if (hasRawBytes(r.path)) {
    w.pathHex = nameBytes(r.path).toString("hex");
    delete (w as Partial<WireRecord>).path;
  }
  if (r.link !== undefined && hasRawBytes(r.link)) {
    w.linkHex = nameBytes(r.link).toString("hex");
    delete w.link;
  }
  return w;
}

/**
 * Refuses a record outside `name`, the name its reader was asked for: its
 * path, and a hard link's target, must be `name` or below it ("": anything
 * below the target); `..` and absolute paths never are. `cp CTR:SRC DEST`
 * writes below DEST's parent, and a vm guest's stream is not trusted
 * (docs/security.md). The native writer's rule too (write.rs `asked`;
 * contract: copy-records.json `scoped`).
 */
export function assertAsked(r: Pick<CopyRecord, "path" | "type" | "link">, name: string): void {
  for (const path of r.type === "hardlink" ? [r.path, r.link ?? ""] : [r.path]) {
    if (!isBelow(path, name)) throw new LayerError(`refusing to write ${path}: the copy stream may hold only ${name} and what is below it`);
  }
}

function isBelow(path: string, name: string): boolean {
  const parts = (p: string) => p.split("/").filter((c) => c !== "" && c !== ".");
  const [have, want] = [parts(path), parts(name)];
  if (path.startsWith("/") || have.includes("..")) return false;
  return have.length >= want.length && want.every((c, i) => have[i] === c);
}

const TO_TAR: Record<Exclude<RecordType, "whiteout">, TarEntryType> = {
  file: "file",
  dir: "directory",
  symlink: "symlink",
  hardlink: "hardlink",
  char: "chardev",
  block: "blockdev",
  fifo: "fifo",
};

/** Records of a stream, each with its body (consume it before asking for the next); `content: false` streams carry none. A sparse file's body has its holes filled with zeros. */
export async function* readRecords(source: AsyncIterable<Buffer>, options: { content?: boolean } = {}): AsyncGenerator<CopyRecord & { body: AsyncIterable<Buffer> }> {
  const reader = new ChunkReader(source);
  for (let n = 1; ; n++) {
    const line = await reader.readLine();
    if (line === null) return;
    let record: CopyRecord;
    try {
      record = fromWire(JSON.parse(line.toString("utf8")) as WireRecord);
    } catch (err) {
      // Not its bytes: a stream that is no record stream at all may be any file (a vm guest's kept layer linked to /etc/shadow).
      const what = err instanceof LayerError && err.message.startsWith("malformed copy record (") ? err.message : "malformed copy record";
      throw new LayerError(`${what} (record ${n} of the stream)`);
    }
    const extents = record.type === "file" ? dataExtents(record) : [];
    let left = options.content === false ? 0 : extents.reduce((n, [, len]) => n + len, 0);
    const body = {
      async *[Symbol.asyncIterator]() {
        if (options.content === false) return;
        let at = 0;
        for (const [offset, len] of extents) {
          yield* zeros(offset - at);
          for await (const chunk of reader.chunks(len)) {
            left -= chunk.length;
            yield chunk;
          }
          at = offset + len;
        }
        yield* zeros(record.size - at);
      },
    };
    yield { ...record, body };
    await reader.skip(left);
  }
}

/** What a file record's body holds: its `data`, checked as the Rust writer checks it, or all of it. */
function dataExtents(r: CopyRecord): [number, number][] {
  if (r.data === undefined) return r.size > 0 ? [[0, r.size]] : [];
  let end = 0;
  const ok =
    Array.isArray(r.data) &&
    r.data.every((e) => {
      const fits = Array.isArray(e) && e.length === 2 && e.every(Number.isSafeInteger) && e[1] > 0 && e[0] >= end && e[0] + e[1] <= r.size;
      if (fits) end = e[0] + e[1];
      return fits;
    });
  if (!ok) throw new LayerError(`malformed copy record (data): ${JSON.stringify(r).slice(0, 200)}`);
  return r.data;
}

const ZEROS = Buffer.alloc(64 * 1024);

/** `n` zero bytes as slices of one shared (never written) buffer. */
function* zeros(n: number): Generator<Buffer> {
  for (let left = n; left > 0; left -= ZEROS.length) yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
}

/** A record as a tar entry (whiteouts have no tar form of their own: see commit). */
export function recordToTar(r: CopyRecord, body: AsyncIterable<Buffer>): TarEntry {
  if (r.type === "whiteout") throw new LayerError(`a whiteout (${r.path}) cannot be copied`);
  return {
    path: r.path,
    type: TO_TAR[r.type],
    mode: r.mode,
    uid: r.uid,
    gid: r.gid,
    size: r.type === "file" ? r.size : 0,
    mtime: r.mtime,
    linkname: r.link ?? "",
    devmajor: r.major ?? 0,
    devminor: r.minor ?? 0,
    pax: Object.fromEntries(Object.entries(r.xattrs ?? {}).map(([name, hex]) => [XATTR_PREFIX + name, Buffer.from(hex, "hex").toString("latin1")])),
    body,
  };
}

/** A tar entry's `SCHILY.xattr.*` records as a record's `xattrs` (the carried ones; none: undefined). */
function tarXattrs(e: TarEntry): Record<string, string> | undefined {
  const found = Object.entries(e.pax)
    .filter(([key]) => key.startsWith(XATTR_PREFIX) && carriedXattr(key.slice(XATTR_PREFIX.length)))
    .map(([key, value]) => [key.slice(XATTR_PREFIX.length), Buffer.from(xattrBytes(value)).toString("hex")]);
  return found.length > 0 ? Object.fromEntries(found) : undefined;
}

/** The pax records of a tar entry a copy writes again: its xattrs (path, size and the rest are the header's own). */
function xattrRecords(e: TarEntry): Record<string, string> {
  return Object.fromEntries(Object.entries(e.pax).filter(([key]) => key.startsWith(XATTR_PREFIX)));
}

/** A tar entry as a record: its header line. */
export function tarToRecordHeader(e: TarEntry): Buffer {
  const type = (Object.entries(TO_TAR).find(([, t]) => t === e.type)?.[0] ?? "file") as RecordType;
  const record: CopyRecord = { path: e.path, type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: Math.floor(e.mtime), size: e.type === "file" ? e.size : 0 };
  if (e.linkname) record.link = e.linkname;
  if (type === "char" || type === "block") Object.assign(record, { major: e.devmajor, minor: e.devminor });
  const xattrs = type === "file" || type === "dir" ? tarXattrs(e) : undefined;
  if (xattrs) record.xattrs = xattrs;
  return recordHeader(record);
}

/** A record's header line, as the Rust side reads it (a name that is not UTF-8 as `pathHex`). */
export function recordHeader(record: CopyRecord): Buffer {
  return Buffer.from(JSON.stringify(toWire(record)) + "\n");
}

/** Tar entries → a record stream on `out` (not ended). */
export async function writeRecordsFromTar(entries: AsyncIterable<TarEntry>, out: Writable): Promise<void> {
  for await (const e of entries) {
    await writeTo(out, tarToRecordHeader(e));
    if (e.type === "file") for await (const chunk of e.body) await writeTo(out, chunk);
  }
}

/** A tar entry written (header, body, padding) to `out`. */
export async function writeTarEntry(out: Writable, e: TarEntry): Promise<void> {
  const type = e.type as "file" | "directory" | "symlink" | "hardlink" | "chardev" | "blockdev" | "fifo";
  await writeTo(out, entryHeader({ path: e.path, type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: Math.floor(e.mtime), linkname: e.linkname, devmajor: e.devmajor, devminor: e.devminor, pax: xattrRecords(e) }, e.type === "file" ? e.size : 0));
  if (e.type !== "file") return;
  let written = 0;
  for await (const chunk of e.body) {
    written += chunk.length;
    await writeTo(out, chunk);
  }
  if (written !== e.size) throw new LayerError(`${e.path}: ${written} bytes where ${e.size} were announced`);
  await writeTo(out, tarPadding(e.size));
}

/** The two zero blocks that end a tar archive. */
export function writeTarEnd(out: Writable): Promise<void> {
  return writeTo(out, Buffer.alloc(1024));
}
