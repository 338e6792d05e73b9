import { spawn } from "node:child_process";
import type { FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";
import * as zlib from "node:zlib";
import { LayerError } from "../errors.js";
import { writeTo } from "../stream-write.js";

export type Compression = "gzip" | "zstd" | "none";

/**
 * Reads stay at 64 KiB: 1 MiB reads gunzip a real layer ~0.2 s faster but
 * hold libuv's pool threads long enough to stall concurrent downloads.
 */
const READ_CHUNK = 64 * 1024;
const INFLATE_CHUNK = 256 * 1024;

/** Layers are recognised by their magic bytes, not their media type (which registries get wrong). */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

/** What a whole archive may be compressed with: docker's load, import and ADD take each (moby `archive.DecompressStream`). */
export type ArchiveCompression = Compression | "bzip2" | "xz";
type ToolCompression = Exclude<ArchiveCompression, "gzip" | "none">;

/**
 * node:zlib's decompressor for `kind`: gzip always, zstd where Node has it (22.15+ / 23.8+: the host's zstd tool
 * is then not needed, which a macOS or Windows user of the vm backend rarely has); undefined: a host tool's work.
 */
function zlibDecompressor(kind: ArchiveCompression): import("node:stream").Transform | undefined {
  if (kind === "gzip") return zlib.createGunzip({ chunkSize: INFLATE_CHUNK });
  const zstd = (zlib as unknown as { createZstdDecompress?: (o: { chunkSize: number }) => import("node:stream").Transform }).createZstdDecompress;
  return kind === "zstd" && zstd ? zstd({ chunkSize: INFLATE_CHUNK }) : undefined;
}

/** A node:zlib failure (gzip's Z_… codes, zstd's ZSTD_error_…): the data is not valid. */
function isZlibError(err: unknown): boolean {
  return err instanceof Error && /^(Z_|ZSTD_)/.test(String((err as NodeJS.ErrnoException).code ?? ""));
}

/** The host tools for what node:zlib cannot decompress (zstd: before Node 22.15), and the package that has each. */
export const DECOMPRESS_TOOLS: Record<ToolCompression, { command: string; args: string[]; package: string }> = {
  bzip2: { command: "bzip2", args: ["-d", "-c", "-q"], package: "bzip2" },
  xz: { command: "xz", args: ["-d", "-c", "-q"], package: "xz-utils" },
  zstd: { command: "zstd", args: ["-d", "-c", "-q", "--no-progress"], package: "zstd" },
};

/** An archive's compression by its magic bytes: a layer's kinds, and bzip2 and xz. */
export function archiveCompression(head: Uint8Array): ArchiveCompression {
  const kind = detectCompression(head);
  if (kind !== "none") return kind;
  if (head.length >= 4 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && head[3]! >= 0x31 && head[3]! <= 0x39) return "bzip2"; // "BZh1".."BZh9"
  if (head.length >= 6 && [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00].every((b, i) => head[i] === b)) return "xz";
  return "none";
}

/**
 * A whole archive's stream, its compression read from its first bytes (held back until there are enough: six, or
 * `atLeast`), and whether it had any bytes at all. `data` yields every byte, the first ones (`head`) included.
 */
export async function sniffCompression(source: AsyncIterable<Buffer>, atLeast = 6): Promise<{ kind: ArchiveCompression; empty: boolean; head: Buffer; data: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const held: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < atLeast) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    held.push(Buffer.from(r.value));
    length += r.value.length;
  }
  const head = Buffer.concat(held);
  const data = (async function* () {
    if (head.length > 0) yield head;
    if (!ended) for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value);
  })();
  return { kind: archiveCompression(head), empty: head.length === 0, head, data };
}

/** The host lacks the tool a compression needs: the message names the package to install. */
export class MissingToolError extends LayerError {
  constructor(kind: ToolCompression) {
    const tool = DECOMPRESS_TOOLS[kind];
    super(`unpacking ${kind}-compressed archives needs the ${tool.command} tool, which is not installed: install ${tool.package}, or decompress the archive first`);
  }
}

/**
 * The decompressed bytes of `source` (compressed with `kind`): gzip through node:zlib, the others through
 * their host tool, fed on its stdin. Invalid data is a one-line LayerError ("not valid xz: …"), a missing
 * tool a MissingToolError; an error of `source` is rethrown as it is. A reader that stops early ends the work.
 */
export async function* decompress(kind: ArchiveCompression, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  if (kind === "none") return yield* source;
  const gunzip = zlibDecompressor(kind);
  const tool = gunzip ? undefined : DECOMPRESS_TOOLS[kind as ToolCompression];
  const child = tool ? spawn(tool.command, tool.args, { stdio: ["pipe", "pipe", "pipe"] }) : undefined;
  let stderr = "";
  child?.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child?.stdin!.on("error", () => {}); // EPIPE: the tool stopped reading (bad data), its exit status says why
  const exited = child
    ? new Promise<number | null>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code) => resolve(code));
      })
    : Promise.resolve(0);
  exited.catch(() => {}); // observed below
  const input = (gunzip ?? child!.stdin!) as Writable;
  const output = (gunzip ?? child!.stdout!) as AsyncIterable<Buffer>;
  const stop = () => {
    gunzip?.destroy();
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  let sourceError: unknown;
  const feeding = (async () => {
    const it = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) return void input.end();
        await writeTo(input, r.value).catch(() => undefined); // a decompressor that stopped reports through its output
        if (input.destroyed) return;
      }
    } catch (err) {
      sourceError = err;
      stop();
    } finally {
      await it.return?.().catch(() => {});
    }
  })();
  try {
    for await (const chunk of output) yield chunk;
    await feeding;
    if (sourceError !== undefined) throw sourceError;
    const code = await exited;
    if (code !== 0) throw new LayerError(`not valid ${kind}: ${stderr.trim().split("\n").pop() || `${tool!.command} exited with ${code}`}`);
  } catch (err) {
    if (sourceError !== undefined) throw sourceError;
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && tool) throw new MissingToolError(kind as ToolCompression);
    if (isZlibError(err)) throw new LayerError(`not valid ${kind}: ${(err as Error).message}`);
    throw err;
  } finally {
    stop(); // not awaiting the feeder: it may wait on an idle stdin; its next chunk finds the input gone
  }
}

