import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { lastValue, parseFlags, platformFlag } from "../flags.js";
import { strictContext } from "../format-template-exec.js";
import { type FormatDefaults, writeFormatted } from "../format-output.js";
import { humanSize, shortId, timeAgo, truncate } from "../format.js";
import { goTimeString } from "./ps-context.js";
import { escapeControls } from "../escape.js";

const USAGE = `Usage: tsbox history [OPTIONS] IMAGE

Show the history of an image: the step that made each layer, newest first.

Options:
  -H, --human         Sizes and dates for people (default true; --human=false: bytes and times)
      --no-trunc      Do not shorten the output
  -q, --quiet         Only image IDs
      --format FMT    table, json, or a Go template ({{.ID}}, {{.CreatedSince}}, {{.CreatedAt}},
                      {{.CreatedBy}}, {{.Size}}, {{.Comment}})
      --platform P    Which platform of a multi-platform image (default: the backend's, else
                      the one the store has)
`;

const HISTORY_FORMAT: FormatDefaults = {
  table: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
  quiet: "{{.ID}}",
  typeName: "*formatter.historyContext",
  headers: { ID: "IMAGE", CreatedSince: "CREATED", CreatedAt: "CREATED AT", CreatedBy: "CREATED BY", Size: "SIZE", Comment: "COMMENT" },
};

export async function historyCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "human", short: "H" }, { name: "no-trunc" }, { name: "quiet", short: "q" }, { name: "format", value: true }, { name: "platform", value: true }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length !== 1) throw new UsageError(`"tsbox history" requires exactly 1 argument: IMAGE`);
  const human = !args.some((a) => /^(--human|-H)=false$/.test(a));
  const trunc = !flags.bools.has("no-trunc");
  const platform = platformFlag(flags);
  const rows = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).history(flags.positionals[0]!, platform ? { platform } : {});
  const items = rows.map((r) =>
    strictContext(HISTORY_FORMAT.typeName, {
      ID: r.id === null ? "<missing>" : trunc ? shortId(r.id) : r.id,
      CreatedSince: human ? timeAgo(r.created) : (r.created ?? ""),
      // A getter, as ps's: Intl's first use costs ~10 ms.
      get CreatedAt() {
        return r.created ? goTimeString(new Date(r.created)) : "";
      },
      // The image's words: its control characters shown, not sent to the terminal (an escape sequence rewrites it).
      CreatedBy: escapeControls(trunc ? truncate(r.createdBy.replace(/\s+/g, " "), 45) : r.createdBy),
      Size: human ? humanSize(r.size) : String(r.size),
      Comment: escapeControls(r.comment),
    }),
  );
  writeFormatted(ctx.stdout, items, lastValue(flags, "format"), HISTORY_FORMAT, flags.bools.has("quiet"));
  return 0;
}
