import { defaultDataDir } from "../../paths.js";
import type { Container } from "../../container.js";
import { HANDING_OFF, Runtime } from "../../runtime.js";
import { type CliContext, cliWarning } from "../context.js";
import { CLI_HAND_OFF } from "../hand-off.js";
import { runRecorder } from "../run-cache/record.js";
import { type CidFile, openCidFile, parseRunArgs, RUN_USAGE, type RunRequest } from "../run-flags.js";
import { UsageError } from "../../errors.js";
import { countInterrupts, untilMade } from "../interrupt.js";
import { runPullProgress } from "../progress.js";
import { attachTerminal, hostTerminalSize, requireInputTerminal } from "../terminal.js";

/** Signals the CLI receives and passes on (the container runs in its own session, so only we do). */
const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

export async function runCommand(args: string[], ctx: CliContext): Promise<number> {
  const request = parseRunArgs(args, ctx.env);
  if (request === "help") {
    ctx.stdout.write(RUN_USAGE);
    return 0;
  }
  if (!request.detach) requireInputTerminal(request.tty, request.interactive);
  const cidfile = openCidFile(request.cidfile);
  try {
    if (request.detach) return await runDetached(request, ctx, cidfile);
    return await (outlivesTheCli(request) ? runAttached(request, ctx, cidfile) : runForeground(args, request, ctx, cidfile));
  } catch (err) {
    cidfile.discard();
    throw err;
  }
}

