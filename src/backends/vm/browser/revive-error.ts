/**
 * Errors cross from the Worker as plain data (message, code, exit code,
 * class name, a ContainerError's reason, an ImageError's notFound); the page turns them back into the classes Node's API
 * throws, so `instanceof ContainerError` and `err.exitCode` hold in both.
 */
import { ContainerError, ImageError, LayerError, SpecError, TsboxError, type TsboxErrorCode, UsageError } from "../../../errors.js";
import type { WorkerFailure } from "./protocol.js";

const CLASSES: Record<string, { prototype: TsboxError }> = { ContainerError, ImageError, LayerError, SpecError, UsageError, TsboxError };

export function reviveError(f: WorkerFailure): TsboxError {
  const err = new TsboxError(f.message, { exitCode: f.exitCode ?? 125, code: (f.code as TsboxErrorCode | undefined) ?? "runtime" });
  const cls = f.name !== undefined ? CLASSES[f.name] : undefined;
  if (cls && cls !== TsboxError) {
    Object.setPrototypeOf(err, cls.prototype);
    // The reason given where it was thrown, in the Worker (none otherwise, as a ContainerError made here).
    if (cls === ContainerError) Object.defineProperty(err, "reason", { value: f.reason, enumerable: true });
    if (cls === ImageError) Object.defineProperty(err, "notFound", { value: f.notFound === true, enumerable: true });
  }
  return err;
}
