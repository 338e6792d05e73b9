/** Docker's human units and plain tables for listings (go-units' HumanSize and HumanDuration). */
import { tabwrite } from "./format-output.js";

/** Rows aligned as docker aligns them (header first). */
export function table(header: string[], rows: string[][]): string {
  return tabwrite([header, ...rows].map((r) => r.join("\t")).join("\n") + "\n");
}

/** go-units HumanSizeWithPrecision: decimal units, `%.{precision}g`. */
export function humanSize(bytes: number, precision = 3): string {
  return scaled(bytes, 1000, ["B", "kB", "MB", "GB", "TB", "PB"], precision);
}

/** go-units BytesSize: binary units, `%.4g` (docker's memory figures). */
export function bytesSize(bytes: number): string {
  return scaled(bytes, 1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4);
}

function scaled(bytes: number, base: number, units: string[], precision: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit++;
  }
  return `${Number(value.toPrecision(precision))}${units[unit]}`;
}

/** go-units HumanDuration: "Less than a second", "5 seconds", "About a minute", "3 hours", "2 weeks"… */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** "5 minutes ago"; "N/A" for no time or the epoch (reproducible builds use it). */
export function timeAgo(iso: string | null, now = Date.now()): string {
  if (!iso) return "N/A";
  const then = Date.parse(iso);
  if (!Number.isFinite(then) || then <= 0) return "N/A";
  return `${humanDuration(Math.max(0, now - then))} ago`;
}

/** Docker shows ids as the first 12 hex digits. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

/** Docker's Ellipsis: at most `max` characters, the last one "…" when cut. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join("") + "…";
}

