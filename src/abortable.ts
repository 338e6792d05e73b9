import { UsageError } from "./errors.js";
import { describeValue } from "./spec/run-options-check.js";

/**
 * `work`, or an AbortError as soon as `signal` aborts: for awaits that can
 * block for good — a write to a pipe nobody reads, a read of a stdin that
 * sends nothing — which checking the signal between steps never reaches.
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => (signal.removeEventListener("abort", onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener("abort", onAbort), reject(e)),
    );
  });
}

/** Resolves after `ms`, or at once when `signal` aborts (a poll's wait: the caller looks at the signal itself). */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The error an aborted `signal` stands for: its reason, else an AbortError. */
export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : Object.assign(new Error("the operation was aborted"), { name: "AbortError" });
}

/** A `signal` option checked: an AbortSignal or nothing (a UsageError naming the call otherwise). */
export function abortSignalOf(what: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw new UsageError(`${what} options: signal: expected an AbortSignal, got ${describeValue(value)}`);
}
