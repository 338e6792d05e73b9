/**
 * The `tsbox` command. Kept lean for `tsbox run`'s start-up time: other
 * commands, terminals and layer unpacking are loaded only when used.
 */
import { errorMessage, UsageError } from "../errors.js";
import { speakInFlags } from "../vocabulary.js";
import { runCommand } from "./commands/run.js";
import { hintedMessage } from "./error-hints.js";
import { escapeControls } from "./escape.js";
import { exitCodeOf } from "./exit-code.js";
import type { CliContext, Command } from "./context.js";
import { exitCli, fdOutput, readerGone } from "./fd-output.js";
import { unknownCommand } from "./unknown-command.js";

// `run` is the hot path and loaded up front; the rest on demand.
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => runCommand,
  images: async () => (await import("./commands/images.js")).imagesCommand,
  ps: async () => (await import("./commands/ps.js")).psCommand,
  rm: async () => (await import("./commands/rm.js")).rmCommand,
  create: async () => (await import("./commands/create.js")).createCommand,
  start: async () => (await import("./commands/start.js")).startCommand,
  attach: async () => (await import("./commands/attach.js")).attachCommand,
  exec: async () => (await import("./commands/exec.js")).execCommand,
  logs: async () => (await import("./commands/logs.js")).logsCommand,
  stop: async () => (await import("./commands/stop.js")).stopCommand,
  restart: async () => (await import("./commands/stop.js")).restartCommand,
  kill: async () => (await import("./commands/kill.js")).killCommand,
  pause: async () => (await import("./commands/pause.js")).pauseCommand,
  unpause: async () => (await import("./commands/pause.js")).unpauseCommand,
  update: async () => (await import("./commands/update.js")).updateCommand,
  wait: async () => (await import("./commands/wait.js")).waitCommand,
  events: async () => (await import("./commands/events.js")).eventsCommand,
  rename: async () => (await import("./commands/rename.js")).renameCommand,
  top: async () => (await import("./commands/top.js")).topCommand,
  stats: async () => (await import("./commands/stats.js")).statsCommand,
  info: async () => (await import("./commands/info.js")).infoCommand,
  version: async () => (await import("./commands/version.js")).versionCommand,
  vm: async () => (await import("./commands/vm.js")).vmCommand,
  pull: async () => (await import("./commands/pull.js")).pullCommand,
  push: async () => (await import("./commands/push.js")).pushCommand,
  tag: async () => (await import("./commands/tag.js")).tagCommand,
  rmi: async () => (await import("./commands/tag.js")).rmiCommand,
  save: async () => (await import("./commands/save-load.js")).saveCommand,
  load: async () => (await import("./commands/save-load.js")).loadCommand,
  prune: async () => (await import("./commands/save-load.js")).pruneCommand,
  login: async () => (await import("./commands/login.js")).loginCommand,
  logout: async () => (await import("./commands/login.js")).logoutCommand,
  // --- data commands (cli-data) ---
  inspect: async () => (await import("./commands/inspect.js")).inspectCommand,
  volume: async () => (await import("./commands/volume.js")).volumeCommand,
  cp: async () => (await import("./commands/cp.js")).cpCommand,
  diff: async () => (await import("./commands/diff.js")).diffCommand,
  commit: async () => (await import("./commands/commit.js")).commitCommand,
  import: async () => (await import("./commands/commit.js")).importCommand,
  export: async () => (await import("./commands/export.js")).exportCommand,
  system: async () => (await import("./commands/system.js")).systemCommand,
  container: async () => {
    const { managementCommand } = await import("./commands/management.js");
    return (args, ctx) => managementCommand("container", args, ctx, main);
  },
  image: async () => {
    const { managementCommand } = await import("./commands/management.js");
    return (args, ctx) => managementCommand("image", args, ctx, main);
  },
  builder: async () => {
    const { builderCommand } = await import("./commands/prune.js");
    return (args, ctx) => builderCommand(args, ctx, main);
  },
  // --- end data commands ---
  port: async () => (await import("./commands/port.js")).portCommand,
  build: async () => (await import("./commands/build.js")).buildCommand,
  history: async () => (await import("./commands/history.js")).historyCommand,
  network: async () => (await import("./commands/network.js")).networkCommand,
};