async function runForeground(args: string[], request: RunRequest, ctx: CliContext, cidfile: CidFile): Promise<number> {
  const { options, interactive, tty } = request;
  // Without a tty the container gets our own stdio fds: no copying, and EOF,
  // isatty and buffering behave as if the command ran here.
  options.stdin = interactive ? (tty ? true : "inherit") : false;
  options.stdout = tty ? "pipe" : "inherit";
  options.stderr = tty ? "pipe" : "inherit";
  if (tty) options.tty = hostTerminalSize();

  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env), backend: request.backend as "native" | "vm" | "auto" | undefined });
  // A run handed over leaves its plan for the next one of the same command line (src/cli/run-cache/).
  const recorder = !tty && request.cidfile === undefined && runtime.backend.name === "native" ? runRecorder(args, request, runtime.dataDir, ctx.env) : undefined;
  const pulling = runPullProgress(ctx.stderr, options.image, request.quiet);
  // Handlers go in before the container starts: a signal that arrives while
  // it is being set up (its output may already be visible) is held and
  // delivered as soon as there is a container to deliver it to; Ctrl-C or
  // SIGTERM also aborts the run, which ends it (untilMade) if nothing was made
  // yet: during the pull, or the vm's guest start before the guest's create.
  let container: Container | undefined;
  const pending: NodeJS.Signals[] = [];
  // docker's third SIGINT/SIGTERM leaves the container to its daemon; this one dies with the CLI, so it is
  // killed, and the run ends as any (137, its --rm removal done): never an unkillable CLI.
  const counted = countInterrupts(() => void container?.kill("SIGKILL").catch(() => {}));
  const forward = (signal: NodeJS.Signals) => {
    if (container) void container.kill(signal).catch(() => {});
    else pending.push(signal);
    counted(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  let restore: (() => void) | undefined;
  try {
    container = await untilMade((signal) =>
      runtime
        .run(options, {
          ...(pulling ? { onPullProgress: pulling.onPullProgress } : {}),
          signal,
          newSession: true,
          onWarning: recorder ? recorder.warnings(cliWarning(ctx)) : cliWarning(ctx),
          handOff: recorder ? { beforeExec: recorder.beforeExec(CLI_HAND_OFF.beforeExec) } : CLI_HAND_OFF,
          ...(recorder ? { [HANDING_OFF]: recorder.handingOff } : {}),
          onCreated: (id) => {
            pulling?.finish(); // before a hand-off replaces this process
            cidfile.write(id);
          },
        })
        // (untilMade may end the process by the signal: no cidfile naming what the abort removed)
        .catch((err: unknown) => Promise.reject((cidfile.discard(), err))),
    ).finally(() => pulling?.finish());
    for (const signal of pending.splice(0)) void container.kill(signal);
    if (tty) restore = attachTerminal(container, interactive);
    const status = await container.wait();
    return status.exitCode;
  } finally {
    restore?.();
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}

/**
 * Whether the container must be able to outlive this CLI, as docker's
 * always can: a `-it` one may be detached from (ctrl-p ctrl-q), with
 * `--sig-proxy=false` Ctrl-C ends the CLI and not the container, and `-a`
 * leaves streams out that its log still keeps. Such a run is docker's
 * create + `start -a` (its monitor keeps it and its log); any other runs in
 * this process's place (the helper takes it over) and ends with it.
 */
function outlivesTheCli(request: RunRequest): boolean {
  return (request.tty && request.interactive) || !request.sigProxy || request.attach !== undefined || request.detachKeys !== undefined;
}

/** `run` as create + `start -a`: under its monitor, attached to the streams asked for. */
async function runAttached(request: RunRequest, ctx: CliContext, cidfile: CidFile): Promise<number> {
  const { options, interactive, tty } = request;
  const streams = request.attach ?? new Set(["stdout", "stderr", ...(interactive ? ["stdin"] : [])]);
  options.stdin = interactive;
  if (tty) options.tty = hostTerminalSize();
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env), backend: request.backend as "native" | "vm" | "auto" | undefined });
  const pulling = runPullProgress(ctx.stderr, options.image, request.quiet);
  const container = await untilMade((signal) => runtime.create(options, { ...(pulling ? { onPullProgress: pulling.onPullProgress } : {}), signal, onWarning: cliWarning(ctx) })).finally(() => pulling?.finish());
  cidfile.write(container.id);
  // Loaded here: the monitor's client (node:net) and the attach machinery are not a plain run's path.
  const [{ startAttached, streamAttachment }, { DEFAULT_DETACH_KEYS, parseDetachKeys }] = await Promise.all([import("../attach-io.js"), import("../detach-keys.js")]);
  const stdin = interactive && streams.has("stdin");
  const attachment = await startAttached(container, { stdin, stdout: streams.has("stdout"), stderr: streams.has("stderr"), stdinOnce: stdin }, cliWarning(ctx));
  const detachKeys = parseDetachKeys(request.detachKeys ?? DEFAULT_DETACH_KEYS);
  return streamAttachment(container, attachment, { interactive: stdin, sigProxy: request.sigProxy, detachKeys, detachQuietly: true });
}

/** `run -d`: created, started under its monitor, its id printed. */
async function runDetached(request: RunRequest, ctx: CliContext, cidfile: CidFile): Promise<number> {
  const { options, interactive, tty } = request;
  if (options.remove && options.restart !== undefined && options.restart !== "no") {
    throw new UsageError("--restart and --rm cannot be combined: a container that restarts is never removed");
  }
  // -i keeps the container's stdin open for a later attach; -t gives it a terminal.
  options.stdin = interactive;
  if (tty) options.tty = hostTerminalSize();
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env), backend: request.backend as "native" | "vm" | "auto" | undefined });
  const pulling = runPullProgress(ctx.stderr, options.image, request.quiet);
  const container = await untilMade((signal) => runtime.create(options, { ...(pulling ? { onPullProgress: pulling.onPullProgress } : {}), signal, onWarning: cliWarning(ctx) })).finally(() => pulling?.finish());
  cidfile.write(container.id);
  // The native helper takes this process over, starts the monitor and prints the id itself.
  await container.start({ handOff: { ...CLI_HAND_OFF, print: container.id }, onWarning: cliWarning(ctx) });
  ctx.stdout.write(container.id + "\n");
  return 0;
}
