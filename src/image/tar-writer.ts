/**
 * A tar writer producing POSIX ustar headers, with a pax extended header
 * when a path or link target does not fit. Output is a pure function of
 * the entries, so layers built from the same input hash the same. Names
 * are written as the bytes they stand for (src/name-bytes.ts): a name that
 * is not UTF-8 goes in raw, as docker's and GNU tar's do.
 */
import { nameBytes } from "../name-bytes.js";
import { XATTR_PREFIX } from "./layer-paths.js";

export interface TarWriteEntry {
  path: string;
  type: "file" | "directory" | "symlink" | "hardlink" | "chardev" | "blockdev" | "fifo";
  mode: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  /** Device numbers of a chardev or blockdev. */
  devmajor?: number;
  devminor?: number;
  /** Extra pax records (e.g. `SCHILY.xattr.user.x`), written in a pax header. */
  pax?: Record<string, string>;
  data?: Buffer;
}

const BLOCK = 512;
const TYPEFLAG = { file: "0", hardlink: "1", symlink: "2", chardev: "3", blockdev: "4", directory: "5", fifo: "6" } as const;

export class TarWriter {
  private readonly parts: Buffer[] = [];

  add(entry: TarWriteEntry): void {
    const data = entry.type === "file" ? (entry.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    this.parts.push(entryHeader(entry, data.length));
    if (data.length > 0) this.parts.push(pad(data));
  }

  /** The archive, with the two zero blocks that end it. */
  finish(): Buffer {
    this.parts.push(Buffer.alloc(2 * BLOCK));
    return Buffer.concat(this.parts);
  }
}

/**
 * The header block(s) of one entry (a pax header first when the path or link
 * target does not fit ustar). For streaming writers: the caller then writes
 * `size` bytes of body and `tarPadding(size)`.
 */
export function entryHeader(entry: Omit<TarWriteEntry, "data">, size: number): Buffer {
  const path = entry.type === "directory" && !entry.path.endsWith("/") ? entry.path + "/" : entry.path;
  const linkname = entry.linkname ?? "";
  const split = splitUstarPath(path);
  const pax: Record<string, string> = { ...entry.pax };
  if (!split) pax.path = path;
  // A name that is not UTF-8 goes in a pax record as its bytes, as Go's archive/tar (docker) writes it (no
  // hdrcharset=BINARY: GNU tar warns about that keyword, and reads the raw bytes as they are anyway).
  if (nameBytes(linkname).length > 100) pax.linkpath = linkname;
  if (size > 0o77777777777) pax.size = String(size);
  // Subordinate ids can exceed what 7 octal digits hold.
  if ((entry.uid ?? 0) > 0o7777777) pax.uid = String(entry.uid);
  if ((entry.gid ?? 0) > 0o7777777) pax.gid = String(entry.gid);
  const parts: Buffer[] = [];
  if (Object.keys(pax).length > 0) {
    const body = encodePax(pax);
    parts.push(header({ name: paxName(path), prefix: "", typeflag: "x", mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: entry.mtime, linkname: "" }), pad(body));
  }
  parts.push(
    header({
      name: split ? split.name : path.slice(-100),
      prefix: split ? split.prefix : "",
      typeflag: TYPEFLAG[entry.type],
      mode: entry.mode,
      uid: pax.uid ? 0 : (entry.uid ?? 0),
      gid: pax.gid ? 0 : (entry.gid ?? 0),
      uname: entry.uname,
      gname: entry.gname,
      size: pax.size ? 0 : size,
      mtime: entry.mtime,
      linkname: pax.linkpath ? linkname.slice(0, 100) : linkname,
      devmajor: entry.devmajor ?? 0,
      devminor: entry.devminor ?? 0,
    }),
  );
  return Buffer.concat(parts);
}

/** A pax extended header on its own ("x", or "g" for a global one): header block and padded body. */
export function paxHeader(records: Record<string, string>, global = false, mtime = 0): Buffer {
  const body = encodePax(records);
  return Buffer.concat([header({ name: global ? "GlobalHead" : "PaxHeaders/entry", prefix: "", typeflag: global ? "g" : "x", mode: 0o644, uid: 0, gid: 0, size: body.length, mtime, linkname: "" }), pad(body)]);
}

/** Zero bytes that complete a body of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

interface HeaderFields {
  name: string;
  prefix: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  uname?: string | undefined;
  gname?: string | undefined;
  size: number;
  mtime: number;
  linkname: string;
  devmajor?: number;
  devminor?: number;
}

function header(f: HeaderFields): Buffer {
  const h = Buffer.alloc(BLOCK);
  putName(h, 0, 100, f.name);
  octal(h, 100, 8, f.mode & 0o7777);
  octal(h, 108, 8, f.uid);
  octal(h, 116, 8, f.gid);
  octal(h, 124, 12, f.size);
  octal(h, 136, 12, Math.floor(f.mtime));
  h.write(f.typeflag, 156, 1, "latin1");
  putName(h, 157, 100, f.linkname);
  h.write("ustar\0", 257, 6, "latin1");
  h.write("00", 263, 2, "latin1");
  h.write(f.uname ?? "", 265, 32, "utf8");
  h.write(f.gname ?? "", 297, 32, "utf8");
  if (f.typeflag === "3" || f.typeflag === "4") {
    octal(h, 329, 8, f.devmajor ?? 0);
    octal(h, 337, 8, f.devminor ?? 0);
  }
  putName(h, 345, 155, f.prefix);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  return h;
}

/** A name's bytes, cut to the field (only a name that also has a pax record is ever cut). */
function putName(h: Buffer, offset: number, length: number, name: string): void {
  const bytes = nameBytes(name);
  let end = Math.min(bytes.length, length);
  // Not inside a UTF-8 character (as Buffer.write cut it: the same headers as before).
  if (end < bytes.length) while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  bytes.copy(h, offset, 0, end);
}

function octal(h: Buffer, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, "0");
  if (text.length > length - 1) throw new Error(`tar field too large: ${value}`);
  h.write(text + "\0", offset, length, "latin1");
}

/** ustar stores up to 155 bytes of directory prefix + 100 bytes of name. */
function splitUstarPath(path: string): { prefix: string; name: string } | undefined {
  if (nameBytes(path).length <= 100) return { prefix: "", name: path };
  for (let i = path.lastIndexOf("/", path.length - 2); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (nameBytes(prefix).length <= 155 && nameBytes(name).length <= 100 && name !== "") return { prefix, name };
  }
  return undefined;
}

function paxName(path: string): string {
  const base = path.replace(/\/$/, "").split("/").pop() ?? "entry";
  return `PaxHeaders/${base}`.slice(0, 100);
}

function encodePax(records: Record<string, string>): Buffer {
  const out: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    // An xattr's value is a byte string (see XATTR_PREFIX), a name its bytes; every other value is UTF-8 text.
    const bytes = key.startsWith(XATTR_PREFIX) ? Buffer.from(value, "latin1") : key === "path" || key === "linkpath" ? nameBytes(value) : Buffer.from(value, "utf8");
    const body = Buffer.concat([Buffer.from(` ${key}=`, "utf8"), bytes, Buffer.from("\n")]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    out.push(Buffer.from(String(len)), body);
  }
  return Buffer.concat(out);
}

function pad(data: Buffer): Buffer {
  const rest = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(rest)]);
}
