import { LayerError } from "../errors.js";
import { nameFromBytes } from "../name-bytes.js";
import { ChunkReader } from "./chunk-reader.js";
import { XATTR_PREFIX } from "./layer-paths.js";

/**
 * A streaming tar reader for image layers: ustar, pax extended headers
 * (path, linkpath, size, uid/gid, mtime; global and per-entry), GNU
 * long names/links and GNU sparse files (old GNU and pax forms). Entries are yielded one at a time; an entry's body
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
  /** Seconds since the epoch (fractional with pax); an earlier time reads as 0. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** pax records that applied to this entry (e.g. `SCHILY.xattr.*`). */
  pax: Record<string, string>;
  /** File content (empty for other types); a sparse file's holes read as zeros. */
  body: AsyncIterable<Buffer>;
  /**
   * A sparse file (GNU tar's pax forms): its data, each piece at its offset in the file, for a writer that leaves
   * the rest as holes (then truncates the file to `size`). Read this or `body`, not both.
   */
  fragments?: AsyncIterable<{ offset: number; data: Buffer }>;
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

    const type = typeflag === "S" ? "file" : TYPES[typeflag];
    let name = longName ?? pax.path ?? ustarPath(header);
    if (type === undefined) throw new LayerError(`unsupported tar entry type '${printable(typeflag)}' for ${name}`);

    // Only regular files have a body; other types may carry a size field that is
    // ignored, as Go's archive/tar (and so docker) does.
    const bodySize = type === "file" ? size : 0;
    let remaining = bodySize;
    const sparse = typeflag === "S" ? await oldGnuSparse(reader, header, name) : type === "file" ? sparseHeader(pax, name) : undefined;
    if (sparse) {
      name = sparse.name ?? name;
      let fragments = sparse.fragments;
      if (fragments === undefined) {
        const map = await readSparseMap(reader, bodySize, name);
        fragments = map.fragments;
        remaining -= map.bytes;
      }
      checkFragments(fragments, sparse.size, remaining, name);
      sparse.fragments = fragments;
    }
    const physical = async function* (n: number): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of reader.chunks(n)) {
          remaining -= chunk.length;
          yield chunk;
        }
      } catch (err) {
        throw truncated(err);
      }
    };
    const pieces = sparse ? sparsePieces(sparse.fragments!, sparse.size, physical) : undefined;
    const entry: TarEntry = {
      path: name,
      type,
      mode: numeric(header, 100, 8, "mode") & 0o7777,
      uid: pax.uid !== undefined ? paxNumber(pax.uid, "uid") : numeric(header, 108, 8, "uid"),
      gid: pax.gid !== undefined ? paxNumber(pax.gid, "gid") : numeric(header, 116, 8, "gid"),
      size: sparse ? sparse.size : bodySize,
      // Before 1970: the epoch, as docker (moby's system.Chtimes) and podman give such a file (Node's utimes took
      // a negative time as "now").
      mtime: Math.max(0, pax.mtime !== undefined ? paxTime(pax.mtime) : numeric(header, 136, 12, "mtime", true)),
      linkname: longLink ?? pax.linkpath ?? cString(header.subarray(157, 257)),
      devmajor: numeric(header, 329, 8, "devmajor"),
      devminor: numeric(header, 337, 8, "devminor"),
      pax,
      body: {
        async *[Symbol.asyncIterator]() {
          if (!pieces) return yield* physical(remaining);
          for await (const piece of pieces) yield piece.data;
        },
      },
      ...(pieces ? { fragments: { [Symbol.asyncIterator]: () => dataOnly(pieces) } } : {}),
    };
    localPax = {};
    longName = undefined;
    longLink = undefined;
    pendingMeta = 0;

    yield entry;

    await skip(reader, remaining + padding(bodySize));
  }
}

interface Fragment {
  offset: number;
  length: number;
}

/** A sparse file's real name (when the header's is a stand-in), size and map (the 1.0 form's is in its body). */
interface Sparse {
  name?: string;
  size: number;
  fragments?: Fragment[];
}

/**
 * GNU tar's pax sparse forms (tar --format=posix --sparse; Go's archive/tar reads them too): 0.0 (repeated
 * `GNU.sparse.offset`/`numbytes` records, parsePax joins them into a map), 0.1 (`GNU.sparse.map`, "off,len,…"),
 * both with `GNU.sparse.size`; 1.0 (`GNU.sparse.major=1`, `minor=0`, `realsize`, the map at the start of the
 * body: readSparseMap). The real name is `GNU.sparse.name` (the header's is `…/GNUSparseFile.<pid>/NAME`).
 * Undefined for a file that is not sparse.
 */
