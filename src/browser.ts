/**
 * tsbox in a browser (`import { Runtime } from "tsbox/browser"`): the API of
 * `tsbox` (src/index.ts) with the vm backend in a Web Worker and images in
 * the browser's storage. Streams are WHATWG streams (async-iterable as
 * bytes, like Node's); what a page cannot do is refused with a clear error.
 *
 *   const rt = new Runtime();
 *   await using c = await rt.run({ image: "busybox", cmd: ["echo", "hi"] });
 *   const { exitCode, stdout } = await c.output();
 */
export { Runtime, type RuntimeOptions, type ContainerInfo } from "./backends/vm/browser/web-runtime.js";
export { Container, ExecProcess, type LogEntry, type LogsOptions } from "./backends/vm/browser/web-container.js";
export type { ContainerOutput, ExecOptions, ExecResult, ExitStatus, ProcessOptions, SpawnOptions } from "./container.js";
export type { OutputOptions } from "./output-limit.js";
export type { RunOptions } from "./spec/run-options.js";
export type { BootPhase, BrowserImageSummary as ImageSummary, GuestStats as ContainerStats, ProgressEvent, WarmUp } from "./backends/vm/browser/protocol.js";
export type { Signal, SignalName } from "./signals.js";
export { TsboxError, SpecError, UsageError, ImageError, LayerError, ContainerError, OutputLimitError, type TsboxErrorCode } from "./errors.js";
// The predicates Node's API exports (src/index.ts), so a page's error handling is Node's too.
export { hasReason, isImageNotFound, isTsboxError, type ContainerErrorReason } from "./errors.js";
