import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { TsboxError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";

/** Candidate locations of the tsbox-runtime helper, in order of preference. */
export function runtimeBinaryCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.TSBOX_RUNTIME) return [env.TSBOX_RUNTIME];
  const root = packageRoot();
  return [join(root, "native-rs", "target", "release", "tsbox-runtime"), join(root, "native-rs", "dist", "tsbox-runtime")];
}

export function findRuntimeBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return runtimeBinaryCandidates(env).find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function requireRuntimeBinary(env: NodeJS.ProcessEnv = process.env): string {
  const found = findRuntimeBinary(env);
  if (found) return found;
  const hint = env.TSBOX_RUNTIME ? `TSBOX_RUNTIME=${env.TSBOX_RUNTIME} is not an executable file` : "run npm run build:native, or set TSBOX_RUNTIME";
  throw new TsboxError(`tsbox-runtime not found: ${hint}`, { code: "runtime" });
}
