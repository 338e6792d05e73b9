/**
 * The spec pieces of docker's data and process flags that are not plain
 * process rules: `--ulimit` as OCI rlimits, user mounts over the default
 * ones, and `--init` (a static tsbox-init as PID 1, bind-mounted read-only
 * at /dev/init, where the container's fresh /dev tmpfs holds the mount
 * point: nothing of it lands in the writable layer or a commit).
 */
import { TsboxError, UsageError } from "../errors.js";
import type { MountSpec, Rlimit } from "./container-spec.js";
import type { UlimitOption } from "./run-options.js";

/** docker's `--ulimit` names (go-units) → the kernel's. */
export const ULIMIT_NAMES: Record<string, string> = {
  as: "RLIMIT_AS",
  core: "RLIMIT_CORE",
  cpu: "RLIMIT_CPU",
  data: "RLIMIT_DATA",
  fsize: "RLIMIT_FSIZE",
  locks: "RLIMIT_LOCKS",
  memlock: "RLIMIT_MEMLOCK",
  msgqueue: "RLIMIT_MSGQUEUE",
  nice: "RLIMIT_NICE",
  nofile: "RLIMIT_NOFILE",
  nproc: "RLIMIT_NPROC",
  rss: "RLIMIT_RSS",
  rtprio: "RLIMIT_RTPRIO",
  rttime: "RLIMIT_RTTIME",
  sigpending: "RLIMIT_SIGPENDING",
  stack: "RLIMIT_STACK",
};

/** RLIM_INFINITY as JSON can carry it: the runtime reads anything >= 2^64 as unlimited. */
export const RLIM_INFINITY = 2 ** 64;

/** The default rlimits with the user's `--ulimit`s replacing or joining them. */
export function applyUlimits(defaults: Rlimit[], ulimits: UlimitOption[]): Rlimit[] {
  const out = defaults.map((r) => ({ ...r }));
  for (const u of ulimits) {
    const type = ULIMIT_NAMES[u.name];
    if (!type) throw new UsageError(`invalid ulimit "${u.name}": expected one of ${Object.keys(ULIMIT_NAMES).join(", ")}`);
    const value = (n: number) => (n === -1 ? RLIM_INFINITY : n);
    if (!Number.isSafeInteger(u.soft) || !Number.isSafeInteger(u.hard) || u.soft < -1 || u.hard < -1) {
      throw new UsageError(`invalid ulimit ${u.name}: values must be integers (-1 is unlimited)`);
    }
    // The kernel caps open files at fs.nr_open: infinity is refused even with CAP_SYS_RESOURCE (it was that error).
    if (type === "RLIMIT_NOFILE" && (u.soft === -1 || u.hard === -1)) throw new UsageError("invalid ulimit nofile: open files cannot be unlimited (-1), the kernel caps them at fs.nr_open");
    const soft = value(u.soft);
    const hard = value(u.hard);
    if (soft > hard) throw new UsageError(`invalid ulimit ${u.name}: soft limit ${u.soft} is above the hard limit ${u.hard}`);
    const rlimit = { type, soft, hard };
    const i = out.findIndex((r) => r.type === type);
    if (i >= 0) out[i] = rlimit;
    else out.push(rlimit);
  }
  return out;
}

/**
 * The container's mounts in order: the defaults (a user mount on a default
 * one's path, `--tmpfs /dev/shm` say, replaces it, as in docker), then its
 * own — the user's and the network's /etc files — parents before children,
 * whatever the order on the command line (docker sorts the same way).
 */
export function overDefaultMounts(defaults: MountSpec[], user: MountSpec[], files: MountSpec[] = []): MountSpec[] {
  const taken = new Set(user.map((m) => m.destination));
  // docker's order for the container's own mounts (the network's /etc files among them): by depth, so a mount
  // over a parent (-v vol:/etc) goes first and the files inside it are mounted on it, not hidden under it.
  // A read-only mount over them (-v vol:/etc:ro) takes no mount point: there they stay under it, as before.
  const depth = (m: MountSpec) => m.destination.split("/").filter(Boolean).length;
  const below = (m: MountSpec, parent: MountSpec) => m.destination.startsWith(parent.destination.replace(/\/*$/, "/"));
  const kept = files.filter((m) => !taken.has(m.destination));
  const covered = kept.filter((m) => user.some((u) => u.options?.includes("ro") && below(m, u)));
  const own = [...kept.filter((m) => !covered.includes(m)), ...user].sort((a, b) => depth(a) - depth(b));
  return [...defaults.filter((m) => !taken.has(m.destination)), ...covered, ...own];
}

/** Where `--init` puts tsbox-init in the container. */
export const INIT_PATH = "/dev/init";

/** `--init`: tsbox-init runs the command (`/dev/init -- CMD…`), from a read-only bind mount of the host's static build. */
export function initMount(initBinary: string): MountSpec {
  return { destination: INIT_PATH, type: "bind", source: initBinary, options: ["bind", "ro", "nosuid", "nodev"] };
}

export function initArgs(args: string[]): string[] {
  return [INIT_PATH, "--", ...args];
}
