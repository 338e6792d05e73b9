import { createHash, type Hash } from "node:crypto";
import { ImageError } from "../errors.js";

/** Only sha256 is produced or accepted: it is what every registry and layout uses. */
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

export function assertDigest(value: unknown, what: string): string {
  if (typeof value !== "string" || !DIGEST_RE.test(value)) throw new ImageError(`invalid ${what} digest: ${String(value)}`);
  return value;
}

export function sha256Digest(data: Buffer | string): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

/** Incremental digest for streamed content (blob writes, layer diff-ids). */
export class DigestCounter {
  private readonly hash: Hash = createHash("sha256");
  size = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  digest(): string {
    return "sha256:" + this.hash.digest("hex");
  }
}