function sparseHeader(pax: Record<string, string>, name: string): Sparse | undefined {
  const major = pax["GNU.sparse.major"];
  const minor = pax["GNU.sparse.minor"];
  const map = pax["GNU.sparse.map"];
  let v1: boolean;
  if (major === "1" && minor === "0") v1 = true;
  else if ((major === "0" && (minor === "0" || minor === "1")) || (major === undefined && minor === undefined && map !== undefined)) v1 = false;
  else if (major !== undefined || minor !== undefined) throw new LayerError(`unsupported GNU sparse format ${printable(`${major}.${minor}`)} for ${name}`);
  else return undefined;
  const realSize = pax["GNU.sparse.realsize"] ?? pax["GNU.sparse.size"];
  if (realSize === undefined) throw new LayerError(`sparse file ${name} has no GNU.sparse.realsize record`);
  const out = { size: paxNumber(realSize, "GNU.sparse size"), ...(pax["GNU.sparse.name"] ? { name: pax["GNU.sparse.name"] } : {}) };
  if (v1) return out;
  const numbers = map === undefined || map === "" ? [] : map.split(",").map((n) => paxNumber(n, "GNU.sparse.map"));
  if (numbers.length % 2 !== 0) throw new LayerError(`sparse file ${name}: its map has an odd count of numbers`);
  const blocks = pax["GNU.sparse.numblocks"];
  if (blocks !== undefined && paxNumber(blocks, "GNU.sparse.numblocks") * 2 !== numbers.length) throw new LayerError(`sparse file ${name}: GNU.sparse.numblocks does not match its map`);
  return { ...out, fragments: pairs(numbers) };
}

/**
 * The old GNU form (typeflag 'S', tar --format=gnu --sparse): the real size at 483 and four fragments (offset,
 * length: 12 bytes each) at 386 in the header; a flag at 482 says that blocks of 21 more follow it (flag at 504).
 */
async function oldGnuSparse(reader: ChunkReader, header: Buffer, name: string): Promise<Sparse> {
  const fragments: Fragment[] = [];
  const entries = (block: Buffer, at: number, count: number) => {
    for (let i = 0; i < count && block[at + i * 24] !== 0; i++) {
      fragments.push({ offset: numeric(block, at + i * 24, 12, "sparse offset"), length: numeric(block, at + i * 24 + 12, 12, "sparse length") });
    }
  };
  entries(header, 386, 4);
  let bytes = 0;
  for (let more = header[482] !== 0; more; ) {
    bytes += BLOCK;
    if (bytes > MAX_META) throw new LayerError(`sparse file ${name}: its map takes more than 1 MiB`);
    const block = (await read(reader, BLOCK)) ?? Buffer.alloc(0);
    if (block.length < BLOCK) throw new LayerError("truncated tar archive: a sparse map block is missing");
    entries(block, 0, 21);
    more = block[504] !== 0;
  }
  return { size: numeric(header, 483, 12, "sparse real size"), fragments };
}

/** The 1.0 form's map: decimal numbers, one a line (the count, then offset and length of each fragment), in whole blocks. */
async function readSparseMap(reader: ChunkReader, bodySize: number, name: string): Promise<{ fragments: Fragment[]; bytes: number }> {
  const numbers: number[] = [];
  let want = 1;
  let text = "";
  let bytes = 0;
  while (numbers.length < want) {
    if (bytes + BLOCK > bodySize) throw new LayerError(`sparse file ${name}: its map runs past the entry's data`);
    if (bytes + BLOCK > MAX_META) throw new LayerError(`sparse file ${name}: its map takes more than 1 MiB`);
    text += (await read(reader, BLOCK))!.toString("latin1");
    bytes += BLOCK;
    for (let nl = text.indexOf("\n"); nl >= 0 && numbers.length < want; nl = text.indexOf("\n")) {
      numbers.push(paxNumber(text.slice(0, nl), "GNU.sparse map"));
      text = text.slice(nl + 1);
      if (numbers.length === 1) want = 1 + 2 * numbers[0]!;
    }
    if (numbers.length < want && text.length > 20) throw new LayerError(`sparse file ${name}: malformed map`); // (no number has more than 16 digits)
  }
  return { fragments: pairs(numbers.slice(1)), bytes };
}

function pairs(numbers: number[]): Fragment[] {
  const out: Fragment[] = [];
  for (let i = 0; i + 1 < numbers.length; i += 2) out.push({ offset: numbers[i]!, length: numbers[i + 1]! });
  return out;
}

