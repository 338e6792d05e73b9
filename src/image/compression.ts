import { spawn } from "node:child_process";
import type { FileHandle } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { LayerError } from "../errors.js";

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

export interface Decompressed {
  stream: AsyncIterable<Buffer>;
  /** Resolves once the decompressor finished cleanly (zstd: exit status 0). */
  done(): Promise<void>;
  /** A decompression failure as a one-line LayerError; other errors unchanged. */
  translate(err: unknown): unknown;
  destroy(): void;
}

/**
 * The uncompressed tar of a layer blob. gzip through node:zlib; zstd through
 * the `zstd` tool (node:zlib in Node 20 has no zstd), when the host has it.
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
  if (kind === "gzip") {
    const gunzip = createGunzip({ chunkSize: INFLATE_CHUNK });
    raw.on("error", (err) => gunzip.destroy(err));
    raw.pipe(gunzip);
    return {
      stream: gunzip,
      done: async () => {},
      translate: (err) =>
        err instanceof Error && String((err as NodeJS.ErrnoException).code ?? "").startsWith("Z_")
          ? new LayerError(`layer ${digest} is not valid gzip: ${err.message}`)
          : err,
      destroy: () => {
        raw.destroy();
        gunzip.destroy();
      },
    };
  }
  raw.destroy();
  const child = spawn("zstd", ["-d", "-c", "-q", "--no-progress", path], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", (err) => {
      reject(isMissing(err) ? new LayerError(`layer ${digest} is zstd-compressed: zstd layers need the zstd tool (install zstd)`) : err);
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

/**
 * Bounds on what one compressed layer (or archive) may expand to: the disk
 * it fills and the work a small blob can cause. A ratio is checked only past
 * `ratioFloor`, so small layers of zeros never trip it; gzip cannot exceed
 * about 1032:1, so the default ratio bites only a layer of GiBs that is
 * almost all zeros (the shape of a bomb) or a zstd one.
 */
export interface LayerLimits {
  /** Uncompressed bytes at most (TSBOX_MAX_LAYER_SIZE, e.g. "64G"). */
  maxBytes: number;
  /** Uncompressed ÷ compressed at most (TSBOX_MAX_LAYER_RATIO). */
  maxRatio: number;
  /** Uncompressed bytes below which the ratio is not checked. */
  ratioFloor: number;
}

const GiB = 2 ** 30;
export const DEFAULT_LAYER_LIMITS: LayerLimits = { maxBytes: 64 * GiB, maxRatio: 1000, ratioFloor: GiB };

/** The limits, with TSBOX_MAX_LAYER_SIZE and TSBOX_MAX_LAYER_RATIO from `env`. */
export function layerLimits(env: NodeJS.ProcessEnv = process.env): LayerLimits {
  const limits = { ...DEFAULT_LAYER_LIMITS };
  const size = env.TSBOX_MAX_LAYER_SIZE?.trim();
  if (size) {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(size);
    if (!m) throw new LayerError(`invalid TSBOX_MAX_LAYER_SIZE "${size}": give bytes, optionally with K, M, G or T`);
    limits.maxBytes = Math.floor(Number(m[1]) * 1024 ** " kmgt".indexOf((m[2] || " ").toLowerCase()));
  }
  const ratio = env.TSBOX_MAX_LAYER_RATIO?.trim();
  if (ratio) {
    const n = Number(ratio);
    if (!(n > 0)) throw new LayerError(`invalid TSBOX_MAX_LAYER_RATIO "${ratio}": give a positive number`);
    limits.maxRatio = n;
  }
  return limits;
}

/**
 * Passes `source` through, counting its (decompressed) bytes, and fails with
 * a LayerError as soon as they pass the limits: nothing beyond them is
 * written. `compressedSize` undefined: the ratio is not checked (stdin).
 */
export async function* limitExpansion(source: AsyncIterable<Buffer>, what: string, compressedSize: number | undefined, limits: LayerLimits): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > limits.maxBytes) throw new LayerError(`${what} unpacks to more than ${formatBytes(limits.maxBytes)} (TSBOX_MAX_LAYER_SIZE)`);
    if (compressedSize !== undefined && total > limits.ratioFloor && total > limits.maxRatio * Math.max(compressedSize, 1)) {
      throw new LayerError(`${what} decompresses more than ${limits.maxRatio} times its size (TSBOX_MAX_LAYER_RATIO): ${compressedSize} bytes to over ${total}`);
    }
    yield chunk;
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
