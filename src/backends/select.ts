/**
 * Which backend runs containers: `--backend` / RuntimeOptions.backend, else
 * $TSBOX_BACKEND, else the automatic pick — native where its helper and
 * addon are installed (or built, in a checkout) and this host lets us create
 * user namespaces, otherwise vm. Cheap on purpose (a few stat/read calls): it runs on every `tsbox run`.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { option } from "../vocabulary.js";
import type { Backend } from "./backend.js";
import { addonPresent } from "./native/addon.js";
import { NativeBackend } from "./native/native-backend.js";
import { findRuntimeBinary } from "./native/runtime-binary.js";
import { missingNativeParts } from "../parts.js";
import { VmBackend } from "./vm/node/vm-backend.js";

export type BackendName = "native" | "vm";
export const BACKEND_NAMES: readonly BackendName[] = ["native", "vm"];

export interface BackendChoice {
  name: BackendName;
  /** One line: why this backend. */
  reason: string;
}

export function chooseBackend(requested: string | undefined, env: NodeJS.ProcessEnv = process.env): BackendChoice {
  const explicit = requested && requested !== "auto" ? { value: requested, from: option("backend") } : env.TSBOX_BACKEND && env.TSBOX_BACKEND !== "auto" ? { value: env.TSBOX_BACKEND, from: "TSBOX_BACKEND" } : undefined;
  if (explicit) {
    if (!(BACKEND_NAMES as readonly string[]).includes(explicit.value)) {
      throw new UsageError(`unknown backend ${JSON.stringify(explicit.value)} (from ${explicit.from}): use native, vm or auto`);
    }
    return { name: explicit.value as BackendName, reason: `chosen with ${explicit.from}` };
  }
  const unavailable = nativeUnavailable(env);
  return unavailable ? { name: "vm", reason: `automatic: ${unavailable}` } : { name: "native", reason: "automatic: Linux user namespaces work here and the native parts are installed" };
}

/** Why the native backend cannot run here, or undefined when it can. */
export function nativeUnavailable(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.platform !== "linux") return `the native backend needs Linux (this is ${process.platform})`;
  if (!findRuntimeBinary(env) || !addonPresent()) return missingNativeParts();
  const root = process.getuid?.() === 0;
  const sysctl = (path: string) => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  if (sysctl("/proc/sys/user/max_user_namespaces") === "0") return "user namespaces are disabled (user.max_user_namespaces = 0; fix: sudo sysctl -w user.max_user_namespaces=15000)";
  if (!root && sysctl("/proc/sys/kernel/unprivileged_userns_clone") === "0") return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0; fix: sudo sysctl -w kernel.unprivileged_userns_clone=1)";
  if (!root && sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") === "1") return "AppArmor restricts unprivileged user namespaces (Ubuntu 24.04+; fix: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile that allows userns for node)";
  return undefined;
}

export function createBackend(choice: BackendChoice): Backend {
  return choice.name === "vm" ? new VmBackend() : new NativeBackend();
}
