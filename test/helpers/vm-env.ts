/**
 * Runs CLI-driven suites against the vm backend without changing them:
 * every `tsbox` the suite spawns (bin/tsbox.js) gets TSBOX_BACKEND=vm.
 * The helpers pass an explicit env to spawn, so the wrapper adds the
 * variable there; syncBuiltinESMExports makes ES module imports of
 * node:child_process see the wrapped function.
 */
import childProcess from "node:child_process";
import { syncBuiltinESMExports } from "node:module";

export function forceBackend(name: string): void {
  const original = childProcess.spawn;
  const wrapped = ((command: string, args?: readonly string[], options?: childProcess.SpawnOptions) => {
    if (Array.isArray(args) && args.some((a) => typeof a === "string" && a.endsWith("bin/tsbox.js")) && options) {
      options = { ...options, env: { ...(options.env ?? process.env), TSBOX_BACKEND: name } };
    }
    return original(command, args as string[], options as childProcess.SpawnOptions);
  }) as typeof childProcess.spawn;
  childProcess.spawn = wrapped;
  syncBuiltinESMExports();
}
