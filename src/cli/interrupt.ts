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
