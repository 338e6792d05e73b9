/**
 * The value rules docker's `--filter`s share across listings (moby's filters.Args), one home for
 * ps, network ls, volume ls and events.
 */
import { UsageError } from "../errors.js";

/**
 * filters.Args.Match: the value is an unanchored regular expression (`name=^web$` is exact, `name=web` a part);
 * one that is not a valid expression matches only itself, as docker's exact match before the regexp.
 */
export function regexMatch(pattern: string, text: string): boolean {
  try {
    return new RegExp(pattern).test(text);
  } catch {
    return text === pattern;
  }
}

/** `label=KEY` (the label is there) or `label=KEY=VALUE` (it has that value), as docker's MatchKVList reads one. */
export function labelMatch(labels: Record<string, string>, spec: string): boolean {
  const eq = spec.indexOf("=");
  return eq < 0 ? Object.hasOwn(labels, spec) : Object.hasOwn(labels, spec.slice(0, eq)) && labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

/** `dangling=`: true or 1, false or 0 (docker's GetBoolOrDefault); anything else an invalid filter. */
export function danglingValue(value: string): boolean {
  if (!["true", "false", "1", "0"].includes(value)) throw new UsageError(`invalid filter 'dangling=${value}'`);
  return value === "true" || value === "1";
}
