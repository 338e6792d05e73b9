import type { ChildProcess } from "node:child_process";
import { isMainThread } from "node:worker_threads";
import { type NativeAddon, loadAddonSync } from "./addon.js";

/**
 * A worker thread's children are reaped by its own event loop only: a helper still running when the worker
 * ended (or was terminated) became a zombie of the whole process until it exited (one per worker of a test
 * runner's pool). In a worker, the addon kills and reaps such a child when the worker's environment goes.
 */
export function reapWithWorker(child: ChildProcess, addon?: NativeAddon): void {
  const pid = child.pid;
  if (isMainThread || pid === undefined) return;
  let native: NativeAddon;
  try {
    native = addon ?? loadAddonSync();
  } catch {
    return; // no addon, no native backend: nothing of ours was spawned by it
  }
  native.reapAtExit(pid);
  // A pid is registered once: forgotten as soon as it was reaped, before anything can reuse it.
  child.once("exit", () => native.forgetAtExit(pid));
}
