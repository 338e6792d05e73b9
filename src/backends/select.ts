/**
 * Which backend runs containers: `--backend` / RuntimeOptions.backend, else
 * $TSBOX_BACKEND, else the automatic pick — native where its helper and
 * addon are installed (or built, in a checkout) and this host lets us create
 * user namespaces, otherwise vm. Cheap on purpose (a few stat/read calls; one fork only under a seccomp filter or
 * an unmapped uid): it runs on every `tsbox run`.
 */
import { spawnSync } from "node:child_process";
import { UsageError } from "../errors.js";
import { option } from "../vocabulary.js";
import type { Backend } from "./backend.js";
import { addonPresent } from "./native/addon.js";
import { NativeBackend } from "./native/native-backend.js";
import { findRuntimeBinary } from "./native/runtime-binary.js";
import { readProcValue, sysctlBlockers } from "./native/sysctl-blockers.js";
import { isCheckout, missingNativeParts, nativePackageName } from "../parts.js";
import { VmBackend } from "./vm/node/vm-backend.js";

export type BackendName = "native" | "vm";
export const BACKEND_NAMES: readonly BackendName[] = ["native", "vm"];

export interface BackendChoice {
  name: BackendName;
  /** One line: why this backend. */
  reason: string;
  /**
   * Said once per process when a container is made (Runtime's warning channel): the automatic pick fell back to
   * the emulated vm backend only because this install lacks the native package tsbox ships for this host.
   */
  warning?: string;
}

/** Why the native backend cannot run here. */
export interface NativeUnavailable {
  reason: string;
  /** The native package tsbox ships for this host (`@tsbox/linux-x64-gnu`), when this install lacks it or its parts. */
  missingPackage?: string;
}

/**
 * `native` gives the facts of this host (tests give their own): the automatic pick's only input besides the
 * request and env.
 */
export function chooseBackend(requested: string | undefined, env: NodeJS.ProcessEnv = process.env, native: (env: NodeJS.ProcessEnv) => NativeUnavailable | undefined = nativeUnavailable): BackendChoice {
  const explicit = requested && requested !== "auto" ? { value: requested, from: option("backend") } : env.TSBOX_BACKEND && env.TSBOX_BACKEND !== "auto" ? { value: env.TSBOX_BACKEND, from: "TSBOX_BACKEND" } : undefined;
  if (explicit) {
    if (!(BACKEND_NAMES as readonly string[]).includes(explicit.value)) {
      throw new UsageError(`unknown backend ${JSON.stringify(explicit.value)} (from ${explicit.from}): use native, vm or auto`);
    }
    return { name: explicit.value as BackendName, reason: `chosen with ${explicit.from}` };
  }
  const unavailable = native(env);
  if (!unavailable) return { name: "native", reason: "automatic: Linux user namespaces work here and the native parts are installed" };
  // A host tsbox has a native build for, installed without it (--omit=optional, a tarball left out): esbuild and
  // sharp fail loudly there; the vm backend still runs, but the user should hear it is not what this host could do.
  const warning = unavailable.missingPackage
    ? `the native backend is unavailable: ${unavailable.reason}; containers run on the vm backend instead, which is emulated (i686) and much slower (TSBOX_BACKEND=vm chooses it without this warning)`
    : undefined;
  return { name: "vm", reason: `automatic: ${unavailable.reason}`, ...(warning ? { warning } : {}) };
}

/** Why the native backend cannot run here, or undefined when it can. */
export function nativeUnavailable(env: NodeJS.ProcessEnv = process.env): NativeUnavailable | undefined {
  if (process.platform !== "linux") return { reason: `the native backend needs Linux (this is ${process.platform})` };
  const runtime = findRuntimeBinary(env);
  if (!runtime || !addonPresent()) {
    // (A checkout's missing build is its developer's: build:native, no package to install.)
    const name = nativePackageName();
    return { reason: missingNativeParts(), ...(name !== undefined && !isCheckout() ? { missingPackage: name } : {}) };
  }
  const blocker = sysctlBlockers(process.getuid?.() === 0)[0];
  if (blocker) return { reason: `${blocker.what} (${blocker.name} = ${blocker.value})${blocker.why ? `, and ${blocker.why}` : ""}; fix: ${blocker.fix}` };
  const refused = usernsRefused(runtime, readProcValue);
  return refused === undefined ? undefined : { reason: refused };
}

/**
 * Whether this process may create a user namespace, asked of tsbox-runtime (one fork) only where a cheap sign says
 * it may not: a seccomp filter (docker's, podman's and tsbox's default profiles refuse the clone in a container) or
 * an unmapped uid (`unshare -U`). No sysctl shows either, and a plain host has neither: it pays nothing.
 */
function usernsRefused(runtime: string, read: (path: string) => string | undefined): string | undefined {
  const filtered = /^Seccomp:\s*2$/m.test(read("/proc/self/status") ?? "");
  const unmapped = read("/proc/self/uid_map") === "" || read("/proc/self/gid_map") === "";
  if (!filtered && !unmapped) return undefined;
  const r = spawnSync(runtime, ["userns"], { encoding: "utf8", timeout: 10_000 });
  // Its reason names the cause (native-rs/container/src/userns_refusal.rs); a helper that could not run says nothing here.
  return r.status === 1 && r.stdout.trim() ? `creating a user namespace fails here: ${r.stdout.trim()}` : undefined;
}

export function createBackend(choice: BackendChoice): Backend {
  return choice.name === "vm" ? new VmBackend() : new NativeBackend();
}
