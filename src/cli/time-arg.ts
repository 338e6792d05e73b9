import { UsageError } from "../errors.js";

/**
 * docker's `--since`/`--until` values: an RFC 3339 date or date-time, Unix
 * seconds (`1700000000`, `1700000000.5`), or a duration before now (`10m`,
 * `1h30m`, `45s`).
 */
export function parseTimeArg(value: string, flag: string, now = Date.now()): Date {
  if (/^\d+(\.\d+)?$/.test(value)) return new Date(Number(value) * 1000);
  const duration = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(value);
  if (duration && value !== "") {
    const [, h, m, s, ms] = duration;
    const total = Number(h ?? 0) * 3_600_000 + Number(m ?? 0) * 60_000 + Number(s ?? 0) * 1000 + Number(ms ?? 0);
    return new Date(now - total);
  }
  const parsed = Date.parse(value);
  if (!Number.isNaN(parsed)) return new Date(parsed);
  throw new UsageError(`invalid value "${value}" for ${flag}: a time (2024-01-02T15:04:05Z), Unix seconds or a duration (10m)`);
}
