/**
 * docker's `--ipc`, `--pid`, `--uts` and `--shm-size`: which of the
 * container's IPC, PID and UTS namespaces are the host's, and what its
 * /dev/shm is. Pure: the spec builder (from-options.ts) and the checks of
 * the CLI share it.
 */
import { UsageError } from "../errors.js";
import type { RunOptions } from "./run-options.js";
import { parseMemorySize } from "./resources.js";

/** What /dev/shm is: a tmpfs of this many bytes, the host's (`--ipc host`), or none (`--ipc none`). */
export type ShmMode = { size: number } | "host" | "none";

const IPC_MODES = ["private", "shareable", "host", "none"];
const PID_MODES = ["private", "host"];
/** docker's default /dev/shm. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** The namespaces the container shares with the host (docker's `--pid host`, `--ipc host`, `--uts host`). */
export function hostNamespaces(options: Pick<RunOptions, "ipc" | "pid" | "uts" | "hostname">): Set<"ipc" | "pid" | "uts"> {
  if (options.ipc !== undefined && !IPC_MODES.includes(options.ipc)) {
    throw new UsageError(`invalid --ipc ${String(options.ipc)}: tsbox knows private, shareable, host and none`);
  }
  if (options.pid !== undefined && !PID_MODES.includes(options.pid)) throw new UsageError(`invalid --pid ${String(options.pid)}: tsbox knows private and host`);
  if (options.uts !== undefined && options.uts !== "host") throw new UsageError(`invalid --uts ${String(options.uts)}: tsbox knows host`);
  // docker's words: a hostname is the UTS namespace's, and the host's is not the container's to set.
  if (options.uts === "host" && options.hostname !== undefined) throw new UsageError("conflicting options: --hostname and --uts host");
  const out = new Set<"ipc" | "pid" | "uts">();
  if (options.ipc === "host") out.add("ipc");
  if (options.pid === "host") out.add("pid");
  if (options.uts === "host") out.add("uts");
  return out;
}

export function shmMode(options: Pick<RunOptions, "ipc" | "shmSize">): ShmMode {
  if (options.ipc === "host" || options.ipc === "none") {
    if (options.shmSize !== undefined) throw new UsageError(`--shm-size has no /dev/shm to size with --ipc ${options.ipc}`);
    return options.ipc;
  }
  const size = options.shmSize === undefined ? DEFAULT_SHM_SIZE : parseMemorySize(options.shmSize, "--shm-size");
  if (size <= 0) throw new UsageError("--shm-size must be positive");
  return { size };
}
