import { UsageError } from "../errors.js";

export interface Signal {
  number: number;
  /** e.g. "SIGTERM"; "SIG40" for numbers without a name. */
  name: string;
}

/**
 * Linux's signal numbers (x86, arm and the generic ABI: every architecture
 * tsbox runs containers on, natively or in the guest). Not Node's
 * os.constants.signals, which are the host's: on macOS SIGUSR1 is 30, which
 * a Linux container would receive as SIGPWR, and Windows names only a few.
 * The first name of a number is the one shown.
 */
const LINUX_SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9,
  SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18,
  SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27,
  SIGWINCH: 28, SIGIO: 29, SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31,
};
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

/** SIGRTMIN, SIGRTMIN+n, SIGRTMAX, SIGRTMAX-n within the real-time range. */
function realtime(name: string): number | undefined {
  const m = /^SIGRT(MIN|MAX)(?:([+-])(\d{1,2}))?$/.exec(name);
  if (!m) return undefined;
  const offset = m[3] === undefined ? 0 : Number(m[3]);
  if ((m[1] === "MIN" && m[2] === "-") || (m[1] === "MAX" && m[2] === "+")) return undefined;
  const number = m[1] === "MIN" ? SIGRTMIN + offset : SIGRTMAX - offset;
  return number >= SIGRTMIN && number <= SIGRTMAX ? number : undefined;
}
