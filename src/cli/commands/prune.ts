import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import { confirm } from "../confirm.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";
import { pruneReport } from "./volume.js";

/** `tsbox container prune`. */
export async function containerPrune(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox container prune [-f]\n\nRemove all stopped containers.\n"), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox container prune" takes no arguments`);
  if (!(await confirm(ctx, "WARNING! This will remove all stopped containers.", flags.bools.has("force")))) return 0;
  const r = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).pruneContainers();
  ctx.stdout.write(pruneReport("Deleted Containers", r.removed, r.bytes));
  return 0;
}
