import type { Writable } from "node:stream";

/** What a command needs from the process around it (swappable in scratch tests). */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
}

/** A command returns the process exit code. */
export type Command = (args: string[], ctx: CliContext) => Promise<number>;

/** A warning as the CLI prints it, on stderr: `tsbox: warning: …`. */
export function cliWarning(ctx: CliContext): (message: string) => void {
  return (message) => ctx.stderr.write(warningLine(message));
}

export function warningLine(message: string): string {
  return `tsbox: warning: ${message}\n`;
}
