import { option } from "./vocabulary.js";

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
  /**
   * A `run()` or `start()` that failed to start its command (127, 126, a setup error) leaves the container
   * created, as docker does (not with `remove: true`): its full id and name, for the caller to remove it or
   * look at it (`rt.get(err.containerId)`). Undefined on other errors.
   */
  declare containerId?: string;
  declare containerName?: string;
  readonly [BRAND] = true;

  constructor(message: string, options: { exitCode?: number; code?: TsboxErrorCode; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
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
  /** docker's "No such image" (404): the one image error `rmi -f` passes over. */
  readonly notFound: boolean;

  constructor(message: string, cause?: unknown, notFound = false) {
    super(message, { code: "image", cause });
    this.notFound = notFound;
  }
}

/** An ImageError that says the image does not exist, whichever copy of this module made it (as `hasReason`). */
export function isImageNotFound(err: unknown): boolean {
  return isTsboxError(err) && (err as Partial<ImageError>).notFound === true;
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
 * What a ContainerError refuses, for callers to branch on (dockerode's 404, 409, 304), given where it is thrown
 * (never read from the message, which may quote a caller's path or pattern). README's "Errors" lists them
 * (test/contract.test.ts holds the two together).
 */
export const CONTAINER_ERROR_REASONS = [
  "no_such_container", // 404: no container by that id, id prefix or name (any more)
  "ambiguous", // an id prefix of more than one container
  "name_in_use", // 409: a container's or a network's name is taken
  "not_running", // it has to run (exec, stats, attach…, the CLI's kill: Container.kill() of a stopped one does nothing); for the waits, it ended first
  "paused", // 409: exec, pause and start of a paused container
  "not_paused", // 409: unpause of one that is not paused
  "running", // 409: remove without force
  "in_use", // 409: a volume or network a container uses
  "no_such_network", // 404
  "no_such_volume", // 404
  "no_such_path", // 404: copyFrom of a path the container does not have
  "no_such_port", // mappedPort of a port the container does not publish
  "no_cgroup", // rootless without a delegated cgroup: stats, pause, update
  "no_log", // logs of a container that keeps none (a foreground run, the none log driver)
  "timeout", // waitForLog, waitForHealthy: timeoutMs passed
  "unhealthy", // waitForHealthy: its health check failed
] as const;

export type ContainerErrorReason = (typeof CONTAINER_ERROR_REASONS)[number];

export class ContainerError extends TsboxError {
  /** The refusal's kind, where it is one of these; undefined for other container errors. */
  readonly reason: ContainerErrorReason | undefined;

  constructor(message: string, reason?: ContainerErrorReason) {
    super(message, { code: "container" });
    this.reason = reason;
  }
}

/** A ContainerError of that reason, whichever copy of this module made it (as `isTsboxError`). */
export function hasReason(err: unknown, reason: ContainerErrorReason): boolean {
  return isTsboxError(err) && (err as Partial<ContainerError>).reason === reason;
}

/** docker's "No such container" (`ref` as the caller named it, or a short id). */
export function noSuchContainer(ref: string): ContainerError {
  return new ContainerError(`no such container: ${ref}`, "no_such_container");
}

export function notRunning(name: string, status?: string): ContainerError {
  // docker's words for one between its runs (a restart policy's back-off): it will run again.
  if (status === "restarting") return new ContainerError(`container ${name} is restarting, wait until the container is running`, "not_running");
  return new ContainerError(`container ${name} is not running`, "not_running");
}

/**
 * The pause rules' refusals (docker's wording), for Node's and the page's containers alike; `name` is the
 * container's name or short id. docker refuses exec into a paused container (it would wait, frozen, until unpaused).
 */
export const pauseRefusal = {
  exec: (name: string) => new ContainerError(`container ${name} is paused, unpause the container before exec`, "paused"),
  alreadyPaused: (name: string) => new ContainerError(`container ${name} is already paused`, "paused"),
  start: (name: string) => new ContainerError(`cannot start paused container ${name}: unpause it instead`, "paused"),
  notPaused: (name: string) => new ContainerError(`container ${name} is not paused`, "not_paused"),
};

/** `remove()` without `force` of a running container (`id` short): the force named as the caller gives it. */
export function removeRunningRefusal(id: string): ContainerError {
  return new ContainerError(`cannot remove running container ${id}: stop it first or use ${option("force", true)}`, "running");
}

/**
 * Gives an error class its `name` (on its prototype, before any instance exists, so a stack's first line has it
 * too) as a string: an app's minifier renames classes (`new.target.name` became `o`, `String(err)` "o: …").
 */
export function nameErrors(classes: Record<string, { prototype: Error }>): void {
  for (const [name, cls] of Object.entries(classes)) Object.defineProperty(cls.prototype, "name", { value: name, writable: true, configurable: true });
}

nameErrors({ TsboxError, SpecError, UsageError, ImageError, LayerError, OutputLimitError, ContainerError });

/** `instanceof TsboxError` that also holds across separately bundled copies of this class. */
export function isTsboxError(err: unknown): err is TsboxError {
  return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** Names, on a failed start's error, the container that failed start left behind (`TsboxError.containerId`). */
export function leftContainer(err: unknown, id: string, name: string | null): void {
  if (!isTsboxError(err) || err.containerId !== undefined) return;
  err.containerId = id;
  if (name !== null) err.containerName = name;
}

/** Message of any thrown value, for places that must turn it into one line. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
