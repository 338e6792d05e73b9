import { createHash, type Hash } from "node:crypto";

/**
 * sha256 of content. Separate from digest.ts so that node:crypto (slow to
 * load) is only imported when something is actually hashed: blob writes and
 * layer unpacking, never a warm `tsbox run`.
 */
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
