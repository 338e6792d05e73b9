/**
 * docker's prune filters (`container prune`, `image prune`, `network prune`,
 * `system prune` `--filter`): `until` keeps what was created at or after a
 * time, `label=K[=V]` prunes only what has every such label, `label!=K[=V]`
 * only what has none of them.
 */
export interface PruneFilter {
  /** Only what was created before this. */
  until?: Date;
  /** Labels all required (`label=`), or all refused (`label!=`); a value undefined matches any value. */
  labels?: { key: string; value?: string; absent: boolean }[];
}

/** Whether something created at `created` (ISO 8601; unknown: never "before") with `labels` may be pruned. */
export function prunable(filter: PruneFilter | undefined, created: string | undefined, labels: Record<string, string> | null | undefined): boolean {
  if (!filter) return true;
  if (filter.until) {
    const at = created === undefined ? NaN : Date.parse(created);
    if (Number.isNaN(at) || at >= filter.until.getTime()) return false;
  }
  const has = (key: string, value: string | undefined) => labels != null && key in labels && (value === undefined || labels[key] === value);
  return (filter.labels ?? []).every((l) => has(l.key, l.value) !== l.absent);
}

/** `until=T` and `label=`/`label!=` specs (`until`'s value parsed by the caller's time rules). */
export function parsePruneFilter(specs: string[], parseTime: (value: string) => Date, invalid: (spec: string) => Error): PruneFilter | undefined {
  if (specs.length === 0) return undefined;
  const filter: PruneFilter = {};
  for (const spec of specs) {
    const m = /^(until|label!?)=(.+)$/.exec(spec);
    if (!m) throw invalid(spec);
    const value = m[2]!;
    if (m[1] === "until") filter.until = parseTime(value);
    else {
      const eq = value.indexOf("=");
      filter.labels = [...(filter.labels ?? []), { key: eq < 0 ? value : value.slice(0, eq), ...(eq < 0 ? {} : { value: value.slice(eq + 1) }), absent: m[1] === "label!" }];
    }
  }
  return filter;
}
