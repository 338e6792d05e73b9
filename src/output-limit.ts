/**
 * Output collected into strings (`exec()`, `output()`) has a ceiling, as Node's `exec` and execa's have: a
 * process that writes without end grew this one until V8's string limit (~512 MiB) failed it with a bare
 * RangeError. No Node built-in here: the browser bundle loads it.
 */
import { OutputLimitError, UsageError } from "./errors.js";
import { checkOptionNames } from "./spec/run-options-check.js";

/** Bytes kept of each stream by default: execa's ceiling (Node's `exec` keeps 1 MiB). */
export const DEFAULT_MAX_BUFFER = 100 * 1024 * 1024;

export interface OutputOptions {
  /**
   * Most bytes read of each stream (default 100 MiB; `Infinity` for no ceiling). Past it the reading stops,
   * the process the output belongs to is killed, and the call rejects with an `OutputLimitError` (code
   * `max_buffer`) that carries the output read until then. For more, read the streams (`spawn()`, a run's `stdout`).
   */
  maxBuffer?: number;
}

/** A `maxBuffer` option checked: a number of bytes above 0 (a UsageError naming the call otherwise), or the default. */
export function maxBufferOf(what: string, value: unknown): number {
  const max = value ?? DEFAULT_MAX_BUFFER;
  if (typeof max !== "number" || !(max > 0)) throw new UsageError(`${what} options: maxBuffer: expected a number of bytes above 0, got ${typeof max === "number" ? max : typeof max}`);
  return max;
}

type Output = AsyncIterable<Uint8Array | string> | null;

/**
 * Both streams as UTF-8, at most `maxBuffer` bytes of each. Past it, stops reading (an iterator left early
 * destroys a Node stream, cancels a web one), calls `overflow` (which ends the writer, so the other stream
 * ends too) and rejects with an OutputLimitError carrying what was read.
 */
export async function collectOutput(stdout: Output, stderr: Output, maxBuffer: number, overflow: () => void): Promise<{ stdout: string; stderr: string }> {
  const text = { stdout: "", stderr: "" };
  let over: "stdout" | "stderr" | undefined;
  const read = async (name: "stdout" | "stderr", stream: Output) => {
    if (!stream) return;
    const decoder = new TextDecoder();
    let bytes = 0;
    for await (const piece of stream) {
      if (over) break;
      const chunk = typeof piece === "string" ? new TextEncoder().encode(piece) : piece;
      bytes += chunk.length;
      if (bytes > maxBuffer) {
        text[name] += decoder.decode(chunk.subarray(0, chunk.length - (bytes - maxBuffer)), { stream: true });
        over = name;
        overflow();
        break;
      }
      text[name] += decoder.decode(chunk, { stream: true });
    }
    text[name] += decoder.decode();
  };
  await Promise.all([read("stdout", stdout), read("stderr", stderr)]);
  if (over) throw new OutputLimitError(over, maxBuffer, text);
  return text;
}

/** `output()`'s options checked (a UsageError otherwise): its maxBuffer. `also`: the other options that call takes. */
export function outputLimit(options: OutputOptions, also: string[] = []): number {
  checkOptionNames("output", options, ["maxBuffer", ...also]);
  return maxBufferOf("output", options.maxBuffer);
}

/**
 * A process's output (`collectOutput`) and its end. Past `maxBuffer`, `kill` ends it, and the rejection comes
 * once it has ended, as Node's `exec` calls back after its child's close.
 */
export async function collectToEnd<S>(stdout: Output, stderr: Output, maxBuffer: number, kill: () => void, ended: Promise<S>): Promise<{ stdout: string; stderr: string; status: S }> {
  const text = await collectOutput(stdout, stderr, maxBuffer, kill).catch(async (err: unknown) => {
    await ended.catch(() => {});
    throw err;
  });
  return { ...text, status: await ended };
}
