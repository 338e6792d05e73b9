import { constants } from "node:os";
import { UsageError } from "../errors.js";

export interface Signal {
  number: number;
  /** e.g. "SIGTERM"; "SIG40" for numbers without a name. */
  name: string;
}

/** docker's forms: `SIGTERM`, `TERM`, `term`, `15`. */
export function parseSignal(input: string | number): Signal {
  if (typeof input === "number" || /^\d+$/.test(input)) {
    const number = Number(input);
    if (!Number.isInteger(number) || number < 1 || number > 64) throw new UsageError(`invalid signal: ${input}`);
    const name = Object.entries(constants.signals).find(([, n]) => n === number)?.[0] ?? `SIG${number}`;
    return { number, name };
  }
  const upper = input.toUpperCase();
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  const number = (constants.signals as Record<string, number>)[name];
  if (number === undefined) throw new UsageError(`invalid signal: ${input}`);
  return { number, name };
}
