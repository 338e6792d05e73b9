import type { CliContext } from "./context.js";

/**
 * Runs a long image operation (pull, push, load…) that Ctrl-C or SIGTERM
 * aborts cleanly: temp files are removed, partial downloads kept for resume,
 * and the command exits 130 with one line on stderr.
 */
export async function withInterrupt(ctx: CliContext, what: string, body: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  const said = () => ctx.stderr.write(`tsbox: ${what} interrupted${what === "pull" ? " (partial downloads are kept: pulling again resumes them)" : ""}\n`);
  const onSignal = (signal: NodeJS.Signals) => {
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
      return 130;
    }
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * Runs work that must not stop half-way (`volume rm`: the volume is renamed
 * aside, then its files deleted): a first Ctrl-C or SIGTERM lets it finish,
 * then the command dies of that signal; a second one kills it at once (what
 * it left is named with its pid, and the next prune deletes it). Before,
 * Ctrl-C left the volume's files hidden for good.
 */
export async function finishThenDie<T>(body: () => Promise<T>): Promise<T> {
  let caught: NodeJS.Signals | undefined;
  const off = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (caught === undefined) return void (caught = signal);
    off();
    process.kill(process.pid, signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await body();
  } finally {
    off();
    if (caught !== undefined) process.kill(process.pid, caught);
  }
}
