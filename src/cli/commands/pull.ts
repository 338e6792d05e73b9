import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseFlags, platformFlag } from "../flags.js";
import { progressFor } from "../progress.js";
import { withInterrupt } from "../interrupt.js";

const USAGE = `Usage: tsbox pull [OPTIONS] NAME[:TAG|@DIGEST]

Pull an image from a registry (and unpack its layers).

Options:
  -a, --all-tags                     Pull every tagged image of the repository (NAME without a tag)
      --platform OS/ARCH[/VARIANT]   Platform to pick from a multi-platform image
                                     (default: the backend's, e.g. linux/amd64)
  -q, --quiet                        Print only the image name; no progress
`;

export async function pullCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "platform", value: true }, { name: "quiet", short: "q" }, { name: "all-tags", short: "a" }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length !== 1) throw new UsageError(`"tsbox pull" requires exactly one image`);
  const platform = platformFlag(flags);
  const quiet = flags.bools.has("quiet");
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const display = progressFor(ctx.stderr, quiet);
  return withInterrupt(ctx, "pull", async (signal) => {
    try {
      const options = { signal, env: ctx.env, ...(platform ? { platform } : {}), ...(display ? { onProgress: display.onEvent } : {}) };
      const results = flags.bools.has("all-tags") ? await runtime.pullAllTags(flags.positionals[0]!, options) : [await runtime.pull(flags.positionals[0]!, options)];
      display?.finish();
      for (const result of results) {
        if (quiet) ctx.stdout.write(result.name + "\n");
        else ctx.stdout.write(`Pulled ${result.name} (${result.platform})\nDigest: ${result.indexDigest ?? result.digest}\n`);
      }
      return 0;
    } finally {
      display?.finish();
    }
  });
}
