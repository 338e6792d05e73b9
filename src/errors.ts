/**
 * Every failure tsbox itself reports is a TsboxError: one user-facing line
 * (the CLI prints `tsbox: <message>`) plus the exit code docker would use
 * (125 for tsbox's own errors, 126 cannot execute, 127 not found).
 */

export type TsboxErrorCode =
  | "usage" // bad CLI flags or API options
  | "spec" // ContainerSpec failed validation
  | "image" // image reference, store or config problem
  | "layer" // unsafe or unsupported layer content
  | "not_found" // executable not found (127)
  | "permission" // cannot execute / permission denied (126)
  | "setup" // container setup failed in tsbox-runtime
  | "runtime" // the helper or addon is missing or misbehaved
  | "container" // unknown container, name in use, …
  | "build" // a Dockerfile build failed (exit 1, as docker build)
  | "max_buffer"; // collected output passed its maxBuffer (exec, output): the process was killed

/**
 * The code for an error `kind` reported by the container machinery (the
 * native helper's status events and the vm agent's replies use the same kinds).
 */
export function containerErrorCode(kind: string): TsboxErrorCode {
  if (kind === "not_running") return "container"; // exec into a container whose init is gone
  return kind === "not_found" || kind === "permission" || kind === "spec" ? kind : "setup";
}

/** Brand shared by every copy of this module (bundled lazily-loaded chunks, duplicate installs). */
const BRAND = Symbol.for("tsbox.error");

export class TsboxError extends Error {
  readonly exitCode: number;
  readonly code: TsboxErrorCode | undefined;
  readonly [BRAND] = true;

  constructor(message: string, options: { exitCode?: number; code?: TsboxErrorCode; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 125;
    this.code = options.code;
  }
}

/** A ContainerSpec field is invalid; `field` is its path, e.g. `process.args[0]`. */
export class SpecError extends TsboxError {
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`invalid container spec: ${field}: ${problem}`, { code: "spec" });
    this.field = field;
  }
}

export class UsageError extends TsboxError {
  constructor(message: string) {
    super(message, { code: "usage" });
  }
}

export class ImageError extends TsboxError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: "image", cause });
  }
}

/** Layer content tsbox refuses to unpack (path escapes, writes through symlinks, …). */
export class LayerError extends TsboxError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: "layer", cause });
  }
}

/**
 * A write's system error names no path: `path` says where it was writing, so the CLI's hint can tell the data
 * dir's full disk (src/cli/error-hints.ts) once the failed write's files are gone and statfs no longer shows it.
 */
export function writingAt<T>(err: T, path: string): T {
  if (err instanceof Error && (err as NodeJS.ErrnoException).path === undefined) (err as NodeJS.ErrnoException).path = path;
  return err;
}

/**
 * `exec()` or `output()` read more than `maxBuffer` bytes of a stream: the process the output belongs to was
 * killed (an exec'd process, a run's container). `stdout` and `stderr` are what was read until then.
 */
export class OutputLimitError extends TsboxError {
  readonly stdout: string;
  readonly stderr: string;

  constructor(
    /** The stream that went past the limit. */
    readonly stream: "stdout" | "stderr",
    readonly maxBuffer: number,
    partial: { stdout: string; stderr: string },
  ) {
    super(`${stream} passed maxBuffer (${maxBuffer} bytes)`, { code: "max_buffer" });
    this.stdout = partial.stdout;
    this.stderr = partial.stderr;
  }
}

/**
 * What a ContainerError refuses, for callers to branch on (dockerode's 404, 409, 304); for `waitForLog` and
 * `waitForHealthy`, why the wait failed: `timeout` (its `timeoutMs` passed), `not_running` (the container ended
 * first), `unhealthy` (its health check failed).
 */
export type ContainerErrorReason = "no_such_container" | "name_in_use" | "not_running" | "paused" | "running" | "no_cgroup" | "timeout" | "unhealthy";

export class ContainerError extends TsboxError {
  /**
   * The refusal's kind, where it is one of these; undefined for other container errors. Read from the
   * message's fixed wording (one rule for the native, vm and browser backends' many throw sites).
   */
  readonly reason: ContainerErrorReason | undefined;

  constructor(message: string) {
    super(message, { code: "container" });
    this.reason = REASONS.find(([re]) => re.test(message))?.[1];
  }
}

/**
 * The pause rules' refusals (docker's wording), for Node's and the page's containers alike; `name` is the
 * container's name or short id. docker refuses exec into a paused container (it would wait, frozen, until unpaused).
 */
export const pauseRefusal = {
  exec: (name: string) => new ContainerError(`container ${name} is paused, unpause the container before exec`),
  alreadyPaused: (name: string) => new ContainerError(`container ${name} is already paused`),
  notPaused: (name: string) => new ContainerError(`container ${name} is not paused`),
};

const REASONS: [RegExp, ContainerErrorReason][] = [
  // The waits' (wait-for-log.ts, wait-for-health.ts), anchored: their messages quote the caller's pattern.
  [/^no log line of container \S+ matched /, "timeout"],
  [/^container \S+ was not healthy within /, "timeout"],
  [/^container \S+ (exited \([^)]*\)|is \S+) before (a log line matched|its health check passed)/, "not_running"],
  [/^container \S+ exited \([^)]*\): a stopped container is unhealthy/, "not_running"],
  [/^container \S+ is unhealthy after /, "unhealthy"],
  [/^no such container/, "no_such_container"],
  [/ is already in use/, "name_in_use"],
  [/ is (already )?paused/, "paused"],
  // unpause of a running container (docker's wording); one not running is refused as not_running.
  [/ is not paused$/, "running"],
  [/^cannot remove running container /, "running"],
  [/ (is|it is) not running/, "not_running"],
  [/ runs without a cgroup /, "no_cgroup"],
];

/** `instanceof TsboxError` that also holds across separately bundled copies of this class. */
export function isTsboxError(err: unknown): err is TsboxError {
  return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** Message of any thrown value, for places that must turn it into one line. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
