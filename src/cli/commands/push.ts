import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";
import { withInterrupt } from "../interrupt.js";
import { progressFor } from "../progress.js";

const USAGE = `Usage: tsbox push [OPTIONS] NAME[:TAG] [DESTINATION]

Push a local image to its registry (or to DESTINATION). Blobs the registry
already has are skipped; blobs in another repository there are mounted.

Options:
  -a, --all-tags   Push every local tag of the repository (NAME without a tag)
  -q, --quiet      Print only the pushed name; no progress
`;

export async function pushCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "quiet", short: "q" }, { name: "all-tags", short: "a" }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length < 1 || flags.positionals.length > 2) throw new UsageError(`"tsbox push" requires an image (and optionally a destination)`);
  const [source, destination] = flags.positionals as [string, string | undefined];
  const quiet = flags.bools.has("quiet");
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const display = progressFor(ctx.stderr, quiet);
  return withInterrupt(ctx, "push", async (signal) => {
    try {
      const options = { signal, env: ctx.env, ...(display ? { onProgress: display.onEvent } : {}) };
      if (flags.bools.has("all-tags") && destination !== undefined) throw new UsageError("--all-tags pushes each tag to its own name: no DESTINATION");
      const results = flags.bools.has("all-tags") ? await runtime.pushAllTags(source, options) : [await runtime.push(source, { ...options, ...(destination ? { destination } : {}) })];
      display?.finish();
      for (const r of results) {
        if (quiet) ctx.stdout.write(r.name + "\n");
        else ctx.stdout.write(`Pushed ${r.name} (${r.platforms.join(", ")}): ${r.uploaded} uploaded, ${r.existing} already present, ${r.mounted} mounted\nDigest: ${r.digest}\n`);
        if (r.newIndex) ctx.stderr.write(`tsbox: ${r.name}: pushed as a new index: ${r.newIndex}\n`);
      }
      return 0;
    } finally {
      display?.finish();
    }
  });
}
