/**
 * Orders strings by UTF-16 code unit, as Go's sort and docker's listings do,
 * for names, ids, platforms and ISO timestamps. Not `localeCompare`: its
 * first call loads ICU's collator, ~10 ms of a short CLI command.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
