import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { lastValue, parseFlags } from "../flags.js";
import { withInterrupt } from "../interrupt.js";
import { writeArchive } from "../output-file.js";

const USAGE = `Usage: tsbox export [OPTIONS] CONTAINER

Export a container's filesystem as a tar archive (volumes are not included).

Options:
  -o, --output FILE   Write to FILE (atomically) instead of stdout
`;

export async function exportCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "output", short: "o", value: true }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length !== 1) throw new UsageError(`"tsbox export" requires exactly 1 argument`);
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  // Ctrl-C/SIGTERM: the helper stops and -o's temp file goes (before, FILE.<pid>.<rand>.tmp was left).
  return withInterrupt(ctx, "export", async (signal) => {
    await writeArchive(ctx, lastValue(flags, "output"), (out) => runtime.export(flags.positionals[0]!, out, { signal }));
    return 0;
  });
}
