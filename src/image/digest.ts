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
