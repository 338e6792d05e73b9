import { UsageError } from "../../errors.js";
import { streamAttachment } from "../attach-io.js";
import type { CliContext } from "../context.js";
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from "../detach-keys.js";
import { cliRuntime } from "../each-container.js";
import { lastValue, parseFlags } from "../flags.js";
import { requireInputTerminal } from "../terminal.js";
import { isActive } from "../../containers/state.js";

const USAGE = `Usage: tsbox attach [--no-stdin] [--sig-proxy=false] [--detach-keys KEYS] CONTAINER

Attach this terminal to a running container's output (and its stdin, when it
was started with -i); exit with its exit code once it stops. With a terminal
(-t), ${DEFAULT_DETACH_KEYS} (or --detach-keys) detaches and leaves it running.
`;

export async function attachCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "no-stdin" }, { name: "sig-proxy" }, { name: "detach-keys", value: true }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length !== 1) throw new UsageError(`"tsbox attach" requires exactly 1 container`);
  const sigProxy = !flags.cleared.has("sig-proxy");
  const detachKeys = parseDetachKeys(lastValue(flags, "detach-keys") ?? DEFAULT_DETACH_KEYS);
  const container = await cliRuntime(ctx).get(flags.positionals[0]!);
  const state = await container.state();
  const interactive = state.openStdin && !flags.bools.has("no-stdin");
  // docker's check, after "not running" as its: piped input into a terminal never ends its stdin (a terminal's
  // stays open), so the attach hung.
  if (isActive(state)) requireInputTerminal(state.tty, interactive);
  const attachment = await container.attach({ stdin: interactive, stdout: true, stderr: true, stdinOnce: false });
  return streamAttachment(container, attachment, { interactive, sigProxy, detachKeys });
}
