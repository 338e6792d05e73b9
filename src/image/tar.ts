import { LayerError } from "../errors.js";
import { nameFromBytes } from "../name-bytes.js";
import { ChunkReader } from "./chunk-reader.js";
import { XATTR_PREFIX } from "./layer-paths.js";

/**
 * A streaming tar reader for image layers: ustar, pax extended headers
 * (path, linkpath, size, uid/gid, mtime; global and per-entry) and GNU
 * long names/links. Entries are yielded one at a time; an entry's body
 * must be consumed before asking for the next one, or it is skipped.
 */

export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "chardev" | "blockdev" | "fifo";

export interface TarEntry {
  /**
   * As stored (after pax/GNU overrides): may contain `./`, `..` or a leading `/`. Unpackers must sanitise it.
   * Bytes that are not UTF-8 are kept as src/name-bytes.ts escapes them (so is `linkname`).
   */
  path: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (fractional with pax). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** pax records that applied to this entry (e.g. `SCHILY.xattr.*`). */
  pax: Record<string, string>;
  /** File content (empty for other types). */
  body: AsyncIterable<Buffer>;
}

const BLOCK = 512;
/**
 * Metadata (pax records, GNU long names) is buffered, so it is bounded: one
 * entry's pending metadata, and the archive's global pax records, each at
 * most 1 MiB (Go's archive/tar, and so docker, refuses larger ones too).
 */
const MAX_META = 1024 * 1024;
const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file", // contiguous file: a plain file everywhere that matters
  "1": "hardlink",
  "2": "symlink",
  "3": "chardev",
  "4": "blockdev",
  "5": "directory",
  "6": "fifo",
};

export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const reader = new ChunkReader(source);
  let globalPax: Record<string, string> = {};
  let localPax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  let pendingMeta = 0;
  let globalMeta = 0;

  for (;;) {
    const header = await read(reader, BLOCK);
    if (header === null) return; // tolerate a missing end-of-archive marker
    if (isZeroBlock(header)) return; // end marker; trailing blocks are left to the caller
    verifyChecksum(header);

    const typeflag = String.fromCharCode(header[156]!);
    let size = numeric(header, 124, 12, "size");
    const pax = { ...globalPax, ...localPax };
    if (pax.size !== undefined) size = paxNumber(pax.size, "size");

    // Meta entries describe the next entry; their body is read here.
    if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
      const body = await readBody(reader, size);
      if (typeflag === "g") {
        globalMeta += body.length;
        if (globalMeta > MAX_META) throw new LayerError("tar global pax headers take more than 1 MiB");
      } else {
        pendingMeta += body.length;
        if (pendingMeta > MAX_META) throw new LayerError("tar pax and long-name headers of one entry take more than 1 MiB");
      }
      if (typeflag === "x") localPax = { ...localPax, ...parsePax(body) };
      else if (typeflag === "g") globalPax = { ...globalPax, ...parsePax(body) };
      else if (typeflag === "L") longName = cString(body);
      else longLink = cString(body);
      continue;
    }

    const type = TYPES[typeflag];
    const name = longName ?? pax.path ?? ustarPath(header);
    if (type === undefined) throw new LayerError(`unsupported tar entry type '${printable(typeflag)}' for ${name}`);

    // Only regular files have a body; other types may carry a size field that is
    // ignored, as Go's archive/tar (and so docker) does.
    const bodySize = type === "file" ? size : 0;
    let remaining = bodySize;
    const entry: TarEntry = {
      path: name,
      type,
      mode: numeric(header, 100, 8, "mode") & 0o7777,
      uid: pax.uid !== undefined ? paxNumber(pax.uid, "uid") : numeric(header, 108, 8, "uid"),
      gid: pax.gid !== undefined ? paxNumber(pax.gid, "gid") : numeric(header, 116, 8, "gid"),
      size: type === "file" ? size : 0,
      mtime: pax.mtime !== undefined ? paxTime(pax.mtime) : numeric(header, 136, 12, "mtime"),
      linkname: longLink ?? pax.linkpath ?? cString(header.subarray(157, 257)),
      devmajor: numeric(header, 329, 8, "devmajor"),
      devminor: numeric(header, 337, 8, "devminor"),
      pax,
      body: {
        async *[Symbol.asyncIterator]() {
          try {
            for await (const chunk of reader.chunks(remaining)) {
              remaining -= chunk.length;
              yield chunk;
            }
          } catch (err) {
            throw err instanceof LayerError ? err : new LayerError(`truncated tar archive: ${(err as Error).message}`);
          }
        },
      },
    };
    localPax = {};
    longName = undefined;
    longLink = undefined;
    pendingMeta = 0;

    yield entry;

    await skip(reader, remaining + padding(bodySize));
  }
}

