import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseRunArgs, RUN_USAGE } from "../run-flags.js";
import { attachTerminal, hostTerminalSize } from "../terminal.js";

/** Signals the CLI receives and passes on (the container runs in its own session, so only we do). */
const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

export async function runCommand(args: string[], ctx: CliContext): Promise<number> {
  const request = parseRunArgs(args, ctx.env);
  if (request === "help") {
    ctx.stdout.write(RUN_USAGE);
    return 0;
  }
  const { options, interactive, tty } = request;
  // Without a tty the container gets our own stdio fds: no copying, and EOF,
  // isatty and buffering behave as if the command ran here.
  options.stdin = interactive ? (tty ? true : "inherit") : false;
  options.stdout = tty ? "pipe" : "inherit";
  options.stderr = tty ? "pipe" : "inherit";
  if (tty) options.tty = hostTerminalSize();

  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const container = await runtime.run(options, { newSession: true });
  const forward = (signal: NodeJS.Signals) => void container.kill(signal);
  for (const signal of FORWARDED) process.on(signal, forward);
  const restore = tty ? attachTerminal(container, interactive) : undefined;
  try {
    const status = await container.wait();
    return status.exitCode;
  } finally {
    restore?.();
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}
