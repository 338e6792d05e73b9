import { constants as osConstants } from "node:os";
import type { CliContext } from "./context.js";

/**
 * Runs a long image operation (pull, push, load…) that Ctrl-C or SIGTERM
 * aborts cleanly: temp files are removed, partial downloads kept for resume,
 * and the command exits as a shell reports a death by that signal (130 for
 * SIGINT, 143 for SIGTERM, as `run` does) with one line on stderr.
 */
export async function withInterrupt(ctx: CliContext, what: string, body: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  let came: NodeJS.Signals = "SIGINT";
  const said = () => ctx.stderr.write(`tsbox: ${what} interrupted${what === "pull" ? " (partial downloads are kept: pulling again resumes them)" : ""}\n`);
  const onSignal = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) came = signal;
    controller.abort();
    // What the signal cannot reach (an open(2) of a FIFO nobody reads waits in the thread pool for good, and
    // process.exit would wait for that thread) must not make Ctrl-C useless: a moment later the command dies of
    // the signal itself, its handlers gone (`save -o FIFO` ignored SIGINT and SIGTERM).
    setTimeout(() => {
      said();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.kill(process.pid, signal);
    }, 3000).unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await body(controller.signal);
  } catch (err) {
    if (controller.signal.aborted || (err instanceof Error && err.name === "AbortError")) {
      said();
      return signalStatus(came);
    }
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * docker-cli's rule (`exitLimit`): the third SIGINT or SIGTERM ends a command
 * that passes them on or holds them, whatever became of the first two (a
 * container that ignores them, a stop still waiting for its timeout). Returns
 * the function each signal goes through; `force` is called on the third,
 * after docker's line on stderr.
 */
export function countInterrupts(force: (signal: NodeJS.Signals) => void): (signal: NodeJS.Signals) => void {
  let count = 0;
  return (signal) => {
    if (signal !== "SIGINT" && signal !== "SIGTERM") return;
    if (++count < 3) return;
    process.stderr.write(`got ${count} SIGTERM/SIGINTs, forcefully exiting\n`);
    force(signal);
  };
}

/**
 * Runs work that must not stop half-way (`volume rm`: the volume is renamed
 * aside, then its files deleted; `stop`: its SIGKILL after the timeout):
 * Ctrl-C or SIGTERM lets it finish (`note`, if any, said on the first), then
 * the command dies of that signal; the third kills it at once
 * (countInterrupts; what `volume rm` left is named with its pid, and the
 * next prune deletes it). Before, Ctrl-C left the volume's files hidden for
 * good, and a foreground container stopped without its SIGKILL. A signal
 * that comes while `holding()` says there is nothing to finish ends the
 * command at once; one held till then, once the body calls `released` and
 * `holding()` says no more (what is left waits for ever).
 */
export async function finishThenDie<T>(body: (released: () => void) => Promise<T>, note?: string, holding: () => boolean = () => true): Promise<T> {
  let caught: NodeJS.Signals | undefined;
  const off = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
  const counted = countInterrupts((signal) => {
    off();
    process.kill(process.pid, signal);
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (!holding()) {
      off();
      process.kill(process.pid, signal);
      return;
    }
    if (caught === undefined && note) process.stderr.write(note);
    caught ??= signal;
    counted(signal);
  };
  const released = () => {
    if (caught !== undefined && !holding()) {
      off();
      process.kill(process.pid, caught);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await body(released);
  } finally {
    off();
    if (caught !== undefined) process.kill(process.pid, caught);
  }
}

/** The signals that end a command: Ctrl-C, SIGTERM, a hung-up terminal. */
export const ENDING: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** The status a shell reports for a death by `signal`: 130 for SIGINT, 143 for SIGTERM. */
function signalStatus(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 0);
}

/** Ends this process by `signal`, as if it had no handler for it (`signalStatus`'s status). */
export function dieOf(signal: NodeJS.Signals): never {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  process.exit(signalStatus(signal));
}

/**
 * Makes what `run` and `create` need, the container (its pull included, and
 * for `run` its start: the vm's guest start takes seconds), under Ctrl-C,
 * SIGTERM and SIGHUP: the first aborts it, and if the library then rejects
 * (it made nothing and kept partial downloads for the next pull) the command
 * ends by that signal, as docker's ends with its cancelled pull. Once the
 * container exists the library ignores the abort: the signal is then the
 * caller's (`run` passes it to the container). Before, `run` held it until
 * the pull ended, then made and started the container anyway.
 */
export async function untilMade<T>(make: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let caught: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (caught) return;
    caught = signal;
    controller.abort();
  };
  for (const s of ENDING) process.on(s, onSignal);
  try {
    return await make(controller.signal);
  } catch (err) {
    if (caught) dieOf(caught);
    throw err;
  } finally {
    for (const s of ENDING) process.off(s, onSignal);
  }
}
