import type { CliContext } from "../context.js";
import { eachContainer, parseSeconds } from "../each-container.js";
import { lastValue, parseFlags } from "../flags.js";

const FLAGS = [
  { name: "time", short: "t", value: true },
  { name: "timeout", value: true },
  { name: "signal", short: "s", value: true },
];

export async function stopCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  if (flags.help) {
    ctx.stdout.write(`Usage: tsbox stop [-t SECONDS] [-s SIGNAL] CONTAINER [CONTAINER...]

Stop running containers: the stop signal (--stop-signal of run, default SIGTERM),
then SIGKILL after the timeout (--stop-timeout of run, default 10 s; -1 waits for ever).
`);
    return 0;
  }
  const timeout = parseSeconds(lastValue(flags, "time") ?? lastValue(flags, "timeout"), "--time");
  const signal = lastValue(flags, "signal");
  return eachContainer(ctx, "stop", flags.positionals, async (c) => {
    await c.stop({ ...(timeout !== undefined ? { timeout } : {}), ...(signal !== undefined ? { signal } : {}) });
  });
}

export async function restartCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  if (flags.help) {
    ctx.stdout.write(`Usage: tsbox restart [-t SECONDS] [-s SIGNAL] CONTAINER [CONTAINER...]

Stop (as tsbox stop does) and start containers again, in the background.
`);
    return 0;
  }
  const timeout = parseSeconds(lastValue(flags, "time") ?? lastValue(flags, "timeout"), "--time");
  const signal = lastValue(flags, "signal");
  return eachContainer(ctx, "restart", flags.positionals, async (c) => {
    await c.restart({ ...(timeout !== undefined ? { timeout } : {}), ...(signal !== undefined ? { signal } : {}) });
  });
}
