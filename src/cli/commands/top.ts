import { topContainer } from "../../containers/ops/top.js";
import { UsageError } from "../../errors.js";
import type { CliContext } from "../context.js";
import { escapeControls } from "../escape.js";
import { cliRuntime } from "../each-container.js";

export async function topCommand(args: string[], ctx: CliContext): Promise<number> {
  if (args[0] === "--help" || args[0] === "-h") {
    ctx.stdout.write("Usage: tsbox top CONTAINER [ps OPTIONS]\n\nShow a container's processes, as the host's ps shows them (default: ps -ef).\n");
    return 0;
  }
  const [ref, ...psArgs] = args;
  if (ref === undefined) throw new UsageError(`"tsbox top" requires a container`);
  const c = await cliRuntime(ctx).get(ref);
  const { lines } = await topContainer(c.lifecycleContext(), c.id, psArgs);
  // Command lines are the container's to choose: shown with their control characters escaped (the host's
  // ps prints "?"; the vm guest's table came raw, escape sequences and all).
  ctx.stdout.write(lines.map(escapeControls).join("\n") + "\n");
  return 0;
}
