/** Small numeric helpers shared by the benchmarks. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function fmtMs(ms: number | undefined): string {
  return ms === undefined ? "n/a" : `${ms.toFixed(1)} ms`;
}

export function fmtRatio(value: number | undefined, base: number | undefined): string {
  return value === undefined || base === undefined ? "" : `${(value / base).toFixed(2)}x`;
}
