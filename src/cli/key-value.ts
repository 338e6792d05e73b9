/** The `K=V` arguments of several flags (labels, volume driver options), parsed by one set of rules. */
import { UsageError } from "../errors.js";

/**
 * A label `K=V`, or `K` alone for an empty value (docker's rule), into `labels`; an empty name is refused
 * (docker's ValidateLabel) for `run`, `create`, `build`, `volume create` and `--mount volume-label=` alike.
 */
export function setLabel(labels: Record<string, string>, entry: string): void {
  const eq = entry.indexOf("=");
  const key = eq < 0 ? entry : entry.slice(0, eq);
  if (key.trim() === "") throw new UsageError(`invalid label "${entry}": empty name`);
  labels[key] = eq < 0 ? "" : entry.slice(eq + 1);
}

/** A driver option `K=V` (`volume create -o`, `--mount …,volume-opt=`) into `options`; `invalid` words the refusal. */
export function setOption(options: Record<string, string>, entry: string | undefined, invalid: () => string): void {
  const eq = entry?.indexOf("=") ?? -1;
  if (entry === undefined || eq <= 0) throw new UsageError(invalid());
  options[entry.slice(0, eq)] = entry.slice(eq + 1);
}
