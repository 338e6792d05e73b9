/**
 * What an exec'd process is to a caller, whatever its streams are: Node's
 * `ExecProcess` (src/container.ts, Node streams) and the browser's
 * (web-container.ts, WHATWG streams) are this class over their platform's
 * stream types, so the verbs and their rules have one home. No Node built-in
 * here: the browser bundle loads it.
 */
import type { ContainerProcess, ExitStatus } from "./backends/backend.js";
import type { ExecOptions, ExecResult, ProcessOptions, SpawnOptions } from "./container.js";
import type { StopOptions } from "./containers/ops/stop.js";
import type { Signal } from "./signals.js";
import { parseSignal } from "./containers/signals.js";
import { execRefusal } from "./spec/exec-process.js";
import { UsageError } from "./errors.js";
import { collectToEnd, maxBufferOf, type OutputOptions, outputLimit } from "./output-limit.js";
import { abortable, abortError, abortSignalOf } from "./abortable.js";
import { checkOptions, checkTerminalSize, describeValue, type OptionKinds } from "./spec/run-options-check.js";

// The options of the verbs Node's and the browser's containers share (src/spec/run-options-check.ts's rule).
const PROCESS_KINDS: OptionKinds<ProcessOptions> = { env: "env", cwd: "string", user: "string", tty: "tty", privileged: "boolean" };
/** What spawn takes, in Node and in the browser. */
export const SPAWN_KINDS: OptionKinds<SpawnOptions> = { ...PROCESS_KINDS, stdin: "boolean" };
/** What exec takes: a process's options, its stdin's text, how much of its output to keep, and an AbortSignal. */
export const EXEC_KINDS: OptionKinds<ExecOptions> = { ...PROCESS_KINDS, stdin: "bytes", maxBuffer: "own", signal: "abortSignal" };
export const STOP_KINDS: OptionKinds<StopOptions> = { timeout: "seconds", signal: "stringOrNumber" };
/**
 * A `stop` call's options, Node's and the browser's: a number is the browser's form, milliseconds. A few
 * milliseconds are surely meant as seconds (`stop(2)` sent SIGKILL after 2 ms, where docker's `stop -t 2` and the
 * object form `{ timeout: 2 }` wait 2 s): refused, naming both forms; 0 still kills at once.
 */
export function stopOptionsOf(options: StopOptions | number): StopOptions {
  if (typeof options === "number") {
    if (options > 0 && options < MIN_STOP_MS) {
      throw new UsageError(`stop(${options}): a number is milliseconds, the browser's form; for ${options} seconds give stop({ timeout: ${options} }) or stop(${options * 1000})`);
    }
    options = { timeout: options / 1000 };
  }
  checkOptions("stop", options, STOP_KINDS);
  return options;
}
/** Below this a number given to stop() is taken for seconds by mistake. */
const MIN_STOP_MS = 100;
const WAIT_KINDS: OptionKinds<{ signal?: AbortSignal }> = { signal: "abortSignal" };

/** The options of a `wait` (a container's or a process's, Node's or the browser's) checked: its AbortSignal, if any. */
export function waitSignal(options: { signal?: AbortSignal }): AbortSignal | undefined {
  checkOptions("wait", options, WAIT_KINDS);
  return abortSignalOf("wait", options.signal);
}

export abstract class ProcessHandle<In, Out> implements AsyncDisposable {
  readonly stdin: In | null;
  readonly stdout: Out | null;
  readonly stderr: Out | null;
  private exitStatus: ExitStatus | undefined;
  private collected: Promise<ExecResult> | undefined;

  constructor(private readonly proc: ContainerProcess<In, Out>) {
    this.stdin = proc.stdin;
    this.stdout = proc.stdout;
    this.stderr = proc.stderr;
    proc.exited.then((status) => (this.exitStatus = status)).catch(() => {});
  }

