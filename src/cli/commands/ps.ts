import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";
import { humanDuration, shortId, table, timeAgo, truncate } from "../format.js";

const USAGE = `Usage: tsbox ps [-a] [--json]

List containers (running ones; -a for all).
`;

export async function psCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "all", short: "a" }, { name: "json" }, { name: "quiet", short: "q" }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox ps" takes no arguments`);
  const containers = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).containers({ all: flags.bools.has("all") });
  if (flags.bools.has("json")) {
    ctx.stdout.write(JSON.stringify(containers, null, 2) + "\n");
    return 0;
  }
  if (flags.bools.has("quiet")) {
    ctx.stdout.write(containers.map((c) => shortId(c.id) + "\n").join(""));
    return 0;
  }
  const rows = containers.map((c) => [
    shortId(c.id),
    c.image,
    truncate(JSON.stringify(c.command.join(" ")), 22),
    timeAgo(c.created),
    status(c),
    c.name ?? "",
  ]);
  ctx.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"], rows));
  return 0;
}

/** docker's STATUS column: Up 5 seconds, Up 2 minutes (Paused), Restarting (1) 3 seconds ago, Exited (0) …, Created. */
function status(c: { status: string; exitCode: number | null; started: string | null; finished: string | null }): string {
  const up = () => `Up ${humanDuration(Date.now() - Date.parse(c.started ?? ""))}`;
  if (c.status === "running") return up();
  if (c.status === "paused") return `${up()} (Paused)`;
  if (c.status === "created") return "Created";
  if (c.status === "restarting") return `Restarting (${c.exitCode ?? "unknown"}) ${timeAgo(c.finished)}`;
  if (c.exitCode === null) return "Exited (unknown)";
  return `Exited (${c.exitCode}) ${timeAgo(c.finished)}`;
}
