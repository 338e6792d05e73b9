import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { TsboxError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";
import { isCheckout, missingNativeParts, nativePackageDir } from "../../parts.js";

/**
 * Candidate locations of the tsbox-runtime helper, in order of preference:
 * $TSBOX_RUNTIME, the installed native package (@tsbox/linux-x64-gnu), a
 * checkout's build outputs.
 */
export function runtimeBinaryCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.TSBOX_RUNTIME) return [env.TSBOX_RUNTIME];
  const installed = nativePackageDir();
  const root = packageRoot();
  return [
    ...(installed ? [join(installed, "tsbox-runtime")] : []),
    ...(isCheckout() ? [join(root, "native-rs", "target", "release", "tsbox-runtime"), join(root, "native-rs", "dist", "tsbox-runtime")] : []),
  ];
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
  const hint = env.TSBOX_RUNTIME ? `TSBOX_RUNTIME=${env.TSBOX_RUNTIME} is not an executable file` : `${missingNativeParts()}, or set TSBOX_RUNTIME`;
  throw new TsboxError(`tsbox-runtime not found: ${hint}`, { code: "runtime" });
}
