/** Plain-text tables and human units for `images`/`ps`, docker style. */

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3)))
      .join("")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, "")}${units[unit]}`;
}

export function timeAgo(iso: string | null, now = Date.now()): string {
  if (!iso) return "N/A";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(seconds)) return "N/A";
  if (Date.parse(iso) <= 0) return "N/A"; // reproducible builds use the epoch
  if (seconds < 60) return seconds <= 1 ? "Less than a second ago" : `${seconds} seconds ago`;
  const steps: [number, string][] = [
    [60, "minute"],
    [3600, "hour"],
    [86400, "day"],
    [604800, "week"],
    [2592000, "month"],
    [31536000, "year"],
  ];
  let pick = steps[0]!;
  for (const step of steps) if (seconds >= step[0]) pick = step;
  const n = Math.floor(seconds / pick[0]);
  return n === 1 ? `${pick[1] === "hour" ? "An" : "A"} ${pick[1]} ago` : `${n} ${pick[1]}s ago`;
}

/** Docker shows ids as the first 12 hex digits. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + "…";
}

/** docker's HumanDuration ("Up 5 seconds", "Up About an hour"). */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (!Number.isFinite(s) || s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 14) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 60) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}
