import { TsboxError } from "./errors.js";

/**
 * How this process starts a script of tsbox's under Node (the vm daemon:
 * `bin/tsbox.js vm serve`). `process.execPath` is Node itself, except in
 * Electron, whose binary is Node only with ELECTRON_RUN_AS_NODE=1 (else it
 * opens the app), and in a single executable application, whose executable
 * runs the app whatever its arguments: the "daemon" was the app again, which
 * started another, detached, one after the other. There is no Node to run
 * then, which is said instead.
 */
export function nodeRunner(env: NodeJS.ProcessEnv, host: { execPath: string; electron?: string | undefined; sea: boolean }): { command: string; env: NodeJS.ProcessEnv } {
  if (host.electron !== undefined) return { command: host.execPath, env: { ...env, ELECTRON_RUN_AS_NODE: "1" } };
  if (host.sea) {
    throw new TsboxError(
      `the vm backend's daemon (tsbox vm serve) runs under Node, and this process is a single executable application (${host.execPath} runs the app, not Node): ` +
        "set TSBOX_VM_IDLE=0 to run the guest in this process (containers then end with it; a detached one cannot start), or run the app with node",
      { code: "runtime" },
    );
  }
  return { command: host.execPath, env };
}

/** `nodeRunner` for this process. node:sea's isSea() is Node 20.12+; an older Node has no way to tell. */
export async function thisNodeRunner(env: NodeJS.ProcessEnv): Promise<{ command: string; env: NodeJS.ProcessEnv }> {
  const sea = await import("node:sea").then((m) => (typeof m.isSea === "function" ? m.isSea() : false), () => false);
  return nodeRunner(env, { execPath: process.execPath, electron: process.versions.electron, sea });
}
