import type { CliContext } from "../context.js";
import { eachContainer } from "../each-container.js";
import { parseFlags } from "../flags.js";

export async function pauseCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, []);
  if (flags.help) return ctx.stdout.write("Usage: tsbox pause CONTAINER [CONTAINER...]\n\nFreeze every process of running containers.\n"), 0;
  return eachContainer(ctx, "pause", flags.positionals, (c) => c.pause(), { parallel: true });
}

export async function unpauseCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, []);
  if (flags.help) return ctx.stdout.write("Usage: tsbox unpause CONTAINER [CONTAINER...]\n\nThaw paused containers.\n"), 0;
  return eachContainer(ctx, "unpause", flags.positionals, (c) => c.unpause(), { parallel: true });
}
