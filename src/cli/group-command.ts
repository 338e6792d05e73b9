import type { CliContext } from "./context.js";

/** `--help`, `-h` or `help` as the subcommand of a command that has subcommands. */
export function isHelp(sub: string): boolean {
  return sub === "--help" || sub === "-h" || sub === "help";
}

/**
 * A command with subcommands (`volume`, `network`, `system`, `container`)
 * given none, or asked for help: its usage, on stderr with exit 125 when the
 * subcommand is missing, else on stdout with exit 0.
 */
export function groupUsage(sub: string | undefined, usage: string, ctx: CliContext): number {
  if (sub === undefined) return ctx.stderr.write(usage), 125;
  return ctx.stdout.write(usage), 0;
}
