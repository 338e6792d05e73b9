import { errorMessage, isTsboxError, UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";

const USAGE = `Usage: tsbox rm [-f] [-v] CONTAINER [CONTAINER...]

Remove containers (by id, id prefix or name). -f kills running ones first;
-v also removes their anonymous volumes.
`;

export async function rmCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }, { name: "volumes", short: "v" }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length === 0) throw new UsageError(`"tsbox rm" requires at least one container`);
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  let code = 0;
  for (const ref of flags.positionals) {
    try {
      await runtime.removeContainer(ref, { force: flags.bools.has("force"), volumes: flags.bools.has("volumes") });
      ctx.stdout.write(ref + "\n");
    } catch (err) {
      // One line per container that could not be removed; the others still go.
      ctx.stderr.write(`tsbox: ${errorMessage(err)}\n`);
      code = isTsboxError(err) ? err.exitCode : 125;
    }
  }
  return code;
}
