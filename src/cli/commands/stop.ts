import type { Container } from "../../container.js";
import { type CliContext, cliWarning } from "../context.js";
import { eachContainer, parseSeconds } from "../each-container.js";
import { lastValue, parseFlags } from "../flags.js";
import { finishThenDie } from "../interrupt.js";

const FLAGS = [
  { name: "time", short: "t", value: true },
  { name: "timeout", value: true },
  { name: "signal", short: "s", value: true },
];

const USAGES = {
  stop: `Usage: tsbox stop [-t SECONDS] [-s SIGNAL] CONTAINER [CONTAINER...]

Stop running containers: the stop signal (--stop-signal of run, default SIGTERM),
then SIGKILL after the timeout (--stop-timeout of run, default 10 s; -1 waits for ever).
`,
  restart: `Usage: tsbox restart [-t SECONDS] [-s SIGNAL] CONTAINER [CONTAINER...]

Stop (as tsbox stop does) and start containers again, in the background.
`,
};

export const stopCommand = (args: string[], ctx: CliContext) => stopOrRestart("stop", args, ctx);
export const restartCommand = (args: string[], ctx: CliContext) => stopOrRestart("restart", args, ctx);

async function stopOrRestart(verb: "stop" | "restart", args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  if (flags.help) return ctx.stdout.write(USAGES[verb]), 0;
  const timeout = parseSeconds(lastValue(flags, "time") ?? lastValue(flags, "timeout"), "--time");
  const signal = lastValue(flags, "signal");
  const options = { ...(timeout !== undefined ? { timeout } : {}), ...(signal !== undefined ? { signal } : {}) };
  // A foreground container's SIGKILL after the timeout is this process's to send (its monitor's for a
  // detached one): Ctrl-C must not cancel it half-way, as docker's daemon finishes a stop its client left.
  // A stop that waits for ever (-1) has no SIGKILL to finish: a signal ends the command as docker's CLI
  // (`timeout 6 tsbox stop` of a --stop-timeout -1 container never ended).
  const note = `tsbox: finishing the ${verb} first (SIGKILL after the timeout); interrupt twice more to leave it unfinished\n`;
  // Of several, a signal held for the finite ones ends the CLI once they are done.
  let finishing = 0;
  const act = (released: () => void) => async (c: Container) => {
    const finite = (timeout ?? (await c.inspect()).Config.StopTimeout ?? 0) >= 0;
    if (finite) finishing++;
    try {
      await (verb === "stop" ? c.stop(options) : c.restart({ ...options, onWarning: cliWarning(ctx) }));
    } finally {
      if (finite && --finishing === 0) released();
    }
  };
  return finishThenDie((released) => eachContainer(ctx, verb, flags.positionals, act(released), { parallel: "waiting" }), note, () => finishing > 0);
}
