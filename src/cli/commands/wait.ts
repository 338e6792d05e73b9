import type { CliContext } from "../context.js";
import { eachContainer } from "../each-container.js";
import { parseFlags } from "../flags.js";

export async function waitCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, []);
  if (flags.help) return ctx.stdout.write("Usage: tsbox wait CONTAINER [CONTAINER...]\n\nWait until containers stop; print their exit codes.\n"), 0;
  return eachContainer(ctx, "wait", flags.positionals, async (c) => String((await c.wait()).exitCode));
}