  /** Its pid as the backend sees it: on the host (native), in the guest (vm). */
  get pid(): number {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /**
   * Resolves once it ended: exit code (128+n when killed by signal n) and signal name. With `signal`, the wait
   * (not the process) ends when it aborts, rejecting with its reason (an AbortError).
   */
  wait(options: { signal?: AbortSignal } = {}): Promise<ExitStatus> {
    try {
      return abortable(this.proc.exited, waitSignal(options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sends a signal (docker's forms: SIGTERM, TERM, 15); false when it already ended. A UsageError for an unknown signal. */
  kill(signal: Signal | string = "SIGTERM"): boolean {
    const { number } = parseSignal(signal);
    return this.exitStatus === undefined && this.proc.kill(number);
  }

  /** Resizes its terminal (with `tty`); otherwise does nothing. */
  resize(cols: number, rows: number): void {
    checkTerminalSize("resize: ", cols, rows);
    if (!this.exitStatus) this.proc.resize(cols, rows);
  }

  /**
   * Collects stdout and stderr as UTF-8 and waits for the end. Past `maxBuffer` bytes of a stream (default
   * 100 MiB) the process is killed and it rejects with an `OutputLimitError` carrying what was read. Called
   * again, it gives the first call's result (the streams are read once).
   */
  async output(options: OutputOptions = {}): Promise<ExecResult> {
    return (this.collected ??= this.collect(outputLimit(options)));
  }

  private async collect(maxBuffer: number): Promise<ExecResult> {
    const chunks = (s: Out | null) => (s ? this.chunks(s) : null);
    const { status, ...text } = await collectToEnd(chunks(this.stdout), chunks(this.stderr), maxBuffer, () => this.kill("SIGKILL"), this.proc.exited);
    return { exitCode: status.exitCode, signal: status.signal, ...text };
  }

  /** `await using p = await c.spawn(…)`: kills it if needed and waits for the end. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.exitStatus) this.proc.kill("SIGKILL");
    if (this.stdin) await this.closeStdin(this.stdin);
    await this.proc.exited.catch(() => {});
  }

  /**
   * @internal Writes `data` to stdin, then closes it when `end` (`Container.exec`'s input). A process that
   * ends or stops reading first is no error; `onError` gets any other failure of the write.
   */
  feedInput(data: string | Uint8Array, end: boolean, onError: (err: Error) => void): void {
    if (this.stdin) this.writeStdin(this.stdin, data, end, onError);
  }

  /** An output stream's bytes (text, where the caller set an encoding on it). */
  protected abstract chunks(stream: Out): AsyncIterable<Uint8Array | string>;

  /** Lets go of stdin without waiting for the process to read it. */
  protected abstract closeStdin(stdin: In): Promise<void> | void;

  protected abstract writeStdin(stdin: In, data: string | Uint8Array, end: boolean, onError: (err: Error) => void): void;
}

/**
 * `Container.exec` on either platform: starts the process, gives it `input`,
 * collects its output to the end. A command that cannot be run resolves too:
 * 127 (not found) or 126, with docker's message on stderr.
 */
export async function execToEnd(
  spawn: (withStdin: boolean) => Promise<ProcessHandle<unknown, unknown>>,
  input: string | Uint8Array | undefined,
  tty: boolean,
  maxBuffer: number | undefined,
  signalOption?: unknown,
): Promise<ExecResult> {
  // Anything else reached the stream's write: Node threw from inside, and a page's guest link broke on it.
  if (input !== undefined && typeof input !== "string" && !(input instanceof Uint8Array)) {
    throw new UsageError(`exec options: stdin: expected a string or a Uint8Array, got ${describeValue(input)}`);
  }
  const output = { maxBuffer: maxBufferOf("exec", maxBuffer) };
  const signal = abortSignalOf("exec", signalOption);
  if (signal?.aborted) throw abortError(signal);
  let proc: ProcessHandle<unknown, unknown>;
  try {
    proc = await spawn(input !== undefined);
  } catch (err) {
    const refused = execRefusal(err);
    if (refused) return refused;
    throw err;
  }
  // Aborted: the process is killed (child_process's `signal`, with SIGKILL: an exec'd shell may ignore SIGTERM)
  // and the call rejects with the signal's reason, whatever the process's end reported.
  const onAbort = () => proc.kill("SIGKILL");
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    let result: ExecResult;
    if (input === undefined) result = await proc.output(output);
    else {
      // A write that failed otherwise than on a reader gone: the process, which would wait for the rest, is ended.
      const inputFailed = new Promise<never>((_, reject) => {
        // A terminal's input has no end to send: only a pipe gets EOF.
        proc.feedInput(input, !tty, (err) => {
          proc.kill("SIGKILL");
          reject(err);
        });
      });
      result = await Promise.race([proc.output(output), inputFailed]);
    }
    if (signal?.aborted) throw abortError(signal);
    return result;
  } catch (err) {
    throw signal?.aborted ? abortError(signal) : err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (signal?.aborted) await proc.wait().catch(() => {});
  }
}
