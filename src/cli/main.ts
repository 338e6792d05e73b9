/**
 * The `tsbox` command. Kept lean for `tsbox run`'s start-up time: other
 * commands, terminals and layer unpacking are loaded only when used.
 */
import { errorMessage, isTsboxError, UsageError } from "../errors.js";
import { runCommand } from "./commands/run.js";
import type { CliContext, Command } from "./context.js";

// `run` is the hot path and loaded up front; the rest on demand.
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => runCommand,
  images: async () => (await import("./commands/images.js")).imagesCommand,
  ps: async () => (await import("./commands/ps.js")).psCommand,
  rm: async () => (await import("./commands/rm.js")).rmCommand,
  info: async () => (await import("./commands/info.js")).infoCommand,
  version: async () => (await import("./commands/version.js")).versionCommand,
  vm: async () => (await import("./commands/vm.js")).vmCommand,
  pull: async () => (await import("./commands/pull.js")).pullCommand,
  push: async () => (await import("./commands/push.js")).pushCommand,
  tag: async () => (await import("./commands/tag.js")).tagCommand,
  rmi: async () => (await import("./commands/tag.js")).rmiCommand,
  inspect: async () => (await import("./commands/tag.js")).inspectCommand,
  save: async () => (await import("./commands/save-load.js")).saveCommand,
  load: async () => (await import("./commands/save-load.js")).loadCommand,
  prune: async () => (await import("./commands/save-load.js")).pruneCommand,
  login: async () => (await import("./commands/login.js")).loginCommand,
  logout: async () => (await import("./commands/login.js")).logoutCommand,
  port: async () => (await import("./commands/port.js")).portCommand,
  network: async () => (await import("./commands/network.js")).networkCommand,
};

const USAGE = `Usage: tsbox COMMAND [OPTIONS]

Rootless containers for Node.

Commands:
  run       Run a command in a new container
  pull      Pull an image from a registry
  push      Push an image to a registry
  tag       Give an image another name
  rmi       Remove image names
  inspect   Show an image's details (JSON)
  save      Save images to a tar archive (docker or OCI format)
  load      Load images from a tar archive or OCI layout
  prune     Delete image data nothing needs
  login     Log in to a registry
  logout    Log out from a registry
  images    List images
  ps        List containers
  rm        Remove containers
  port      List a container's published ports
  network   Create, list, inspect, remove, connect and disconnect networks
  info      Show backend and host information
  vm        Start, stop or show a long-lived vm guest (vm backend)
  version   Show the version

Run 'tsbox COMMAND --help' for more on a command.
Exit codes: 125 tsbox failed, 126 cannot execute, 127 not found, else the command's.
`;

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? ctx.stderr : ctx.stdout).write(USAGE);
    return name === undefined ? 125 : 0;
  }
  if (name === "--version" || name === "-v") return (await COMMANDS.version!())(rest, ctx);
  if (name.startsWith("-")) throw new UsageError(`unknown flag: ${name}`);
  const load = COMMANDS[name];
  if (!load) throw new UsageError(`unknown command: ${name} (see tsbox --help)`);
  return (await load())(rest, ctx);
}

/** One line on stderr, docker's exit code. */
export function reportError(err: unknown, ctx: CliContext): number {
  const message = errorMessage(err).replace(/\s*\n\s*/g, " ");
  ctx.stderr.write(`tsbox: ${message}\n`);
  if (ctx.env.TSBOX_DEBUG && err instanceof Error && err.stack) ctx.stderr.write(err.stack + "\n");
  return isTsboxError(err) ? err.exitCode : 125;
}

// process.stdout/stderr are made on first use, and making one for a terminal
// costs ~10 ms (node:tty): `tsbox run` hands the container its fds and never
// touches them, so the context creates them only when a command writes.
let stdoutReady = false;
const ctx: CliContext = {
  env: process.env,
  get stdout() {
    if (!stdoutReady) {
      stdoutReady = true;
      // `tsbox images | head` closes our stdout early: that is not an error.
      process.stdout.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "EPIPE") process.exit(0);
      });
    }
    return process.stdout;
  },
  get stderr() {
    return process.stderr;
  },
};
let code: number;
try {
  code = await main(process.argv.slice(2), ctx);
} catch (err) {
  code = reportError(err, ctx);
}
process.exit(code);
