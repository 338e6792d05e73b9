import type { Writable } from "node:stream";

/** What a command needs from the process around it (swappable in scratch tests). */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
}

/** A command returns the process exit code. */
export type Command = (args: string[], ctx: CliContext) => Promise<number>;
