import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { TsboxError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";
import { isCheckout, nativePackageDir } from "../../parts.js";

/**
 * The static tsbox-init (`native-rs/init`) that `--init` bind-mounts into a
 * container as its PID 1: static, since it runs on the image's libc-less
 * root, and built apart from tsbox-runtime (`npm run build:native`).
 */
export function initBinaryCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.TSBOX_INIT) return [env.TSBOX_INIT];
  const installed = nativePackageDir();
  const root = packageRoot();
  return [
    ...(installed ? [join(installed, "tsbox-init")] : []),
    ...(isCheckout() ? [join(root, "native-rs", "target", "x86_64-unknown-linux-gnu", "release", "tsbox-init"), join(root, "native-rs", "dist", "tsbox-init")] : []),
  ];
}

export function requireInitBinary(env: NodeJS.ProcessEnv = process.env): string {
  for (const path of initBinaryCandidates(env)) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  throw new TsboxError(`tsbox-init not found: ${env.TSBOX_INIT ? `TSBOX_INIT=${env.TSBOX_INIT} is not an executable file` : "run npm run build:native, or set TSBOX_INIT"}`, { code: "runtime" });
}
