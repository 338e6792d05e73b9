import { UsageError } from "../../errors.js";
import { nameBytes } from "../../name-bytes.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";
import { escapeControls } from "../escape.js";

const USAGE = `Usage: tsbox diff CONTAINER

Inspect changes to files or directories on a container's filesystem:
A added, C changed, D deleted.
`;

export async function diffCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, []);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length !== 1) throw new UsageError(`"tsbox diff" requires exactly 1 argument`);
  const changes = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).diff(flags.positionals[0]!);
  // A name's own bytes, as docker prints them (one that is not UTF-8 too), but no control characters.
  ctx.stdout.write(nameBytes(changes.map((c) => `${"CAD"[c.Kind]} ${escapeControls(c.Path)}\n`).join("")));
  return 0;
}
