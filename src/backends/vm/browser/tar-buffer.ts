/**
 * The few Buffer calls of src/image/tar.ts and src/image/chunk-reader.ts
 * (alloc, from, concat, isBuffer, toString in latin1/utf8), on a Uint8Array
 * subclass. The browser bundle hands exactly those two modules this
 * `Buffer` (scripts/bundle-browser.mjs), so the Worker reads layers with
 * the same tar reader as Node. Not a general Buffer.
 */
import { concat } from "../core/bytes.js";

const utf8 = new TextDecoder();

export class Buffer extends Uint8Array {
  static alloc(size: number): Buffer {
    return new Buffer(size);
  }

  static override from(bytes: Uint8Array): Buffer {
    return new Buffer(bytes);
  }

  static isBuffer(value: unknown): value is Buffer {
    return value instanceof Buffer;
  }

  static concat(list: readonly Uint8Array[]): Buffer {
    return new Buffer(concat(list).buffer as ArrayBuffer);
  }

  override toString(encoding: "utf8" | "latin1" = "utf8", start = 0, end = this.length): string {
    const part = this.subarray(start, end);
    if (encoding === "utf8") return utf8.decode(part);
    let s = "";
    for (const byte of part) s += String.fromCharCode(byte);
    return s;
  }
}
