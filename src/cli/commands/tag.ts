import { errorMessage, isImageNotFound, UsageError } from "../../errors.js";
import { exitCodeOf } from "../exit-code.js";
import { formatPlatform } from "../../image/platform.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseFlags, platformFlag } from "../flags.js";

export async function tagCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, []);
  if (flags.help) return ctx.stdout.write("Usage: tsbox tag SOURCE[:TAG] TARGET[:TAG]\n\nGive an image another name.\n"), 0;
  if (flags.positionals.length !== 2) throw new UsageError(`"tsbox tag" requires exactly 2 arguments: SOURCE TARGET`);
  await new Runtime({ dataDir: defaultDataDir(ctx.env) }).tag(flags.positionals[0]!, flags.positionals[1]!);
  return 0;
}

const RMI_USAGE = `Usage: tsbox rmi [-f] [--no-prune] [--platform OS/ARCH[/VARIANT]] IMAGE [IMAGE...]

Remove image names (every platform of them, or only --platform's), or by IMAGE ID the image with all
its names (-f when it has several), and free the space of the blobs and layers nothing else uses.
A name a container uses is removed only with -f (the image stays, unnamed), and with -f an image
that does not exist is no failure (said on stderr, exit 0); --no-prune keeps the
blobs and layers (\`tsbox prune\` frees them later).
`;

export async function rmiCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "platform", value: true }, { name: "force", short: "f" }, { name: "no-prune" }]);
  if (flags.help) return ctx.stdout.write(RMI_USAGE), 0;
  if (flags.positionals.length === 0) throw new UsageError(`"tsbox rmi" requires at least one image`);
  const platform = platformFlag(flags);
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const force = flags.bools.has("force");
  let code = 0;
  for (const name of flags.positionals) {
    try {
      const removed = await runtime.removeImage(name, { ...(platform ? { platform } : {}), ...(force ? { force: true } : {}), ...(flags.bools.has("no-prune") ? { prune: false } : {}) });
      for (const untagged of removed.untagged) ctx.stdout.write(`Untagged: ${untagged}${platform && !removed.deleted ? ` (${formatPlatform(platform)})` : ""}\n`);
      if (removed.deleted) ctx.stdout.write(`Deleted: ${removed.deleted}\n`);
    } catch (err) {
      ctx.stderr.write(`tsbox: ${errorMessage(err)}\n`);
      // docker-cli's image/remove.go: with -f only errors other than not-found fail the command.
      if (!(force && isImageNotFound(err))) code = exitCodeOf(err, "rmi");
    }
  }
  return code;
}
