import { UsageError } from "../../errors.js";
import { unknownCommand } from "../unknown-command.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import { confirm } from "../confirm.js";
import type { CliContext } from "../context.js";
import { allValues, parseFlags } from "../flags.js";
import { parsePruneFilter, type PruneFilter } from "../../containers/prune-filter.js";
import { parseTimeArg } from "../time-arg.js";
import { groupUsage, isHelp } from "../group-command.js";
import { pruneReport } from "./volume.js";

/** docker's `prune --filter until=T|label=K[=V]|label!=K[=V]` (what `filters` allows of them). */
export function pruneFilterFlag(specs: string[]): PruneFilter | undefined {
  return parsePruneFilter(specs, (v) => parseTimeArg(v, "until"), (spec) => new UsageError(`invalid filter '${spec}' (until=TIME, label=KEY[=VALUE] or label!=KEY[=VALUE])`));
}

/** docker's lines for the images a prune removed: names untagged, then image ids deleted. */
export function imagePruneLines(r: { untagged: string[]; deleted: string[] }): string[] {
  return [...r.untagged.map((n) => `untagged: ${n}`), ...r.deleted.map((d) => `deleted: ${d}`)];
}

/** The containers a prune could not remove, one `tsbox:` line each after its report: exit 1 when there were any. */
export function prunedContainerErrors(ctx: CliContext, r: { errors?: string[] }): number {
  for (const e of r.errors ?? []) ctx.stderr.write(`tsbox: cannot remove container ${e}\n`);
  return r.errors?.length ? 1 : 0;
}

/**
 * `tsbox image prune`: docker's — dangling images (unnamed: commits without a
 * name, what builds left, the build cache), with `-a` every image no
 * container uses; then the data nothing needs any more.
 */
export async function imagePrune(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }, { name: "all", short: "a" }, { name: "filter", value: true, repeat: true }]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox image prune [-a] [-f] [--filter until=TIME|label=K[=V]|label!=K[=V]]\n\nRemove dangling images (unnamed ones, the build cache among them); -a: every image no container uses.\n"), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox image prune" takes no arguments`);
  const all = flags.bools.has("all");
  const warning = all ? "WARNING! This will remove all images without at least one container associated to them." : "WARNING! This will remove all dangling images.";
  if (!(await confirm(ctx, warning, flags.bools.has("force")))) return 0;
  const filter = pruneFilterFlag(allValues(flags, "filter"));
  const r = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).pruneImages({ all, ...(filter ? { filter } : {}) });
  ctx.stdout.write(pruneReport("Deleted Images", imagePruneLines(r), r.bytes));
  return 0;
}

/** `tsbox container prune`. */
export async function containerPrune(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }, { name: "filter", value: true, repeat: true }]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox container prune [-f] [--filter until=TIME|label=K[=V]|label!=K[=V]]\n\nRemove all stopped containers.\n"), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox container prune" takes no arguments`);
  const filter = pruneFilterFlag(allValues(flags, "filter"));
  if (!(await confirm(ctx, "WARNING! This will remove all stopped containers.", flags.bools.has("force")))) return 0;
  const r = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).pruneContainers(filter);
  ctx.stdout.write(pruneReport("Deleted Containers", r.removed, r.bytes));
  return prunedContainerErrors(ctx, r);
}

const BUILDER_USAGE = `Usage: tsbox builder COMMAND

Manage builds: build (tsbox build), prune.
`;

/** `tsbox builder`: docker's group for builds. */
export async function builderCommand(args: string[], ctx: CliContext, main: (argv: string[], ctx: CliContext) => Promise<number>): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || isHelp(sub)) return groupUsage(sub, BUILDER_USAGE, ctx);
  if (sub === "build") return main(["build", ...rest], ctx);
  if (sub === "prune") return builderPrune(rest, ctx);
  throw unknownCommand(sub, ["build", "prune"], "builder");
}

/**
 * `tsbox builder prune`: the build cache — the step images builds kept (no
 * name, no container) and RUN --mount=type=cache directories. Every step
 * image is unnamed, so `-a` (docker: not only dangling ones) removes the same.
 */
async function builderPrune(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }, { name: "all", short: "a" }]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox builder prune [-a] [-f]\n\nRemove the build cache: the images of build steps no container uses, and RUN --mount=type=cache directories.\n"), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox builder prune" takes no arguments`);
  if (!(await confirm(ctx, "WARNING! This will remove all dangling build cache.", flags.bools.has("force")))) return 0;
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const steps = await runtime.pruneImages({ buildSteps: true });
  const mounts = await runtime.pruneBuildCache();
  ctx.stdout.write(pruneReport("Deleted build cache objects", [...steps.deleted, ...mounts.removed], steps.bytes + mounts.bytes));
  return 0;
}
