import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import { confirm } from "../confirm.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";
import { pruneReport } from "./volume.js";
import { groupUsage, isHelp } from "../group-command.js";

const CONTAINER_USAGE = `Usage: tsbox container COMMAND

Manage containers. Commands: prune, and docker's aliases ls (ps), rm, inspect,
cp, diff, commit, export, run.
`;

/** docker's `container X` names for the top-level commands. */
const ALIASES: Record<string, string> = { ls: "ps", list: "ps", ps: "ps", rm: "rm", remove: "rm", inspect: "inspect", cp: "cp", diff: "diff", commit: "commit", export: "export", run: "run" };

export async function containerCommand(args: string[], ctx: CliContext, main: (argv: string[], ctx: CliContext) => Promise<number>): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || isHelp(sub)) return groupUsage(sub, CONTAINER_USAGE, ctx);
  if (sub === "prune") return containerPrune(rest, ctx);
  const alias = ALIASES[sub];
  if (!alias) throw new UsageError(`unknown command: container ${sub} (see tsbox container --help)`);
  return main([alias, ...(sub === "inspect" ? ["--type", "container"] : []), ...rest], ctx);
}

async function containerPrune(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox container prune [-f]\n\nRemove all stopped containers.\n"), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox container prune" takes no arguments`);
  if (!(await confirm(ctx, "WARNING! This will remove all stopped containers.", flags.bools.has("force")))) return 0;
  const r = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).pruneContainers();
  ctx.stdout.write(pruneReport("Deleted Containers", r.removed, r.bytes));
  return 0;
}