const USAGE = `Usage: tsbox COMMAND [OPTIONS]

Rootless containers for Node.

Commands:
  run       Run a command in a new container (-d: in the background)
  create    Create a container without starting it
  start     Start containers in the background (-a: attached)
  stop      Stop containers (stop signal, then SIGKILL)
  restart   Restart containers
  kill      Send a signal to containers
  pause     Freeze containers' processes
  unpause   Thaw paused containers
  update    Change containers' cgroup limits
  wait      Wait for containers to stop, print their exit codes
  rm        Remove containers
  rename    Rename a container
  exec      Run a command in a running container
  attach    Attach to a running container's output and input
  logs      Show a container's output
  top       Show a container's processes
  stats     Show containers' resource use
  events    Show what happens to containers (create, start, die, …)
  pull      Pull an image from a registry
  push      Push an image to a registry
  build     Build an image from a Dockerfile
  history   Show the history of an image
  tag       Give an image another name
  rmi       Remove image names
  inspect   Show containers, images or volumes (JSON, or -f TEMPLATE)
  save      Save images to a tar archive (docker or OCI format)
  load      Load images from a tar archive or OCI layout
  prune     Delete image data nothing needs
  login     Log in to a registry
  logout    Log out from a registry
  images    List images
  ps        List containers
  volume    Manage volumes (create, ls, inspect, rm, prune)
  cp        Copy files between a container and the host
  diff      Show a container's file changes (A/C/D)
  commit    Create an image from a container's changes
  export    Export a container's filesystem as a tar archive
  import    Create an image from a tar archive
  container Manage containers (docker's container ls/rm/inspect/prune/…)
  image     Manage images (docker's image ls/rm/inspect/pull/prune/…)
  builder   Manage builds (build, prune: the build cache)
  system    Disk usage (df) and pruning of everything unused (prune)
  port      List a container's published ports
  network   Create, list, inspect, remove, connect and disconnect networks
  info      Show backend and host information
  vm        Start, stop or show a long-lived vm guest (vm backend)
  version   Show the version

Run 'tsbox COMMAND --help' (or 'tsbox help COMMAND') for more on a command.
Exit codes: run/create: 125 tsbox failed, 126 cannot execute, 127 not found, else the command's;
other commands: 1 failed (exec: the command's, 126, 127), 125 a usage error.
Environment: TSBOX_DATA_DIR (images, containers, volumes; default $XDG_DATA_HOME/tsbox or ~/.local/share/tsbox),
TSBOX_BACKEND (native, vm or auto), TSBOX_NETWORK (the default network), TSBOX_ROOTLESS_NETWORK (pasta or slirp4netns),
TSBOX_HOST_LOOPBACK=1 (rootless and vm containers reach this host's loopback at 10.0.2.2; closed by default),
TSBOX_RUN_CACHE=0 (every run prepares its container in full: no replay of an earlier run's plan),
TSBOX_NEST_IDLE (seconds a rootless user's id-map holder stays unused, default 60; 0: none, each run runs newuidmap).
`;

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  // The messages of the code below name flags (--network none), not the library's options (network: "none").
  speakInFlags();
  const [name, ...rest] = argv;
  // docker's `help COMMAND`: that command's help.
  if (name === "help" && rest[0] !== undefined && COMMANDS[rest[0]]) return (await COMMANDS[rest[0]]!())([...rest.slice(1), "--help"], ctx);
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    // docker prints its help and exits 0 also when given no command.
    ctx.stdout.write(USAGE);
    return 0;
  }
  if (name === "--version" || name === "-v") return (await COMMANDS.version!())(rest, ctx);
  if (name.startsWith("-")) throw new UsageError(`unknown flag: ${name}`);
  const load = COMMANDS[name];
  if (!load) throw unknownCommand(name, Object.keys(COMMANDS));
  const command = await load();
  // Reported here, where the command is known: its name decides the exit code (exit-code.ts).
  return command(rest, ctx).catch((err: unknown) => reportError(err, ctx, name));
}

/** One line on stderr, docker's exit code for `command`'s error (none: before one was chosen). */
function reportError(err: unknown, ctx: CliContext, command?: string): number {
  // One line, and no control characters a hostile name could carry to the terminal.
  ctx.stderr.write(`tsbox: ${escapeControls(hintedMessage(err, ctx.env).replace(/\s*\n\s*/g, " "))}\n`);
  if (ctx.env.TSBOX_DEBUG && err instanceof Error && err.stack) ctx.stderr.write(err.stack + "\n");
  return exitCodeOf(err, command);
}

// process.stdout/stderr are made only when a command needs a stream (fd-output.ts):
// a command that prints text writes to the descriptors, and `tsbox run` hands the
// container its fds and never touches them.
// `tsbox images | head` closes our stdout early: that is not an error.
const stdout = fdOutput(1, () => process.stdout.on("error", (err: NodeJS.ErrnoException) => void (err.code === "EPIPE" && readerGone())), readerGone);
const stderr = fdOutput(2, () => process.stderr, () => {});
const ctx: CliContext = { env: process.env, stdout, stderr };
// A command whose promise is still pending when nothing is left to wait for
// (a lost callback, a read that never settles) would otherwise exit 0: a
// failure must never look like success.
process.once("beforeExit", () => {
  ctx.stderr.write("tsbox: internal error: the command stopped before it finished (please report this)\n");
  process.exit(125);
});
// No top-level await: the same module also bundles as CommonJS. Exit once what
// the output streams hold is written (process.exit would drop it).
const exit = (code: number) => void Promise.all([stdout.flushed(), stderr.flushed()]).then(() => exitCli(code));
main(process.argv.slice(2), ctx).then(exit, (err: unknown) => exit(reportError(err, ctx)));
