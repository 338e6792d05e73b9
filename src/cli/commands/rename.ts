import { UsageError } from "../../errors.js";
import { withoutSlash } from "../../containers/names.js";
import type { CliContext } from "../context.js";
import { cliRuntime } from "../each-container.js";
import { parseFlags } from "../flags.js";

export async function renameCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, []);
  if (flags.help) return ctx.stdout.write("Usage: tsbox rename CONTAINER NEW_NAME\n\nRename a container.\n"), 0;
  if (flags.positionals.length !== 2) throw new UsageError(`"tsbox rename" requires exactly 2 arguments: CONTAINER NEW_NAME`);
  const [ref, name] = flags.positionals as [string, string];
  await (await cliRuntime(ctx).get(ref)).rename(withoutSlash(name));
  return 0;
}
