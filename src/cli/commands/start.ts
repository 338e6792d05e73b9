import { UsageError } from "../../errors.js";
import { startAttached, streamAttachment } from "../attach-io.js";
import { type CliContext, cliWarning } from "../context.js";
import { cliRuntime, eachContainer } from "../each-container.js";
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from "../detach-keys.js";
import { lastValue, parseFlags } from "../flags.js";

const USAGE = `Usage: tsbox start [-a] [-i] CONTAINER [CONTAINER...]

Start created or stopped containers in the background (under a monitor).

Options:
  -a, --attach             Attach to its output and wait for it (exit with its code)
  -i, --interactive        Attach its stdin too (it must have been created with -i)
      --detach-keys KEYS   Keys that leave its terminal, it running (default ${DEFAULT_DETACH_KEYS})
`;

export async function startCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "attach", short: "a" },
    { name: "interactive", short: "i" },
    { name: "detach-keys", value: true },
  ]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  const attach = flags.bools.has("attach");
  const interactive = flags.bools.has("interactive");
  if (!attach && !interactive) return eachContainer(ctx, "start", flags.positionals, async (c) => void (await c.start({ onWarning: cliWarning(ctx) })));
  if (flags.positionals.length !== 1) throw new UsageError("tsbox start -a/-i takes exactly one container");
  const detachKeys = parseDetachKeys(lastValue(flags, "detach-keys") ?? DEFAULT_DETACH_KEYS);
  const container = await cliRuntime(ctx).get(flags.positionals[0]!);
  const attachment = await startAttached(container, { stdin: interactive, stdout: true, stderr: true, stdinOnce: interactive }, cliWarning(ctx));
  return streamAttachment(container, attachment, { interactive, sigProxy: true, detachKeys });
}