export interface Decompressed {
  stream: AsyncIterable<Buffer>;
  /** Resolves once the decompressor finished cleanly (zstd: exit status 0). */
  done(): Promise<void>;
  /** A decompression failure as a one-line LayerError; other errors unchanged. */
  translate(err: unknown): unknown;
  destroy(): void;
}

/**
 * The uncompressed tar of a layer blob: through node:zlib (gzip; zstd where this Node has it), else zstd
 * through the host's `zstd` tool.
 */
export async function decompressedStream(file: FileHandle, path: string, digest: string): Promise<Decompressed> {
  const { buffer, bytesRead } = await file.read(Buffer.alloc(4), 0, 4, 0);
  const kind = detectCompression(buffer.subarray(0, bytesRead));
  // Large inflate chunks: each one is a round trip to zlib's thread and a turn
  // of the tar parser; 16 KiB (the default) costs 2x the gunzip time on a real layer.
  const raw = file.createReadStream({ start: 0, autoClose: false, highWaterMark: READ_CHUNK });
  if (kind === "none") {
    return { stream: raw, done: async () => {}, translate: (e) => e, destroy: () => raw.destroy() };
  }
  const gunzip = zlibDecompressor(kind);
  if (gunzip) {
    raw.on("error", (err) => gunzip.destroy(err));
    raw.pipe(gunzip);
    return {
      stream: gunzip,
      done: async () => {},
      translate: (err) => (isZlibError(err) ? new LayerError(`layer ${digest} is not valid ${kind}: ${(err as Error).message}`) : err),
      destroy: () => {
        raw.destroy();
        gunzip.destroy();
      },
    };
  }
  raw.destroy();
  const zstd = DECOMPRESS_TOOLS.zstd;
  const child = spawn(zstd.command, [...zstd.args, path], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", (err) => {
      reject(isMissing(err) ? new LayerError(`layer ${digest} is zstd-compressed: zstd layers need the zstd tool (install ${zstd.package})`) : err);
    });
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new LayerError(`layer ${digest} is not valid zstd: ${stderr.trim().split("\n").pop() || `zstd exited with ${code ?? signal}`}`));
    });
  });
  exited.catch(() => {}); // observed through done()
  return {
    stream: (async function* () {
      try {
        for await (const chunk of child.stdout) yield chunk as Buffer;
      } finally {
        // The stream ended: a failed zstd is reported by done(), or here when the data ran out.
      }
      await exited;
    })(),
    done: () => exited,
    translate: (err) => err,
    destroy: () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

// The caps live in layer-limits.ts (no zlib, no child_process: the store reads them to bound a claimed layer size).
export { DEFAULT_LAYER_LIMITS, type LayerLimits, layerLimits } from "./layer-limits.js";
import type { LayerLimits } from "./layer-limits.js";

const GiB = 2 ** 30;

/**
 * Passes `source` through, counting its (decompressed) bytes, and fails with
 * a LayerError as soon as they pass the limits: nothing beyond them is
 * written. `compressedSize` undefined: the ratio is not checked; a function: the compressed bytes read so far (a stream).
 */
export async function* limitExpansion(source: AsyncIterable<Buffer>, what: string, compressedSize: number | (() => number) | undefined, limits: LayerLimits): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > limits.maxBytes) throw new LayerError(`${what} unpacks to more than ${formatBytes(limits.maxBytes)} (TSBOX_MAX_LAYER_SIZE)`);
    // (a function: a stream's compressed bytes read so far)
    const size = typeof compressedSize === "function" ? compressedSize() : compressedSize;
    if (size !== undefined && total > limits.ratioFloor && total > limits.maxRatio * Math.max(size, 1)) {
      throw new LayerError(`${what} decompresses more than ${limits.maxRatio} times its size (TSBOX_MAX_LAYER_RATIO): ${size} bytes to over ${total}`);
    }
    yield chunk;
  }
}

/** Passes a layer's tar entries through, failing with a LayerError past `maxEntries` of them. */
export async function* limitEntries<T>(entries: AsyncIterable<T>, what: string, maxEntries: number): AsyncGenerator<T> {
  let count = 0;
  for await (const e of entries) {
    if (++count > maxEntries) throw new LayerError(`${what} has more than ${maxEntries} entries (TSBOX_MAX_LAYER_ENTRIES)`);
    yield e;
  }
}

function formatBytes(n: number): string {
  for (const [unit, size] of [["TiB", 2 ** 40], ["GiB", GiB], ["MiB", 2 ** 20], ["KiB", 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} bytes`;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}
