import { killContainer } from "../../containers/ops/kill.js";
import type { CliContext } from "../context.js";
import { eachContainer } from "../each-container.js";
import { lastValue, parseFlags } from "../flags.js";

export async function killCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "signal", short: "s", value: true }]);
  if (flags.help) {
    ctx.stdout.write(`Usage: tsbox kill [-s SIGNAL] CONTAINER [CONTAINER...]

Send a signal (default SIGKILL) to the first process of running containers.
`);
    return 0;
  }
  const signal = lastValue(flags, "signal") ?? "SIGKILL";
  return eachContainer(ctx, "kill", flags.positionals, (c) => killContainer(c.lifecycleContext(), c.id, signal), { parallel: true });
}
