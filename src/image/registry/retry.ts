import { setTimeout as sleep } from "node:timers/promises";
import { abortError } from "../../abortable.js";

/**
 * Retries, as docker's: a blob whose download is cut off resumes (Range) and a
 * request answered 429 or 503 is sent again, at most this many attempts in
 * all (dockerd's --max-download-attempts default; containers/image retries a
 * 429 as often).
 */
export const MAX_ATTEMPTS = 5;
/** A Retry-After beyond this is waited this long (a registry asking for an hour does not stall a pull an hour). */
const MAX_WAIT_SECONDS = 60;

/** Seconds to wait before attempt `attempt + 1`: Retry-After (seconds or an HTTP date) when given, else 1, 2, 4, 8. */
export function retryDelay(attempt: number, retryAfter?: string | null): number {
  const header = retryAfter?.trim() ?? "";
  const at = /^\d+$/.test(header) ? Number(header) : header ? Math.ceil((Date.parse(header) - Date.now()) / 1000) : NaN;
  const seconds = Number.isFinite(at) ? Math.max(0, at) : 2 ** (attempt - 1);
  return Math.min(seconds, MAX_WAIT_SECONDS);
}

/** Waits `seconds`; an abort ends the wait at once with the signal's error. */
export async function waitToRetry(seconds: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(seconds * 1000, undefined, signal ? { signal } : {});
  } catch (err) {
    throw signal?.aborted ? abortError(signal) : err;
  }
}