/** In order, apart, within the file, and exactly the data the entry holds (as Go's archive/tar requires). */
function checkFragments(fragments: Fragment[], size: number, dataSize: number, name: string): void {
  let end = 0;
  let data = 0;
  for (const f of fragments) {
    if (f.offset < end) throw new LayerError(`sparse file ${name}: its map's fragments overlap or are out of order`);
    end = f.offset + f.length;
    if (end > size) throw new LayerError(`sparse file ${name}: its map reaches past the file's size (${size} bytes)`);
    data += f.length;
  }
  if (data !== dataSize) throw new LayerError(`sparse file ${name}: its map names ${data} bytes of data, the entry holds ${dataSize}`);
}

/** The zeros a sparse file's holes read as (one buffer, sliced; never written to), made at the first hole. */
let zeros: Buffer | undefined;

/** A sparse file in order: its data (read from the archive) and its holes (`hole`), each at its offset. */
async function* sparsePieces(fragments: Fragment[], size: number, physical: (n: number) => AsyncGenerator<Buffer>): AsyncGenerator<{ offset: number; data: Buffer; hole: boolean }> {
  let at = 0;
  const holeTo = function* (to: number) {
    const hole = (zeros ??= Buffer.alloc(1 << 20));
    for (; at < to; at += Math.min(hole.length, to - at)) yield { offset: at, data: hole.subarray(0, Math.min(hole.length, to - at)), hole: true };
  };
  for (const f of fragments) {
    yield* holeTo(f.offset);
    for await (const chunk of physical(f.length)) {
      yield { offset: at, data: chunk, hole: false };
      at += chunk.length;
    }
  }
  yield* holeTo(size);
}

async function* dataOnly(pieces: AsyncIterable<{ offset: number; data: Buffer; hole: boolean }>): AsyncGenerator<{ offset: number; data: Buffer }> {
  for await (const p of pieces) if (!p.hole) yield { offset: p.offset, data: p.data };
}

/** A failed read of the archive's bytes; a LayerError of its source (a decompressor, a cap) as it is. */
function truncated(err: unknown): LayerError {
  return err instanceof LayerError ? err : new LayerError(`truncated tar archive: ${(err as Error).message}`);
}

async function read(reader: ChunkReader, n: number): Promise<Buffer | null> {
  try {
    return await reader.readExact(n);
  } catch (err) {
    throw truncated(err);
  }
}

async function skip(reader: ChunkReader, n: number): Promise<void> {
  try {
    await reader.skip(n);
  } catch (err) {
    throw truncated(err);
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

/**
 * Octal (NUL/space padded) or GNU base-256 (high bit set) numeric field. Base-256 is two's complement (0x40 the
 * sign): a negative value is refused, but for a `signed` field (an mtime before 1970, as GNU tar writes one).
 */
function numeric(header: Buffer, offset: number, length: number, field: string, signed = false): number {
  const first = header[offset]!;
  if (first & 0x80) {
    // A negative number is -x-1, x its bits inverted (Go's archive/tar reads it so).
    const invert = first & 0x40 ? 0xff : 0;
    if (invert && !signed) throw new LayerError(`negative base-256 tar ${field}`);
    let value = (first ^ invert) & 0x3f;
    for (let i = 1; i < length; i++) value = value * 256 + (header[offset + i]! ^ invert);
    if (!Number.isSafeInteger(value)) throw new LayerError(`tar ${field} too large`);
    return invert ? -value - 1 : value;
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
  // GNU sparse 0.0 repeats `GNU.sparse.offset` and `GNU.sparse.numbytes`, in turn: joined into a 0.1 map (as Go does).
  const sparseMap: string[] = [];
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
      if (key === "GNU.sparse.offset" || key === "GNU.sparse.numbytes") {
        if ((key === "GNU.sparse.offset") !== (sparseMap.length % 2 === 0)) throw new LayerError("malformed pax header: GNU.sparse.offset and numbytes out of turn");
        sparseMap.push(record.toString("latin1", eq + 1));
        pos += len;
        continue;
      }
      // An xattr's value is bytes (see XATTR_PREFIX). A path is UTF-8 by the spec, but Go (docker) and
      // GNU tar (hdrcharset=BINARY) write a name's raw bytes: kept as bytes. Every other value is UTF-8 text.
      if (key.startsWith(XATTR_PREFIX)) out[key] = record.toString("latin1", eq + 1);
      else if (key === "path" || key === "linkpath") out[key] = nameFromBytes(record.subarray(eq + 1));
      else out[key] = record.toString("utf8", eq + 1);
    }
    pos += len;
  }
  if (sparseMap.length > 0) out["GNU.sparse.map"] = sparseMap.join(",");
  return out;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
