/**
 * File names are bytes on Linux, and a container or an image may use bytes
 * that are not UTF-8 (`caf\xe9`, as docker and podman carry them). tsbox
 * keeps names as strings, so each byte that is not part of valid UTF-8
 * becomes a lone surrogate U+DC80..U+DCFF (Python's "surrogateescape"): a
 * UTF-8 name is its usual string, `/` and `.` stay themselves (path checks
 * work unchanged), and the bytes come back exactly. Wherever a name meets
 * the outside (a tar header, a file system call, stdout) it goes through
 * `nameBytes` / `fsName`.
 */

// TextDecoder, not Buffer: the browser bundle reads tar names with this module too. ignoreBOM: a name may
// begin with U+FEFF's bytes, which a decoder would otherwise drop.
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });

/** A name's bytes as a string (invalid UTF-8 bytes escaped as U+DC80..U+DCFF). */
export function nameFromBytes(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    // not UTF-8: escaped byte by byte below
  }
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes, i);
    if (n === 0) out += String.fromCharCode(0xdc00 + bytes[i]!);
    else out += lenient.decode(bytes.subarray(i, i + n));
    i += Math.max(n, 1);
  }
  return out;
}

/** The bytes a name stands for (the inverse of nameFromBytes). */
export function nameBytes(name: string): Buffer {
  const bytes = nameToBytes(name);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const encoder = new TextEncoder();

/** nameBytes as a plain Uint8Array, for code that also runs in a browser (the 9p server). */
export function nameToBytes(name: string): Uint8Array {
  if (!hasRawBytes(name)) return encoder.encode(name);
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0xdc80 || c > 0xdcff || isHighSurrogate(name.charCodeAt(i - 1))) continue;
    parts.push(encoder.encode(name.slice(start, i)), Uint8Array.of(c - 0xdc00));
    start = i + 1;
  }
  parts.push(encoder.encode(name.slice(start)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A name for an fs call: the string itself when it is UTF-8, else its bytes. */
export function fsName(name: string): string | Buffer {
  return hasRawBytes(name) ? nameBytes(name) : name;
}

/** Whether a name holds bytes that are not UTF-8 (a lone surrogate: String.isWellFormed is not in ES2022). */
export function hasRawBytes(name: string): boolean {
  return SURROGATE.test(name) && LONE_SURROGATE.test(name);
}

const SURROGATE = /[\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The length of the valid UTF-8 sequence at `i` (0: the byte is not one). */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number): boolean => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const c1 = b[i + 1] ?? 0;
    // No overlong forms (E0 80..9F) and no encoded surrogates (ED A0..BF): those bytes are escaped one by one.
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return 0;
    return cont(1) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const c1 = b[i + 1] ?? 0;
    if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0;
    return cont(1) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
