/**
 * The ContainerSpec of a `run`, from what the host side has worked out:
 * docker's rules for command, environment, working directory and terminal
 * (process-rules.ts), the OCI defaults (every namespace, the default
 * capabilities, masked and read-only paths), validated. Pure: Node's
 * `buildSpec` (from-options.ts) and the browser Worker both build their
 * specs here, and differ only in the inputs (where the root and the users
 * live, the id mappings, the volumes).
 */
import type { ImageRunConfig } from "../image/oci.js";
import type { ContainerSpec, IdMapping, LinuxSpec, MountSpec, OverlaySpec, Rlimit } from "./container-spec.js";
import { OCI_VERSION } from "./defaults.js";
import { addDefaultEnv, commandLine, CONTAINER_NAMESPACES, envList, mergeEnv, workingDir } from "./process-rules.js";
import type { RunOptions } from "./run-options.js";
import { rootIsHostRoot, securitySettings, type SecurityTarget } from "./security.js";
import { validateSpec } from "./validate.js";

export interface SkeletonInputs {
  id: string;
  options: Pick<RunOptions, "cmd" | "entrypoint" | "env" | "workdir" | "hostname" | "tty" | "readOnly" | "capAdd" | "capDrop" | "seccomp" | "noNewPrivileges" | "privileged" | "systemPaths">;
  image: ImageRunConfig;
  /** The resolved user; `home` is $HOME unless the image or the options set it. */
  user: { uid: number; gid: number; additionalGids?: number[]; home: string };
  /** The root's mount point and its overlay (lower layers topmost first, upper, work). */
  root: { path: string; overlay: OverlaySpec };
  /** The default mounts followed by volumes. */
  mounts: MountSpec[];
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
  rlimits: Rlimit[];
  /** Where it runs, for the seccomp profile's conditions; default the vm guest (i386, Linux 6.1). */
  target?: SecurityTarget;
  /** --userns=auto: the spec gets this instead of mappings (`maps` are then the ids inside). */
  usernsAuto?: LinuxSpec["usernsAuto"];
  /** The cgroup part of `linux` (spec/resources.ts `cgroupSettings`). */
  cgroups?: Pick<LinuxSpec, "resources" | "cgroupsPath" | "cgroupsMode">;
  oomScoreAdj?: number;
}

/** The vm guest (vm-images/: an i386 kernel from linux-source-6.1). */
const GUEST_TARGET: SecurityTarget = { arch: "386", kernel: "6.1" };

export function runSpec(inputs: SkeletonInputs): ContainerSpec {
  const { id, options, image, user } = inputs;
  const hostname = options.hostname ?? id.slice(0, 12);
  const env = addDefaultEnv(mergeEnv(image.Env ?? [], options.env), { hostname, home: user.home, tty: Boolean(options.tty) });
  // Capabilities, the seccomp filter and no_new_privs: security.ts (docs/security.md).
  const security = securitySettings(options, inputs.target ?? GUEST_TARGET, rootIsHostRoot(inputs.maps.uidMappings, Boolean(inputs.usernsAuto)));
  const spec: ContainerSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: Boolean(options.tty),
      ...(typeof options.tty === "object" ? { consoleSize: { width: options.tty.cols, height: options.tty.rows } } : {}),
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids ? { additionalGids: user.additionalGids } : {}) },
      args: commandLine(options, image.Entrypoint ?? [], image.Cmd ?? []),
      env: envList(env),
      cwd: workingDir(options.workdir, image.WorkingDir),
      capabilities: security.capabilities,
      rlimits: inputs.rlimits,
      noNewPrivileges: security.noNewPrivileges,
      ...(inputs.oomScoreAdj !== undefined ? { oomScoreAdj: inputs.oomScoreAdj } : {}),
    },
    root: { path: inputs.root.path, readonly: options.readOnly ?? false, overlay: inputs.root.overlay },
    hostname,
    mounts: inputs.mounts,
    linux: {
      namespaces: [...CONTAINER_NAMESPACES],
      ...(inputs.usernsAuto
        ? { uidMappings: [], gidMappings: [], usernsAuto: inputs.usernsAuto }
        : { uidMappings: inputs.maps.uidMappings, gidMappings: inputs.maps.gidMappings }),
      maskedPaths: security.maskedPaths,
      readonlyPaths: security.readonlyPaths,
      ...(security.seccomp ? { seccomp: security.seccomp } : {}),
      ...inputs.cgroups,
    },
  };
  validateSpec(spec);
  return spec;
}
