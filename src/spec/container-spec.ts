/**
 * ContainerSpec: the one contract between front ends (CLI, library API) and
 * backends. It is a subset of the OCI runtime spec (config.json) with the same
 * field names, plus `root.overlay`, a tsbox extension that describes the
 * rootfs as image layers to be stacked by overlayfs *inside* the container's
 * user namespace (rootless overlay needs the mount to be made there).
 *
 * The native backend serialises it to `<bundle>/config.json` and hands it to
 * the `tsbox-runtime` helper (native-rs/runtime); the vm guest agent reads the
 * same JSON. Keep this file and native-rs/container/src/spec.rs in step.
 */

export interface ContainerSpec {
  ociVersion: string;
  process: ProcessSpec;
  root: RootSpec;
  hostname?: string;
  /** Applied in order after the rootfs is in place; destinations are container paths. */
  mounts: MountSpec[];
  linux: LinuxSpec;
  annotations?: Record<string, string>;
}

export interface ProcessSpec {
  /** Allocate a controlling terminal: stdin (fd 0) must be a pty slave. */
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[] };
  /** argv; args[0] is looked up in PATH from `env` when it has no slash. */
  args: string[];
  /** "KEY=VALUE" entries, as in OCI. */
  env: string[];
  /** Absolute path inside the container; created if missing (like docker's WORKDIR). */
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges: boolean;
}

export interface Capabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

export interface Rlimit {
  type: string; // e.g. "RLIMIT_NOFILE"
  soft: number;
  hard: number;
}

export interface RootSpec {
  /** Host directory that becomes `/`. With `overlay`, it is an empty mount point. */
  path: string;
  readonly: boolean;
  overlay?: OverlaySpec;
}

export interface OverlaySpec {
  /** Read-only image layers, topmost first (overlayfs lowerdir order). */
  lower: string[];
  /** Writable layer and overlayfs work dir; both empty dirs on the same fs. */
  upper: string;
  work: string;
}

export interface MountSpec {
  destination: string;
  /** "bind", "proc", "tmpfs", "sysfs", "devpts", "mqueue", … */
  type: string;
  source: string;
  /** OCI mount options: "ro", "rw", "nosuid", "nodev", "noexec", "rbind", "bind", "mode=755", … */
  options: string[];
}

export type NamespaceType = "user" | "pid" | "mount" | "uts" | "ipc" | "network" | "cgroup";

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface LinuxSpec {
  namespaces: { type: NamespaceType; path?: string }[];
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  maskedPaths: string[];
  readonlyPaths: string[];
  /** Resource limits; applied by later issues (cgroups). */
  resources?: Record<string, unknown>;
}
