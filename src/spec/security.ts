/**
 * The security part of a container's spec from what the user asked:
 * capabilities (docker's --cap-add/--cap-drop), the seccomp filter
 * (docker's default profile, none, or the user's profile), no_new_privs
 * (on unless asked off; build steps ask off, as BuildKit's RUN has none:
 * build/step-containers.ts) and the masked and read-only kernel paths;
 * `--privileged` lifts all but no_new_privs. Pure: the caller says which
 * architecture and kernel the container runs on.
 */
import { UsageError } from "../errors.js";
import { capabilitySets, tweakCapabilities } from "./capabilities.js";
import type { Capabilities, IdMapping, LinuxSeccomp } from "./container-spec.js";
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "./defaults.js";
import type { RunOptions } from "./run-options.js";
import { DEFAULT_PROFILE_WITHOUT_MOUNTS, DEFAULT_SECCOMP_PROFILE } from "./seccomp/default-profile.js";
import { checkDockerProfile, toOciSeccomp } from "./seccomp/docker-profile.js";

export interface SecurityTarget {
  /** Go's architecture name, as docker profiles use it: "amd64", "386", "arm64". */
  arch: string;
  /** Kernel release (for profile entries with minKernel). */
  kernel: string;
  /** Paths of this host's CPUs to mask besides the defaults (each one's thermal_throttle: cpu-masked-paths.ts). */
  cpuMaskedPaths?: string[];
}

export interface SecuritySettings {
  capabilities: Capabilities;
  /** Absent: no filter. */
  seccomp?: LinuxSeccomp;
  noNewPrivileges: boolean;
  maskedPaths: string[];
  readonlyPaths: string[];
}

type SecurityOptions = Pick<RunOptions, "capAdd" | "capDrop" | "seccomp" | "noNewPrivileges" | "privileged" | "systemPaths">;

/** Whether a container's uid 0 is the host's (or the guest's): root's identity maps, no --userns=auto. */
export function rootIsHostRoot(uidMappings: readonly IdMapping[], usernsAuto: boolean): boolean {
  return !usernsAuto && (uidMappings.length === 0 || uidMappings.some((m) => m.containerID === 0 && m.hostID === 0));
}

/**
 * Whether the default profile withholds mount and its kin from a container that has CAP_SYS_ADMIN, because its root
 * is the host's (default-profile.ts MOUNT_ENTRY says why): the caller warns, so a failed `mount` has its reason.
 */
export function withholdsMounts(options: SecurityOptions, hostRoot: boolean, caps?: string[]): boolean {
  if (!hostRoot || options.privileged === true || !(options.seccomp === undefined || options.seccomp === "default")) return false;
  return (caps ?? tweakCapabilities(DEFAULT_CAPABILITIES, options.capAdd ?? [], options.capDrop ?? [])).includes("CAP_SYS_ADMIN");
}

/** withholdsMounts's warning. */
export const WITHHELD_MOUNTS_WARNING =
  "CAP_SYS_ADMIN: this container's root is the host's root, so mount and umount stay refused: they could undo the masked /proc and /sys paths and reach the host (docker's AppArmor profile refuses them too); --userns=auto gives them, with a root that is nobody on the host";

export function securitySettings(options: SecurityOptions, target: SecurityTarget, hostRoot = false): SecuritySettings {
  if (options.privileged !== undefined && typeof options.privileged !== "boolean") throw new UsageError("privileged must be true or false");
  if (options.systemPaths !== undefined && options.systemPaths !== "default" && options.systemPaths !== "unconfined") {
    throw new UsageError(`systemPaths: expected "default" or "unconfined", got "${String(options.systemPaths)}"`);
  }
  // docker's --privileged: every capability (a --cap-drop still drops), no filter, nothing masked.
  const privileged = options.privileged === true;
  const caps = tweakCapabilities(DEFAULT_CAPABILITIES, [...(privileged ? ["ALL"] : []), ...(options.capAdd ?? [])], options.capDrop ?? []);
  const capabilities = capabilitySets(caps);
  if (options.noNewPrivileges !== undefined && typeof options.noNewPrivileges !== "boolean") {
    throw new UsageError("noNewPrivileges must be true or false");
  }
  const profile = privileged ? undefined : withholdsMounts(options, hostRoot, caps) ? DEFAULT_PROFILE_WITHOUT_MOUNTS : seccompProfile(options.seccomp);
  const unmasked = privileged || options.systemPaths === "unconfined";
  return {
    capabilities,
    ...(profile ? { seccomp: toOciSeccomp(profile, { arch: target.arch, caps, kernel: target.kernel }) } : {}),
    noNewPrivileges: options.noNewPrivileges ?? true,
    maskedPaths: unmasked ? [] : [...DEFAULT_MASKED_PATHS, ...(target.cpuMaskedPaths ?? [])],
    readonlyPaths: unmasked ? [] : [...DEFAULT_READONLY_PATHS],
  };
}

function seccompProfile(option: SecurityOptions["seccomp"]) {
  if (option === undefined || option === "default") return DEFAULT_SECCOMP_PROFILE;
  if (option === "unconfined") return undefined;
  if (typeof option === "string") throw new UsageError(`seccomp: expected "default", "unconfined" or a profile object, got "${option}"`);
  return checkDockerProfile(option, "(the seccomp option)");
}

/** Node's process.arch → Go's name (docker profiles speak Go). */
export function goArch(nodeArch: string): string {
  return ({ x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm" } as Record<string, string>)[nodeArch] ?? nodeArch;
}
