/**
 * Signal names and numbers as a container sees them (Linux: the same on
 * x86_64 and the vm guest's i386), without Node's `os.constants`, so the
 * browser entry and the vm backend name signals the same way.
 */
export const SIGNALS = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
  // Linux's other names for the same numbers.
  SIGIOT: 6,
  SIGSTKFLT: 16,
  SIGPOLL: 29,
  SIGUNUSED: 31,
} as const;

/** Names Linux has, plus those Node's type lists for other systems (they have no number here). */
export type SignalName = keyof typeof SIGNALS | "SIGBREAK" | "SIGLOST" | "SIGINFO";
/** A signal by name (`"SIGTERM"`) or number (1–64). */
export type Signal = SignalName | number;

/** The signal's number, or undefined for an unknown name or a number out of range. */
export function signalNumber(signal: Signal): number | undefined {
  if (typeof signal === "number") return Number.isInteger(signal) && signal > 0 && signal <= 64 ? signal : undefined;
  return (SIGNALS as Record<string, number>)[signal];
}
