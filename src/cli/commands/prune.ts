import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import { confirm } from "../confirm.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";
import { pruneReport } from "./volume.js";

/** docker's lines for the images a prune removed: names untagged, then image ids deleted. */
export function imagePruneLines(r: { untagged: string[]; deleted: string[] }): string[] {
  return [...r.untagged.map((n) => `untagged: ${n}`), ...r.deleted.map((d) => `deleted: ${d}`)];
}

/**
 * `tsbox image prune`: docker's — dangling images (unnamed: commits without a
 * name, what builds left, the build cache), with `-a` every image no
 * container uses; then the data nothing needs any more.
 */
export async function imagePrune(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }, { name: "all", short: "a" }]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox image prune [-a] [-f]\n\nRemove dangling images (unnamed ones, the build cache among them); -a: every image no container uses.\n"), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox image prune" takes no arguments`);
  const all = flags.bools.has("all");
  const warning = all ? "WARNING! This will remove all images without at least one container associated to them." : "WARNING! This will remove all dangling images.";
  if (!(await confirm(ctx, warning, flags.bools.has("force")))) return 0;
  const r = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).pruneImages({ all });
  ctx.stdout.write(pruneReport("Deleted Images", imagePruneLines(r), r.bytes));
  return 0;
}

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
