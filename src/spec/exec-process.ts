/**
 * The process `exec` runs in a running container: the container's own
 * (env, cwd, user, capabilities, limits) with the command and the
 * request's overrides, as docker exec does. Pure (the browser bundle uses
 * it): the caller resolves a requested user (the image's /etc/passwd on
 * hosts, numeric ids in the browser) and gives it as `user`.
 */
import { isTsboxError, UsageError } from "../errors.js";
import type { ProcessSpec } from "./container-spec.js";
import { ALL_CAPABILITIES, capabilitySets } from "./capabilities.js";
import { envList, mergeEnv, workingDir } from "./process-rules.js";

export interface ExecOverrides {
  /** Added to (and overriding) the container's environment. */
  env?: Record<string, string> | string[];
  /** Absolute working directory; default the container's. */
  cwd?: string;
  /** A terminal (of this size): TERM=xterm unless set. */
  tty?: boolean | { cols: number; rows: number };
  /** docker exec's `--privileged`: every capability (of the container's user namespace), whatever the container has. */
  privileged?: boolean;
}

/** A requested user, resolved; without it the exec runs as the container's user. */
export interface ExecUser {
  uid: number;
  gid: number;
  /** Left as the container has them when undefined. */
  additionalGids?: number[];
  /** $HOME for this user, unless the request's env sets it. */
  home: string;
}

export function execProcessSpec(base: ProcessSpec, cmd: string[], options: ExecOverrides, user?: ExecUser): ProcessSpec {
  checkExecCommand(cmd);
  // The container's terminal size is not the exec's.
  const { consoleSize: _containerSize, ...process } = base;
  const env = mergeEnv(process.env, options.env);
  let processUser = process.user;
  if (user) {
    processUser = { uid: user.uid, gid: user.gid, ...(user.additionalGids ? { additionalGids: user.additionalGids } : {}) };
    const homeGiven = Array.isArray(options.env) ? options.env.some((e) => e.startsWith("HOME=")) : options.env?.HOME !== undefined;
    if (!homeGiven) env.set("HOME", user.home);
  }
  if (options.tty && !env.has("TERM")) env.set("TERM", "xterm");
  if (options.privileged !== undefined && typeof options.privileged !== "boolean") throw new UsageError("privileged must be true or false");
  return {
    ...process,
    ...(options.privileged ? { capabilities: capabilitySets([...ALL_CAPABILITIES]) } : {}),
    terminal: Boolean(options.tty),
    ...(typeof options.tty === "object" ? { consoleSize: { width: options.tty.cols, height: options.tty.rows } } : {}),
    user: processUser,
    args: cmd,
    env: envList(env),
    cwd: workingDir(options.cwd, process.cwd),
  };
}

/** An exec's command: a non-empty array of strings, the first not empty. */
export function checkExecCommand(cmd: unknown): asserts cmd is string[] {
  if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((a) => typeof a !== "string") || cmd[0] === "") {
    throw new UsageError("exec needs a command: a non-empty array of strings");
  }
}

/**
 * `exec` resolves, as docker exec does, when the command cannot be run:
 * 127 (not found) or 126 (cannot execute), with the message on stderr.
 * The result for such a refusal; undefined for any other error.
 */
export function execRefusal(err: unknown): { exitCode: number; signal: null; stdout: string; stderr: string } | undefined {
  if (isTsboxError(err) && (err.code === "not_found" || err.code === "permission")) return { exitCode: err.exitCode, signal: null, stdout: "", stderr: `${err.message}\n` };
  return undefined;
}
