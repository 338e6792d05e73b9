import { compareText } from "../compare.js";
import { UsageError } from "../errors.js";

/**
 * A command, or a group's subcommand (`volume lss`), that tsbox has not: the known ones within two edits of the typo
 * (`rnu`, `imagse`), nearest first, as podman suggests them, and where the group's list is.
 */
export function unknownCommand(typed: string, known: readonly string[], group?: string): UsageError {
  const near = known
    .map((c) => ({ c, d: editDistance(typed, c) }))
    .filter(({ c, d }) => d <= Math.min(2, c.length - 1))
    .sort((a, b) => a.d - b.d || compareText(a.c, b.c))
    .slice(0, 3)
    .map(({ c }) => c);
  const where = group === undefined ? "tsbox" : `tsbox ${group}`;
  return new UsageError(`unknown command: ${group === undefined ? "" : `${group} `}${typed} (${near.length > 0 ? `did you mean ${near.join(", ")}? ` : ""}see ${where} --help)`);
}

/** Levenshtein distance, a swap of neighbours counting one (Damerau's rule: `rnu` is one from `run`). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
