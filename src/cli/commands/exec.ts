import { errorMessage, isTsboxError, SpecError, TsboxError, UsageError } from "../../errors.js";
import { UnknownUserError } from "../../spec/user-lookup.js";
import type { CliContext } from "../context.js";
import { CLI_HAND_OFF } from "../hand-off.js";
import { cliRuntime } from "../each-container.js";
import { lastValue, parseFlags } from "../flags.js";
import { flagEnvironment, PROCESS_FLAGS } from "../run-flags.js";
import { attachTerminal, hostTerminalSize, relayOutput, requireInputTerminal } from "../terminal.js";
import { countInterrupts } from "../interrupt.js";

const USAGE = `Usage: tsbox exec [OPTIONS] CONTAINER COMMAND [ARG...]

Run a command in a running container.

Options:
  -d, --detach           Run it in the background (no output, nobody waits for it)
  -i, --interactive      Pass stdin to it
  -t, --tty              Allocate a pseudo-terminal
  -e, --env K=V          Set an environment variable (K alone: take it from here)
      --env-file FILE    Read KEY=VALUE lines from FILE
  -w, --workdir DIR      Working directory inside the container (absolute)
  -u, --user USER        UID[:GID] or NAME[:GROUP]
      --privileged       Give the command every capability (within the container's user namespace)
`;

/** Signals passed on to the exec'd process (as docker's CLI does without a terminal). */
const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

/**
 * An attached exec whose process could not be set up (its user unknown, its working directory missing, the
 * container's namespaces not joined) exits 126, as docker's: its daemon records 126 for an exec that failed to
 * start (moby's ContainerExecStart; before, 125 or 1 depending on -t). The helper that takes a CLI's exec over
 * does the same (runtime/src/exec.rs).
 */
function startFailure(err: unknown, detach: boolean): unknown {
  // A user the container's namespace does not map (rootless, past the subordinate range) is one it cannot become.
  const setUp = err instanceof UnknownUserError || (err instanceof SpecError && err.field.startsWith("process.user")) || (isTsboxError(err) && err.code === "setup");
  if (!setUp) return err;
  // docker's -d: the start's error from the daemon, exit 1.
  return new TsboxError(errorMessage(err), { exitCode: detach ? 1 : 126, code: (err as TsboxError).code, cause: err });
}

export async function execCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "detach", short: "d" }, { name: "privileged" }, ...PROCESS_FLAGS], { stopAtPositional: true });
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  const [ref, ...cmd] = flags.positionals;
  if (ref === undefined || cmd.length === 0) throw new UsageError(`"tsbox exec" requires a container and a command (tsbox exec [OPTIONS] CONTAINER COMMAND [ARG...])`);
  const env = flagEnvironment(flags, ctx.env);
  const tty = flags.bools.has("tty");
  const interactive = flags.bools.has("interactive");
  const detach = flags.bools.has("detach");
  if (!detach) requireInputTerminal(tty, interactive);
  const cwd = lastValue(flags, "workdir");
  const user = lastValue(flags, "user");
  const container = await cliRuntime(ctx).get(ref);
  const proc = await container.spawn(cmd, {
    env,
    ...(cwd !== undefined ? { cwd } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(flags.bools.has("privileged") ? { privileged: true } : {}),
    // Detached, its terminal is nobody's here: the default size, as docker's and the vm backend's.
    ...(tty ? { tty: detach ? true : hostTerminalSize() } : {}),
    stdin: interactive && !detach,
    detach,
    handOff: CLI_HAND_OFF,
  }).catch((err: unknown) => {
    throw startFailure(err, detach);
  });
  if (detach) return 0;
  // The third SIGINT/SIGTERM kills a process that ignores them (it dies with this CLI anyway): exit 137.
  const counted = countInterrupts(() => proc.kill("SIGKILL"));
  const forward = (signal: NodeJS.Signals) => {
    proc.kill(signal);
    counted(signal);
  };
  if (!tty) for (const signal of FORWARDED) process.on(signal, forward);
  let restore: (() => void) | undefined;
  try {
    if (tty) restore = attachTerminal(proc, interactive);
    else {
      if (interactive && proc.stdin) {
        process.stdin.pipe(proc.stdin);
        proc.stdin.on("error", () => {});
      }
      if (proc.stdout) relayOutput(proc.stdout, process.stdout, { passClosedPipe: true });
      if (proc.stderr) relayOutput(proc.stderr, process.stderr, { passClosedPipe: true });
    }
    const outputDone = Promise.all([proc.stdout, proc.stderr].map((s) => (s ? new Promise((r) => (s.once("end", r), s.once("close", r))) : undefined)));
    const status = await proc.wait();
    await outputDone;
    return status.exitCode;
  } finally {
    restore?.();
    if (interactive && !tty) {
      process.stdin.unpipe();
      process.stdin.pause();
    }
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}
