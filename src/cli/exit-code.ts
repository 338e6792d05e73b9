import { isTsboxError } from "../errors.js";

/** The commands whose own failures exit 125 (docker-cli wraps run's and create's errors in a StatusError 125). */
const OWN_125 = new Set(["run", "create"]);
/** The commands that pass on 126 (cannot execute) and 127 (not found) for the command they were given to run. */
const RUNS_COMMAND = new Set(["run", "create", "exec"]);

/**
 * docker's exit code for `command`'s error, the one rule for every command: a usage error (a bad flag or
 * value) 125, as docker's flag errors; run's and create's own failures 125, and 126/127 for a command
 * that cannot be executed or found (exec's too); any other error 1 (docker-cli's main: an error that is
 * not a StatusError exits 1), and an error that carries its own code (build's failed RUN step: 1) that.
 */
export function exitCodeOf(err: unknown, command: string | undefined): number {
  const own = command !== undefined && OWN_125.has(command);
  if (!isTsboxError(err)) return own ? 125 : 1;
  if (err.exitCode === 126 || err.exitCode === 127) return command !== undefined && RUNS_COMMAND.has(command) ? err.exitCode : 1;
  if (err.exitCode !== 125) return err.exitCode;
  return own || err.code === "usage" ? 125 : 1;
}
