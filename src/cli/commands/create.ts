import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import { type CliContext, cliWarning } from "../context.js";
import { openCidFile, parseRunArgs, RUN_USAGE } from "../run-flags.js";
import { runPullProgress } from "../progress.js";
import { hostTerminalSize } from "../terminal.js";
import { untilMade } from "../interrupt.js";

/** `create`: `run`'s flags; the container is made, not started; its id printed. */
export async function createCommand(args: string[], ctx: CliContext): Promise<number> {
  const request = parseRunArgs(args, ctx.env);
  if (request === "help") {
    ctx.stdout.write(RUN_USAGE.replace("tsbox run", "tsbox create").replace("Run a command in a new container.", "Create a container (tsbox start runs it)."));
    return 0;
  }
  const { options, interactive, tty } = request;
  options.stdin = interactive;
  if (tty) options.tty = hostTerminalSize();
  const cidfile = openCidFile(request.cidfile);
  let container;
  try {
    const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env), backend: request.backend as "native" | "vm" | "auto" | undefined });
    const pulling = runPullProgress(ctx.stderr, options.image, request.quiet);
    container = await untilMade((signal) => runtime.create(options, { ...(pulling ? { onPullProgress: pulling.onPullProgress } : {}), signal, onWarning: cliWarning(ctx) })).finally(() => pulling?.finish());
  } catch (err) {
    cidfile.discard();
    throw err;
  }
  cidfile.write(container.id);
  ctx.stdout.write(container.id + "\n");
  return 0;
}
