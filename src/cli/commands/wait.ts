import type { CliContext } from "../context.js";
import { eachContainer } from "../each-container.js";
import { parseFlags } from "../flags.js";

export async function waitCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, []);
  if (flags.help) return ctx.stdout.write("Usage: tsbox wait CONTAINER [CONTAINER...]\n\nWait until containers stop; print their exit codes.\n"), 0;
  return eachContainer(ctx, "wait", flags.positionals, async (c) => {
    // docker's condition "not-running", met at once by a container created and never started (nobody starting it
    // now): 0. (The library's wait() waits for its next run instead, so a created container can be waited for, then started.)
    const state = await c.state();
    if (state.status === "created" && state.creatorPid === null) return "0";
    return String((await c.wait()).exitCode);
  });
}