async function read(reader: ChunkReader, n: number): Promise<Buffer | null> {
  try {
    return await reader.readExact(n);
  } catch (err) {
    throw new LayerError(`truncated tar archive: ${(err as Error).message}`);
  }
}

async function skip(reader: ChunkReader, n: number): Promise<void> {
  try {
    await reader.skip(n);
  } catch (err) {
    throw new LayerError(`truncated tar archive: ${(err as Error).message}`);
  }
}

async function readBody(reader: ChunkReader, size: number): Promise<Buffer> {
  if (size > MAX_META) throw new LayerError(`tar metadata entry too large (${size} bytes, at most 1 MiB)`);
  const body = (await read(reader, size + padding(size))) ?? Buffer.alloc(0);
  return body.subarray(0, size);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function verifyChecksum(header: Buffer): void {
  const stored = numeric(header, 148, 8, "checksum");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  if (sum !== stored) throw new LayerError("invalid tar header checksum (corrupt or not a tar archive)");
}

/** Octal (NUL/space padded) or GNU base-256 (high bit set) numeric field. */
function numeric(header: Buffer, offset: number, length: number, field: string): number {
  const first = header[offset]!;
  if (first & 0x80) {
    let value = first & 0x3f; // 0x40 would be the sign bit: negative values are invalid here
    if (first & 0x40) throw new LayerError(`negative base-256 tar ${field}`);
    for (let i = 1; i < length; i++) value = value * 256 + header[offset + i]!;
    if (!Number.isSafeInteger(value)) throw new LayerError(`tar ${field} too large`);
    return value;
  }
  const text = header.toString("latin1", offset, offset + length).replace(/[\0 ]+$/, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new LayerError(`invalid tar ${field} field: "${printable(text)}"`);
  return parseInt(text, 8);
}

function paxNumber(value: string, field: string): number {
  if (!/^\d+$/.test(value)) throw new LayerError(`invalid pax ${field}: "${printable(value)}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new LayerError(`pax ${field} too large`);
  return n;
}

function paxTime(value: string): number {
  const n = Number(value);
  if (!/^-?\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) throw new LayerError(`invalid pax mtime: "${printable(value)}"`);
  return n;
}

function ustarPath(header: Buffer): string {
  const name = cString(header.subarray(0, 100));
  // Only POSIX ustar ("ustar\0") has a prefix field; GNU tar reuses those bytes.
  const isUstar = header.toString("latin1", 257, 263) === "ustar\0";
  const prefix = isUstar ? cString(header.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

/** A NUL-terminated name: its bytes as they are (GNU tar and docker write names that are not UTF-8 raw). */
function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return nameFromBytes(buf.subarray(0, end < 0 ? buf.length : end));
}

/** pax records: "<len> <key>=<value>\n", len counting the whole record. */
export function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(body.toString("latin1", pos, space), 10);
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length) throw new LayerError("malformed pax header");
    const record = body.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq > 0) {
      const key = record.toString("utf8", 0, eq);
      // An xattr's value is bytes (see XATTR_PREFIX). A path is UTF-8 by the spec, but Go (docker) and
      // GNU tar (hdrcharset=BINARY) write a name's raw bytes: kept as bytes. Every other value is UTF-8 text.
      if (key.startsWith(XATTR_PREFIX)) out[key] = record.toString("latin1", eq + 1);
      else if (key === "path" || key === "linkpath") out[key] = nameFromBytes(record.subarray(eq + 1));
      else out[key] = record.toString("utf8", eq + 1);
    }
    pos += len;
  }
  return out;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
