/**
 * docker's `--ipc`, `--pid`, `--uts` and `--shm-size`: which of the
 * container's IPC, PID and UTS namespaces are the host's or another
 * container's (`container:X`), and what its /dev/shm is. Pure: the spec
 * builder (from-options.ts) and the checks of the CLI share it.
 */
import { UsageError } from "../errors.js";
import { option } from "../vocabulary.js";
import type { RunOptions } from "./run-options.js";
import { parseMemorySize } from "./resources.js";

/** What /dev/shm is: a tmpfs of this many bytes, the host's (`--ipc host`), the joined container's (`--ipc container:X`), or none (`--ipc none`). */
export type ShmMode = { size: number } | "host" | "peer" | "none";

const IPC_MODES = ["private", "shareable", "host", "none"];
const PID_MODES = ["private", "host"];
/** docker's default /dev/shm. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** The namespaces the container shares with the host (docker's `--pid host`, `--ipc host`, `--uts host`). */
export function hostNamespaces(options: Pick<RunOptions, "ipc" | "pid" | "uts" | "hostname" | "domainname">): Set<"ipc" | "pid" | "uts"> {
  if (options.ipc !== undefined && !IPC_MODES.includes(options.ipc) && peerOf(options.ipc, "--ipc") === undefined) {
    throw new UsageError(`invalid --ipc ${String(options.ipc)}: tsbox knows private, shareable, host, none and container:NAME`);
  }
  if (options.pid !== undefined && !PID_MODES.includes(options.pid) && peerOf(options.pid, "--pid") === undefined) {
    throw new UsageError(`invalid --pid ${String(options.pid)}: tsbox knows private, host and container:NAME`);
  }
  if (options.uts !== undefined && options.uts !== "host") throw new UsageError(`invalid --uts ${String(options.uts)}: tsbox knows host`);
  // docker's words: a hostname is the UTS namespace's, and the host's is not the container's to set.
  if (options.uts === "host" && options.hostname !== undefined) throw new UsageError("conflicting options: --hostname and --uts host");
  if (options.uts === "host" && options.domainname !== undefined) throw new UsageError(`conflicting options: ${option("domainname")} and ${option("uts", "host")}`);
  // The kernel's limit (__NEW_UTS_LEN); a blank or a line break would make /etc/hosts lines of other names.
  if (options.domainname !== undefined && !/^[^\s]{1,64}$/.test(options.domainname)) {
    throw new UsageError(`invalid value ${JSON.stringify(options.domainname)} for ${option("domainname")}: 1 to 64 characters without blanks`);
  }
  const out = new Set<"ipc" | "pid" | "uts">();
  if (options.ipc === "host") out.add("ipc");
  if (options.pid === "host") out.add("pid");
  if (options.uts === "host") out.add("uts");
  return out;
}

/** `container:X` → X (a name or id); undefined for any other mode. */
export function peerOf(mode: string | undefined, flag: string): string | undefined {
  if (typeof mode !== "string" || !mode.startsWith("container:")) return undefined;
  const ref = mode.slice("container:".length);
  if (ref === "") throw new UsageError(`${flag} container: needs a container name or id`);
  return ref;
}

/** The containers `--pid container:X` and `--ipc container:X` name. */
export function peerRefs(options: Pick<RunOptions, "ipc" | "pid">): { pid?: string; ipc?: string } {
  const pid = peerOf(options.pid, "--pid");
  const ipc = peerOf(options.ipc, "--ipc");
  return { ...(pid !== undefined ? { pid } : {}), ...(ipc !== undefined ? { ipc } : {}) };
}

export function shmMode(options: Pick<RunOptions, "ipc" | "shmSize">): ShmMode {
  if (options.ipc === "host" || options.ipc === "none") {
    if (options.shmSize !== undefined) throw new UsageError(`${option("shmSize")} has no /dev/shm to size with ${option("ipc", options.ipc)}`);
    return options.ipc;
  }
  if (peerOf(options.ipc, "--ipc") !== undefined) {
    if (options.shmSize !== undefined) throw new UsageError(`${option("shmSize")} conflicts with ${option("ipc", options.ipc)}: its /dev/shm is that container's`);
    return "peer";
  }
  const size = options.shmSize === undefined ? DEFAULT_SHM_SIZE : parseMemorySize(options.shmSize, "shmSize");
  if (size <= 0) throw new UsageError(`${option("shmSize")} must be positive`);
  return { size };
}
