import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";
import { humanSize, shortId, table, timeAgo } from "../format.js";

const USAGE = `Usage: tsbox images [--json]

List images in the local store: one row per name and platform.
`;

export async function imagesCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "json" }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox images" takes no arguments`);
  const images = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).images();
  if (flags.bools.has("json")) {
    ctx.stdout.write(JSON.stringify(images, null, 2) + "\n");
    return 0;
  }
  const rows = images.map((i) => [i.repository, i.tag ?? "<none>", i.platform, shortId(i.id), timeAgo(i.created), humanSize(i.size)]);
  ctx.stdout.write(table(["REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "CREATED", "SIZE"], rows));
  return 0;
}
