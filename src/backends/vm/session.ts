/**
 * Getting a running guest: restore a saved state when a valid one exists
 * (vm-images/dist's, then the user's cache), otherwise boot from scratch and
 * save the state for next time. A stale, corrupt or mismatched state is never
 * handed to v86 (it would crash): it is reported and a cold boot follows.
 */
import { errorMessage } from "../../errors.js";
import { loadVmImages, type VmImages } from "./images.js";
import { DEFAULT_CONFIG, Machine, type MachineConfig, machineFingerprint } from "./machine.js";
import { loadSnapshot, packagedSnapshotPath, removeSnapshot, userSnapshotPath, writeSnapshot } from "./snapshot.js";

export interface OpenOptions {
  env?: NodeJS.ProcessEnv;
  images?: VmImages;
  config?: MachineConfig;
  /** "auto": restore or boot+save; "cold": always boot, save nothing; "cold-save": boot and save. */
  snapshot?: "auto" | "cold" | "cold-save";
  /** Where the state is saved after a cold boot (default: the user's cache). */
  savePath?: string;
  /** One-line notices (an unusable snapshot); default stderr. */
  notice?: (message: string) => void;
}

export interface OpenedMachine {
  machine: Machine;
  /** How it started: "restore" from which path, or "cold". */
  start: { kind: "restore"; path: string } | { kind: "cold"; reason: string };
}

export function defaultNotice(message: string): void {
  process.stderr.write(`tsbox: ${message}\n`);
}

export async function openMachine(options: OpenOptions = {}): Promise<OpenedMachine> {
  const env = options.env ?? process.env;
  const images = options.images ?? loadVmImages(env);
  const config = options.config ?? DEFAULT_CONFIG;
  const notice = options.notice ?? defaultNotice;
  const fingerprint = machineFingerprint(images, config);
  const mode = options.snapshot ?? "auto";
  const userPath = options.savePath ?? userSnapshotPath(env);
  let reason = "no snapshot yet";

  if (mode === "auto") {
    const problems: string[] = [];
    for (const path of [packagedSnapshotPath(images.dir), userPath]) {
      const found = loadSnapshot(path, fingerprint);
      if (found.kind === "missing") continue;
      if (found.kind === "unusable") {
        problems.push(`vm snapshot ${path} is not usable: ${found.reason}`);
        if (path === userPath) removeSnapshot(path);
        continue;
      }
      try {
        const machine = await Machine.restore(images, found.saved, config);
        return { machine, start: { kind: "restore", path } };
      } catch (err) {
        problems.push(`vm snapshot ${path} did not restore (${errorMessage(err)})`);
        if (path === userPath) removeSnapshot(path);
      }
    }
    if (problems.length > 0) {
      reason = problems.join("; ");
      notice(`${reason}: booting the vm from scratch`);
    }
  } else {
    reason = "cold boot requested";
  }

  const machine = await Machine.boot(images, config);
  if (mode !== "cold") {
    try {
      writeSnapshot(userPath, fingerprint, await machine.save());
    } catch (err) {
      notice(`could not save the vm snapshot to ${userPath}: ${errorMessage(err)}`);
    }
  }
  return { machine, start: { kind: "cold", reason } };
}
