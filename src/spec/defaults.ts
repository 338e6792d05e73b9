import { readFileSync } from "node:fs";
import type { MountSpec, Rlimit } from "./container-spec.js";
import { DEFAULT_SHM_SIZE, type ShmMode } from "./ipc-pid.js";

export const OCI_VERSION = "1.0.2";

/** The OCI/docker default capability set for the container's root. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/**
 * Kernel interfaces hidden from containers (docker's defaults): runc's list, and since docker 28 (moby#49560,
 * GHSA-6fw5-f8r9-fgfm) `/proc/interrupts`, whose per-CPU counters leak the host's activity (with each CPU's
 * `thermal_throttle` directory: `masked-cpu-paths.ts`, read off the host).
 */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

export const DEFAULT_READONLY_PATHS: readonly string[] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * runc's default mounts (the cgroup one shows the container its own cgroup,
 * read-only: native-rs/container/src/cgroup_view.rs). devpts gets `gid=5`
 * (tty) only when gid 5 is mapped in the user namespace: with a single-id
 * rootless mapping the mount fails. `--privileged` gets a writable /sys;
 * `shm` is docker's /dev/shm (ipc-pid.ts; default a 64 MiB tmpfs).
 */
export function defaultMounts(options: { ttyGroupMapped: boolean; writableSys?: boolean; shm?: ShmMode }): MountSpec[] {
  const shm = options.shm ?? { size: DEFAULT_SHM_SIZE };
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", ...(options.ttyGroupMapped ? ["gid=5"] : [])],
    },
    ...(shm === "none"
      ? []
      : shm === "host"
        ? [{ destination: "/dev/shm", type: "bind", source: "/dev/shm", options: ["rbind", "rw", "nosuid", "nodev"] }]
        : shm === "peer"
          ? // The joined container's /dev/shm, as it sees it (native-rs mounts.rs, PEER_MOUNT).
            [{ destination: "/dev/shm", type: "peer", source: "/dev/shm", options: [] }]
        : [{ destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${Math.ceil(shm.size / 1024)}k`] }]),
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", options.writableSys ? "rw" : "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
  ];
}

/**
 * RLIMIT_NOFILE: 1024 soft like runc, hard as high as the host allows (an
 * unprivileged process cannot raise it, and docker passes the host's on).
 */
export function defaultRlimits(hostHardNofile: number = readHostNofileHard()): Rlimit[] {
  return [{ type: "RLIMIT_NOFILE", soft: Math.min(1024, hostHardNofile), hard: hostHardNofile }];
}

let hostNofileHard: number | undefined;

/** The hard RLIMIT_NOFILE of this process, from /proc/self/limits (Node has no getrlimit); read once. */
export function readHostNofileHard(): number {
  return (hostNofileHard ??= parseNofileHard());
}

function parseNofileHard(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const hard = line?.trim().split(/\s+/)[4];
    if (hard === "unlimited") return 1048576;
    const n = Number(hard);
    if (Number.isSafeInteger(n) && n > 0) return n;
  } catch {
    // no procfs: fall through
  }
  return 1024;
}
