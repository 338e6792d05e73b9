import { spawn } from "node:child_process";
import type { FileHandle } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { LayerError } from "../errors.js";

export type Compression = "gzip" | "zstd" | "none";

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
  const raw = file.createReadStream({ start: 0, autoClose: false });
  if (kind === "none") {
    return { stream: raw, done: async () => {}, translate: (e) => e, destroy: () => raw.destroy() };
  }
  if (kind === "gzip") {
    const gunzip = createGunzip();
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

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}
