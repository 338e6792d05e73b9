import { UsageError } from "./errors.js";

/**
 * A whole number of seconds a user gives (an environment variable, a flag):
 * `fallback` when unset or empty, a UsageError naming `what` (and what 0
 * means, `zero`) for anything else.
 */
export function wholeSeconds(text: string | undefined, what: string, fallback: number, zero?: string): number {
  if (text === undefined || text === "") return fallback;
  if (!/^\d{1,9}$/.test(text)) throw new UsageError(`${what}: expected a whole number of seconds${zero ? ` (0: ${zero})` : ""}`);
  return Number(text);
}
