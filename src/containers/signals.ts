import { UsageError } from "../errors.js";
import { SIGNALS } from "../signals.js";

export interface Signal {
  number: number;
  /** e.g. "SIGTERM"; "SIG40" for numbers without a name. */
  name: string;
}

/**
 * Linux's signal numbers (the same on every architecture tsbox runs
 * containers on, natively or in the guest: ../signals.ts), not Node's
 * os.constants.signals, which are the host's: on macOS SIGUSR1 is 30, which a
 * Linux container would receive as SIGPWR. The first name of a number is the
 * one shown.
 */
const LINUX_SIGNALS: Record<string, number> = SIGNALS;
const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** docker's forms: `SIGTERM`, `TERM`, `term`, `15`, `RTMIN+3`, `SIGRTMAX-1`. */
export function parseSignal(input: string | number): Signal {
  if (typeof input === "number" || /^\d+$/.test(input)) {
    const number = Number(input);
    if (!Number.isInteger(number) || number < 1 || number > SIGRTMAX) throw new UsageError(`invalid signal: ${input}`);
    const name = Object.entries(LINUX_SIGNALS).find(([, n]) => n === number)?.[0] ?? `SIG${number}`;
    return { number, name };
  }
  const upper = input.toUpperCase();
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  const number = LINUX_SIGNALS[name] ?? realtime(name);
  if (number === undefined) throw new UsageError(`invalid signal: ${input}`);
  return { number, name };
}

/**
 * What is wrong with a STOPSIGNAL (docker's words), for `build` and `commit -c` alike: docker refuses an unknown
 * signal there, not at every run of the image.
 */
export function stopSignalProblem(signal: string): string | undefined {
  try {
    parseSignal(signal);
    return undefined;
  } catch {
    return `Invalid signal: ${signal}`;
  }
}

/** SIGRTMIN, SIGRTMIN+n, SIGRTMAX, SIGRTMAX-n within the real-time range. */
function realtime(name: string): number | undefined {
  const m = /^SIGRT(MIN|MAX)(?:([+-])(\d{1,2}))?$/.exec(name);
  if (!m) return undefined;
  const offset = m[3] === undefined ? 0 : Number(m[3]);
  if ((m[1] === "MIN" && m[2] === "-") || (m[1] === "MAX" && m[2] === "+")) return undefined;
  const number = m[1] === "MIN" ? SIGRTMIN + offset : SIGRTMAX - offset;
  return number >= SIGRTMIN && number <= SIGRTMAX ? number : undefined;
}
