/**
 * The option tables of the verbs Node's API and the browser's (`tsbox/browser`) share, in one place both load
 * (no Node built-in here: the browser bundle takes it). Each is tied to its options type by `OptionKinds`; Node
 * checks them with `checkOptions`, the page with `checkPageOptions` (the same table, and what a page cannot do
 * refused by name). Exec's, spawn's and stop's are in process-handle.ts.
 */
import type { LogsOptions, RemoveOptions } from "./container.js";
import { UsageError } from "./errors.js";
import type { Platform } from "./image/oci.js";
import type { PullOptions } from "./image/registry/pull-image.js";
import type { OptionKinds } from "./spec/run-options-check.js";

/** `containers`, `images` (Node's `list` adds `labels`: runtime.ts). */
export const LIST_KINDS: OptionKinds<{ all?: boolean }> = { all: "boolean" };
/** `Runtime.removeImage`'s. */
export interface RemoveImageOptions {
  platform?: Platform;
  force?: boolean;
  prune?: boolean;
}
export const REMOVE_IMAGE_KINDS: OptionKinds<RemoveImageOptions> = { platform: "object", force: "boolean", prune: "boolean" };
/** `Container.remove` and `Runtime.removeContainer`. */
export const REMOVE_KINDS: OptionKinds<RemoveOptions> = { force: "boolean", volumes: "boolean" };
export const LOGS_KINDS: OptionKinds<LogsOptions> = { follow: "boolean", tail: "count", since: "time", until: "time", signal: "abortSignal" };
export const LOAD_KINDS: OptionKinds<{ repository?: string; signal?: AbortSignal }> = { repository: "string", signal: "abortSignal" };
/** `Runtime.pull`'s (the layer cache is the Runtime's own). */
export const PULL_KINDS: OptionKinds<Omit<PullOptions, "layers">> = { platform: "object", signal: "abortSignal", env: "object", onProgress: "function", concurrency: "number" };

/** `since`/`until` as a Date (docker's forms: a Date, an ISO 8601 string or Unix seconds); else a UsageError naming the option. */
export function logTime(value: Date | string | number | undefined, option: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = value instanceof Date ? value : typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) throw new UsageError(`logs ${option}: ${JSON.stringify(value)} is not a time (a Date, an ISO 8601 string or Unix seconds)`);
  return d;
}
