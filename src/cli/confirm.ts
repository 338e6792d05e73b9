import type { CliContext } from "./context.js";

/**
 * docker's prune prompt: the warning on stderr, then "y" on stdin goes on.
 * `force` (-f) skips it; anything else, or no input, is a no.
 */
export async function confirm(ctx: CliContext, warning: string, force: boolean): Promise<boolean> {
  if (force) return true;
  ctx.stderr.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const line = await new Promise<string>((resolve) => {
    let text = "";
    const stdin = process.stdin;
    const done = () => {
      stdin.off("data", onData).off("end", done).off("error", done);
      stdin.pause();
      resolve(text);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (text.includes("\n")) done();
    };
    stdin.on("data", onData).on("end", done).on("error", done);
  });
  return /^\s*y(es)?\s*$/i.test(line.split("\n")[0] ?? "");
}
