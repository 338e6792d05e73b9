import type { CliContext } from "../context.js";
import { eachContainer } from "../each-container.js";
import { parseFlags } from "../flags.js";

const USAGE = `Usage: tsbox rm [-f] [-v] CONTAINER [CONTAINER...]

Remove containers (by id, id prefix or name). -f kills running ones first,
and a container that does not exist is no failure; -v also removes their
anonymous volumes.
`;

export async function rmCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }, { name: "volumes", short: "v" }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  const force = flags.bools.has("force");
  return eachContainer(ctx, "rm", flags.positionals, (c) => c.remove({ force, volumes: flags.bools.has("volumes") }), { parallel: true, missingOk: force });
}
