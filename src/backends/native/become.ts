/**
 * This process becomes `tsbox-runtime` (execve through the addon): the CLI's
 * hand-offs (`NativeBackend.handOff`, `handOffExec`, `handOffLaunch`), which
 * must not load the backend to do it. (The run cache's replay hands over in
 * the addon: native-rs/addon/src/replay/from_bin.rs.)
 */
import { openSync } from "node:fs";
import { TsboxError } from "../../errors.js";
import type { HandOffOptions } from "../backend.js";
import { loadAddonSync } from "./addon.js";
import { nestIdleArgs } from "./nest-idle.js";

/** The helper's arguments for `tsbox-runtime run --record --front-end` on a created bundle (NativeBackend.handOff). */
export function runHandOffArgs(options: { bundleDir: string; remove: boolean; log?: { maxSize: number; maxFiles: number } }): string[] {
  const log = options.log ? ["--log-max-size", String(options.log.maxSize), "--log-max-files", String(options.log.maxFiles)] : [];
  return ["run", "--bundle", options.bundleDir, "--record", ...(options.remove ? ["--remove"] : []), "--front-end", ...log, ...nestIdleArgs()];
}

/** execve of `binary` with `args` in this process's place: returns only by throwing. */
export function become(binary: string, args: string[], options: HandOffOptions, keepFd = -1): never {
  const addon = loadAddonSync();
  // Without -i the process reads nothing of ours, as with `start`'s "ignore".
  const stdinFd = options.stdin === "ignore" ? openSync("/dev/null", "r") : -1;
  options.beforeExec?.(args);
  try {
    addon.handOff(binary, [binary, ...args].join("\0"), stdinFd, keepFd);
  } catch (err) {
    throw new TsboxError(`cannot start tsbox-runtime (${binary}): ${(err as Error).message}`, { code: "runtime", cause: err });
  }
  throw new TsboxError("tsbox-runtime did not take over", { code: "runtime" });
}
