import type { CliContext } from "./context.js";

/**
 * Runs a long image operation (pull, push, load…) that Ctrl-C or SIGTERM
 * aborts cleanly: temp files are removed, partial downloads kept for resume,
 * and the command exits 130 with one line on stderr.
 */
export async function withInterrupt(ctx: CliContext, what: string, body: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await body(controller.signal);
  } catch (err) {
    if (controller.signal.aborted || (err instanceof Error && err.name === "AbortError")) {
      ctx.stderr.write(`tsbox: ${what} interrupted${what === "pull" ? " (partial downloads are kept: pulling again resumes them)" : ""}\n`);
      return 130;
    }
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
